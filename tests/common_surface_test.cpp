// The common surface of docs/api.md, tested once over every map in all_map_families:
// each call's result and effect, heterogeneous lookup, move-only values, growth, and the
// exception guarantees (a throwing hash, equality, constructor or callback leaves the map
// valid, unchanged for single-key calls, and its lock released).

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "counting_allocator.hpp"
#include "map_types.hpp"

namespace {

using cmap_test::all_map_families;
using cmap_test::family_names;

template <class Family>
class CommonSurface : public ::testing::Test {
 protected:
  using u64_map = typename Family::template map<std::uint64_t, std::uint64_t>;
};
TYPED_TEST_SUITE(CommonSurface, all_map_families, family_names);

// Proves a lock was released: another thread must be able to take the key's shard lock,
// exclusively, within the time limit (a test that leaked the lock would hang, so do it on a
// thread we can abandon).
template <class Map, class Key>
bool writable_from_another_thread(Map& m, const Key& k) {
  std::atomic<bool> done{false};
  std::thread t([&] {
    m.erase(k);
    done.store(true);
  });
  for (int i = 0; i < 2000 && !done.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const bool ok = done.load();
  if (ok) {
    t.join();
  } else {
    t.detach();  // the lock leaked; the test fails below and the process ends
  }
  return ok;
}

TYPED_TEST(CommonSurface, EmptyMap) {
  typename TestFixture::u64_map m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_FALSE(m.find(1).has_value());
  EXPECT_FALSE(m.contains(1));
  EXPECT_FALSE(m.erase(1));
  EXPECT_FALSE(m.extract(1).has_value());
  EXPECT_FALSE(m.visit(1, [](const std::uint64_t&) { FAIL(); }));
  int seen = 0;
  m.for_each([&](const std::uint64_t&, const std::uint64_t&) { ++seen; });
  EXPECT_EQ(seen, 0);
}

TYPED_TEST(CommonSurface, InsertDoesNotOverwrite) {
  typename TestFixture::u64_map m;
  EXPECT_TRUE(m.insert(1, 10));
  EXPECT_FALSE(m.insert(1, 20));
  EXPECT_EQ(m.find(1), std::optional<std::uint64_t>(10));
  const std::uint64_t k = 2, v = 30;
  EXPECT_TRUE(m.insert(k, v));  // const& overload
  EXPECT_EQ(m.find(k), std::optional<std::uint64_t>(30));
  EXPECT_TRUE(m.contains(2));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_FALSE(m.empty());
}

struct counted {
  static inline int constructions = 0;
  int value;
  explicit counted(int v) : value(v) { ++constructions; }
  counted(const counted& o) : value(o.value) { ++constructions; }
  counted(counted&& o) noexcept : value(o.value) { ++constructions; }
  counted& operator=(const counted&) = default;
  counted& operator=(counted&&) noexcept = default;
  bool operator==(const counted&) const = default;
};

TYPED_TEST(CommonSurface, EmplaceConstructsOnlyIfAbsent) {
  typename TypeParam::template map<int, counted> m;
  counted::constructions = 0;
  EXPECT_TRUE(m.emplace(1, 7));
  EXPECT_EQ(counted::constructions, 1);
  EXPECT_FALSE(m.emplace(1, 8));
  EXPECT_EQ(counted::constructions, 1);  // nothing built for a present key
  EXPECT_EQ(m.find(1)->value, 7);
}

TYPED_TEST(CommonSurface, InsertOrAssign) {
  typename TestFixture::u64_map m;
  EXPECT_TRUE(m.insert_or_assign(5, 1));
  EXPECT_FALSE(m.insert_or_assign(5, 2));
  EXPECT_EQ(m.find(5), std::optional<std::uint64_t>(2));
  EXPECT_EQ(m.size(), 1u);
}

TYPED_TEST(CommonSurface, FindOrInsert) {
  typename TestFixture::u64_map m;
  EXPECT_EQ(m.find_or_insert(3, 30), std::make_pair(std::uint64_t{30}, true));
  EXPECT_EQ(m.find_or_insert(3, 31), std::make_pair(std::uint64_t{30}, false));
  EXPECT_EQ(m.find(3), std::optional<std::uint64_t>(30));
}

TYPED_TEST(CommonSurface, UpsertInsertsOrUpdates) {
  typename TestFixture::u64_map m;
  int calls = 0;
  auto add_one = [&](std::uint64_t& v) {
    ++calls;
    ++v;
  };
  EXPECT_TRUE(m.upsert(9, add_one, 100));  // absent: T(100), f not called
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(m.find(9), std::optional<std::uint64_t>(100));
  EXPECT_FALSE(m.upsert(9, add_one, 100));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(m.find(9), std::optional<std::uint64_t>(101));
  EXPECT_TRUE(m.upsert(10, add_one));  // no args: value-initialised
  EXPECT_EQ(m.find(10), std::optional<std::uint64_t>(0));
}

TYPED_TEST(CommonSurface, Exchange) {
  typename TestFixture::u64_map m;
  EXPECT_EQ(m.exchange(4, 40), std::nullopt);
  EXPECT_EQ(m.exchange(4, 41), std::optional<std::uint64_t>(40));
  EXPECT_EQ(m.find(4), std::optional<std::uint64_t>(41));
}

TYPED_TEST(CommonSurface, CompareExchange) {
  typename TestFixture::u64_map m;
  EXPECT_FALSE(m.compare_exchange(1, 0, 5));  // absent
  EXPECT_FALSE(m.contains(1));
  m.insert(1, 10);
  EXPECT_FALSE(m.compare_exchange(1, 11, 5));  // mismatch
  EXPECT_EQ(m.find(1), std::optional<std::uint64_t>(10));
  EXPECT_TRUE(m.compare_exchange(1, 10, 5));
  EXPECT_EQ(m.find(1), std::optional<std::uint64_t>(5));
}

TYPED_TEST(CommonSurface, EraseExtractCompareErase) {
  typename TestFixture::u64_map m;
  for (std::uint64_t k = 0; k < 10; ++k) m.insert(k, k * k);
  EXPECT_TRUE(m.erase(3));
  EXPECT_FALSE(m.erase(3));
  EXPECT_EQ(m.extract(4), std::optional<std::uint64_t>(16));
  EXPECT_FALSE(m.contains(4));
  EXPECT_FALSE(m.compare_erase(5, 24));
  EXPECT_TRUE(m.contains(5));
  EXPECT_TRUE(m.compare_erase(5, 25));
  EXPECT_FALSE(m.contains(5));
  EXPECT_EQ(m.size(), 7u);
}

TYPED_TEST(CommonSurface, EraseIf) {
  typename TestFixture::u64_map m;
  for (std::uint64_t k = 0; k < 1000; ++k) m.insert(k, k);
  EXPECT_EQ(m.erase_if([](const std::uint64_t& k, const std::uint64_t&) { return k % 3 == 0; }),
            334u);
  EXPECT_EQ(m.size(), 666u);
  for (std::uint64_t k = 0; k < 1000; ++k) EXPECT_EQ(m.contains(k), k % 3 != 0) << k;
}

TYPED_TEST(CommonSurface, ForEachSeesEachEntryOnceAndCanStop) {
  typename TestFixture::u64_map m;
  for (std::uint64_t k = 0; k < 5000; ++k) m.insert(k, k + 1);
  std::set<std::uint64_t> seen;
  m.for_each([&](const std::uint64_t& k, const std::uint64_t& v) {
    EXPECT_EQ(v, k + 1);
    EXPECT_TRUE(seen.insert(k).second) << "key " << k << " seen twice";
  });
  EXPECT_EQ(seen.size(), 5000u);

  int visited = 0;
  m.for_each([&](const std::uint64_t&, const std::uint64_t&) { return ++visited < 10; });
  EXPECT_EQ(visited, 10);
}

TYPED_TEST(CommonSurface, VisitConstAndMutable) {
  typename TestFixture::u64_map m;
  m.insert(1, 1);
  EXPECT_TRUE(m.visit(1, [](std::uint64_t& v) { v = 42; }));
  const auto& cm = m;
  std::uint64_t seen = 0;
  EXPECT_TRUE(cm.visit(1, [&](const std::uint64_t& v) { seen = v; }));
  EXPECT_EQ(seen, 42u);
  EXPECT_FALSE(m.visit(2, [](std::uint64_t&) { FAIL(); }));
}

TYPED_TEST(CommonSurface, ClearAndReuse) {
  typename TestFixture::u64_map m;
  for (std::uint64_t k = 0; k < 100; ++k) m.insert(k, k);
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(m.contains(7));
  EXPECT_TRUE(m.insert(7, 8));
  EXPECT_EQ(m.size(), 1u);
}

TYPED_TEST(CommonSurface, ReserveMakesRoomWithoutGrowth) {
  typename TestFixture::u64_map m;
  if constexpr (!TypeParam::has_table) {
    // A trie or a tree has no table to make room in: reserve changes nothing, and the map
    // still holds every entry inserted after it.
    m.insert(1, 1);
    const auto bytes = m.allocated_bytes();
    m.reserve(10000);
    EXPECT_EQ(m.allocated_bytes(), bytes);
    for (std::uint64_t k = 0; k < 10000; ++k) m.insert(k, k);
    for (std::uint64_t k = 0; k < 10000; ++k) ASSERT_EQ(m.find(k), std::optional<std::uint64_t>(k));
    return;
  }
  m.reserve(10000);
  const auto bytes = cmap_test::table_bytes(m);
  EXPECT_GT(bytes, 0u);
  for (std::uint64_t k = 0; k < 10000; ++k) m.insert(k, k);
  EXPECT_EQ(cmap_test::table_bytes(m), bytes);
  for (std::uint64_t k = 0; k < 10000; ++k) ASSERT_EQ(m.find(k), std::optional<std::uint64_t>(k));
}

TYPED_TEST(CommonSurface, ReserveBeyondAnyTableThrowsLengthError) {
  typename TestFixture::u64_map m;
  m.insert(1, 1);
  for (std::size_t n : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2}) {
    EXPECT_THROW(m.reserve(n), std::length_error) << n;
  }
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.find(1), std::optional<std::uint64_t>(1));
}

