// cmap::detail::optimistic_lock and optimistic_field: the version lock's state machine on one
// thread (versions advance, an upgrade fails after a write, obsolete is final), the waits of
// read and write locks, a reader's stale version failing after another thread's write, and a
// stress test with more threads than cores in which writers keep an invariant across several
// fields and every read that validates must see it whole.

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmap/detail/optimistic_lock.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "stress/watchdog.hpp"

namespace {

using cmap::detail::optimistic_field;
using cmap::detail::optimistic_lock;
using version_type = optimistic_lock::version_type;
using cmap_test::watchdog;
using namespace std::chrono_literals;

// A lock that never grants or never releases hangs a threaded test: this turns that into a
// failure (the whole file runs in about a second).
constexpr std::chrono::seconds hang_limit{60};

// A version read from a lock known to be unlocked and not obsolete.
version_type read_version(const optimistic_lock& l) {
  const std::optional<version_type> v = l.read_lock_or_restart();
  EXPECT_TRUE(v.has_value());
  return v.value_or(0);
}

// Whether a write lock (or an upgrade from `v`) was granted; released at once if so, so that
// a lock granted where the test expects a refusal fails that expectation instead of making a
// later wait hang.
bool write_lock_granted(optimistic_lock& l) {
  const bool granted = l.write_lock_or_restart();
  if (granted) l.write_unlock();
  return granted;
}
bool upgrade_granted(optimistic_lock& l, version_type v) {
  const bool granted = l.upgrade_to_write_lock_or_restart(v);
  if (granted) l.write_unlock();
  return granted;
}

TEST(OptimisticLock, ReadValidatesWhileNothingChanges) {
  optimistic_lock l;
  EXPECT_FALSE(l.is_locked());
  EXPECT_FALSE(l.is_obsolete());
  const version_type v = read_version(l);
  EXPECT_TRUE(l.check_or_restart(v));
  EXPECT_TRUE(l.check_or_restart(v));
  EXPECT_TRUE(l.read_unlock_or_restart(v));
  EXPECT_EQ(read_version(l), v);  // reads leave the word alone
}

TEST(OptimisticLock, WriteLockFailsValidationAndUnlockAdvancesTheVersion) {
  optimistic_lock l;
  const version_type v0 = read_version(l);
  ASSERT_TRUE(l.write_lock_or_restart());
  EXPECT_TRUE(l.is_locked());
  EXPECT_FALSE(l.check_or_restart(v0));  // a write in progress
  l.write_unlock();
  EXPECT_FALSE(l.is_locked());
  EXPECT_FALSE(l.read_unlock_or_restart(v0));  // a write finished since
  const version_type v1 = read_version(l);
  EXPECT_GT(v1, v0);
  EXPECT_TRUE(l.check_or_restart(v1));

  // Every write advances the version; none repeats an earlier one.
  version_type last = v1;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(l.write_lock_or_restart());
    l.write_unlock();
    const version_type v = read_version(l);
    EXPECT_GT(v, last);
    last = v;
  }
}

TEST(OptimisticLock, UpgradeSucceedsOnlyFromTheCurrentVersion) {
  optimistic_lock l;
  const version_type v0 = read_version(l);
  ASSERT_TRUE(l.upgrade_to_write_lock_or_restart(v0));
  EXPECT_TRUE(l.is_locked());
  EXPECT_FALSE(l.upgrade_to_write_lock_or_restart(v0));  // held (by this thread, even)
  l.write_unlock();
  EXPECT_FALSE(upgrade_granted(l, v0));  // a write happened since v0
  EXPECT_FALSE(l.is_locked());

  const version_type v1 = read_version(l);
  ASSERT_TRUE(l.write_lock_or_restart());
  l.write_unlock();
  EXPECT_FALSE(upgrade_granted(l, v1));  // after a plain write lock too
  const version_type v2 = read_version(l);
  EXPECT_TRUE(l.upgrade_to_write_lock_or_restart(v2));
  l.write_unlock();
}

