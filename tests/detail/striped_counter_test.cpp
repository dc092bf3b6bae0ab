// striped_counters: adds from many threads sum exactly once they are joined; each counter is
// its own; negative deltas; the cells do not share cache lines.

#include <gtest/gtest.h>

#include <cmap/detail/cache_line.hpp>
#include <cmap/detail/striped_counter.hpp>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using cmap::detail::striped_counters;

TEST(StripedCounters, StartAtZeroAndAddUp) {
  striped_counters<2> c;
  EXPECT_EQ(c.sum(0), 0);
  EXPECT_EQ(c.sum(1), 0);
  c.add(0, 5);
  c.add(1, -3);
  c.add(0, 2);
  EXPECT_EQ(c.sum(0), 7);
  EXPECT_EQ(c.sum(1), -3);
  c.reset();
  EXPECT_EQ(c.sum(0), 0);
  EXPECT_EQ(c.sum(1), 0);
}

TEST(StripedCounters, AddsFromManyThreadsSumExactlyAfterJoin) {
  striped_counters<2> c;
  constexpr int threads = 24;  // more than the cells: some threads share one
  constexpr int adds = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&c, t] {
      for (int i = 0; i < adds; ++i) {
        c.add(0, 1);
        c.add(1, (t % 2 == 0) ? 2 : -1);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.sum(0), std::int64_t{threads} * adds);
  EXPECT_EQ(c.sum(1), std::int64_t{threads / 2} * adds * 2 - std::int64_t{threads / 2} * adds);
}

TEST(StripedCounters, CellsSitOnTheirOwnCacheLines) {
  EXPECT_GE(sizeof(striped_counters<1>),
            striped_counters<1>::cells * cmap::detail::cache_line_size);
  EXPECT_EQ(alignof(striped_counters<1>), cmap::detail::cache_line_size);
}

}  // namespace