TYPED_TEST(CommonSurface, GrowsAndKeepsEveryEntry) {
  typename TestFixture::u64_map m;
  constexpr std::uint64_t n = 100000;
  for (std::uint64_t k = 0; k < n; ++k) ASSERT_TRUE(m.insert(k * 7919, k));
  EXPECT_EQ(m.size(), n);
  for (std::uint64_t k = 0; k < n; k += 2) ASSERT_TRUE(m.erase(k * 7919));
  for (std::uint64_t k = 0; k < n; ++k) {
    ASSERT_EQ(m.contains(k * 7919), k % 2 == 1) << k;
  }
  for (std::uint64_t k = 0; k < n; k += 2) ASSERT_TRUE(m.insert(k * 7919, k));
  EXPECT_EQ(m.size(), n);
}

TYPED_TEST(CommonSurface, ChurnDoesNotGrowWithoutBound) {
  // Erase leaves tombstones; rehashing at the same size must clear them, so a map whose
  // size stays at 1000 keeps its memory bounded however many keys pass through it.
  typename TestFixture::u64_map m;
  for (std::uint64_t k = 0; k < 1000; ++k) m.insert(k, k);
  std::size_t peak = 0;
  for (std::uint64_t k = 1000; k < 200000; ++k) {
    m.insert(k, k);
    m.erase(k - 1000);
    if (k > 20000) peak = std::max(peak, m.allocated_bytes());
  }
  EXPECT_EQ(m.size(), 1000u);
  const auto after_warmup = m.allocated_bytes();
  EXPECT_LE(peak, after_warmup * 2);
  EXPECT_LE(after_warmup, 1000u * 2 * 17 * 16);  // a few groups' worth per shard at most
}

