// thread_number(): nonzero, stable within a thread, distinct across threads (also when many
// threads ask for their first number at once).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmap/detail/thread_number.hpp>
#include <cstdint>
#include <latch>
#include <set>
#include <thread>
#include <vector>

namespace {

TEST(ThreadNumber, NonzeroAndStableWithinAThread) {
  const std::uint32_t first = cmap::detail::thread_number();
  EXPECT_NE(first, 0u);
  EXPECT_EQ(cmap::detail::thread_number(), first);
}

TEST(ThreadNumber, DistinctAcrossThreadsThatAskAtOnce) {
  constexpr int threads = 16;
  std::vector<std::uint32_t> numbers(threads);
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      numbers[t] = cmap::detail::thread_number();
    });
  }
  for (auto& th : pool) th.join();
  numbers.push_back(cmap::detail::thread_number());  // this thread's, too
  const std::set<std::uint32_t> distinct(numbers.begin(), numbers.end());
  EXPECT_EQ(distinct.size(), numbers.size());
  EXPECT_EQ(std::count(numbers.begin(), numbers.end(), 0u), 0);
}

}  // namespace
