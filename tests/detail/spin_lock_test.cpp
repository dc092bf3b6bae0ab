// cmap::detail::spin_lock: try_lock fails while held and succeeds once released; the standard
// wrappers work; and a mutual-exclusion stress with more threads than cores, whose invariant
// (a plain, non-atomic counter and a "someone inside" flag) only a correct lock keeps.

#include <gtest/gtest.h>

#include <atomic>
#include <cmap/detail/spin_lock.hpp>
#include <cstdint>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using cmap::detail::spin_lock;

TEST(SpinLock, TryLockFailsWhileHeldAndSucceedsAfterUnlock) {
  spin_lock l;
  ASSERT_TRUE(l.try_lock());
  EXPECT_FALSE(l.try_lock());
  bool other_got_it = true;
  std::thread([&] { other_got_it = l.try_lock(); }).join();
  EXPECT_FALSE(other_got_it);
  l.unlock();
  std::thread([&] {
    other_got_it = l.try_lock();
    if (other_got_it) l.unlock();
  }).join();
  EXPECT_TRUE(other_got_it);
}

TEST(SpinLock, WorksWithStandardWrappers) {
  spin_lock l;
  {
    std::lock_guard g(l);
    EXPECT_FALSE(l.try_lock());
  }
  {
    std::unique_lock u(l, std::try_to_lock);
    EXPECT_TRUE(u.owns_lock());
    u.unlock();
    EXPECT_TRUE(l.try_lock());
    l.unlock();
  }
}

// 8 threads on a 2-core machine: holders are preempted inside the lock, and waiters must
// back off to yielding rather than spin through their time slices. Each holder checks that
// nobody else is inside, then increments a plain counter in two steps (a lost update shows
// as a short count; under TSan, a missing happens-before shows as a race).
TEST(SpinLock, ExcludesUnderOversubscription) {
  constexpr int threads = 8;
  constexpr std::uint64_t per_thread = 20000;
  spin_lock l;
  std::uint64_t counter = 0;  // guarded by l
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        std::lock_guard g(l);
        if (inside.fetch_add(1, std::memory_order_relaxed) != 0)
          overlaps.fetch_add(1, std::memory_order_relaxed);
        const std::uint64_t read = counter;
        if (i % 64 == 0) std::this_thread::yield();  // invite preemption inside the lock
        counter = read + 1;
        inside.fetch_sub(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(counter, threads * per_thread);
}

}  // namespace