TYPED_TEST(CommonSurface, HeterogeneousLookupWithStringView) {
  typename TypeParam::template map<std::string, int, cmap::hash<std::string>, std::equal_to<>> m;
  const std::string long_key(40, 'x');  // beyond the small-string buffer
  m.insert(long_key, 1);
  m.insert(std::string("short"), 2);
  const std::string_view sv = long_key;
  EXPECT_EQ(m.find(sv), std::optional<int>(1));
  EXPECT_TRUE(m.contains("short"));
  EXPECT_TRUE(m.visit(std::string_view("short"), [](int& v) { v = 3; }));
  EXPECT_EQ(m.find("short"), std::optional<int>(3));
  EXPECT_TRUE(m.compare_exchange(std::string_view("short"), 3, 4));
  EXPECT_EQ(m.extract(std::string_view("short")), std::optional<int>(4));
  EXPECT_TRUE(m.compare_erase(sv, 1));
  EXPECT_FALSE(m.erase(sv));
  EXPECT_TRUE(m.empty());
}

// Every call that takes a lookup key accepts a K other than Key only when both the hash and
// the equality are transparent (cmap::hash<std::string> is; std::equal_to<std::string> is
// not), as in the standard's unordered containers.
template <class Map>
concept takes_string_view_keys = requires(Map& m, const Map& cm, std::string_view k, int v) {
  cm.find(k);
  cm.contains(k);
  cm.visit(k, [](const int&) {});
  m.visit(k, [](int&) {});
  m.compare_exchange(k, v, v);
  m.erase(k);
  m.extract(k);
  m.compare_erase(k, v);
};
// Each call on its own, so that one call that wrongly accepts K fails the test by name.
template <class Map>
concept takes_any_string_view_key = requires(Map& m, const Map& cm, std::string_view k, int v) {
  cm.find(k);
}
|| requires(const Map& cm, std::string_view k) { cm.contains(k); }
|| requires(const Map& cm, std::string_view k) {
  cm.visit(k, [](const int&) {});
}
|| requires(Map& m, std::string_view k) {
  m.visit(k, [](int&) {});
}
|| requires(Map& m, std::string_view k, int v) { m.compare_exchange(k, v, v); }
|| requires(Map& m, std::string_view k) { m.erase(k); }
|| requires(Map& m, std::string_view k) { m.extract(k); }
|| requires(Map& m, std::string_view k, int v) { m.compare_erase(k, v); };

