// detail/probe_tally.hpp: the longest and mean probe lengths that map_stats reports.

#include <gtest/gtest.h>

#include <cmap/detail/probe_tally.hpp>

namespace {

TEST(ProbeTally, EmptyTallyReportsZero) {
  cmap::map_stats st;
  st.longest_probe = 7;
  st.mean_probe = 3.5;
  cmap::detail::probe_tally{}.write_to(st);
  EXPECT_EQ(st.longest_probe, 0u);
  EXPECT_EQ(st.mean_probe, 0.0);
}

TEST(ProbeTally, KeepsTheLongestAndTheMean) {
  cmap::detail::probe_tally t;
  for (std::size_t length : {1, 1, 1, 5}) t.add(length);
  cmap::map_stats st;
  t.write_to(st);
  EXPECT_EQ(st.longest_probe, 5u);
  EXPECT_DOUBLE_EQ(st.mean_probe, 2.0);
}

TEST(ProbeTally, MergeIsTheTallyOfBoth) {
  cmap::detail::probe_tally a, b;
  a.add(2);
  b.add(9);
  b.add(1);
  a.merge(b);
  EXPECT_EQ(a.longest, 9u);
  EXPECT_EQ(a.total, 12u);
  EXPECT_EQ(a.entries, 3u);
}

}  // namespace
