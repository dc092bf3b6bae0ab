// cmap::hash (<cmap/hash.hpp>): sequential integers must spread over the bits the tables and
// shards use; strings must avalanche and spread over those bits too, structured keys and keys
// built against rapidhash's published secrets included, under every seed; and the string
// hashers must agree across std::string, std::string_view and const char*.

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmap/detail/rapidhash.hpp>
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

// The string tests run under these seeds, so that they check the same values on every run.
constexpr std::array<std::uint64_t, 4> fixed_seeds = {0, 1, 0x9e3779b97f4a7c15ULL, 0xdeadbeef};

// The 99.99th percentile of chi-square with 127 degrees of freedom.
constexpr double chi_square_limit = 196.0;

// Chi-square of the keys' hashes over 128 buckets, by the low 7 bits (the in-group tag), bits
// 7..13 (the group index of a 128-group table) and the top 7 bits (the shard of a 128-shard
// sharded_map).
struct spread {
  double low, middle, top;
};
spread spread_of(const cmap::hash<std::string>& h, const std::vector<std::string>& keys) {
  std::vector<int> low(128), middle(128), top(128);
  for (const std::string& k : keys) {
    const std::uint64_t x = h(k);
    ++low[x & 127];
    ++middle[(x >> 7) & 127];
    ++top[x >> 57];
  }
  const double expected = static_cast<double>(keys.size()) / 128;
  return {chi_square(low, expected), chi_square(middle, expected), chi_square(top, expected)};
}

void expect_spread(const std::vector<std::string>& keys, const char* what) {
  for (std::uint64_t seed : fixed_seeds) {
    const spread s = spread_of(cmap::hash<std::string>(seed), keys);
    EXPECT_LT(s.low, chi_square_limit) << what << ", seed " << seed;
    EXPECT_LT(s.middle, chi_square_limit) << what << ", seed " << seed;
    EXPECT_LT(s.top, chi_square_limit) << what << ", seed " << seed;
  }
}

// Flips each bit of each key in turn: how many output bits change on average, and how often
// each output bit does.
struct avalanche {
  double mean_flipped = 0;
  std::array<double, 64> bit_rate{};
};
avalanche avalanche_of(const cmap::hash<std::string>& h, const std::vector<std::string>& keys) {
  std::array<std::uint64_t, 64> flips{};
  std::uint64_t samples = 0, total = 0;
  for (const std::string& key : keys) {
    const std::uint64_t base = h(key);
    std::string k = key;
    for (std::size_t bit = 0; bit < 8 * k.size(); ++bit) {
      k[bit / 8] = static_cast<char>(k[bit / 8] ^ (1 << bit % 8));
      const std::uint64_t d = base ^ h(k);
      k[bit / 8] = static_cast<char>(k[bit / 8] ^ (1 << bit % 8));
      total += static_cast<std::uint64_t>(std::popcount(d));
      for (int b = 0; b < 64; ++b) flips[b] += (d >> b) & 1;
      ++samples;
    }
  }
  avalanche a;
  a.mean_flipped = static_cast<double>(total) / static_cast<double>(samples);
  for (int b = 0; b < 64; ++b) {
    a.bit_rate[b] = static_cast<double>(flips[b]) / static_cast<double>(samples);
  }
  return a;
}

void expect_avalanche(const std::vector<std::string>& keys, const char* what) {
  for (std::uint64_t seed : fixed_seeds) {
    const avalanche a = avalanche_of(cmap::hash<std::string>(seed), keys);
    EXPECT_NEAR(a.mean_flipped, 32.0, 1.0) << what << ", seed " << seed;
    for (int b = 0; b < 64; ++b) {
      EXPECT_GE(a.bit_rate[b], 0.40) << what << ", seed " << seed << ", output bit " << b;
      EXPECT_LE(a.bit_rate[b], 0.60) << what << ", seed " << seed << ", output bit " << b;
    }
  }
}

// "uid:0", "uid:1", ...: the keys of a user table, as most string keys are, alike but for a
// few trailing digits.
std::vector<std::string> uid_keys(int first, int count) {
  std::vector<std::string> keys;
  for (int i = first; i < first + count; ++i) keys.push_back("uid:" + std::to_string(i));
  return keys;
}

// Sequential 64-bit ids, as 8 little-endian bytes: mostly zero bytes.
std::vector<std::string> binary_id_keys(int count) {
  std::vector<std::string> keys;
  for (std::uint64_t id = 0; id < static_cast<std::uint64_t>(count); ++id) {
    std::string k(8, '\0');
    for (int i = 0; i < 8; ++i) k[i] = static_cast<char>(id >> (8 * i));
    keys.push_back(k);
  }
  return keys;
}