TYPED_TEST(CommonSurface, HeterogeneousCallsNeedATransparentHashAndEquality) {
  using transparent =
      typename TypeParam::template map<std::string, int, cmap::hash<std::string>, std::equal_to<>>;
  using opaque = typename TypeParam::template map<std::string, int, cmap::hash<std::string>,
                                                  std::equal_to<std::string>>;
  static_assert(takes_string_view_keys<transparent>);
  if constexpr (TypeParam::hashed) {
    static_assert(!takes_any_string_view_key<opaque>);
  } else {
    // An ordered map has no hash or equality to be transparent: its key encoding takes a
    // std::string_view, so every lookup call does.
    static_assert(takes_string_view_keys<opaque>);
  }
  SUCCEED();
}

// Names the map type for T in a requires-expression, so that a map whose class template
// rejects T is detected without a hard error.
template <class Family, class T>
concept accepts_mapped_type = requires {
  typename Family::template map<int, T>::mapped_type;
};

template <class TypeParam>
void move_only_values_test() {
  typename TypeParam::template map<int, std::unique_ptr<int>> m;
  EXPECT_TRUE(m.insert(1, std::make_unique<int>(10)));
  EXPECT_TRUE(m.emplace(2, new int(20)));
  EXPECT_TRUE(m.upsert(
      3, [](std::unique_ptr<int>&) {}, std::make_unique<int>(30)));
  EXPECT_FALSE(m.upsert(
      3, [](std::unique_ptr<int>& p) { *p += 1; }, nullptr));
  EXPECT_TRUE(m.visit(1, [](const std::unique_ptr<int>& p) { EXPECT_EQ(*p, 10); }));
  for (int k = 10; k < 2000; ++k) m.insert(k, std::make_unique<int>(k));  // rehash moves them
  std::optional<std::unique_ptr<int>> got = m.extract(3);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(**got, 31);
  EXPECT_TRUE(m.insert_or_assign(2, std::make_unique<int>(21)) == false);
  auto old = m.exchange(2, std::make_unique<int>(22));
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(**old, 21);
  EXPECT_EQ(m.size(), 1992u);
}

// A map that needs copyable values (versions share them, or readers copy without a lock)
// says so at compile time rather than failing inside.
TYPED_TEST(CommonSurface, MoveOnlyValues) {
  if constexpr (TypeParam::move_only_values) {
    move_only_values_test<TypeParam>();
  } else {
    static_assert(!accepts_mapped_type<TypeParam, std::unique_ptr<int>>);
    static_assert(accepts_mapped_type<TypeParam, std::shared_ptr<int>>);
  }
}

