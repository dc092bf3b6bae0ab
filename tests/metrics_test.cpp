// cmap::metrics: named maps' counts and gauges in Prometheus's text format, exact under
// concurrent use; unnaming, destruction while named, label checks and escaping.

#include <cmap/art_map.hpp>
#include <cmap/checked_map.hpp>
#include <cmap/concurrent_hash_map.hpp>
#include <cmap/locked_map.hpp>
#include <cmap/durable_map.hpp>
#include <cmap/metrics.hpp>
#include <cmap/serial_map.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "durable/temp_directory.hpp"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ops_line(const std::string& map, const std::string& kind, const std::string& op,
                     bool result, std::uint64_t n) {
  return "cmap_map_operations_total{map=\"" + map + "\",kind=\"" + kind + "\",op=\"" + op +
         "\",result=\"" + (result ? "true" : "false") + "\"} " + std::to_string(n) + "\n";
}

TEST(metrics, an_unnamed_map_writes_nothing) {
  cmap::concurrent_hash_map<std::uint64_t, std::uint64_t> m;
  m.insert(1, 1);
  const std::string text = cmap::metrics::prometheus_text();
  EXPECT_THAT(text, HasSubstr("# TYPE cmap_map_operations_total counter\n"));
  EXPECT_THAT(text, Not(HasSubstr("map=\"")));
}

TEST(metrics, a_named_map_counts_each_operation_and_result) {
  cmap::concurrent_hash_map<std::uint64_t, std::uint64_t> m;
  m.insert(100, 1);  // before naming: not counted
  auto named = cmap::metrics::watch(m, "orders");
  for (std::uint64_t k = 0; k < 3; ++k) EXPECT_TRUE(m.insert(k, k));
  EXPECT_FALSE(m.insert(0, 9));
  for (std::uint64_t k = 0; k < 5; ++k) (void)m.find(k);  // 3 hits, 2 misses
  EXPECT_TRUE(m.erase(1));
  const std::string text = cmap::metrics::prometheus_text();
  const std::string kind = "concurrent_hash_map";
  EXPECT_THAT(text, HasSubstr(ops_line("orders", kind, "emplace", true, 3)));
  EXPECT_THAT(text, HasSubstr(ops_line("orders", kind, "emplace", false, 1)));
  EXPECT_THAT(text, HasSubstr(ops_line("orders", kind, "find", true, 3)));
  EXPECT_THAT(text, HasSubstr(ops_line("orders", kind, "find", false, 2)));
  EXPECT_THAT(text, HasSubstr(ops_line("orders", kind, "erase", true, 1)));
  EXPECT_THAT(text, HasSubstr(ops_line("orders", kind, "erase", false, 0)));
  EXPECT_THAT(text, HasSubstr("cmap_map_entries{map=\"orders\",kind=\"concurrent_hash_map\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("cmap_map_allocated_bytes{map=\"orders\",kind=\"concurrent_hash_map\"} " +
                              std::to_string(m.allocated_bytes()) + "\n"));
}

TEST(metrics, counts_from_many_threads_add_up_exactly) {
  cmap::locked_map<std::uint64_t, std::uint64_t> m;
  auto named = cmap::metrics::watch(m, "shared");
  constexpr int threads = 4, per_thread = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        m.insert_or_assign(static_cast<std::uint64_t>(t * per_thread + i), 1);
      }
    });
  }
  for (auto& t : ts) t.join();
  const std::string text = cmap::metrics::prometheus_text();
  EXPECT_THAT(text, HasSubstr(ops_line("shared", "locked_map", "insert_or_assign", true,
                                       std::uint64_t{threads} * per_thread)));
  // Lock waits: whatever happened, the histogram's count is the counter, and its buckets
  // are cumulative.
  const auto value_of = [&](const std::string& prefix) {
    const auto at = text.find(prefix);
    EXPECT_NE(at, std::string::npos) << prefix;
    return std::stoull(text.substr(at + prefix.size()));
  };
  const std::string labels = "{map=\"shared\",kind=\"locked_map\"} ";
  EXPECT_EQ(value_of("cmap_map_lock_wait_seconds_count" + labels),
            value_of("cmap_map_lock_waits_total" + labels));
  EXPECT_EQ(value_of("cmap_map_lock_wait_seconds_bucket{map=\"shared\",kind=\"locked_map\",le=\"+Inf\"} "),
            value_of("cmap_map_lock_waits_total" + labels));
  EXPECT_GE(value_of("cmap_map_resizes_total" + labels), 1U);  // grew from empty
}