TEST(OptimisticLock, ObsoleteIsFinal) {
  optimistic_lock l;
  const version_type before = read_version(l);
  ASSERT_TRUE(l.write_lock_or_restart());
  l.write_unlock_obsolete();
  EXPECT_TRUE(l.is_obsolete());
  EXPECT_FALSE(l.is_locked());
  for (int i = 0; i < 3; ++i) {  // and stays so, however often it is tried
    EXPECT_FALSE(l.read_lock_or_restart().has_value());
    EXPECT_FALSE(l.check_or_restart(before));
    EXPECT_FALSE(l.read_unlock_or_restart(before));
    EXPECT_FALSE(upgrade_granted(l, before));
    EXPECT_FALSE(write_lock_granted(l));
    EXPECT_TRUE(l.is_obsolete());
    EXPECT_FALSE(l.is_locked());
  }
}

TEST(OptimisticLock, ObsoleteAfterAnUpgradeToo) {
  optimistic_lock l;
  const version_type v = read_version(l);
  ASSERT_TRUE(l.upgrade_to_write_lock_or_restart(v));
  l.write_unlock_obsolete();
  EXPECT_FALSE(l.read_lock_or_restart().has_value());
  EXPECT_FALSE(upgrade_granted(l, v));
  EXPECT_FALSE(write_lock_granted(l));
}

// Another thread's write makes a version this reader holds fail, whether the write is still
// in progress or finished, and the reader's next read lock sees the new version.
TEST(OptimisticLock, StaleReaderFailsAfterAnotherThreadsWrite) {
  watchdog dog(hang_limit);
  optimistic_lock l;
  optimistic_field<std::uint64_t> field{1};
  const version_type v = read_version(l);
  EXPECT_EQ(field.load(), 1u);

  std::latch locked(1), release(1);
  std::thread writer([&] {
    ASSERT_TRUE(l.write_lock_or_restart());
    field.store(2);
    locked.count_down();
    release.wait();
    l.write_unlock();
  });
  locked.wait();
  EXPECT_FALSE(l.check_or_restart(v));  // write in progress
  release.count_down();
  writer.join();
  EXPECT_FALSE(l.read_unlock_or_restart(v));  // write finished
  EXPECT_FALSE(upgrade_granted(l, v));
  const version_type v1 = read_version(l);
  EXPECT_NE(v1, v);
  EXPECT_EQ(field.load(), 2u);
  EXPECT_TRUE(l.read_unlock_or_restart(v1));
}

