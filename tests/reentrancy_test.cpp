// Debug detection of callbacks that call back into the map running them (which would
// deadlock on a lock the thread already holds). Forced on here whatever the build type.
#define CMAP_CHECK_REENTRANCY 1

#include <gtest/gtest.h>

#include <cstdint>

#include "map_types.hpp"

namespace {

template <class Family>
class Reentrancy : public ::testing::Test {};
TYPED_TEST_SUITE(Reentrancy, cmap_test::all_map_families, cmap_test::family_names);

TYPED_TEST(Reentrancy, UpdateCallbackWritingToTheSameMapFailsFast) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  using map_t = typename TypeParam::template map<std::uint64_t, std::uint64_t>;
  EXPECT_DEATH(
      {
        map_t m;
        m.insert(1, 1);
        m.visit(1, [&](std::uint64_t&) { m.insert(2, 2); });
      },
      "called back into the map");
  EXPECT_DEATH(
      {
        map_t m;
        m.upsert(1, [](std::uint64_t&) {}, 1);
        m.upsert(1, [&](std::uint64_t&) { m.erase(1); }, 1);
      },
      "called back into the map");
}

TYPED_TEST(Reentrancy, ForEachCallbackOfALockingMapMustNotCallTheMap) {
  if constexpr (TypeParam::for_each_locks) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    using map_t = typename TypeParam::template map<std::uint64_t, std::uint64_t>;
    EXPECT_DEATH(
        {
          map_t m;
          m.insert(1, 1);
          m.for_each([&](const std::uint64_t&, const std::uint64_t&) { (void)m.size(); });
        },
        "called back into the map");
  } else {
    // Lock-free for_each keeps Go's Range promise: the callback may call any method.
    using map_t = typename TypeParam::template map<std::uint64_t, std::uint64_t>;
    map_t m;
    for (std::uint64_t k = 0; k < 100; ++k) m.insert(k, k);
    m.for_each([&](const std::uint64_t& k, const std::uint64_t&) {
      if (k >= 100) return;  // an entry this walk inserted (the walk may or may not see them)
      if (k % 2 == 0) m.erase(k);
      m.insert(k + 1000, k);
      (void)m.find(k);
      (void)m.size();
    });
    for (std::uint64_t k = 0; k < 100; ++k) {
      EXPECT_EQ(m.contains(k), k % 2 == 1) << k;
      EXPECT_TRUE(m.contains(k + 1000)) << k;
    }
  }
}

TYPED_TEST(Reentrancy, CallbacksMayUseOtherMaps) {
  using map_t = typename TypeParam::template map<std::uint64_t, std::uint64_t>;
  map_t a, b;
  a.insert(1, 10);
  b.insert(1, 20);
  std::uint64_t sum = 0;
  a.visit(1, [&](std::uint64_t& v) {
    b.visit(1, [&](std::uint64_t& w) { sum = v + w; });
  });
  EXPECT_EQ(sum, 30u);
  a.for_each([&](const std::uint64_t& k, const std::uint64_t&) { b.insert(k + 100, k); });
  EXPECT_EQ(b.size(), 2u);
}

}  // namespace