TEST(metrics, unnaming_stops_the_counts_and_removes_the_samples) {
  cmap::art_map<std::uint64_t, std::uint64_t> m;
  auto named = cmap::metrics::watch(m, "tree", {{"team", "search"}});
  m.insert(1, 1);
  EXPECT_THAT(cmap::metrics::prometheus_text(),
              HasSubstr("cmap_map_entries{map=\"tree\",kind=\"art_map\",team=\"search\"} 1\n"));
  named.reset();
  EXPECT_FALSE(named.active());
  m.insert(2, 2);
  EXPECT_THAT(cmap::metrics::prometheus_text(), Not(HasSubstr("map=\"tree\"")));
  auto again = cmap::metrics::watch(m, "tree");  // a fresh count
  EXPECT_THAT(cmap::metrics::prometheus_text(),
              HasSubstr(ops_line("tree", "art_map", "emplace", true, 0)));
}

TEST(metrics, a_map_destroyed_while_named_leaves_the_registry) {
  cmap::metrics::registration named;
  {
    cmap::concurrent_hash_map<std::uint64_t, std::uint64_t> m;
    named = cmap::metrics::watch(m, "short-lived");
    EXPECT_THAT(cmap::metrics::prometheus_text(), HasSubstr("map=\"short-lived\""));
  }
  EXPECT_THAT(cmap::metrics::prometheus_text(), Not(HasSubstr("map=\"short-lived\"")));
  named.reset();  // after the map: nothing left to detach
}

TEST(metrics, a_map_is_named_once) {
  cmap::concurrent_hash_map<std::uint64_t, std::uint64_t> m;
  auto named = cmap::metrics::watch(m, "original");
  EXPECT_THROW((void)cmap::metrics::watch(m, "again"), std::invalid_argument);
  named.reset();
  auto renamed = cmap::metrics::watch(m, "again");
  EXPECT_TRUE(renamed.active());
}

TEST(metrics, label_names_are_checked_and_values_escaped) {
  cmap::concurrent_hash_map<std::uint64_t, std::uint64_t> m;
  EXPECT_THROW((void)cmap::metrics::watch(m, "x", {{"map", "y"}}), std::invalid_argument);
  EXPECT_THROW((void)cmap::metrics::watch(m, "x", {{"bad-name", "y"}}), std::invalid_argument);
  EXPECT_THROW((void)cmap::metrics::watch(m, "x", {{"__reserved", "y"}}), std::invalid_argument);
  auto named = cmap::metrics::watch(m, "quote\" back\\ line\n", {{"path", "C:\\tmp"}});
  EXPECT_THAT(cmap::metrics::prometheus_text(),
              HasSubstr("cmap_map_entries{map=\"quote\\\" back\\\\ line\\n\",kind=\"concurrent_hash_map\","
                        "path=\"C:\\\\tmp\"} 0\n"));
}

