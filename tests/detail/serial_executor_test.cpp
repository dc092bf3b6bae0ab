// serial_executor on its own, over a log of integers: commands applied one at a time in
// ticket order (each thread's in its own order), results and exceptions to the right caller,
// all-or-nothing commands under a savepoint, a failed batch failing exactly its commands,
// close() draining what it accepted, backpressure, and re-entry from the owner thread.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmap/detail/serial_executor.hpp>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

// What commands change: one batch's working copy of the log.
struct log_target {
  std::vector<int> items;
};

// Remembers the log's length; unless committed, cuts the log back to it.
class truncating_savepoint {
 public:
  explicit truncating_savepoint(log_target& t) : t_(t), size_(t.items.size()) {}
  ~truncating_savepoint() {
    if (!committed_) t_.items.resize(size_);
  }
  truncating_savepoint(const truncating_savepoint&) = delete;
  truncating_savepoint& operator=(const truncating_savepoint&) = delete;
  void commit() noexcept { committed_ = true; }

 private:
  log_target& t_;
  std::size_t size_;
  bool committed_ = false;
};

struct closed_error : std::logic_error {
  closed_error() : std::logic_error("closed") {}
};

// The published log: a batch works on a copy and publishes it whole, or, if the copy holds
// the poison value, throws and publishes nothing.
struct published_log {
  std::mutex mutex;
  std::vector<int> items;
  int poison = -1000;

  std::vector<int> read() {
    std::lock_guard lock(mutex);
    return items;
  }
};

struct log_runner {
  published_log* log;
  template <class F>
  void operator()(F&& apply_all) {
    log_target t{log->read()};
    apply_all(t);
    for (int v : t.items) {
      if (v == log->poison) throw std::runtime_error("publish failed");
    }
    std::lock_guard lock(log->mutex);
    log->items = std::move(t.items);
  }
};

using executor =
    cmap::detail::serial_executor<log_target, truncating_savepoint, log_runner, closed_error>;

// An op that appends v and returns the position it took.
auto append(int v) {
  return [v](log_target& t) {
    t.items.push_back(v);
    return t.items.size() - 1;
  };
}

TEST(SerialExecutor, CallsApplyInTicketOrderAndReturnTheirResults) {
  published_log log;
  executor ex(log_runner{&log}, 1024);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ex.call<false>(append(i)), static_cast<std::size_t>(i));
  ex.flush();
  std::vector<int> expected(100);
  for (int i = 0; i < 100; ++i) expected[i] = i;
  EXPECT_EQ(log.read(), expected);
  EXPECT_EQ(ex.applied(), 100u);
  EXPECT_GE(ex.batches(), 1u);
  EXPECT_LE(ex.batches(), 100u);
}

