// detail/group.hpp: the probe sequence of concurrent_table (any group count).
#include "cmap/detail/group.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

using cmap::detail::scaled_probe_sequence;
__extension__ using u128 = unsigned __int128;  // __extension__: no -Wpedantic warning

// Every group is reached within 2 * count steps, from any home, for every count (not only
// powers of two): an insert that needs a free group always finds one. Triangular steps
// alone fail this for counts such as 3 (they cycle over groups 0 and 1).
TEST(ScaledProbeSequence, ReachesEveryGroupForAnyCount) {
  for (std::size_t count = 1; count <= 300; ++count) {
    for (std::size_t home_index = 0; home_index < count; home_index += 1 + count / 7) {
      // A hash whose home is home_index: the start of that group's range of hashes, rounded up.
      const std::size_t h =
          static_cast<std::size_t>(((static_cast<u128>(home_index) << 64) + count - 1) / count);
      scaled_probe_sequence seq(h, count);
      ASSERT_EQ(seq.group(), home_index) << count;
      std::vector<bool> seen(count, false);
      std::size_t distinct = 0;
      for (std::size_t step = 0; step < 2 * count && distinct < count; ++step, seq.next()) {
        ASSERT_LT(seq.group(), count);
        if (!seen[seq.group()]) {
          seen[seq.group()] = true;
          ++distinct;
        }
      }
      EXPECT_EQ(distinct, count) << "count " << count << ", home " << home_index;
    }
  }
}

// While steps are shorter than the table they are triangular (offsets 1, 3, 6, ... from
// home), so a group's overflow is spread out.
TEST(ScaledProbeSequence, StepsAreTriangularWhileShorterThanTheTable) {
  constexpr std::size_t count = 1000;
  scaled_probe_sequence seq(0, count);
  std::size_t expected = 0;
  for (std::size_t step = 1; step < 40; ++step) {
    seq.next();
    expected = (expected + step) % count;
    EXPECT_EQ(seq.group(), expected) << step;
  }
}

// The home group is the hash scaled to the count: uniform hashes fill groups evenly, and
// order is kept (a larger hash never has an earlier home), which rebuilds rely on to write
// the new table nearly in order.
TEST(ScaledProbeSequence, HomeGroupScalesTheHashAndKeepsOrder) {
  constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
  EXPECT_EQ(scaled_probe_sequence::home_group(0, 12345), 0u);
  EXPECT_EQ(scaled_probe_sequence::home_group(max, 12345), 12344u);
  EXPECT_EQ(scaled_probe_sequence::home_group(max / 2 + 1, 1000), 500u);
  for (std::size_t count : {std::size_t{1}, std::size_t{3}, std::size_t{92170}}) {
    std::size_t last = 0;
    for (std::uint64_t i = 0; i <= 10000; ++i) {
      const std::size_t h = static_cast<std::size_t>(i * (max / 10000));
      const std::size_t home = scaled_probe_sequence::home_group(h, count);
      EXPECT_LT(home, count);
      EXPECT_GE(home, last);
      last = home;
    }
    EXPECT_EQ(last, count - 1);
  }
}

}  // namespace