// Keys of `length` zero bytes but one, at each position in turn set to each value 1..255
// (every value for `values` = 255).
std::vector<std::string> one_byte_keys(std::size_t length, int values) {
  std::vector<std::string> keys;
  for (std::size_t pos = 0; pos < length; ++pos) {
    for (int v = 1; v <= values; ++v) {
      std::string k(length, '\0');
      k[pos] = static_cast<char>(v);
      keys.push_back(k);
    }
  }
  return keys;
}

TEST(StringHash, FlippingOneInputBitFlipsHalfTheOutputBitsEachWithProbabilityNearHalf) {
  expect_avalanche(uid_keys(0, 300), "uid:NNN");
  expect_avalanche(binary_id_keys(250), "8-byte ids");
  expect_avalanche(one_byte_keys(32, 8), "32-byte keys differing in one byte");
  expect_avalanche(one_byte_keys(200, 1), "200-byte keys differing in one byte");
}

TEST(StringHash, SequentialUidsSpreadOverTagGroupAndShardBits) {
  expect_spread(uid_keys(0, 65536), "uid:0..uid:65535");
}

TEST(StringHash, KeysDifferingInOneByteSpreadOverTagGroupAndShardBits) {
  // One length per branch of rapidhash: 4-7, 8-16, 17-112, and past 112 bytes.
  for (std::size_t length :
       {std::size_t{5}, std::size_t{16}, std::size_t{32}, std::size_t{100}, std::size_t{256}}) {
    expect_spread(one_byte_keys(length, 255), ("length " + std::to_string(length)).c_str());
  }
}

// 16-byte keys whose first 8 bytes are rapidhash's published secret[1]: under the published
// secrets they all hash alike whatever the seed (tests/detail/rapidhash_test.cpp); cmap's
// secrets come from the seed, so they spread like any keys.
TEST(StringHash, KeysBuiltAgainstThePublishedSecretsSpread) {
  const std::uint64_t secret1 = cmap::detail::rapidhash_default_secrets[1];
  std::vector<std::string> keys;
  for (std::uint64_t i = 0; i < 65536; ++i) {
    std::string k(16, '\0');
    for (int b = 0; b < 8; ++b) {
      k[b] = static_cast<char>(secret1 >> (8 * b));
      k[8 + b] = static_cast<char>(i >> (8 * b));
    }
    keys.push_back(k);
  }
  expect_spread(keys, "secret[1] prefix");
}

TEST(StringHash, OneSeedHashesStringStringViewAndCharPointerAlike) {
  for (std::uint64_t seed : fixed_seeds) {
    const cmap::hash<std::string> hs(seed);
    const cmap::hash<std::string_view> hv(seed);
    const cmap::hash<const char*> hc(seed);
    for (const std::string& k : uid_keys(0, 1000)) {
      ASSERT_EQ(hs(k), hv(std::string_view(k))) << k;
      ASSERT_EQ(hs(k), hc(k.c_str())) << k;
      ASSERT_EQ(hs(k), hs(k.c_str())) << k;  // the transparent overloads of one hasher
      ASSERT_EQ(hs(k), hs(std::string_view(k))) << k;
    }
    // The definition: rapidhash under secrets derived from the seed.
    const std::string k = "uid:42";
    EXPECT_EQ(hs(k), cmap::detail::rapidhash(k.data(), k.size(), seed,
                                             cmap::detail::rapidhash_secrets_from(seed)));
    EXPECT_EQ(hs.seed(), seed);
  }
}

TEST(StringHash, TwoSeedsGiveDifferentValues) {
  for (std::size_t i = 0; i < fixed_seeds.size(); ++i) {
    for (std::size_t j = i + 1; j < fixed_seeds.size(); ++j) {
      const cmap::hash<std::string> a(fixed_seeds[i]), b(fixed_seeds[j]);
      for (const std::string& k : uid_keys(0, 1000)) {
        ASSERT_NE(a(k), b(k)) << k << ", seeds " << fixed_seeds[i] << " and " << fixed_seeds[j];
      }
      ASSERT_NE(a(""), b(""));
    }
  }
}

TEST(Hash, OtherTypesUseStdHashMixed) {
  cmap::hash<int> hi;
  EXPECT_NE(hi(1), std::hash<int>{}(1));  // std::hash<int> is the identity in libstdc++
  EXPECT_EQ(hi(1), hi(1));
  cmap::hash<double> hd;
  EXPECT_NE(hd(1.0), hd(2.0));
}

}  // namespace
