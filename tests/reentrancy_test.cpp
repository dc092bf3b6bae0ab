// Debug detection of callbacks that call back into the map running them (which would
// deadlock on its lock). Forced on here whatever the build type.
#define CMAP_CHECK_REENTRANCY 1

#include <gtest/gtest.h>

#include <cstdint>

#include "map_types.hpp"

namespace {

template <class Family>
class Reentrancy : public ::testing::Test {};
TYPED_TEST_SUITE(Reentrancy, cmap_test::all_map_families, cmap_test::family_names);

TYPED_TEST(Reentrancy, CallbackCallingBackIntoTheMapFailsFast) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  using map_t = typename TypeParam::template map<std::uint64_t, std::uint64_t>;
  EXPECT_DEATH(
      {
        map_t m;
        m.insert(1, 1);
        m.visit(1, [&](std::uint64_t&) { (void)m.find(1); });
      },
      "called back into the map");
  EXPECT_DEATH(
      {
        map_t m;
        m.insert(1, 1);
        m.for_each([&](const std::uint64_t&, const std::uint64_t&) { (void)m.size(); });
      },
      "called back into the map");
}

TYPED_TEST(Reentrancy, CallbacksMayUseOtherMaps) {
  using map_t = typename TypeParam::template map<std::uint64_t, std::uint64_t>;
  map_t a, b;
  a.insert(1, 10);
  b.insert(1, 20);
  std::uint64_t sum = 0;
  a.visit(
      1, [&](const std::uint64_t& v) { b.visit(1, [&](const std::uint64_t& w) { sum = v + w; }); });
  EXPECT_EQ(sum, 30u);
  a.for_each([&](const std::uint64_t& k, const std::uint64_t&) { b.insert(k + 100, k); });
  EXPECT_EQ(b.size(), 2u);
}

}  // namespace
