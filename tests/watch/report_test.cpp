// cmap-watch without bpftrace: the script it assembles, and its reading of bpftrace's output.

#include <gtest/gtest.h>

#include <cmap/detail/probe_names.hpp>

#include "report.hpp"
#include "script.hpp"

namespace {

using namespace cmap_watch;

TEST(CmapWatchScript, KeepsOnlyThePiecesWhoseProbesArePresent) {
  const auto s = compose_script({"op_begin", "op_end", "violation"}, {.races = true, .interval_ms = 500});
  EXPECT_NE(s.text.find("usdt:*:cmap:op_begin"), std::string::npos);
  EXPECT_EQ(s.text.find("lock_wait_begin"), std::string::npos) << s.text;
  EXPECT_NE(s.text.find("interval:ms:500"), std::string::npos);
  EXPECT_EQ(s.used, (std::vector<std::string>{"ops", "races", "violation"}));
  EXPECT_EQ(s.skipped.size(), 5u);
  EXPECT_EQ(s.text.find("cmap_op_writes(arg2)"), std::string::npos) << "placeholder left in";

  const auto quiet = compose_script(all_probe_names(), {});
  EXPECT_EQ(quiet.text.find("@races"), std::string::npos) << "races without --races";
  EXPECT_NE(quiet.text.find("lock_wait_end"), std::string::npos);
}

TEST(CmapWatchScript, WritesExpressionMatchesProbeNames) {
  const std::string e = op_writes_expression("x");
  // checked_map's insert..destroy, and the common surface from visit_mut on.
  const auto insert = static_cast<unsigned>(cmap::detail::map_operation::insert);
  const auto destroy = static_cast<unsigned>(cmap::detail::map_operation::destroy);
  EXPECT_NE(e.find("(x >= " + std::to_string(insert) + " && x <= " + std::to_string(destroy) + ")"),
            std::string::npos)
      << e;
  const auto find = static_cast<unsigned>(cmap::detail::probe_op::find);
  EXPECT_EQ(e.find("x >= " + std::to_string(find) + " "), std::string::npos) << e;
}

TEST(CmapWatchReport, ReadsIntervalsFromBpftraceJson) {
  collector c;
  EXPECT_EQ(c.feed(R"({"type": "attached_probes", "data": {"probes": 7}})").kind, collector::event::none);
  EXPECT_EQ(c.feed(R"({"type": "printf", "data": "@@attached 1000000000\n"})").kind,
            collector::event::attached);
  c.feed(R"({"type": "map", "data": {"@ops": {"4096,1,6": 10, "4096,1,20": 5}}})");
  c.feed(R"({"type": "hist", "data": {"@op_lat": {"1,6": [{"min": 512, "max": 1023, "count": 9}, {"min": 1024, "max": 2047, "count": 1}]}}})");
  c.feed(R"({"type": "map", "data": {"@races": {"4096,12,20,11,6": 3, "4096,11,6,12,20": 2}}})");
  c.feed(R"({"type": "map", "data": {"@lock_ns": {"8192,4": 5000}, "@lock_n": {"8192,4": 2}}})");
  c.feed(R"({"type": "printf", "data": "@@resize 4096 8192 1024 2048 777\n"})");
  c.feed("");
  const auto ev = c.feed(R"({"type": "printf", "data": "@@interval 3000000000\n"})");
  ASSERT_EQ(ev.kind, collector::event::interval_done);
  const interval& iv = *ev.closed;
  EXPECT_DOUBLE_EQ(iv.seconds, 2.0);
  EXPECT_EQ((iv.ops.at({4096, 1, 6})), 10u);
  const auto& h = iv.latency.at({1, 6});
  EXPECT_EQ(h.count(), 10u);
  EXPECT_EQ(h.quantile_bound(0.5), 1023u);
  EXPECT_EQ(h.quantile_bound(1), 2047u);
  // One race, seen from both sides: one entry, counts summed.
  ASSERT_EQ(iv.races.size(), 1u);
  EXPECT_EQ(iv.races.begin()->second, 5u);
  ASSERT_EQ(iv.resizes.size(), 1u);
  EXPECT_EQ(iv.resizes[0].new_capacity, 2048u);
  EXPECT_EQ(iv.locks.at({8192, 4}).ns, 5000u);

  const auto j = render_json(iv, true, false, 42);
  EXPECT_EQ(j["maps"][0]["address"], "0x1000");
  EXPECT_EQ(j["maps"][0]["kind"], "checked_map");
  EXPECT_EQ(j["maps"][0]["operations"]["operator[]"], 10);
  EXPECT_EQ(j["races"][0]["threads"][0]["tid"], 11);
  EXPECT_EQ(j["races"][0]["threads"][0]["op"], "operator[]");
  EXPECT_EQ(j["races"][0]["threads"][1]["op"], "find");
  const std::string text = render_text(iv, true, false);
  EXPECT_NE(text.find("RACE on checked_map 0x1000: tid 11 (operator[]) and tid 12 (find)"),
            std::string::npos)
      << text;

  // The summary sums the intervals.
  c.feed(R"({"type": "map", "data": {"@ops": {"4096,1,6": 1}}})");
  c.feed(R"({"type": "printf", "data": "@@interval 4000000000\n"})");
  EXPECT_EQ((c.summary().ops.at({4096, 1, 6})), 11u);
  EXPECT_DOUBLE_EQ(c.summary().seconds, 3.0);
}

}  // namespace
