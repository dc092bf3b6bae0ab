// access_checker, the fail-fast detector behind checked_map, on its own: each report it
// makes (and each it must not make) for a deterministic interleaving of enter/leave calls on
// one thread, the fields of the state word, write_scope's unwinding, copies, the public
// violation_policy end to end, and two real threads whose overlap latches make certain.

#include <gtest/gtest.h>

#include <cmap/access_violation.hpp>
#include <cmap/detail/access_checker.hpp>
#include <cmap/detail/thread_number.hpp>
#include <cstdint>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using cmap::detail::map_operation;
using cmap::detail::reporting;
using cmap::detail::thread_number;

// The members access_checker.hpp requires of a Violation, and nothing else.
enum class test_kind : std::uint8_t {
  concurrent_writes,
  read_during_write,
  iteration_during_write
};
struct violation {
  test_kind kind{};
  std::string_view operation;
  std::uint32_t thread = 0;
  std::string_view other_operation;
  std::uint32_t other_thread = 0;
  bool other_in_progress = false;
};

struct report {
  violation v;
  bool may_throw;  // the policy's MayThrow
};

// Every report the policy receives, from any thread.
struct journal {
  std::vector<report> take() {
    const std::lock_guard lock(mutex);
    return std::exchange(reports, {});
  }
  std::mutex mutex;
  std::vector<report> reports;
};

// Records instead of acting: the call goes on after a report, so a test can walk a whole
// interleaving and check each report it causes.
struct recording_policy {
  template <bool MayThrow>
  void handle(const violation& v) const noexcept(!MayThrow) {
    const std::lock_guard lock(log->mutex);
    log->reports.push_back(report{v, MayThrow});
  }
  journal* log = nullptr;
};

using checker = cmap::detail::access_checker<recording_policy, violation>;

// The report's fields, one by one (a mismatch names the field).
void expect_report(const report& r, test_kind k, std::string_view op, std::string_view other_op,
                   std::uint32_t other_thread, bool other_in_progress,
                   std::uint32_t thread = thread_number()) {
  EXPECT_EQ(r.v.kind, k);
  EXPECT_EQ(r.v.operation, op);
  EXPECT_EQ(r.v.thread, thread);
  EXPECT_EQ(r.v.other_operation, other_op);
  EXPECT_EQ(r.v.other_thread, other_thread);
  EXPECT_EQ(r.v.other_in_progress, other_in_progress);
}

class AccessChecker : public ::testing::Test {
 protected:
  journal log;
  checker c{recording_policy{&log}};
  const std::uint32_t me = thread_number();
};

TEST_F(AccessChecker, TheStateWordHoldsTheWriteBitOpSequenceAndThread) {
  static_assert(checker::write_bit == 1);
  static_assert(checker::op_shift == 1 && checker::op_mask == 0xfe);
  static_assert(checker::seq_one == 0x100 && checker::seq_mask == 0xffffff00);
  static_assert(checker::thread_shift == 32);

  const checker::word w1 = c.enter_write(map_operation::insert);
  EXPECT_EQ(w1 & checker::write_bit, 1u);
  EXPECT_EQ((w1 & checker::op_mask) >> 1, static_cast<checker::word>(map_operation::insert));
  EXPECT_EQ(checker::op_of(w1), map_operation::insert);
  EXPECT_EQ((w1 & checker::seq_mask) >> 8, 1u);  // the first write of this object
  EXPECT_EQ(w1 >> 32, me);
  EXPECT_EQ(checker::thread_of(w1), me);
  c.leave_write(w1);
  // After the write, the word keeps it (for later reports) without the write bit.
  const checker::word seen = c.enter_read(map_operation::find);
  EXPECT_EQ(seen, w1 & ~checker::write_bit);
  c.leave_read(seen, map_operation::find);

  const checker::word w2 = c.enter_write(map_operation::erase);
  EXPECT_EQ(checker::op_of(w2), map_operation::erase);
  EXPECT_EQ((w2 & checker::seq_mask) >> 8, 2u);
  EXPECT_EQ(checker::thread_of(w2), me);
  c.leave_write(w2);

  // Operation codes fill 7 bits without touching the others.
  const auto last = static_cast<map_operation>(static_cast<unsigned>(map_operation::count_) - 1);
  const checker::word w3 = c.enter_write(last);
  EXPECT_EQ(checker::op_of(w3), last);
  EXPECT_EQ((w3 & checker::seq_mask) >> 8, 3u);
  EXPECT_EQ(w3 & checker::write_bit, 1u);
  c.leave_write(w3);
  EXPECT_TRUE(log.take().empty());
}