// A read lock waits while a writer holds the node and then returns the version after it;
// a write lock waits the same way.
TEST(OptimisticLock, ReadAndWriteLocksWaitForTheHolder) {
  watchdog dog(hang_limit);
  optimistic_lock l;
  const version_type before = read_version(l);
  ASSERT_TRUE(l.write_lock_or_restart());
  std::atomic<bool> read_done{false}, write_done{false};
  std::optional<version_type> seen;
  bool wrote = false;
  std::thread reader([&] {
    seen = l.read_lock_or_restart();
    read_done.store(true, std::memory_order_release);
  });
  std::thread writer([&] {
    wrote = l.write_lock_or_restart();
    if (wrote) l.write_unlock();
    write_done.store(true, std::memory_order_release);
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(read_done.load(std::memory_order_acquire));
  EXPECT_FALSE(write_done.load(std::memory_order_acquire));
  l.write_unlock();
  reader.join();
  writer.join();
  ASSERT_TRUE(seen.has_value());
  EXPECT_NE(*seen, before);
  EXPECT_TRUE(wrote);
}

// Threads waiting on a node whose holder unlinks it give up when it turns obsolete, and every
// attempt from any thread afterwards fails.
TEST(OptimisticLock, WaitersRestartWhenTheHolderMakesTheNodeObsolete) {
  watchdog dog(hang_limit);
  optimistic_lock l;
  const version_type before = read_version(l);
  ASSERT_TRUE(l.write_lock_or_restart());
  constexpr int waiters = 4;
  std::atomic<int> succeeded{0};
  std::vector<std::thread> pool;
  pool.reserve(waiters);
  for (int t = 0; t < waiters; ++t) {
    pool.emplace_back([&, t] {
      const bool ok = t % 2 == 0 ? l.read_lock_or_restart().has_value() : write_lock_granted(l);
      if (ok) succeeded.fetch_add(1, std::memory_order_relaxed);
    });
  }
  std::this_thread::sleep_for(20ms);
  l.write_unlock_obsolete();
  for (auto& th : pool) th.join();
  EXPECT_EQ(succeeded.load(), 0);

  std::thread later([&] {
    EXPECT_FALSE(l.read_lock_or_restart().has_value());
    EXPECT_FALSE(write_lock_granted(l));
    EXPECT_FALSE(upgrade_granted(l, before));
    EXPECT_FALSE(l.check_or_restart(before));
  });
  later.join();
}

TEST(OptimisticField, LoadsWhatWasStored) {
  optimistic_field<std::uint64_t> n;
  EXPECT_EQ(n.load(), 0u);  // value-initialised
  n.store(42);
  EXPECT_EQ(n.load(), 42u);
  int x = 0;
  optimistic_field<int*> p{&x};
  EXPECT_EQ(p.load(), &x);
  p.store(nullptr);
  EXPECT_EQ(p.load(), nullptr);
  enum class kind : std::uint8_t { a, b };
  optimistic_field<kind> k{kind::b};
  EXPECT_EQ(k.load(), kind::b);
}

// What a writer publishes through a pointer field: plain (non-atomic) contents, written
// before the pointer and never changed, so a reader may read them once it has validated
// the read that loaded the pointer (under TSan, a missing happens-before shows as a race).
struct payload {
  std::uint64_t n;
  std::uint64_t complement;  // ~n
};

// 2 writers and 4 readers on a 2-core machine, for about a second. Under the write lock a
// writer makes write number n: a = n, then b = n, then every element of `row` = n, then a
// new payload {n, ~n}, then c = a + b = 2n, yielding now and then half-way so that readers
// overlap it. Readers read everything optimistically (yielding now and then between fields,
// to widen the window) and validate; a validated read must satisfy a == b, c == 2a, every
// row element == a and payload == {a, ~a}, and two validated reads of one reader at the
// same version must have read the same a (a version names one state). Half of the writes
// take the lock by upgrading an optimistic read of a, and write a + 1 from that read: a
// validation the upgrade missed shows as a lost write at the end.
TEST(OptimisticLockStress, ValidatedReadsSeeTheInvariantUnderOversubscription) {
  watchdog dog(hang_limit);
  constexpr int writers = 2;
  constexpr int readers = 4;
  constexpr std::size_t row_size = 8;
  const auto duration = 1s;

  optimistic_lock lock;
  optimistic_field<std::uint64_t> a, b, c;
  std::array<optimistic_field<std::uint64_t>, row_size> row;
  auto first = std::make_unique<payload>(payload{0, ~std::uint64_t{0}});
  optimistic_field<const payload*> current{first.get()};
  std::vector<std::unique_ptr<payload>> published;  // guarded by `lock`: freed at the end

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> writes{0}, writer_restarts{0};
  std::atomic<std::uint64_t> validated{0}, restarts{0}, broken{0}, reused{0};
  std::latch start(writers + readers + 1);
  std::vector<std::thread> pool;
  pool.reserve(writers + readers);

  for (int t = 0; t < writers; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      std::uint64_t mine = 0, failed = 0;
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        std::uint64_t n;
        if ((i + static_cast<std::uint64_t>(t)) % 2 == 0) {
          const std::optional<version_type> v = lock.read_lock_or_restart();
          if (!v) {
            ++failed;
            continue;
          }
          const std::uint64_t seen = a.load();
          if (i % 8 == 0) std::this_thread::yield();  // let the other writer in, at times
          if (!lock.upgrade_to_write_lock_or_restart(*v)) {
            ++failed;
            continue;
          }
          n = seen + 1;
        } else {
          if (!lock.write_lock_or_restart()) {
            ++failed;
            continue;
          }
          n = a.load() + 1;
        }
        a.store(n);
        if (i % 16 == 0) std::this_thread::yield();
        b.store(n);
        for (auto& e : row) e.store(n);
        published.push_back(std::make_unique<payload>(payload{n, ~n}));
        current.store(published.back().get());
        c.store(2 * n);
        lock.write_unlock();
        ++mine;
        std::this_thread::yield();  // leave readers windows between writes
      }
      writes.fetch_add(mine, std::memory_order_relaxed);
      writer_restarts.fetch_add(failed, std::memory_order_relaxed);
    });
  }

  for (int t = 0; t < readers; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      std::uint64_t ok = 0, again = 0, bad = 0, same_version_other_a = 0;
      std::optional<std::pair<version_type, std::uint64_t>> last;  // version, a
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::optional<version_type> v = lock.read_lock_or_restart();
        if (!v) {
          ++again;
          continue;
        }
        const std::uint64_t ra = a.load();
        if (i % 8 == 0) std::this_thread::yield();
        const std::uint64_t rb = b.load();
        std::array<std::uint64_t, row_size> rrow{};
        for (std::size_t j = 0; j < row_size; ++j) rrow[j] = row[j].load();
        const payload* p = current.load();
        const std::uint64_t rc = c.load();
        if (!lock.read_unlock_or_restart(*v)) {
          ++again;
          continue;
        }
        ++ok;
        bool whole = ra == rb && rc == 2 * ra && p->n == ra && p->complement == ~ra;
        for (const std::uint64_t e : rrow) whole = whole && e == ra;
        if (!whole) ++bad;
        if (last && last->first == *v && last->second != ra) ++same_version_other_a;
        last.emplace(*v, ra);
      }
      validated.fetch_add(ok, std::memory_order_relaxed);
      restarts.fetch_add(again, std::memory_order_relaxed);
      broken.fetch_add(bad, std::memory_order_relaxed);
      reused.fetch_add(same_version_other_a, std::memory_order_relaxed);
    });
  }

  start.arrive_and_wait();
  std::this_thread::sleep_for(duration);
  stop.store(true, std::memory_order_relaxed);
  for (auto& th : pool) th.join();

  RecordProperty("writes", std::to_string(writes.load()));
  RecordProperty("validated_reads", std::to_string(validated.load()));
  RecordProperty("reader_restarts", std::to_string(restarts.load()));
  RecordProperty("writer_restarts", std::to_string(writer_restarts.load()));
  std::printf("writes %llu (writer restarts %llu), validated reads %llu, reader restarts %llu\n",
              static_cast<unsigned long long>(writes.load()),
              static_cast<unsigned long long>(writer_restarts.load()),
              static_cast<unsigned long long>(validated.load()),
              static_cast<unsigned long long>(restarts.load()));

  EXPECT_EQ(broken.load(), 0u);
  EXPECT_EQ(reused.load(), 0u);
  // Without overlap the test proves nothing: readers must have validated and restarted.
  EXPECT_GT(validated.load(), 0u);
  EXPECT_GT(restarts.load(), 0u);
  EXPECT_GT(writes.load(), 0u);
  // Every write added one to a: none was lost to an upgrade that should have failed.
  EXPECT_EQ(a.load(), writes.load());
  EXPECT_EQ(c.load(), 2 * writes.load());
  EXPECT_EQ(published.size(), writes.load());
  EXPECT_FALSE(lock.is_locked());
}

}  // namespace
