// hash_flood.hpp: unmix64 inverts mix64; the attack keys are distinct and land where the maps'
// formulas say (one group at every table size up to the one n keys need, one shard, one
// bucket, one trie path) under the hasher the attacker knows; under a hasher with another
// seed, one bit away or secret, they spread like random keys; and so do the classic
// structured sets, which an identity hash piles up.

#include "hash_flood.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmap/detail/group.hpp>
#include <cmap/hash.hpp>
#include <cmap/sharded_map.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "mix.hpp"

namespace cmap_bench::hash_flood {
namespace {

constexpr std::uint64_t known_seed = 0x243f6a8885a308d3ULL;  // what the attacker knows
constexpr std::uint64_t other_seed = known_seed ^ 1;         // a map keyed one bit away

template <class Key, class Hasher>
std::vector<std::uint64_t> hashes_of(const std::vector<Key>& keys, const Hasher& hash) {
  std::vector<std::uint64_t> out;
  out.reserve(keys.size());
  for (const auto& k : keys) out.push_back(static_cast<std::uint64_t>(hash(k)));
  return out;
}

template <class Key>
void expect_distinct(const std::vector<Key>& keys, std::size_t n) {
  ASSERT_EQ(keys.size(), n);
  EXPECT_EQ(std::set<Key>(keys.begin(), keys.end()).size(), n) << "keys repeat";
}

// The most keys in one cell when each hash is put in cell(h).
std::size_t fullest(const std::vector<std::uint64_t>& hashes,
                    const std::function<std::uint64_t(std::uint64_t)>& cell) {
  std::unordered_map<std::uint64_t, std::size_t> count;
  std::size_t most = 0;
  for (auto h : hashes) most = std::max(most, ++count[cell(h)]);
  return most;
}

// A bound that n random keys in `cells` cells exceed in the fullest cell with a probability
// far below 10^-9 (a Poisson tail: the mean plus 8 standard deviations, plus 8).
std::size_t random_bound(std::size_t n, std::uint64_t cells) {
  const double mean = static_cast<double>(n) / static_cast<double>(cells);
  return static_cast<std::size_t>(mean + 8 * std::sqrt(mean) + 8);
}

// The maps' formulas (the layouts at the top of hash_flood.hpp), from the library where it
// exposes them.
std::uint64_t concurrent_home(std::uint64_t h, std::uint64_t groups) {
  return cmap::detail::scaled_probe_sequence::home_group(h, groups);
}
std::uint64_t flat_group(std::uint64_t h, std::uint64_t groups) { return (h >> 7) & (groups - 1); }
std::uint64_t tag(std::uint64_t h) {
  return static_cast<std::uint64_t>(cmap::detail::tag_of(static_cast<std::size_t>(h)));
}

// Every hash in one home group of the concurrent table at every group count from 1 to the
// count n keys need (so at any count growth passes through, doubling or by half).
void expect_one_concurrent_group(const std::vector<std::uint64_t>& hashes, std::size_t n) {
  const std::uint64_t needed = concurrent_groups_for(n);
  for (std::uint64_t groups = 1; groups <= needed; ++groups)
    ASSERT_EQ(fullest(hashes, [&](std::uint64_t h) { return concurrent_home(h, groups); }),
              hashes.size())
        << groups << " groups";
}
// Every hash in one group of a flat table of every power-of-two size up to n keys' table.
void expect_one_flat_group(const std::vector<std::uint64_t>& hashes, std::size_t n) {
  for (std::uint64_t groups = 1; groups <= flat_groups_for(n); groups *= 2)
    ASSERT_EQ(fullest(hashes, [&](std::uint64_t h) { return flat_group(h, groups); }),
              hashes.size())
        << groups << " groups";
}
void expect_one_tag(const std::vector<std::uint64_t>& hashes) {
  EXPECT_EQ(fullest(hashes, tag), hashes.size());
}

// Spread like random keys in the table n keys need, and over the tags.
void expect_spread_in_groups(const std::vector<std::uint64_t>& hashes, std::size_t n,
                             const std::string& what) {
  const std::uint64_t cg = concurrent_groups_for(n);
  EXPECT_LE(fullest(hashes, [&](std::uint64_t h) { return concurrent_home(h, cg); }),
            random_bound(n, cg))
      << what << ": concurrent table of " << cg << " groups";
  const std::uint64_t fg = flat_groups_for(n);
  EXPECT_LE(fullest(hashes, [&](std::uint64_t h) { return flat_group(h, fg); }),
            random_bound(n, fg))
      << what << ": flat table of " << fg << " groups";
  EXPECT_LE(fullest(hashes, tag), random_bound(n, 128)) << what << ": tags";
}

TEST(Unmix64, InvertsMix64) {
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 100'000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    ASSERT_EQ(unmix64(mix64(x)), x);
    ASSERT_EQ(mix64(unmix64(x)), x);
  }
  for (std::uint64_t edge : {std::uint64_t{0}, std::uint64_t{1}, ~std::uint64_t{0},
                             std::uint64_t{1} << 63, std::uint64_t{0x8000000000000001ULL}}) {
    EXPECT_EQ(unmix64(mix64(edge)), edge);
    EXPECT_EQ(mix64(unmix64(edge)), edge);
  }
}

// The mixer is cmap::hash's: a key is recovered from its hash and the seed.
TEST(Unmix64, RecoversAKeyFromCmapHash) {
  const cmap::hash<std::uint64_t> hash(known_seed);
  for (std::uint64_t x :
       {std::uint64_t{0}, std::uint64_t{42}, std::uint64_t{0xdeadbeefULL}, ~std::uint64_t{0}})
    EXPECT_EQ(unmix64(hash(x)) ^ known_seed, x);
}

TEST(Sizes, TablesForNKeys) {
  // 20,000 keys: concurrent_hash_map needs 1524 groups of 15 (a doubling table has 2048), a
  // flat table 2048 groups of 16; 11 bits number either.
  EXPECT_EQ(concurrent_groups_for(20'000), 1524u);
  EXPECT_EQ(flat_groups_for(20'000), 2048u);
  EXPECT_EQ(index_bits(1524), 11u);
  EXPECT_EQ(index_bits(2048), 11u);
  EXPECT_EQ(index_bits(1), 0u);
  EXPECT_EQ(trie_levels_for(20'000), 3u);
  EXPECT_EQ(trie_levels_for(32), 1u);
  const auto counts = bucket_counts_for(20'000);
  ASSERT_GE(counts.size(), 3u);
  EXPECT_GE(counts.back(), 20'000u);  // a load factor of at most 1
  EXPECT_TRUE(std::is_sorted(counts.begin(), counts.end()));
}

// ---- u64 keys: hashes chosen and inverted ---------------------------------------------

constexpr std::size_t n_u64 = 20'000;

flood_set<std::uint64_t> u64_set(layout l) {
  return flood_keys<std::uint64_t>(cmap::hash<std::uint64_t>(known_seed), l, n_u64);
}

// The same keys under another seed, one bit away or secret, spread like random keys.
void expect_u64_spread(const std::vector<std::uint64_t>& keys) {
  expect_spread_in_groups(hashes_of(keys, cmap::hash<std::uint64_t>(other_seed)), keys.size(),
                          "seed one bit away");
  expect_spread_in_groups(hashes_of(keys, cmap::hash<std::uint64_t>()), keys.size(), "secret seed");
}

TEST(HashFloodU64, ConcurrentGroups) {
  const auto set = u64_set(layout::concurrent_groups);
  EXPECT_TRUE(set.chosen);
  expect_distinct(set.keys, n_u64);
  const auto hashes = hashes_of(set.keys, cmap::hash<std::uint64_t>(known_seed));
  for (auto h : hashes) ASSERT_TRUE(set.target.matches(h));
  expect_one_concurrent_group(hashes, n_u64);
  expect_one_tag(hashes);
  // Far beyond the table 20,000 keys need: the top 42 bits are zero.
  EXPECT_EQ(fullest(hashes, [](std::uint64_t h) { return concurrent_home(h, 1u << 30); }), n_u64);
  expect_u64_spread(set.keys);
}

TEST(HashFloodU64, FlatGroups) {
  const auto set = u64_set(layout::flat_groups);
  expect_distinct(set.keys, n_u64);
  const auto hashes = hashes_of(set.keys, cmap::hash<std::uint64_t>(known_seed));
  expect_one_flat_group(hashes, n_u64);
  expect_one_tag(hashes);
  expect_u64_spread(set.keys);
}

// One set for every open-addressing table: the concurrent table, a flat table, and one shard
// of sharded_map (asked of a real sharded_map, whatever its shard count).
TEST(HashFloodU64, OpenAddressingAtOnce) {
  const auto set = u64_set(layout::open_addressing);
  expect_distinct(set.keys, n_u64);
  const cmap::hash<std::uint64_t> known(known_seed);
  const auto hashes = hashes_of(set.keys, known);
  expect_one_concurrent_group(hashes, n_u64);
  expect_one_flat_group(hashes, n_u64);
  expect_one_tag(hashes);
  for (std::size_t shards : {2u, 8u, 64u, 1024u}) {
    const cmap::sharded_map<std::uint64_t, int> map(0, cmap::sharded_map_options{.shards = shards},
                                                    known);
    std::set<std::size_t> used;
    for (auto k : set.keys) used.insert(map.shard_of(k));
    EXPECT_EQ(used.size(), 1u) << shards << " shards";
    // With another seed the keys reach every shard.
    const cmap::sharded_map<std::uint64_t, int> other(
        0, cmap::sharded_map_options{.shards = shards}, cmap::hash<std::uint64_t>(other_seed));
    used.clear();
    for (auto k : set.keys) used.insert(other.shard_of(k));
    EXPECT_EQ(used.size(), shards) << shards << " shards, seed one bit away";
  }
  expect_u64_spread(set.keys);
}

// Buckets: asked of a real std::unordered_map hashing with the known seed, filled from empty:
// one bucket holds every key. With another seed, no bucket holds more than a few.
TEST(HashFloodU64, Buckets) {
  constexpr std::size_t n = 5000;  // quadratic to insert: kept small
  const cmap::hash<std::uint64_t> known(known_seed);
  const auto set = flood_keys<std::uint64_t>(known, layout::buckets, n);
  EXPECT_TRUE(set.chosen);
  expect_distinct(set.keys, n);
  const auto counts = bucket_counts_for(n);
  for (auto h : hashes_of(set.keys, known)) {
    ASSERT_EQ(h % counts.back(), 0u);
    ASSERT_EQ(h % counts[counts.size() - 2], 0u);  // and at the size before
  }
  std::unordered_map<std::uint64_t, int, cmap::hash<std::uint64_t>> attacked(0, known);
  for (auto k : set.keys) attacked.emplace(k, 0);
  EXPECT_EQ(attacked.bucket_size(attacked.bucket(set.keys.front())), n);

  std::unordered_map<std::uint64_t, int, cmap::hash<std::uint64_t>> other(
      0, cmap::hash<std::uint64_t>(other_seed));
  for (auto k : set.keys) other.emplace(k, 0);
  std::size_t most = 0;
  for (std::size_t b = 0; b < other.bucket_count(); ++b)
    most = std::max(most, other.bucket_size(b));
  EXPECT_LE(most, random_bound(n, other.bucket_count()));
}

TEST(HashFloodU64, Trie) {
  const auto set = u64_set(layout::trie);
  expect_distinct(set.keys, n_u64);
  const auto hashes = hashes_of(set.keys, cmap::hash<std::uint64_t>(known_seed));
  // Every level but the top 3 (15 bits number 20,000 keys) is shared: 9 levels of one path.
  const unsigned shared_levels = (64 - 15) / trie_level_bits;
  EXPECT_GE(shared_levels, trie_levels_for(n_u64));
  const std::uint64_t low = (std::uint64_t{1} << (shared_levels * trie_level_bits)) - 1;
  EXPECT_EQ(fullest(hashes, [&](std::uint64_t h) { return h & low; }), n_u64);
  // Another seed: 32 ways at the first level, 1024 at the second, as random keys.
  const auto other = hashes_of(set.keys, cmap::hash<std::uint64_t>(other_seed));
  EXPECT_LE(fullest(other, [](std::uint64_t h) { return h & 31u; }), random_bound(n_u64, 32));
  EXPECT_LE(fullest(other, [](std::uint64_t h) { return h & 1023u; }), random_bound(n_u64, 1024));
}

// A hasher that is not a seeded mix64 is searched, not inverted: std::hash of an integer.
TEST(HashFloodU64, OtherHashersAreSearched) {
  const auto set = flood_keys<std::uint64_t>(std::hash<std::uint64_t>{}, layout::flat_groups, 500);
  EXPECT_FALSE(set.chosen);
  expect_distinct(set.keys, 500);
  const auto hashes = hashes_of(set.keys, std::hash<std::uint64_t>{});
  for (auto h : hashes) EXPECT_TRUE(set.target.matches(h));
  expect_one_flat_group(hashes, 500);
  EXPECT_GE(set.tried, set.keys.size());
}

// ---- string keys: searched --------------------------------------------------------------

using string_hash = cmap::hash<std::string>;

void expect_strings_spread(const std::vector<std::string>& keys) {
  expect_spread_in_groups(hashes_of(keys, string_hash(other_seed)), keys.size(),
                          "seed one bit away");
  expect_spread_in_groups(hashes_of(keys, string_hash()), keys.size(), "secret seed");
}

// The candidates are "uid:" and a number, tried in order.
void expect_uids(const std::vector<std::string>& keys) {
  for (const auto& k : keys) ASSERT_EQ(k.rfind("uid:", 0), 0u) << k;
}

// The search's candidates count up in place: the same strings as uid_key, in order, across
// the carries, and after a jump.
TEST(HashFloodStrings, UidCandidatesAreUidKeys) {
  uid_candidates next;
  for (std::uint64_t i = 0; i < 200'000; ++i) ASSERT_EQ(next(i), uid_key(i)) << i;
  for (std::uint64_t i : {std::uint64_t{999'999}, std::uint64_t{1'000'000}, std::uint64_t{5},
                          std::uint64_t{6}, ~std::uint64_t{0}})
    EXPECT_EQ(next(i), uid_key(i)) << i;
}

// sharded_map: the shard bits too, so that every key goes to one shard (asked of a real
// sharded_map with that shard count), and to one group of its table.
TEST(HashFloodStrings, OneShardOfShardedMap) {
  constexpr std::size_t n = 4000;
  constexpr std::size_t shards = 8;
  const string_hash known(known_seed);
  const auto set = flood_keys<std::string>(
      known, layout::sharded, n, flood_options{.max_candidates = 1u << 26, .shards = shards});
  expect_distinct(set.keys, n);
  EXPECT_EQ(std::popcount(set.target.mask), 3 + 9) << describe(set.target);  // shards, groups
  expect_one_flat_group(hashes_of(set.keys, known), n);
  const cmap::sharded_map<std::string, int> map(0, cmap::sharded_map_options{.shards = shards},
                                                known);
  std::set<std::size_t> used;
  for (const auto& k : set.keys) used.insert(map.shard_of(k));
  EXPECT_EQ(used.size(), 1u);
  const cmap::sharded_map<std::string, int> other(0, cmap::sharded_map_options{.shards = shards},
                                                  string_hash(other_seed));
  used.clear();
  for (const auto& k : set.keys) used.insert(other.shard_of(k));
  EXPECT_EQ(used.size(), shards);
  expect_strings_spread(set.keys);
}

// 20,000 keys for the concurrent table: 11 bits fixed, about 2048 candidates a key. The time
// is recorded (a Release build takes well under a second here), not asserted: this machine is
// shared and the test also runs under the sanitizers.
TEST(HashFloodStrings, ConcurrentGroupsAtTwentyThousand) {
  constexpr std::size_t n = 20'000;
  const auto start = std::chrono::steady_clock::now();
  const auto set = flood_keys<std::string>(string_hash(known_seed), layout::concurrent_groups, n);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::testing::Test::RecordProperty("seconds", std::to_string(seconds));
  std::printf("[   NOTE   ] %zu keys in %.2f s, %llu candidates (%s)\n", n, seconds,
              static_cast<unsigned long long>(set.tried), describe(set.target).c_str());
  EXPECT_FALSE(set.chosen);
  expect_distinct(set.keys, n);
  expect_uids(set.keys);
  const auto hashes = hashes_of(set.keys, string_hash(known_seed));
  expect_one_concurrent_group(hashes, n);
  // The tag would cost 128 times as many candidates: beyond the default budget.
  EXPECT_EQ(set.target.mask & 0x7Fu, 0u);
  EXPECT_LE(static_cast<double>(set.tried), 4 * set.target.cost() * n);
  expect_strings_spread(set.keys);
}

TEST(HashFloodStrings, FlatGroupsAndEveryShard) {
  constexpr std::size_t n = 4000;
  const string_hash known(known_seed);
  const auto set = flood_keys<std::string>(known, layout::flat_groups, n,
                                           flood_options{.max_candidates = 1u << 24});
  expect_distinct(set.keys, n);
  expect_uids(set.keys);
  const auto hashes = hashes_of(set.keys, known);
  expect_one_flat_group(hashes, n);
  // sharded_map spreads them over its shards (their top bits are not fixed), but each shard's
  // table is smaller than the one n keys need, so in every shard they share group 0.
  const cmap::sharded_map<std::string, int> map(0, cmap::sharded_map_options{.shards = 8}, known);
  std::set<std::size_t> used;
  for (const auto& k : set.keys) used.insert(map.shard_of(k));
  EXPECT_EQ(used.size(), 8u);
  expect_strings_spread(set.keys);
}

// Where the budget allows (few keys), the tag is fixed too; the trie takes as many levels as
// the budget allows; the buckets as few as it allows.
TEST(HashFloodStrings, TagTrieAndBucketsWithinTheBudget) {
  const string_hash known(known_seed);
  {
    constexpr std::size_t n = 200;
    const auto set = flood_keys<std::string>(known, layout::concurrent_groups, n);
    EXPECT_EQ(set.target.mask & 0x7Fu, 0x7Fu) << describe(set.target);
    expect_distinct(set.keys, n);
    const auto hashes = hashes_of(set.keys, known);
    expect_one_concurrent_group(hashes, n);
    expect_one_tag(hashes);
  }
  {
    constexpr std::size_t n = 4000;
    const auto set =
        flood_keys<std::string>(known, layout::trie, n, flood_options{.max_candidates = 1u << 24});
    // 2^24 candidates for 4000 keys: 2^12 each, two levels of 5 bits.
    EXPECT_EQ(set.target.mask, 1023u) << describe(set.target);
    expect_distinct(set.keys, n);
    const auto hashes = hashes_of(set.keys, known);
    EXPECT_EQ(fullest(hashes, [](std::uint64_t h) { return h & 1023u; }), n);
    const auto other = hashes_of(set.keys, string_hash(other_seed));
    EXPECT_LE(fullest(other, [](std::uint64_t h) { return h & 1023u; }), random_bound(n, 1024));
  }
  {
    constexpr std::size_t n = 4000;
    const auto set = flood_keys<std::string>(known, layout::buckets, n,
                                             flood_options{.max_candidates = 1u << 24});
    const auto counts = bucket_counts_for(n);
    EXPECT_EQ(set.target.modulus, counts.back());
    EXPECT_GE(set.target.residues, 1u);
    expect_distinct(set.keys, n);
    std::set<std::uint64_t> buckets;
    for (auto h : hashes_of(set.keys, known)) buckets.insert(h % counts.back());
    EXPECT_LE(buckets.size(), set.target.residues);
  }
}

// ---- the classic structured sets ----------------------------------------------------------

TEST(StructuredSets, PowerOfTwoMultiplesPileUpUnderAnIdentityHash) {
  constexpr std::size_t n = 20'000;
  const unsigned shift = table_shift(n);
  EXPECT_EQ(shift, 18u);  // the tag's 7 bits and the index of 2048 groups
  const auto keys = power_of_two_multiples(n, shift);
  expect_distinct(keys, n);
  // libstdc++'s std::hash of an integer is the identity: one group, one tag, in both kinds
  // of table.
  const auto identity = hashes_of(keys, std::hash<std::uint64_t>{});
  expect_one_flat_group(identity, n);
  expect_one_concurrent_group(identity, n);
  expect_one_tag(identity);
  // cmap::hash spreads them, whatever its seed.
  expect_spread_in_groups(hashes_of(keys, cmap::hash<std::uint64_t>(known_seed)), n, "known");
  expect_spread_in_groups(hashes_of(keys, cmap::hash<std::uint64_t>(0)), n, "seed 0");
  expect_spread_in_groups(hashes_of(keys, cmap::hash<std::uint64_t>()), n, "secret");
}

TEST(StructuredSets, StringsOneByteApart) {
  constexpr std::size_t n = 20'000;
  const auto keys = one_byte_apart(n);
  expect_distinct(keys, n);
  const std::string base = "uid:" + std::string(79, '0');
  for (const auto& k : keys) {
    ASSERT_EQ(k.size(), base.size());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < k.size(); ++i) differ += k[i] != base[i];
    ASSERT_EQ(differ, 1u) << k;
  }
  expect_spread_in_groups(hashes_of(keys, string_hash(known_seed)), n, "known");
  expect_spread_in_groups(hashes_of(keys, string_hash()), n, "secret");
  EXPECT_THROW((void)one_byte_apart(1000, "ab"), std::invalid_argument);
}

}  // namespace
}  // namespace cmap_bench::hash_flood
