// What only sharded_map has: the shard count, its validation, and the spread of keys.

#include <gtest/gtest.h>

#include <bit>
#include <cmap/sharded_map.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using map_t = cmap::sharded_map<std::uint64_t, std::uint64_t>;

TEST(ShardedMap, DefaultShardCountIsAPowerOfTwo) {
  map_t m;
  EXPECT_TRUE(std::has_single_bit(m.shard_count()));
  EXPECT_EQ(m.shard_count(), map_t::default_shard_count());
  EXPECT_GE(m.shard_count(), 4u);
  // A count of 0 asks for the default; a first size_t is room for entries, never shards.
  EXPECT_EQ(map_t(0, {.shards = 0}).shard_count(), map_t::default_shard_count());
  EXPECT_EQ(map_t(100000).shard_count(), map_t::default_shard_count());
}

TEST(ShardedMap, RejectsShardCountsThatAreNotPowersOfTwo) {
  for (std::size_t bad :
       {std::size_t{3}, std::size_t{6}, std::size_t{1000}, std::size_t{1} << 17}) {
    try {
      map_t m(0, {.shards = bad});
      FAIL() << "accepted " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
    }
  }
}

TEST(ShardedMap, WorksWithOneShardAndWithMany) {
  for (std::size_t shards : {std::size_t{1}, std::size_t{2}, std::size_t{256}}) {
    map_t m(0, {.shards = shards});
    EXPECT_EQ(m.shard_count(), shards);
    for (std::uint64_t k = 0; k < 5000; ++k) ASSERT_TRUE(m.insert(k, k));
    EXPECT_EQ(m.size(), 5000u);
    for (std::uint64_t k = 0; k < 5000; ++k) ASSERT_TRUE(m.contains(k));
  }
}

TEST(ShardedMap, SequentialKeysSpreadEvenlyOverShards) {
  // The shard comes from the top hash bits; cmap::hash's mixer must spread sequential keys
  // (identity-hashed by std::hash) evenly: each of 64 shards within 15% of the mean.
  map_t m(0, {.shards = 64});
  std::vector<int> per_shard(64, 0);
  for (std::uint64_t k = 0; k < 64 * 2000; ++k) ++per_shard.at(m.shard_of(k));
  for (std::size_t s = 0; s < per_shard.size(); ++s) {
    EXPECT_GT(per_shard[s], 1700) << "shard " << s;
    EXPECT_LT(per_shard[s], 2300) << "shard " << s;
  }
}

TEST(ShardedMap, ShardOfNamesTheShardThatHoldsTheKey) {
  // 20 keys of one shard only: one 32-slot table, the other shards' tables unallocated. Had
  // the keys spread over several shards, they would take several tables (at least 3 of 16
  // slots, almost surely), a different total of slots.
  map_t m(0, {.shards = 8});
  const std::size_t target = m.shard_of(12345);
  int inserted = 0;
  for (std::uint64_t k = 0; inserted < 20; ++k) {
    if (m.shard_of(k) == target) {
      m.insert(k, k);
      ++inserted;
    }
  }
  map_t one(0, {.shards = 1});
  for (std::uint64_t k = 0, n = 0; n < 20; ++k) {
    if (m.shard_of(k) == target) {
      one.insert(k, k);
      ++n;
    }
  }
  EXPECT_EQ(m.stats().slots, one.stats().slots);
}

}  // namespace
