// Hash flooding, on every hash map (hashed_map_families): keys that collide in the bits a table uses
// show in stats() (longest_probe, mean_probe); keys that do not, do not; keys built to collide
// under a seed the attacker knows (cmap-bench's generator, tools/cmap-bench/hash_flood.hpp)
// pile up in a map with that seed and spread in a map with a secret one; and each map keeps
// the seed of the hasher it was given (a map copied into another with another seed holds the
// same entries). What the attack costs in time is measured by cmap-bench's hash-flood preset,
// not here.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hash_flood.hpp"
#include "map_types.hpp"

namespace {

using cmap_test::hashed_map_families;
using cmap_test::family_names;
using cmap_test::sorted_contents;
using u64 = std::uint64_t;
namespace flood = cmap_bench::hash_flood;

// The seed the attacker knows in the attack tests.
constexpr u64 known_seed = 0x243f6a8885a308d3;

// Every key hashes alike: one probe sequence for all (the tries: one collision node). What a
// flood against a known hash achieves at best.
struct constant_hash {
  std::size_t operator()(u64) const noexcept { return 0x5bd1e995u; }
};

template <class Family>
class HashFlood : public ::testing::Test {
 protected:
  using seeded_map = typename Family::template map<u64, u64>;
  using string_map = typename Family::template map<std::string, u64>;
  using flooded_map = typename Family::template map<u64, u64, constant_hash>;
  static constexpr bool trie = Family::persistent;

  // Where the family's map puts a hash (hash_flood.hpp, "Layouts").
  template <class Map>
  static flood::layout layout_of(const Map& m, flood::flood_options& options) {
    if constexpr (Family::persistent) {
      return flood::layout::trie;
    } else if constexpr (requires { m.shard_count(); }) {
      options.shards = m.shard_count();
      return flood::layout::sharded;
    } else if constexpr (requires { m.stripe_count(); }) {
      return flood::layout::concurrent_groups;
    } else {
      return flood::layout::flat_groups;
    }
  }
};
TYPED_TEST_SUITE(HashFlood, hashed_map_families, family_names);

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
  EXPECT_EQ(sorted_contents(first), entries);
  EXPECT_EQ(sorted_contents(second), entries);
  EXPECT_EQ(sorted_contents(third), entries);
  for (const map_t* m : {&first, &second, &third}) {
    EXPECT_LE(m->stats().longest_probe, TestFixture::trie ? 10u : 24u);
    for (u64 k = 0; k < 5000; k += 7) EXPECT_EQ(m->find(k * 0x10001), std::optional<u64>(k));
  }
}

template <class Map, class Key>
void insert_all_and_find_each(Map& m, const std::vector<Key>& keys) {
  for (std::size_t i = 0; i < keys.size(); ++i) ASSERT_TRUE(m.insert(keys[i], i));
  for (std::size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(m.find(keys[i]), std::optional<u64>(i));
}

TYPED_TEST(HashFlood, U64KeysBuiltAgainstAKnownSeedPileUpThereAndSpreadUnderASecretOne) {
  using map_t = typename TestFixture::seeded_map;
  constexpr std::size_t n = 3000;
  map_t attacked(0, typename map_t::hasher(known_seed));
  flood::flood_options options;
  const flood::layout l = TestFixture::layout_of(attacked, options);
  const std::vector<u64> keys =
      flood::flood_keys<u64>(cmap::hash<u64>(known_seed), l, n, options).keys;
  ASSERT_EQ(keys.size(), n);
  ASSERT_EQ(std::set<u64>(keys.begin(), keys.end()).size(), n);

  insert_all_and_find_each(attacked, keys);
  map_t secret;  // the seed users get
  insert_all_and_find_each(secret, keys);
  const cmap::map_stats hit = attacked.stats(), missed = secret.stats();
  if (TestFixture::trie) {
    // The keys share the low 49 bits of their hashes: 9 levels of the path before they part,
    // against about 3 for random keys; the path is bounded by the hash's 13 levels of 5 bits.
    EXPECT_GE(hit.longest_probe, 10u);
    EXPECT_GE(hit.mean_probe, 9.0);
    EXPECT_LE(hit.longest_probe, 14u);
    EXPECT_LE(missed.longest_probe, 8u);
    EXPECT_LT(missed.mean_probe, 4.0);
  } else {
    // One probe sequence of n / 16 (n / 15) full groups.
    EXPECT_GE(hit.longest_probe, n / 16);
    EXPECT_GE(hit.mean_probe, static_cast<double>(n) / 40);
    EXPECT_LE(missed.longest_probe, 24u);
    EXPECT_LT(missed.mean_probe, 1.2);
  }
}

TYPED_TEST(HashFlood, StringKeysBuiltAgainstAKnownSeedPileUpThereAndSpreadUnderASecretOne) {
  using map_t = typename TestFixture::string_map;
  constexpr std::size_t n = 1500;
  map_t attacked(0, typename map_t::hasher(known_seed));
  // Few enough candidates (a few million rapidhash calls) for the sanitizer builds: the search
  // then fixes the group bits, or two levels of the trie, but not the tag.
  flood::flood_options options;
  options.max_candidates = std::uint64_t{1} << 22;
  const flood::layout l = TestFixture::layout_of(attacked, options);
  const std::vector<std::string> keys =
      flood::flood_keys<std::string>(cmap::hash<std::string>(known_seed), l, n, options).keys;
  ASSERT_EQ(keys.size(), n);

  insert_all_and_find_each(attacked, keys);
  map_t secret;
  insert_all_and_find_each(secret, keys);
  const cmap::map_stats hit = attacked.stats(), missed = secret.stats();
  if (TestFixture::trie) {
    // Two shared levels on top of the random depth: deeper, and still bounded.
    EXPECT_GE(hit.mean_probe, missed.mean_probe + 1.0);
    EXPECT_LE(missed.longest_probe, 8u);
  } else {
    EXPECT_GE(hit.longest_probe, n / 16);
    EXPECT_LE(missed.longest_probe, 24u);
    EXPECT_LT(missed.mean_probe, 1.2);
  }
}

TYPED_TEST(HashFlood, ClassicStructuredKeySetsSpreadUnderTheDefaultSeed) {
  // Sets that pile up under an unseeded identity hash (libstdc++'s std::hash of an integer):
  // multiples of the table's size, and strings one byte apart.
  constexpr std::size_t n = 3000;
  typename TestFixture::seeded_map ints;
  insert_all_and_find_each(ints, flood::power_of_two_multiples(n, flood::table_shift(n)));
  typename TestFixture::string_map strings;
  insert_all_and_find_each(strings, flood::one_byte_apart(n));
  for (const cmap::map_stats& st : {ints.stats(), strings.stats()}) {
    ASSERT_EQ(st.size, n);
    EXPECT_LE(st.longest_probe, TestFixture::trie ? 8u : 24u);
    EXPECT_LT(st.mean_probe, TestFixture::trie ? 4.0 : 1.2);
  }
}

}  // namespace