// ---- exception guarantees ---------------------------------------------------------------

struct boom : std::runtime_error {
  boom() : std::runtime_error("boom") {}
};

// Throws when asked to hash the poisoned key.
struct throwing_hash {
  static inline std::uint64_t poisoned = ~std::uint64_t{0};
  std::size_t operator()(std::uint64_t k) const {
    if (k == poisoned) throw boom();
    return cmap::hash<std::uint64_t>{0}(k);
  }
};

// Throws when one side of the comparison is the poisoned key.
struct throwing_eq {
  static inline std::uint64_t poisoned = ~std::uint64_t{0};
  bool operator()(std::uint64_t a, std::uint64_t b) const {
    if (a == poisoned || b == poisoned) throw boom();
    return a == b;
  }
};

// (art_map hashes nothing and compares encoded bytes; its throwing key encoding is tested in
// art_map_test.cpp.)
TYPED_TEST(CommonSurface, ThrowingHashLeavesMapUnchangedAndUnlocked) {
  if constexpr (!TypeParam::hashed) return;
  typename TypeParam::template map<std::uint64_t, std::uint64_t, throwing_hash> m;
  for (std::uint64_t k = 0; k < 100; ++k) m.insert(k, k);
  throwing_hash::poisoned = 1000;
  EXPECT_THROW(m.insert(1000, 1), boom);
  EXPECT_THROW((void)m.find(1000), boom);
  EXPECT_THROW(m.upsert(
                   1000, [](std::uint64_t&) {}, 1),
               boom);
  EXPECT_EQ(m.size(), 100u);
  EXPECT_FALSE(m.contains(999));
  throwing_hash::poisoned = ~std::uint64_t{0};
  EXPECT_TRUE(writable_from_another_thread(m, std::uint64_t{5}));
  EXPECT_EQ(m.size(), 99u);
}

TYPED_TEST(CommonSurface, ThrowingEqualityLeavesMapUnchangedAndUnlocked) {
  if constexpr (!TypeParam::hashed) return;
  typename TypeParam::template map<std::uint64_t, std::uint64_t, cmap::hash<std::uint64_t>,
                                   throwing_eq>
      m;
  for (std::uint64_t k = 0; k < 100; ++k) m.insert(k, k);
  throwing_eq::poisoned = 42;  // comparing against stored key 42 throws
  EXPECT_THROW(m.insert(42, 0), boom);
  EXPECT_THROW(m.erase(42), boom);
  EXPECT_THROW((void)m.find(42), boom);
  throwing_eq::poisoned = ~std::uint64_t{0};
  EXPECT_EQ(m.size(), 100u);
  EXPECT_EQ(m.find(42), std::optional<std::uint64_t>(42));
  EXPECT_TRUE(writable_from_another_thread(m, std::uint64_t{42}));
}

// A value whose construction from an int throws for one poisoned input, and whose copy
// throws on command (its move is not noexcept, so rehash must copy it).
struct fragile {
  static inline int poisoned = -1;
  static inline int copies_left = -1;  // -1: unlimited
  int v;
  explicit fragile(int x) : v(x) {
    if (x == poisoned) throw boom();
  }
  fragile(const fragile& o) : v(o.v) {
    if (copies_left == 0) throw boom();
    if (copies_left > 0) --copies_left;
  }
  fragile(fragile&& o) noexcept(false) : fragile(static_cast<const fragile&>(o)) {}
  fragile& operator=(const fragile&) = default;
  bool operator==(const fragile&) const = default;
};

TYPED_TEST(CommonSurface, ThrowingConstructorLeavesMapUnchanged) {
  typename TypeParam::template map<int, fragile> m;
  for (int k = 0; k < 10; ++k) m.emplace(k, k);
  fragile::poisoned = 77;
  EXPECT_THROW(m.emplace(77, 77), boom);
  EXPECT_THROW(m.upsert(
                   78, [](fragile&) {}, 77),
               boom);
  fragile::poisoned = -1;
  EXPECT_EQ(m.size(), 10u);
  EXPECT_FALSE(m.contains(77));
  EXPECT_FALSE(m.contains(78));
}

