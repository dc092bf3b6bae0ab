// checked_power_of_two: lock counts must be powers of two from 1 to 65536; the error names
// the map, what is counted, and the value given.

#include <gtest/gtest.h>

#include <cmap/detail/power_of_two.hpp>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace {

using cmap::detail::checked_power_of_two;

TEST(PowerOfTwo, AcceptsEveryPowerOfTwoFromOneTo65536) {
  for (std::size_t n = 1; n <= 65536; n *= 2) EXPECT_EQ(checked_power_of_two(n, "x", "m"), n);
}

TEST(PowerOfTwo, RejectsTheRestWithAMessageNamingMapWhatAndValue) {
  for (std::size_t bad : {std::size_t{0}, std::size_t{3}, std::size_t{6}, std::size_t{65535},
                          std::size_t{65537}, std::size_t{1} << 17, ~std::size_t{0}}) {
    try {
      checked_power_of_two(bad, "shard count", "cmap::sharded_map");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("cmap::sharded_map"), std::string::npos) << what;
      EXPECT_NE(what.find("shard count"), std::string::npos) << what;
      EXPECT_NE(what.find(std::to_string(bad)), std::string::npos) << what;
    }
  }
}

}  // namespace
