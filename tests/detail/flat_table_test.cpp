// flat_table, the engine under locked_map and sharded_map, and its metadata groups: the
// invariants of flat_table.hpp's opening comment, checked from outside.

#include <gtest/gtest.h>

#include <cmap/detail/flat_table.hpp>
#include <cmap/hash.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using cmap::detail::ctrl_deleted;
using cmap::detail::ctrl_empty;
using cmap::detail::ctrl_t;
using cmap::detail::group;

using table = cmap::detail::flat_table<std::uint64_t, std::uint64_t, cmap::hash<std::uint64_t>,
                                       std::equal_to<>, std::allocator<std::uint64_t>>;

TEST(Group, MatchesTagsEmptyFreeAndFull) {
  alignas(16) ctrl_t ctrl[16];
  for (int i = 0; i < 16; ++i) ctrl[i] = ctrl_empty;
  ctrl[0] = 5;
  ctrl[3] = 5;
  ctrl[4] = 7;
  ctrl[9] = ctrl_deleted;
  const group g(ctrl);
  std::vector<unsigned> fives;
  for (unsigned i : g.match(5)) fives.push_back(i);
  EXPECT_EQ(fives, (std::vector<unsigned>{0, 3}));
  EXPECT_EQ(g.match(7).lowest(), 4u);
  EXPECT_FALSE(g.match(6).any());
  EXPECT_EQ(g.match_empty().count(), 12u);
  EXPECT_EQ(g.match_free().count(), 13u);  // empty + deleted
  EXPECT_EQ(g.match_full().count(), 3u);
  EXPECT_EQ(g.match_free().lowest(), 1u);
}

TEST(FlatTable, EmptyTableOwnsNoMemory) {
  table t;
  EXPECT_EQ(t.capacity(), 0u);
  EXPECT_EQ(t.allocated_bytes(), 0u);
  EXPECT_EQ(t.find(std::uint64_t{1}), nullptr);
  EXPECT_FALSE(t.erase(std::uint64_t{1}));
}

TEST(FlatTable, CapacityIsPowerOfTwoGroupsAndLoadAtMostSevenEighths) {
  table t;
  std::size_t last_capacity = 0;
  for (std::uint64_t k = 0; k < 100000; ++k) {
    t.try_emplace(k, k);
    if (t.capacity() != last_capacity) {
      last_capacity = t.capacity();
      EXPECT_EQ(last_capacity % 16, 0u);
      EXPECT_TRUE(std::has_single_bit(last_capacity / 16));
    }
    ASSERT_LE(t.size() * 8, t.capacity() * 7);
  }
}

TEST(FlatTable, ReserveGivesRoomWithoutRehash) {
  table t;
  t.reserve(1000);
  const std::size_t cap = t.capacity();
  EXPECT_GE(cap - cap / 8, 1000u);
  for (std::uint64_t k = 0; k < 1000; ++k) t.try_emplace(k, k);
  EXPECT_EQ(t.capacity(), cap);
}

TEST(FlatTable, TombstonesAreReusedAndCleared) {
  table t;
  for (std::uint64_t k = 0; k < 200; ++k) t.try_emplace(k, k);
  const std::size_t cap = t.capacity();
  // Churn far more keys than the capacity through the table at a constant size.
  for (std::uint64_t k = 200; k < 200 + cap * 50; ++k) {
    t.try_emplace(k, k);
    ASSERT_TRUE(t.erase(k - 200));
  }
  EXPECT_EQ(t.size(), 200u);
  EXPECT_LE(t.capacity(), cap * 2);
  for (std::uint64_t k = 200 + cap * 50 - 200; k < 200 + cap * 50; ++k)
    ASSERT_NE(t.find(k), nullptr);
}

TEST(FlatTable, ReserveClearsTombstonesThatWouldForceARebuild) {
  table t;
  t.reserve(1000);
  const std::size_t cap = t.capacity();
  // Fill to the reserve, then erase most: the table is now mostly tombstones, and inserting
  // 900 new keys would need a rebuild without a reserve in between.
  for (std::uint64_t k = 0; k < 1000; ++k) t.try_emplace(k, k);
  for (std::uint64_t k = 0; k < 900; ++k) t.erase(k);
  t.reserve(1000);
  EXPECT_EQ(t.capacity(), cap);
  const auto* before = t.find(std::uint64_t{950});
  for (std::uint64_t k = 2000; k < 2900; ++k) t.try_emplace(k, k);
  EXPECT_EQ(t.find(std::uint64_t{950}), before);  // no rehash moved it
  EXPECT_EQ(t.capacity(), cap);
}

TEST(FlatTable, MatchesStdUnorderedMapUnderRandomOps) {
  table t;
  std::unordered_map<std::uint64_t, std::uint64_t> model;
  std::uint64_t x = 88172645463325252ULL;  // xorshift64
  for (int step = 0; step < 300000; ++step) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const std::uint64_t key = x % 3000, op = (x >> 32) % 4;
    if (op == 0) {
      ASSERT_EQ(t.try_emplace(key, step).second, model.try_emplace(key, step).second);
    } else if (op == 1) {
      ASSERT_EQ(t.erase(key), model.erase(key) == 1);
    } else if (op == 2) {
      ASSERT_EQ(t.insert_or_assign(key, std::uint64_t(step)),
                model.insert_or_assign(key, step).second);
    } else {
      const auto* v = t.find(key);
      const auto it = model.find(key);
      ASSERT_EQ(v != nullptr, it != model.end());
      if (v != nullptr) {
        ASSERT_EQ(*v, it->second);
      }
    }
    ASSERT_EQ(t.size(), model.size());
  }
  std::size_t seen = 0;
  t.for_each([&](const std::uint64_t& k, std::uint64_t& v) {
    ++seen;
    EXPECT_EQ(model.at(k), v);
  });
  EXPECT_EQ(seen, model.size());
}

TEST(FlatTable, CopyMoveAndSwap) {
  cmap::detail::flat_table<std::string, std::string, cmap::hash<std::string>, std::equal_to<>,
                           std::allocator<char>>
      a;
  for (int i = 0; i < 500; ++i) a.try_emplace(std::to_string(i), std::string(20, 'a' + i % 26));
  auto b = a;  // copy
  EXPECT_EQ(b.size(), 500u);
  EXPECT_NE(b.find(std::string_view("42")), nullptr);
  auto c = std::move(a);  // move leaves a empty and usable
  EXPECT_EQ(c.size(), 500u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  a.try_emplace(std::string("x"), std::string("y"));
  EXPECT_EQ(a.size(), 1u);
  a.swap(c);
  EXPECT_EQ(a.size(), 500u);
  EXPECT_EQ(c.size(), 1u);
  b = c;  // copy-assign
  EXPECT_EQ(b.size(), 1u);
  EXPECT_NE(b.find(std::string_view("x")), nullptr);
}

TEST(FlatTable, EraseIfDuringWalkErasesExactlyTheMatches) {
  table t;
  for (std::uint64_t k = 0; k < 10000; ++k) t.try_emplace(k, k);
  EXPECT_EQ(t.erase_if([](const std::uint64_t& k, const std::uint64_t&) { return k % 2 == 0; }),
            5000u);
  std::set<std::uint64_t> left;
  t.for_each([&](const std::uint64_t& k, const std::uint64_t&) { left.insert(k); });
  EXPECT_EQ(left.size(), 5000u);
  EXPECT_EQ(*left.begin(), 1u);
  EXPECT_EQ(*left.rbegin(), 9999u);
}

}  // namespace