TYPED_TEST(CommonSurface, ThrowingCopyDuringGrowthLeavesMapUnchanged) {
  // fragile's move may throw, so a table that stores values inline must copy them when it
  // grows. Inserting a new key copies nothing unless it grows a table, so with "the fourth
  // copy throws" armed before every insert, the first insert that throws is one whose rehash
  // failed half-way: the map must be as before. A node-based map never copies a value when
  // it grows: then no insert may throw at all. A persistent map copies the entries of its
  // path on every write, so its first throw comes as soon as a node on the path holds more
  // than three entries (early, not at a growth); the map must be as before all the same.
  typename TypeParam::template map<int, fragile> m;
  const auto initial_table = cmap_test::table_bytes(m);
  for (int n = 0; n < 5000; ++n) {
    const auto bytes_before = m.allocated_bytes();
    fragile::copies_left = 3;
    try {
      m.emplace(n, n);
    } catch (const boom&) {
      fragile::copies_left = -1;
      ASSERT_FALSE(TypeParam::node_based) << "growth of a node-based map copied values";
      if constexpr (!TypeParam::persistent) {
        ASSERT_GT(n, 4);
      }
      EXPECT_EQ(m.allocated_bytes(), bytes_before);
      EXPECT_EQ(m.size(), static_cast<std::size_t>(n));
      for (int j = 0; j < n; ++j) ASSERT_EQ(m.find(j), std::optional<fragile>(fragile(j))) << j;
      EXPECT_FALSE(m.contains(n));
      EXPECT_TRUE(m.emplace(n, n));  // and the map still grows once copies work
      EXPECT_EQ(m.size(), static_cast<std::size_t>(n) + 1);
      return;
    }
  }
  fragile::copies_left = -1;
  ASSERT_TRUE(TypeParam::node_based) << "no insert triggered a rehash";
  EXPECT_GT(cmap_test::table_bytes(m), initial_table);  // it did grow, without copying
  EXPECT_EQ(m.size(), 5000u);
}

TYPED_TEST(CommonSurface, ThrowingCallbackReleasesLock) {
  typename TestFixture::u64_map m;
  for (std::uint64_t k = 0; k < 10; ++k) m.insert(k, k);
  EXPECT_THROW(m.visit(3, [](std::uint64_t&) { throw boom(); }), boom);
  EXPECT_THROW(std::as_const(m).visit(3, [](const std::uint64_t&) { throw boom(); }), boom);
  EXPECT_THROW(m.upsert(3, [](std::uint64_t&) { throw boom(); }), boom);
  EXPECT_THROW(m.for_each([](const std::uint64_t&, const std::uint64_t&) { throw boom(); }), boom);
  EXPECT_THROW(m.erase_if([](const std::uint64_t&, const std::uint64_t&) -> bool { throw boom(); }),
               boom);
  EXPECT_EQ(m.size(), 10u);
  for (std::uint64_t k = 0; k < 10; ++k) {
    EXPECT_TRUE(writable_from_another_thread(m, k)) << k;
  }
  EXPECT_TRUE(m.empty());
}

// ---- allocator --------------------------------------------------------------------------

using cmap_test::alloc_stats;
using cmap_test::counting_allocator;

TYPED_TEST(CommonSurface, AllocatesThroughTheAllocatorAndFreesEverything) {
  alloc_stats::live_bytes = 0;
  alloc_stats::allocations = 0;
  {
    typename TypeParam::template map<
        std::uint64_t, std::string, cmap::hash<std::uint64_t>, std::equal_to<std::uint64_t>,
        counting_allocator<std::pair<const std::uint64_t, std::string>>>
        m;
    for (std::uint64_t k = 0; k < 5000; ++k) m.insert(k, std::string(30, 'v'));
    for (std::uint64_t k = 0; k < 5000; k += 2) m.erase(k);
    EXPECT_GT(alloc_stats::allocations, 0);
    if constexpr (TypeParam::node_based || TypeParam::persistent) {
      // Retired tables, nodes or versions are still allocated until their grace period ends.
      EXPECT_GE(alloc_stats::live_bytes, static_cast<long>(m.allocated_bytes()));
    } else {
      EXPECT_EQ(alloc_stats::live_bytes, static_cast<long>(m.allocated_bytes()));
    }
  }
  EXPECT_EQ(alloc_stats::live_bytes, 0);  // everything freed when the map is destroyed
}

}  // namespace
