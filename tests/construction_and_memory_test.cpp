// The common surface's construction and memory calls (docs/api.md: construction, allocators,
// whole-map calls, statistics), once over every map in all_map_families: the constructor set,
// stateful allocators, bulk insert, heterogeneous emplace/try_emplace, shrink_to_fit/rehash,
// stats().

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "arena_allocator.hpp"
#include "map_types.hpp"

namespace {

using cmap_test::all_map_families;
using cmap_test::arena;
using cmap_test::arena_allocator;
using cmap_test::family_names;
using cmap_test::sorted_contents;
using u64 = std::uint64_t;

// A hash and an equality with state, to see that the ones given are the ones kept.
struct seeded_hash {
  u64 seed = 0;
  std::size_t operator()(u64 k) const noexcept { return cmap::hash<u64>{0}(k ^ seed); }
};
struct tagged_equal {
  int id = 0;
  bool operator()(u64 a, u64 b) const noexcept { return a == b; }
};

template <class Family>
class ConstructionAndMemory : public ::testing::Test {
 protected:
  using u64_map = typename Family::template map<u64, u64>;
  using tagged_map = typename Family::template map<u64, u64, seeded_hash, tagged_equal>;
  using pair_alloc = arena_allocator<std::pair<const u64, std::string>>;
  using arena_map = typename Family::template map<u64, std::string, cmap::hash<u64>,
                                                  std::equal_to<u64>, pair_alloc>;
  static constexpr bool has_table = Family::has_table;
};
TYPED_TEST_SUITE(ConstructionAndMemory, all_map_families, family_names);

TYPED_TEST(ConstructionAndMemory, EveryConstructorFormMeansTheSameOnEveryMap) {
  using map_t = typename TestFixture::u64_map;
  using tagged_t = typename TestFixture::tagged_map;
  // A first size_t is room for that many entries, on every map.
  map_t roomy(5000);
  const auto grown_before = roomy.stats().resizes;
  for (u64 k = 0; k < 5000; ++k) roomy.insert(k, k);
  EXPECT_EQ(roomy.size(), 5000u);
  if constexpr (TestFixture::has_table) {
    EXPECT_EQ(roomy.stats().resizes, grown_before) << "grew although room was made";
    EXPECT_GE(map_t(5000).stats().capacity, 5000u);
  }
  EXPECT_NO_THROW(map_t(100000));

  // Ranges and lists: the first of equal keys wins, as insert(first, last) does.
  const std::vector<std::pair<u64, u64>> v{{1, 10}, {2, 20}, {1, 11}, {3, 30}};
  const map_t from_range(v.begin(), v.end());
  EXPECT_EQ(sorted_contents(from_range), (std::vector<std::pair<u64, u64>>{{1, 10}, {2, 20}, {3, 30}}));
  const map_t from_list({{4, 40}, {5, 50}, {4, 41}});
  EXPECT_EQ(sorted_contents(from_list), (std::vector<std::pair<u64, u64>>{{4, 40}, {5, 50}}));

  // The forms that take a hash and an equality keep them (an ordered map has neither).
  if constexpr (TypeParam::hashed) {
    const tagged_t tagged(10, seeded_hash{42}, tagged_equal{7});
    EXPECT_EQ(tagged.hash_function().seed, 42u);
    EXPECT_EQ(tagged.key_eq().id, 7);
    const tagged_t tagged_range_default;
    EXPECT_EQ(tagged_range_default.hash_function().seed, 0u);
    const tagged_t from_range_full(v.begin(), v.end(), 100, seeded_hash{5}, tagged_equal{6});
    EXPECT_EQ(from_range_full.size(), 3u);
    EXPECT_EQ(from_range_full.hash_function().seed, 5u);
    const tagged_t from_list_full({{4, 40}}, 10, seeded_hash{8}, tagged_equal{9});
    EXPECT_EQ(from_list_full.key_eq().id, 9);
    EXPECT_EQ(from_list_full.find(4), std::optional<u64>(40));
  }
}

TYPED_TEST(ConstructionAndMemory, AStatefulAllocatorIsUsedForEverythingAndReturned) {
  using map_t = typename TestFixture::arena_map;
  using alloc_t = typename TestFixture::pair_alloc;
  arena a(7);
  {
    map_t m(0, alloc_t(a));
    EXPECT_EQ(m.get_allocator().source, &a);
    for (u64 k = 0; k < 3000; ++k) m.insert(k, std::string(40, 'v'));
    for (u64 k = 0; k < 3000; k += 2) m.erase(k);
    EXPECT_GT(a.allocations.load(), 0);
    EXPECT_GT(a.live_bytes.load(), 0);
    if constexpr (!TypeParam::node_based && !TypeParam::persistent) {
      // Nothing waits for a grace period: what the map says it holds is what is live.
      EXPECT_EQ(a.live_bytes.load(), static_cast<long>(m.allocated_bytes()));
    } else {
      EXPECT_GE(a.live_bytes.load(), static_cast<long>(m.allocated_bytes()));
    }
  }
  EXPECT_EQ(a.live_bytes.load(), 0) << "the map's memory did not all come back";
  EXPECT_EQ(a.live_blocks.load(), 0);

  // Every form that takes an allocator keeps it.
  arena b(8);
  const std::vector<std::pair<u64, std::string>> v{{1, "a"}, {2, "b"}};
  EXPECT_EQ(map_t(alloc_t(b)).get_allocator().source, &b);
  EXPECT_EQ(map_t(10, alloc_t(b)).get_allocator().source, &b);
  if constexpr (TypeParam::hashed) {
    EXPECT_EQ(map_t(10, cmap::hash<u64>(), alloc_t(b)).get_allocator().source, &b);
    EXPECT_EQ(map_t(0, cmap::hash<u64>(), std::equal_to<u64>(), alloc_t(b)).get_allocator().source,
              &b);
  }
  EXPECT_EQ(map_t(v.begin(), v.end(), 0, alloc_t(b)).get_allocator().source, &b);
  EXPECT_EQ(map_t({{1, "a"}}, 0, alloc_t(b)).get_allocator().source, &b);
  EXPECT_EQ(b.live_bytes.load(), 0);
}

TYPED_TEST(ConstructionAndMemory, ASnapshotOrRetiredMemoryGoesBackToTheMapsAllocator) {
  using map_t = typename TestFixture::arena_map;
  using alloc_t = typename TestFixture::pair_alloc;
  arena a(9);
  if constexpr (requires(map_t & m) { m.snapshot(); }) {
    using snapshot_t = decltype(std::declval<map_t&>().snapshot());
    std::unique_ptr<snapshot_t> kept;
    {
      map_t m{alloc_t(a)};
      for (u64 k = 0; k < 500; ++k) m.insert(k, "x");
      kept = std::make_unique<snapshot_t>(m.snapshot());
      for (u64 k = 0; k < 500; ++k) m.erase(k);
    }
    EXPECT_GT(a.live_bytes.load(), 0);  // the snapshot still holds its version
    EXPECT_EQ(kept->size(), 500u);
    kept.reset();
  } else {
    map_t m{alloc_t(a)};
    for (u64 k = 0; k < 500; ++k) m.insert(k, "x");
    for (u64 k = 0; k < 500; ++k) m.erase(k);
  }
  EXPECT_EQ(a.live_bytes.load(), 0);
}

TYPED_TEST(ConstructionAndMemory, BulkInsertCountsNewKeysAndKeepsTheFirst) {
  typename TestFixture::u64_map m;
  m.insert(1, 100);
  const std::vector<std::pair<u64, u64>> v{{1, 1}, {2, 2}, {2, 3}, {3, 3}};
  EXPECT_EQ(m.insert(v.begin(), v.end()), 2u);
  EXPECT_EQ(sorted_contents(m), (std::vector<std::pair<u64, u64>>{{1, 100}, {2, 2}, {3, 3}}));
  EXPECT_EQ(m.insert(v.begin(), v.begin()), 0u);

  if constexpr (TypeParam::move_only_values) {
    typename TypeParam::template map<u64, std::unique_ptr<u64>> owners;
    std::vector<std::pair<u64, std::unique_ptr<u64>>> w;
    for (u64 k = 0; k < 50; ++k) w.emplace_back(k, std::make_unique<u64>(k * 3));
    EXPECT_EQ(owners.insert(std::make_move_iterator(w.begin()), std::make_move_iterator(w.end())),
              50u);
    for (const auto& e : w) EXPECT_EQ(e.second, nullptr) << "not moved from";
    EXPECT_TRUE(owners.visit(7, [](const std::unique_ptr<u64>& p) { EXPECT_EQ(*p, 21u); }));
  }
}

// A key that counts how often it is built from a std::string_view: heterogeneous emplace
// must build it only for an entry it inserts.
struct counted_key {
  static inline int built_from_view = 0;
  std::string s;
  explicit counted_key(std::string_view v) : s(v) { ++built_from_view; }
  bool operator==(const counted_key&) const = default;
};
struct counted_key_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view v) const noexcept { return cmap::hash<std::string>{0}(v); }
  std::size_t operator()(const counted_key& k) const noexcept { return (*this)(k.s); }
};
struct counted_key_equal {
  using is_transparent = void;
  static std::string_view view(std::string_view v) noexcept { return v; }
  static std::string_view view(const counted_key& k) noexcept { return k.s; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    return view(a) == view(b);
  }
};

