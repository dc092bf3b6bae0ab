// detail/hash_seed.hpp: the seeds default-constructed cmap::hash objects draw. They must not
// repeat, within a thread or across threads, and must not show the counter behind them.

#include <gtest/gtest.h>

#include <bit>
#include <cmap/detail/hash_seed.hpp>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

using u64 = std::uint64_t;

TEST(HashSeed, SeedsOfOneThreadDoNotRepeat) {
  std::unordered_set<u64> seen;
  for (int i = 0; i < 100000; ++i) EXPECT_TRUE(seen.insert(cmap::detail::fresh_hash_seed()).second);
}

TEST(HashSeed, ThreadsDrawDifferentSeeds) {
  // Each thread's source starts from its own words of the operating system's randomness.
  std::mutex m;
  std::unordered_set<u64> seen;
  std::size_t drawn = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      std::vector<u64> mine;
      for (int i = 0; i < 1000; ++i) mine.push_back(cmap::detail::fresh_hash_seed());
      const std::lock_guard lock(m);
      for (u64 s : mine) seen.insert(s);
      drawn += mine.size();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), drawn);
}

TEST(HashSeed, ConsecutiveSeedsLookUnrelated) {
  // A counter would show as small differences; the keyed folded multiply hides it: about
  // half the bits differ between consecutive seeds.
  u64 prev = cmap::detail::fresh_hash_seed();
  double flipped = 0;
  constexpr int n = 10000;
  for (int i = 0; i < n; ++i) {
    const u64 s = cmap::detail::fresh_hash_seed();
    flipped += std::popcount(s ^ prev);
    prev = s;
  }
  EXPECT_NEAR(flipped / n, 32.0, 1.0);
}

TEST(HashSeed, SourcesStartFromTheOperatingSystem) {
  // Two sources made one after the other in one thread share no state: their first seeds
  // differ (a clock- or address-based start could repeat).
  cmap::detail::hash_seed_source a, b;
  EXPECT_NE(a.next(), b.next());
}

TEST(FoldedMultiply, IsTheXorOfTheProductsHalves) {
  EXPECT_EQ(cmap::detail::folded_multiply(0, 12345), 0u);
  EXPECT_EQ(cmap::detail::folded_multiply(3, 5), 15u);
  // (2^63) * 4 = 2^65: low word 0, high word 2.
  EXPECT_EQ(cmap::detail::folded_multiply(u64{1} << 63, 4), 2u);
  constexpr u64 a = 0x9e3779b97f4a7c15ULL, b = 0xbf58476d1ce4e5b9ULL;
  EXPECT_EQ(cmap::detail::folded_multiply(a, b), (a * b) ^ cmap::detail::mul_high(a, b));
}

}  // namespace