// 2^24 writes bring the sequence back to 0 within its 24 bits: the thread number above it
// is never carried into.
TEST_F(AccessChecker, TheSequenceNumberWrapsWithinItsField) {
  checker::word w = 0;
  for (std::uint32_t i = 0; i < (1u << 24); ++i) {
    w = c.enter_write(map_operation::insert);
    c.leave_write(w);
  }
  EXPECT_EQ((w & checker::seq_mask) >> 8, 0u);
  EXPECT_EQ(checker::thread_of(w), me);
  const checker::word next = c.enter_write(map_operation::insert);
  EXPECT_EQ((next & checker::seq_mask) >> 8, 1u);
  EXPECT_EQ(checker::thread_of(next), me);
  c.leave_write(next);
  EXPECT_TRUE(log.take().empty());
}

TEST_F(AccessChecker, AWriteEnteredDuringAnotherIsReportedByBoth) {
  const checker::word first = c.enter_write(map_operation::erase);
  const checker::word second = c.enter_write(map_operation::insert);
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);  // at the second one's entry: the first is in progress
  expect_report(reports[0], test_kind::concurrent_writes, "insert", "erase", me, true);
  EXPECT_TRUE(reports[0].may_throw);

  c.leave_write(second);  // the word is still the second's own: nothing to report
  EXPECT_TRUE(log.take().empty());
  c.leave_write(first);  // the word is the second's, finished meanwhile
  reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  expect_report(reports[0], test_kind::concurrent_writes, "erase", "insert", me, false);
  // The mismatched exit leaves the other writer's word: a later reader sees no write.
  const checker::word seen = c.enter_read(map_operation::find);
  EXPECT_EQ(seen, second & ~checker::write_bit);
  c.leave_read(seen, map_operation::find);
  const checker::word third = c.enter_write(map_operation::clear);
  c.leave_write(third);
  EXPECT_TRUE(log.take().empty());
}

// The first writer leaves while the second is still inside: the first reports, leaves the
// second's word in place, and the second's own exit check then passes.
TEST_F(AccessChecker, AWriterLeavingWhileAnotherIsInsideReportsIt) {
  const checker::word first = c.enter_write(map_operation::insert);
  const checker::word second = c.enter_write(map_operation::rehash);
  ASSERT_EQ(log.take().size(), 1u);
  c.leave_write(first);
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  expect_report(reports[0], test_kind::concurrent_writes, "insert", "rehash", me, true);
  c.leave_write(second);
  EXPECT_TRUE(log.take().empty());
  const checker::word seen = c.enter_read(map_operation::size);
  EXPECT_EQ(seen, second & ~checker::write_bit);
  c.leave_read(seen, map_operation::size);
  EXPECT_TRUE(log.take().empty());
}

TEST_F(AccessChecker, AReadDuringAWriteIsReportedAtItsEntry) {
  const checker::word w = c.enter_write(map_operation::erase);
  const checker::word seen = c.enter_read(map_operation::find);
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  expect_report(reports[0], test_kind::read_during_write, "find", "erase", me, true);
  c.leave_read(seen, map_operation::find);  // nothing changed since its entry
  c.leave_write(w);
  EXPECT_TRUE(log.take().empty());
}