TEST(SerialExecutor, EachThreadsCommandsKeepTheirOrderAndNoneIsLostOrRepeated) {
  published_log log;
  executor ex(log_runner{&log}, 64);  // small: submitters are held back now and then
  constexpr int threads = 6, per_thread = 2000;
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        const int v = t * per_thread + i;
        switch (i % 3) {
          case 0:
            ex.call<false>(append(v));
            break;
          case 1:
            ex.async<false>(append(v));  // the future is dropped: still applied
            break;
          default:
            ex.post<false>(append(v));
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  ex.flush();
  const auto items = log.read();
  ASSERT_EQ(items.size(), static_cast<std::size_t>(threads * per_thread));
  std::vector<int> last(threads, -1);
  std::vector<int> seen(threads * per_thread, 0);
  for (int v : items) {
    ++seen[v];
    const int t = v / per_thread;
    EXPECT_GT(v, last[t]) << "thread " << t << "'s commands out of order";
    last[t] = v;
  }
  for (int v = 0; v < threads * per_thread; ++v) ASSERT_EQ(seen[v], 1) << v;
  EXPECT_EQ(ex.applied(), static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_GT(ex.largest_batch(), 1u);  // with six producers, batches formed
}

TEST(SerialExecutor, AThrowingCommandFailsAloneAndAGuardedOneLeavesNoTrace) {
  published_log log;
  executor ex(log_runner{&log}, 1024);
  // Guarded: appends, then throws: the savepoint takes the append back.
  auto half_done = [](log_target& t) -> int {
    t.items.push_back(-1);
    throw std::runtime_error("half done");
  };
  auto before = ex.async<false>(append(1));
  auto failing = ex.async<true>(half_done);
  auto after = ex.async<false>(append(2));
  EXPECT_EQ(before.get(), 0u);
  EXPECT_THROW(failing.get(), std::runtime_error);
  EXPECT_EQ(after.get(), 1u);
  EXPECT_THROW(ex.call<true>(half_done), std::runtime_error);
  ex.post<true>(half_done);
  ex.flush();
  EXPECT_EQ(log.read(), (std::vector<int>{1, 2}));
  EXPECT_EQ(ex.failed(), 1u);  // the posted one; the others told their callers
}

TEST(SerialExecutor, AFailedBatchFailsEveryCommandInItAndNothingElse) {
  published_log log;
  log.poison = 1;
  executor ex(log_runner{&log}, 1024);
  ex.call<false>(append(0));
  // Hold the owner in a command so that the next three land in one batch, which append(1)
  // makes fail.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> holding{false};
  auto held = ex.async<false>([&](log_target& t) {
    holding.store(true);
    released.wait();
    t.items.push_back(100);
    return t.items.size() - 1;
  });
  while (!holding.load()) std::this_thread::yield();
  auto a = ex.async<false>(append(1));
  auto b = ex.async<false>(append(2));
  ex.post<false>(append(3));
  release.set_value();
  EXPECT_EQ(held.get(), 1u);  // its own batch, published
  EXPECT_THROW(a.get(), std::runtime_error);
  EXPECT_THROW(b.get(), std::runtime_error);
  ex.flush();
  EXPECT_EQ(ex.failed(), 1u);
  EXPECT_EQ(ex.call<false>(append(4)), 2u);  // the next batch starts from what was published
  EXPECT_EQ(log.read(), (std::vector<int>{0, 100, 4}));
}

TEST(SerialExecutor, CloseAppliesWhatItAcceptedThenRefusesEverything) {
  published_log log;
  executor ex(log_runner{&log}, 1024);
  for (int i = 0; i < 500; ++i) ex.post<false>(append(i));
  ex.close();
  EXPECT_TRUE(ex.closed());
  EXPECT_EQ(log.read().size(), 500u);
  EXPECT_THROW(ex.call<false>(append(1)), closed_error);
  EXPECT_THROW(ex.async<false>(append(1)), closed_error);
  EXPECT_THROW(ex.post<false>(append(1)), closed_error);
  ex.flush();  // returns at once
  ex.close();  // idempotent
  EXPECT_EQ(log.read().size(), 500u);
}

TEST(SerialExecutor, ASubmitterThatFindsTheQueueFullWaitsForTheOwner) {
  published_log log;
  executor ex(log_runner{&log}, 2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> holding{false};
  ex.post<false>([&](log_target& t) {
    holding.store(true);
    released.wait();
    t.items.push_back(0);
  });
  while (!holding.load()) std::this_thread::yield();
  ex.post<false>(append(1));
  ex.post<false>(append(2));  // the queue is now full
  std::atomic<bool> third_queued{false};
  std::thread producer([&] {
    ex.post<false>(append(3));
    third_queued.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(third_queued.load()) << "a submission passed a full queue";
  release.set_value();
  producer.join();
  EXPECT_TRUE(third_queued.load());
  ex.flush();
  EXPECT_EQ(log.read(), (std::vector<int>{0, 1, 2, 3}));
}

TEST(SerialExecutorDeathTest, ASynchronousCallFromTheOwnerThreadIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        published_log log;
        executor ex(log_runner{&log}, 16);
        ex.call<false>([&](log_target&) { return ex.call<false>(append(1)); });
      },
      "would wait for itself");
}

TEST(SerialExecutor, KnowsItsOwnerThread) {
  published_log log;
  executor ex(log_runner{&log}, 16);
  EXPECT_FALSE(ex.on_owner_thread());
  EXPECT_TRUE(ex.call<false>([&](log_target&) { return ex.on_owner_thread(); }));
}

}  // namespace