TEST(metrics, serial_and_durable_maps_add_their_own_gauges) {
  cmap::serial_map<std::uint64_t, std::uint64_t> s;
  auto serial_named = cmap::metrics::watch(s, "queue");
  s.insert(1, 1);
  s.flush();
  cmap_test::temp_directory dir("metrics");
  cmap::durable_map<std::uint64_t, std::uint64_t> d(dir.path());
  auto durable_named = cmap::metrics::watch(d, "store");
  for (std::uint64_t k = 0; k < 10; ++k) d.with(cmap::sync::every_write).insert(k, k);
  const std::string text = cmap::metrics::prometheus_text();
  EXPECT_THAT(text, HasSubstr("cmap_map_queued_writes{map=\"queue\",kind=\"serial_map\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("cmap_map_queued_writes{map=\"store\"")));
  const auto stats = d.stats();
  EXPECT_GE(stats.syncs, 10U);
  EXPECT_THAT(text, HasSubstr("cmap_map_log_syncs_total{map=\"store\",kind=\"durable_map\"} " +
                              std::to_string(stats.syncs) + "\n"));
  EXPECT_THAT(text, HasSubstr("cmap_map_log_bytes_total{map=\"store\",kind=\"durable_map\"} " +
                              std::to_string(stats.log_bytes) + "\n"));
  EXPECT_THAT(text, HasSubstr(ops_line("store", "durable_map", "emplace", true, 10)));
  EXPECT_THAT(text, HasSubstr("# TYPE cmap_epoch_retired_objects gauge\ncmap_epoch_retired_objects "));
}

TEST(metrics, families_without_a_map_that_has_them_are_left_out) {
  cmap::concurrent_hash_map<std::uint64_t, std::uint64_t> m;
  auto named = cmap::metrics::watch(m, "plain");
  const std::string text = cmap::metrics::prometheus_text();
  EXPECT_THAT(text, Not(HasSubstr("cmap_map_queued_writes")));
  EXPECT_THAT(text, Not(HasSubstr("cmap_map_log_syncs_total")));
}

// A hasher that reads the map it hashes for: a lookup inside the map's own insert, which the
// detector reports as a read during a write, on one thread, every time.
struct reentrant_hash {
  const cmap::checked_map<std::uint64_t, std::uint64_t, reentrant_hash>** map;
  std::size_t operator()(std::uint64_t k) const {
    if (*map != nullptr) (void)(*map)->size();
    return std::hash<std::uint64_t>{}(k);
  }
};

TEST(metrics, a_named_checked_map_reports_its_detectors_reports_only) {
  const cmap::checked_map<std::uint64_t, std::uint64_t, reentrant_hash>* self = nullptr;
  int reports = 0;
  cmap::checked_map<std::uint64_t, std::uint64_t, reentrant_hash> m(
      cmap::violation_policy::call([&](const cmap::access_violation&) { ++reports; }), 0,
      reentrant_hash{&self});
  m.insert({1, 1});  // not yet re-entrant: self is null
  auto named = cmap::metrics::watch(m, "plain", {{"team", "legacy"}});
  EXPECT_THROW((void)cmap::metrics::watch(m, "again"), std::invalid_argument);
  self = &m;
  m.insert({2, 2});
  m.insert({3, 3});
  self = nullptr;
  ASSERT_EQ(reports, 2);
  const std::string text = cmap::metrics::prometheus_text();
  const std::string labels = "map=\"plain\",kind=\"checked_map\",team=\"legacy\"";
  // Not its size: reading it from a scraping thread would be a race the map reports.
  EXPECT_THAT(text, Not(HasSubstr("cmap_map_entries{" + labels)));
  EXPECT_THAT(text, HasSubstr("cmap_map_violations_total{" + labels +
                              ",violation=\"read_during_write\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("cmap_map_violations_total{" + labels +
                              ",violation=\"concurrent_writes\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("cmap_map_operations_total{" + labels)));
}

TEST(metrics, a_checked_map_destroyed_while_named_leaves_the_registry) {
  cmap::metrics::registration named;
  {
    cmap::checked_map<std::uint64_t, std::uint64_t> m;
    named = cmap::metrics::watch(m, "gone");
    EXPECT_THAT(cmap::metrics::prometheus_text(), HasSubstr("map=\"gone\""));
  }
  EXPECT_THAT(cmap::metrics::prometheus_text(), Not(HasSubstr("map=\"gone\"")));
  EXPECT_THAT(cmap::metrics::prometheus_text(), Not(HasSubstr("cmap_map_violations_total")));
}

}  // namespace
