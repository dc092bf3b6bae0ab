// cmap::hash (<cmap/hash.hpp>): sequential integers must spread over the bits the tables and
// shards use, and the string hashers must agree across std::string, std::string_view and
// const char*.

#include <gtest/gtest.h>

#include <bit>
#include <cmap/hash.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Chi-square statistic of n values' counts over `buckets` equally likely buckets.
double chi_square(const std::vector<int>& counts, double expected) {
  double chi = 0;
  for (int c : counts) chi += (c - expected) * (c - expected) / expected;
  return chi;
}

TEST(Hash, SequentialKeysSpreadOverLowTopAndMiddleBits) {
  constexpr int n = 1 << 16, buckets = 128;
  std::vector<int> low(buckets), top(buckets), middle(buckets);
  cmap::hash<std::uint64_t> h;
  for (std::uint64_t k = 0; k < n; ++k) {
    const std::uint64_t x = h(k);
    ++low[x & 127];            // the in-group tag
    ++middle[(x >> 7) & 127];  // the group index of a 128-group table
    ++top[x >> 57];            // the shard of a 128-shard sharded_map
  }
  // 127 degrees of freedom: the 99.99th percentile of chi-square is about 196.
  EXPECT_LT(chi_square(low, n / buckets), 196.0);
  EXPECT_LT(chi_square(middle, n / buckets), 196.0);
  EXPECT_LT(chi_square(top, n / buckets), 196.0);
}

TEST(Hash, FlippingOneInputBitFlipsAboutHalfTheOutputBits) {
  cmap::hash<std::uint64_t> h;
  double total = 0;
  int samples = 0;
  for (std::uint64_t k = 1; k < 2000; k += 7) {
    for (int bit = 0; bit < 64; ++bit) {
      total += std::popcount(static_cast<std::uint64_t>(h(k) ^ h(k ^ (std::uint64_t{1} << bit))));
      ++samples;
    }
  }
  EXPECT_NEAR(total / samples, 32.0, 1.0);
}

TEST(Hash, StringHashIsTransparentAndConsistent) {
  cmap::hash<std::string> h;
  static_assert(requires { typename cmap::hash<std::string>::is_transparent; });
  const std::string s = "a key longer than the small-string buffer";
  EXPECT_EQ(h(s), h(std::string_view(s)));
  EXPECT_EQ(h(s), h(s.c_str()));
  EXPECT_EQ(cmap::hash<std::string_view>{h.seed()}(s), h(s));
  EXPECT_EQ(cmap::hash<const char*>{h.seed()}(s.c_str()), h(s));
  EXPECT_NE(h(std::string("a")), h(std::string("b")));
}

TEST(Hash, OtherTypesUseStdHashMixed) {
  cmap::hash<int> hi;
  EXPECT_NE(hi(1), std::hash<int>{}(1));  // std::hash<int> is the identity in libstdc++
  EXPECT_EQ(hi(1), hi(1));
  cmap::hash<double> hd;
  EXPECT_NE(hd(1.0), hd(2.0));
}

}  // namespace
