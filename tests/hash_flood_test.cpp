// Hash flooding, on every map of all_map_families: keys that collide in the bits a table uses
// show in stats() (longest_probe, mean_probe); keys that do not, do not; and each map keeps
// the seed of the hasher it was given (a map copied into another with another seed, and
// snapshots across writes, hold the same entries).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "map_types.hpp"

namespace {

using cmap_test::all_map_families;
using cmap_test::family_names;
using u64 = std::uint64_t;

// Every key hashes alike: one probe sequence for all (the tries: one collision node). What a
// flood against a known hash achieves at best.
struct constant_hash {
  std::size_t operator()(u64) const noexcept { return 0x5bd1e995u; }
};

template <class Family>
class HashFlood : public ::testing::Test {
 protected:
  using seeded_map = typename Family::template map<u64, u64>;
  using flooded_map = typename Family::template map<u64, u64, constant_hash>;
  static constexpr bool trie = Family::persistent;
};
TYPED_TEST_SUITE(HashFlood, all_map_families, family_names);

template <class Map>
std::vector<std::pair<u64, u64>> contents(const Map& m) {
  std::vector<std::pair<u64, u64>> out;
  m.for_each([&](const u64& k, const u64& v) { out.emplace_back(k, v); });
  std::sort(out.begin(), out.end());
  return out;
}

TYPED_TEST(HashFlood, SequentialKeysSitInOrNearTheirHomeGroup) {
  // Structured keys (0, 1, 2, ...) under the default secret seed: they spread as random
  // keys do. At 7/8 load a few keys overflow their home group; none travels far.
  typename TestFixture::seeded_map m;
  constexpr u64 n = 20000;
  for (u64 k = 0; k < n; ++k) m.insert(k, k);
  const cmap::map_stats st = m.stats();
  ASSERT_EQ(st.size, n);
  if (TestFixture::trie) {
    // 32-way levels: log32(20000) is under 3, so nearly every key is 3 or 4 nodes deep;
    // the deepest pair shares about 30 low bits (birthday bound): 7 levels, rarely 8 or 9.
    EXPECT_LE(st.longest_probe, 10u);
    EXPECT_LT(st.mean_probe, 4.0);
  } else {
    // Near 7/8 load (growth by half fills tables fuller than doubling does) the longest
    // run of full groups a probe crosses is around 10 (13 seen in 100 runs); a flood of
    // these 20000 keys would make it over 1000.
    EXPECT_LE(st.longest_probe, 24u);
    EXPECT_LT(st.mean_probe, 1.2);
  }
  EXPECT_GE(st.mean_probe, 1.0);
}

TYPED_TEST(HashFlood, KeysThatCollideShowAsLongProbes) {
  typename TestFixture::flooded_map m;
  constexpr u64 n = 2000;
  for (u64 k = 0; k < n; ++k) m.insert(k, k);
  const cmap::map_stats st = m.stats();
  ASSERT_EQ(st.size, n);
  // Tables: one probe sequence of n / 16 full groups, the last key at its end; tries: one
  // collision node of n entries, scanned in order.
  const std::size_t longest = TestFixture::trie ? n : n / 16;
  EXPECT_GE(st.longest_probe, longest);
  EXPECT_GE(st.mean_probe, static_cast<double>(longest) / 2 - 1);
  // Slow, but every entry is there.
  for (u64 k = 0; k < n; k += 97) EXPECT_EQ(m.find(k), std::optional<u64>(k));
}

TYPED_TEST(HashFlood, EmptyMapReportsNoProbes) {
  typename TestFixture::seeded_map m;
  EXPECT_EQ(m.stats().longest_probe, 0u);
  EXPECT_EQ(m.stats().mean_probe, 0.0);
}

TYPED_TEST(HashFlood, EachMapKeepsTheSeedItWasGiven) {
  using map_t = typename TestFixture::seeded_map;
  using hasher = typename map_t::hasher;
  map_t fixed(0, hasher(42));
  EXPECT_EQ(fixed.hash_function().seed(), 42u);
  // Default construction: a fresh secret seed per map.
  map_t a, b;
  EXPECT_NE(a.hash_function().seed(), b.hash_function().seed());
}

TYPED_TEST(HashFlood, MapsWithDifferentSeedsHoldTheSameEntries) {
  using map_t = typename TestFixture::seeded_map;
  using hasher = typename map_t::hasher;
  std::vector<std::pair<u64, u64>> entries;
  for (u64 k = 0; k < 5000; ++k) entries.emplace_back(k * 0x10001, k);
  map_t first(entries.begin(), entries.end(), 0, hasher(1));
  // Copied by walking the first map, which is in the first seed's table order, into a map
  // with another seed (the case a shared seed would cluster), and back out again.
  map_t second(0, hasher(2));
  first.for_each([&](const u64& k, const u64& v) { second.insert(k, v); });
  map_t third;
  second.for_each([&](const u64& k, const u64& v) { third.insert(k, v); });
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(contents(first), entries);
  EXPECT_EQ(contents(second), entries);
  EXPECT_EQ(contents(third), entries);
  for (const map_t* m : {&first, &second, &third}) {
    EXPECT_LE(m->stats().longest_probe, TestFixture::trie ? 10u : 24u);
    for (u64 k = 0; k < 5000; k += 7) EXPECT_EQ(m->find(k * 0x10001), std::optional<u64>(k));
  }
}

}  // namespace