template <class Family>
void heterogeneous_emplace_test() {
  typename Family::template map<counted_key, int, counted_key_hash, counted_key_equal> m;
  counted_key::built_from_view = 0;
  EXPECT_TRUE(m.emplace(std::string_view("alpha"), 1));
  EXPECT_EQ(counted_key::built_from_view, 1);
  EXPECT_FALSE(m.emplace(std::string_view("alpha"), 2));
  EXPECT_FALSE(m.try_emplace(std::string_view("alpha"), 3));
  EXPECT_EQ(counted_key::built_from_view, 1) << "a Key was built for a present key";
  EXPECT_TRUE(m.try_emplace(std::string_view("beta"), 4));
  EXPECT_EQ(counted_key::built_from_view, 2);
  EXPECT_EQ(m.find(std::string_view("alpha")), std::optional<int>(1));
  EXPECT_EQ(m.find(std::string_view("beta")), std::optional<int>(4));
  EXPECT_TRUE(m.try_emplace(counted_key(std::string_view("gamma")), 5));  // the Key overloads
  EXPECT_EQ(m.size(), 3u);
}

TYPED_TEST(ConstructionAndMemory, HeterogeneousEmplaceBuildsTheKeyOnlyWhenItInserts) {
  // (counted_key has a hash and an equality, not an ordered map's key encoding; art_map_test
  // checks the same of a std::string key emplaced from a std::string_view.)
  if constexpr (TypeParam::hashed) heterogeneous_emplace_test<TypeParam>();
}