// The write here has the same operation and thread as the one before the read, so only the
// sequence number tells the words apart.
TEST_F(AccessChecker, AWriteThatBeganAndEndedDuringAReadIsReportedAtTheReadsExit) {
  const checker::word before = c.enter_write(map_operation::insert);
  c.leave_write(before);
  const checker::word seen = c.enter_read(map_operation::find);
  const checker::word during = c.enter_write(map_operation::insert);
  c.leave_write(during);
  EXPECT_EQ((before ^ during) & ~checker::seq_mask, 0u);
  EXPECT_TRUE(log.take().empty());
  c.leave_read(seen, map_operation::find);
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  expect_report(reports[0], test_kind::read_during_write, "find", "insert", me, false);

  // A read after the write, or around no write at all, reports nothing.
  const checker::word after = c.enter_read(map_operation::contains);
  c.leave_read(after, map_operation::contains);
  EXPECT_EQ(c.read(map_operation::at, [] { return 5; }), 5);
  EXPECT_TRUE(log.take().empty());
}

TEST_F(AccessChecker, ReadsNeverReportReads) {
  const checker::word w = c.enter_write(map_operation::insert);
  c.leave_write(w);
  const checker::word a = c.enter_read(map_operation::find);
  const checker::word b = c.enter_read(map_operation::count);
  c.read(map_operation::size, [&] {
    c.check_iteration();
    const checker::word d = c.enter_read(map_operation::begin);
    c.leave_read(d, map_operation::begin);
  });
  c.leave_read(a, map_operation::find);  // out of order: readers store nothing
  c.check_iteration();
  c.leave_read(b, map_operation::count);
  EXPECT_TRUE(log.take().empty());
}

TEST_F(AccessChecker, IterationDuringAWriteIsReported) {
  const std::vector<int> v{1, 2, 3};
  using iterator = cmap::detail::checked_iterator<std::vector<int>::const_iterator, checker>;
  iterator it(v.begin(), &c);
  ++it;  // no write: nothing
  EXPECT_TRUE(log.take().empty());

  const checker::word w = c.enter_write(map_operation::clear);
  c.check_iteration();
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  expect_report(reports[0], test_kind::iteration_during_write, "iteration", "clear", me, true);
  ++it;  // the iterator's step checks the same flag
  reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  expect_report(reports[0], test_kind::iteration_during_write, "iteration", "clear", me, true);
  EXPECT_EQ(*it, 3);
  c.leave_write(w);

  ++it;  // the write is over
  EXPECT_TRUE(log.take().empty());
}

// A write that throws clears the flag on unwinding and reports nothing, so the next write
// and read go on undisturbed; the exit check runs only in finish().
TEST_F(AccessChecker, AnAbandonedWriteClearsTheFlagWithoutReporting) {
  EXPECT_THROW(c.write(map_operation::insert, [] { throw std::runtime_error("hash threw"); }),
               std::runtime_error);
  EXPECT_TRUE(log.take().empty());
  const checker::word seen = c.enter_read(map_operation::find);
  EXPECT_EQ(seen & checker::write_bit, 0u);
  EXPECT_EQ(checker::op_of(seen), map_operation::insert);
  c.leave_read(seen, map_operation::find);
  EXPECT_EQ(c.write(map_operation::erase, [] { return 7; }), 7);
  EXPECT_TRUE(log.take().empty());

  try {
    cmap::detail::write_scope<checker> scope(c, map_operation::emplace);
    throw std::runtime_error("allocation failed");
  } catch (const std::runtime_error&) {
  }
  const checker::word after = c.enter_read(map_operation::find);
  EXPECT_EQ(after & checker::write_bit, 0u);
  EXPECT_EQ(checker::op_of(after), map_operation::emplace);
  c.leave_read(after, map_operation::find);
  EXPECT_TRUE(log.take().empty());

  // Abandoned while another writer had stored its word: no report from the abandoning
  // writer; the other one's exit check finds the change.
  const checker::word first = c.enter_write(map_operation::insert);
  const checker::word second = c.enter_write(map_operation::erase);
  ASSERT_EQ(log.take().size(), 1u);
  c.abandon_write(first);
  EXPECT_TRUE(log.take().empty());
  c.leave_write(second);
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  expect_report(reports[0], test_kind::concurrent_writes, "erase", "insert", me, false);
}

