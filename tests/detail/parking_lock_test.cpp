// parking_lock: mutual exclusion under contention (a counter incremented without atomics adds
// up), waiters that sleep through a long critical section and are woken, try_lock's answers,
// and more locks held by one thread than ThreadSanitizer's deadlock detector could count.
#include <cmap/detail/parking_lock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using cmap::detail::parking_lock;

TEST(ParkingLock, TryLock) {
  parking_lock l;
  EXPECT_TRUE(l.try_lock());
  EXPECT_FALSE(l.try_lock());
  l.unlock();
  EXPECT_TRUE(l.try_lock());
  l.unlock();
}

TEST(ParkingLock, CountsAddUpUnderContention) {
  parking_lock l;
  long counter = 0;  // plain: only the lock keeps the increments apart
  constexpr int threads = 6;  // more than the cores of a small machine
  constexpr int rounds = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        std::lock_guard g(l);
        ++counter;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, long{threads} * rounds);
}

TEST(ParkingLock, WaitersSleepThroughALongHoldAndAreWoken) {
  parking_lock l;
  l.lock();
  std::atomic<int> entered{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      std::lock_guard g(l);
      entered.fetch_add(1, std::memory_order_relaxed);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(entered.load(), 0);  // nobody got in while it was held
  l.unlock();
  for (auto& t : ts) t.join();
  EXPECT_EQ(entered.load(), 4);
  EXPECT_TRUE(l.try_lock());  // left free
  l.unlock();
}

TEST(ParkingLock, ManyHeldAtOnce) {
  auto locks = std::make_unique<parking_lock[]>(1024);
  for (int i = 0; i < 1024; ++i) locks[i].lock();
  std::atomic<bool> got{false};
  std::thread other([&] {
    std::lock_guard g(locks[777]);
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(got.load());
  for (int i = 1023; i >= 0; --i) locks[i].unlock();
  other.join();
  EXPECT_TRUE(got.load());
}

}  // namespace