TYPED_TEST(ConstructionAndMemory, ShrinkToFitAndRehashGiveMemoryBackAfterMassErasure) {
  typename TestFixture::u64_map m;
  for (u64 k = 0; k < 20000; ++k) m.insert(k, k);
  for (u64 k = 100; k < 20000; ++k) m.erase(k);
  const auto before = m.allocated_bytes();
  m.shrink_to_fit();
  const auto after = m.allocated_bytes();
  EXPECT_EQ(m.size(), 100u);
  for (u64 k = 0; k < 20000; ++k)
    ASSERT_EQ(m.find(k), k < 100 ? std::optional<u64>(k) : std::nullopt);
  EXPECT_LE(after, before);
  if constexpr (TestFixture::has_table) {
    EXPECT_LT(after * 8, before) << "shrink_to_fit kept most of the table";
    EXPECT_EQ(m.stats().tombstones, 0u);
    const auto resizes = m.stats().resizes;
    m.rehash(5000);
    EXPECT_GE(m.stats().capacity, 5000u);
    EXPECT_GT(m.stats().resizes, resizes);
    m.rehash(0);
    EXPECT_LT(m.stats().capacity, 5000u);
    EXPECT_EQ(m.size(), 100u);
    m.clear();
    m.shrink_to_fit();
    EXPECT_LE(m.allocated_bytes(), after);
  } else {
    EXPECT_NO_THROW(m.rehash(5000));
    EXPECT_THROW(m.rehash(~std::size_t{0}), std::length_error);
  }
}

TYPED_TEST(ConstructionAndMemory, StatsDescribeTheMap) {
  typename TestFixture::u64_map m;
  EXPECT_EQ(m.stats().size, 0u);
  for (u64 k = 0; k < 1000; ++k) m.insert(k, k);
  for (u64 k = 0; k < 100; ++k) m.erase(k);
  const cmap::map_stats st = m.stats();
  EXPECT_EQ(st.size, 900u);
  EXPECT_EQ(st.allocated_bytes, m.allocated_bytes());
  EXPECT_GE(st.capacity, st.size);
  if constexpr (TestFixture::has_table) {
    EXPECT_GE(st.slots, st.capacity);
    EXPECT_DOUBLE_EQ(st.load_factor, 900.0 / static_cast<double>(st.slots));
    EXPECT_GT(st.resizes, 0u);  // grew from empty
    EXPECT_LE(st.tombstones, 100u);
    EXPECT_LE(st.capacity + st.tombstones, st.slots);  // the rest is the 1/8 kept empty
  } else {
    EXPECT_EQ(st.slots, 0u);
    EXPECT_EQ(st.capacity, st.size);
    EXPECT_EQ(st.load_factor, 0.0);
    EXPECT_EQ(st.tombstones, 0u);
  }
}

}  // namespace