// write() hands back what the operation returns, a reference as that reference, and lets the
// operation's own exception object through (rethrown, not copied or sliced) after clearing
// the flag.
TEST_F(AccessChecker, AWriteReturnsTheOperationsResultAndRethrowsItsException) {
  int x = 1;
  int& r = c.write(map_operation::subscript, [&]() -> int& { return x; });
  EXPECT_EQ(&r, &x);
  static_assert(std::is_same_v<decltype(c.write(map_operation::insert, [] { return 2; })), int>);

  struct derived : std::runtime_error {
    derived() : std::runtime_error("derived") {}
  };
  const void* thrown = nullptr;
  try {
    c.write(map_operation::emplace, [&] {
      try {
        throw derived();
      } catch (const derived& e) {
        thrown = &e;
        throw;
      }
    });
    ADD_FAILURE() << "no exception";
  } catch (const derived& e) {
    EXPECT_EQ(static_cast<const void*>(&e), thrown);
  }
  EXPECT_TRUE(log.take().empty());
  const checker::word after = c.enter_read(map_operation::find);
  EXPECT_EQ(after & checker::write_bit, 0u);
  EXPECT_EQ(checker::op_of(after), map_operation::emplace);
  c.leave_read(after, map_operation::find);
  EXPECT_TRUE(log.take().empty());
}

// Writes inside noexcept calls report through handle<false>.
TEST_F(AccessChecker, NothrowWritesReportWithoutMayThrow) {
  const checker::word w = c.enter_write(map_operation::swap);
  {
    cmap::detail::write_scope<checker, reporting::nothrow> scope(c, map_operation::move);
    auto reports = log.take();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_FALSE(reports[0].may_throw);
    expect_report(reports[0], test_kind::concurrent_writes, "move", "swap", me, true);
    scope.finish();
  }
  EXPECT_TRUE(log.take().empty());
  c.leave_write<reporting::nothrow>(w);
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].may_throw);
  expect_report(reports[0], test_kind::concurrent_writes, "swap", "move", me, false);
}

// A copy is another object: it starts with no write in progress and its own sequence, and
// reports to the same policy.
TEST_F(AccessChecker, ACopyTakesThePolicyNotTheState) {
  const checker::word w = c.enter_write(map_operation::insert);
  checker copy(c);
  EXPECT_EQ(copy.policy().log, &log);
  const checker::word mine = copy.enter_write(map_operation::assign);
  EXPECT_TRUE(log.take().empty()) << "the copy saw the original's write";
  EXPECT_EQ((mine & checker::seq_mask) >> 8, 1u);
  const checker::word again = copy.enter_write(map_operation::erase);
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);  // the copy's own overlap, to the shared policy
  expect_report(reports[0], test_kind::concurrent_writes, "erase", "operator=", me, true);
  copy.leave_write(again);
  copy.abandon_write(mine);
  c.leave_write(w);
  EXPECT_TRUE(log.take().empty());

  journal other;
  c.set_policy(recording_policy{&other});
  EXPECT_EQ(c.policy().log, &other);
  EXPECT_EQ(copy.policy().log, &log);
}

// The public policy and violation, end to end: throw_error throws from the detecting call,
// with Go's words and both calls named; the writer in progress is left undisturbed.
TEST(AccessCheckerWithViolationPolicy, ThrowErrorThrowsTheViolationFromTheDetectingCall) {
  using public_checker =
      cmap::detail::access_checker<cmap::violation_policy, cmap::access_violation>;
  public_checker c(cmap::violation_policy::throw_error());
  const std::string me = std::to_string(cmap::this_thread_number());

  const public_checker::word w = c.enter_write(map_operation::erase);
  try {
    cmap::detail::write_scope<public_checker> scope(c, map_operation::insert);
    ADD_FAILURE() << "no report";
  } catch (const cmap::concurrent_access_error& e) {
    EXPECT_EQ(e.violation().kind, cmap::violation_kind::concurrent_writes);
    EXPECT_EQ(e.violation().other_thread, cmap::this_thread_number());
    EXPECT_TRUE(e.violation().other_in_progress);
    EXPECT_EQ(std::string(e.what()), "cmap: concurrent map writes (insert on thread " + me +
                                         " while erase on thread " + me +
                                         " was in progress, re-entered from the same thread)");
  }
  EXPECT_NO_THROW(c.leave_write(w));  // the word is still the erase's

  const public_checker::word seen = c.enter_read(map_operation::find);
  c.leave_write(c.enter_write(map_operation::clear));
  try {
    c.leave_read(seen, map_operation::find);
    ADD_FAILURE() << "no report";
  } catch (const cmap::concurrent_access_error& e) {
    EXPECT_EQ(e.violation().kind, cmap::violation_kind::read_during_write);
    EXPECT_FALSE(e.violation().other_in_progress);
    EXPECT_EQ(std::string(e.what()), "cmap: concurrent map read and map write (clear on thread " +
                                         me + " ran during find on thread " + me +
                                         ", re-entered from the same thread)");
  }

  std::vector<cmap::access_violation> handled;
  c.set_policy(
      cmap::violation_policy::call([&](const cmap::access_violation& v) { handled.push_back(v); }));
  const public_checker::word w2 = c.enter_write(map_operation::rehash);
  c.check_iteration();
  c.leave_write(w2);
  ASSERT_EQ(handled.size(), 1u);
  EXPECT_EQ(handled[0].kind, cmap::violation_kind::iteration_during_write);
  EXPECT_EQ(handled[0].operation, "iteration");
  EXPECT_EQ(handled[0].other_operation, "rehash");
}

// Two threads whose writes overlap for certain: the second enters while the first, held by
// a latch, is inside. Each detects the other, named by its thread number.
TEST(AccessCheckerThreads, OverlappingWritesOnTwoThreadsAreBothReported) {
  journal log;
  checker c{recording_policy{&log}};
  const std::uint32_t main_thread = thread_number();
  std::uint32_t writer_thread = 0;
  std::latch inside(1), second_done(1);
  std::thread writer([&] {
    writer_thread = thread_number();
    const checker::word mine = c.enter_write(map_operation::insert);
    inside.count_down();
    second_done.wait();
    c.leave_write(mine);
  });
  inside.wait();
  const checker::word mine = c.enter_write(map_operation::erase);
  c.leave_write(mine);
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_NE(writer_thread, 0u);
  EXPECT_NE(writer_thread, main_thread);
  expect_report(reports[0], test_kind::concurrent_writes, "erase", "insert", writer_thread, true,
                main_thread);
  second_done.count_down();
  writer.join();
  reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  expect_report(reports[0], test_kind::concurrent_writes, "insert", "erase", main_thread, false,
                writer_thread);
}

// A read on one thread spanning a whole write on another is reported at the read's exit.
TEST(AccessCheckerThreads, AWriteOnAnotherThreadDuringAReadIsReportedAtTheReadsExit) {
  journal log;
  checker c{recording_policy{&log}};
  std::uint32_t reader_thread = 0;
  std::latch reading(1), written(1);
  std::thread reader([&] {
    reader_thread = thread_number();
    const checker::word seen = c.enter_read(map_operation::find);
    reading.count_down();
    written.wait();
    c.leave_read(seen, map_operation::find);
  });
  reading.wait();
  const checker::word w = c.enter_write(map_operation::insert_or_assign);
  c.leave_write(w);
  EXPECT_TRUE(log.take().empty());
  written.count_down();
  reader.join();
  auto reports = log.take();
  ASSERT_EQ(reports.size(), 1u);
  expect_report(reports[0], test_kind::read_during_write, "find", "insert_or_assign",
                thread_number(), false, reader_thread);
}

}  // namespace
