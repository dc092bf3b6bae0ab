// The ordered maps in cmap-bench: each ordered adapter's scan (entries from a key on, in key
// The ordered maps in cmap-bench: each ordered adapter's scan (entries from a key on, in key
// order, at most n) and prefix_scan (the keys with a prefix, in key order, at most n), the
// ordered preset, which runs art_map and the installed ordered peers on u64 and "uid:" string
// keys and reports a mix with scans as n/a for a hash map, the ordered-* presets, and the
// unlocked ordered ceilings (run only when named) on the preset's mix at 1 thread only.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "adapters/art_map.hpp"
#include "adapters/locked_ordered.hpp"
#include "adapters/unlocked_ordered.hpp"
#include "generator.hpp"
#include "registry.hpp"
#include "test_util.hpp"
#include "workload.hpp"
#ifdef CMAP_BENCH_HAVE_TBB
#include "adapters/tbb_concurrent_map.hpp"
#endif
#ifdef CMAP_BENCH_HAVE_ABSL
#include "adapters/absl_btree_shared_mutex.hpp"
#include "adapters/absl_btree_unlocked.hpp"
#endif

namespace cmap_bench {
namespace {

using testing::run_cli;
using testing::slurp;
using testing::temp_dir;

// Keys 10, 20, ..., 1000: a scan from k visits the keys >= k, at most n of them.
template <class Adapter>
void check_scan() {
  Adapter map(0);
  for (std::uint64_t k = 10; k <= 1000; k += 10) ASSERT_TRUE(map.insert(k, k));
  EXPECT_EQ(map.scan(1, 5), 5u);
  EXPECT_EQ(map.scan(10, 100), 100u);
  EXPECT_EQ(map.scan(15, 1000), 99u);  // 20 .. 1000
  EXPECT_EQ(map.scan(981, 10), 2u);    // 990, 1000
  EXPECT_EQ(map.scan(1000, 10), 1u);
  EXPECT_EQ(map.scan(1001, 10), 0u);
  EXPECT_EQ(map.scan(10, 0), 0u);
}

TEST(Ordered, ScanCountsEntriesFromAKey) {
  check_scan<art_map_adapter<std::uint64_t, std::uint64_t>>();
  check_scan<std_map_shared_mutex_adapter<std::uint64_t, std::uint64_t>>();
  check_scan<std_map_unlocked_adapter<std::uint64_t, std::uint64_t>>();
#ifdef CMAP_BENCH_HAVE_TBB
  check_scan<tbb_concurrent_map_adapter<std::uint64_t, std::uint64_t>>();
#endif
#ifdef CMAP_BENCH_HAVE_ABSL
  check_scan<absl_btree_shared_mutex_adapter<std::uint64_t, std::uint64_t>>();
  check_scan<absl_btree_unlocked_adapter<std::uint64_t, std::uint64_t>>();
#endif
}

TEST(Ordered, StringKeysSortAsTheirIndices) {
  EXPECT_EQ(string_key(42, 12, "uid:"), "uid:00000042");
  EXPECT_EQ(string_key(42, 16), "0000000000000042");
  EXPECT_LT(string_key(9, 12, "uid:"), string_key(10, 12, "uid:"));
  art_map_adapter<std::string, std::uint64_t> map(0);
  for (std::uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(map.insert(string_key(i, 12, "uid:"), i));
  EXPECT_EQ(map.scan(string_key(95, 12, "uid:"), 10), 5u);
  EXPECT_EQ(map.scan("uid:", 1000), 100u);
}

// "uid:" keys 0 .. 349, a key that the prefixes extend (uid:00000) and one that has a prefix
// but is shorter than the others (uid:0000011): a prefix scan delivers the keys that start
// with the prefix, in key order, at most n of them.
template <class Adapter>
void check_prefix_scan() {
  Adapter map(0);
  for (std::uint64_t i = 0; i < 350; ++i) ASSERT_TRUE(map.insert(string_key(i, 12, "uid:"), i));
  ASSERT_TRUE(map.insert("uid:00000", 1000));    // a shorter key that the prefixes extend
  ASSERT_TRUE(map.insert("uid:0000011", 1001));  // sorts among uid:000001xx, with the prefix
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  auto record = [&](const std::string& k, std::uint64_t v) { seen.emplace_back(k, v); };

  EXPECT_EQ(map.prefix_scan("uid:000001", 1000, record), 101u);
  std::vector<std::pair<std::string, std::uint64_t>> expected;
  for (std::uint64_t i = 100; i < 200; ++i) expected.emplace_back(string_key(i, 12, "uid:"), i);
  expected.emplace_back("uid:0000011", 1001);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);

  seen.clear();
  EXPECT_EQ(map.prefix_scan("uid:000002", 10, record), 10u);  // at most n
  ASSERT_EQ(seen.size(), 10u);
  for (std::uint64_t i = 0; i < 10; ++i) EXPECT_EQ(seen[i].first, string_key(200 + i, 12, "uid:"));

  EXPECT_EQ(map.prefix_scan("uid:000003", 100), 50u);  // 300 .. 349, the last prefix
  EXPECT_EQ(map.prefix_scan("uid:000009", 100), 0u);
  EXPECT_EQ(map.prefix_scan("uid:00000", 1000), 352u);  // every key, the prefix itself included
  EXPECT_EQ(map.prefix_scan("uid:000001", 0), 0u);
}

TEST(Ordered, PrefixScanDeliversTheKeysWithThePrefixInOrder) {
  check_prefix_scan<art_map_adapter<std::string, std::uint64_t>>();
  check_prefix_scan<std_map_shared_mutex_adapter<std::string, std::uint64_t>>();
#ifdef CMAP_BENCH_HAVE_TBB
  check_prefix_scan<tbb_concurrent_map_adapter<std::string, std::uint64_t>>();
#endif
#ifdef CMAP_BENCH_HAVE_ABSL
  check_prefix_scan<absl_btree_shared_mutex_adapter<std::string, std::uint64_t>>();
#endif
}

TEST(Ordered, PresetRunsTheOrderedMapsOnBothKeyTypes) {
  temp_dir dir;
  const auto r = run_cli({"--preset", "ordered", "--keys", "2000", "--ops", "4000", "--threads",
                          "1,2", "--json", dir.file("r.json")});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(dir.file("r.json")));
  ASSERT_EQ(j["workloads"].size(), 2u);
  EXPECT_EQ(j["workloads"][0]["name"], "ordered");
  EXPECT_EQ(j["workloads"][0]["key_type"], "u64");
  EXPECT_EQ(j["workloads"][1]["name"], "ordered-string");
  EXPECT_EQ(j["workloads"][1]["key_type"], "string");
  EXPECT_EQ(j["workloads"][1]["key_prefix"], "uid:");
  EXPECT_EQ(j["workloads"][0]["scan_length"], 50);
  // A recorded workload reads back with its scan length and key prefix.
  const workload back = parse_workload_json(j["workloads"][1], "recorded");
  EXPECT_EQ(back.key_prefix, "uid:");
  EXPECT_EQ(back.scan_length, 50u);
  EXPECT_TRUE(back.has(op_kind::scan));

  std::set<std::string> expected = {"art_map", "std_map_shared_mutex"};
#ifdef CMAP_BENCH_HAVE_TBB
  expected.insert("tbb_concurrent_map");
#endif
#ifdef CMAP_BENCH_HAVE_ABSL
  expected.insert("absl_btree_shared_mutex");
#endif
  std::set<std::string> seen;
  for (const auto& res : j["results"]) {
    const std::string map = res["map"];
    seen.insert(map);
    EXPECT_EQ(res["status"], "ok") << map << " " << res["note"];
    EXPECT_GT(res["median_mops"].get<double>(), 0) << map;
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(j["results"].size(), expected.size() * 2 * 2);  // key types x thread counts
}

// The ordered preset's mix on the unlocked ceilings, named: a workload file that starts from
// the preset and names the map (the preset itself runs its own maps, whatever --maps says).
// At 1 thread a row with a throughput and the bytes the counting allocator saw; at 2, n/a.
void check_unlocked_ceiling(const std::string& map) {
  for (const char* key_type : {"u64", "string"}) {
    temp_dir dir;
    {
      std::ofstream f(dir.file("w.json"));
      f << nlohmann::json{
          {"preset", "ordered"}, {"key_type", key_type}, {"maps", nlohmann::json::array({map})}};
    }
    const auto r = run_cli({"--workload", dir.file("w.json"), "--keys", "2000", "--ops", "4000",
                            "--threads", "1,2", "--json", dir.file("r.json")});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(slurp(dir.file("r.json")));
    ASSERT_EQ(j["workloads"].size(), 1u);
    EXPECT_EQ(j["workloads"][0]["scan_length"], 50) << key_type;
    ASSERT_EQ(j["results"].size(), 2u) << key_type;
    const auto& one = j["results"][0];
    EXPECT_EQ(one["map"], map);
    EXPECT_EQ(one["threads"], 1);
    EXPECT_EQ(one["status"], "ok") << one.dump();
    EXPECT_GT(one["median_mops"].get<double>(), 0) << key_type;
    EXPECT_EQ(one["memory_method"], "counting_allocator");
    EXPECT_GT(one["bytes_per_entry"].get<double>(), 8) << key_type;
    const auto& two = j["results"][1];
    EXPECT_EQ(two["threads"], 2);
    EXPECT_EQ(two["status"], "n/a");
    EXPECT_NE(two["note"].get<std::string>().find("single-thread ceiling, run at 1 thread only"),
              std::string::npos)
        << two.dump();
  }
}

TEST(Ordered, UnlockedCeilingsRunThePresetMixAtOneThread) {
  check_unlocked_ceiling("std_map_unlocked");
#ifdef CMAP_BENCH_HAVE_ABSL
  check_unlocked_ceiling("absl_btree_unlocked");
#endif
}

// Run only when named: a glob leaves them out (no row; a peer not installed is still named
// in the skipped lines).
TEST(Ordered, UnlockedCeilingsRunOnlyWhenNamed) {
  temp_dir dir;
  const auto r = run_cli({"--mix", "find=50,scan=50", "--keys", "1000", "--ops", "2000",
                          "--threads", "1", "--maps", "*", "--json", dir.file("r.json")});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(dir.file("r.json")));
  ASSERT_FALSE(j["results"].empty());
  for (const auto& res : j["results"]) {
    EXPECT_NE(res["map"], "std_map_unlocked");
    EXPECT_NE(res["map"], "absl_btree_unlocked");
  }
}

TEST(Ordered, ScanIsNotApplicableToAHashMap) {
  const auto r = run_cli({"--mix", "find=50,scan=50", "--keys", "1000", "--ops", "2000",
                          "--threads", "1", "--maps", "concurrent_hash_map,art_map"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("concurrent_hash_map at 1 thr: no ordered scan (unordered map)"),
            std::string::npos)
      << r.out;
}

TEST(Ordered, PrefixScanIsNotApplicableToAHashMap) {
  const auto r =
      run_cli({"--mix", "find=50,prefix_scan=50", "--key-type", "string", "--keys", "1000", "--ops",
               "2000", "--threads", "1", "--maps", "concurrent_hash_map,art_map"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("concurrent_hash_map at 1 thr: no ordered scan (unordered map)"),
            std::string::npos)
      << r.out;
}

TEST(Ordered, PrefixScanOfU64KeysIsAUsageError) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--mix", "prefix_scan=100", "--keys", "1000", "--ops", "2000"},
        std::vector<std::string>{"--preset", "ordered-prefix", "--key-type", "u64"}}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.err.find("prefix_scan needs string keys"), std::string::npos) << r.err;
  }
}

// Each key once per key_universe operations, over all threads, and not in key order.
TEST(Ordered, ShuffledVisitsEachKeyOnceOutOfOrder) {
  workload w;
  w.key_universe = 1000;
  w.ops = 1000;
  w.preload = 0;
  w.dist = parse_distribution("shuffled");
  parse_mix("insert=100", w);
  const streams s = generate(w, 2);
  std::vector<std::uint64_t> keys;
  for (const auto& stream : s.per_thread)
    for (const std::uint64_t op : stream) keys.push_back(index_of(op));
  EXPECT_FALSE(std::is_sorted(keys.begin(), keys.end()));
  std::sort(keys.begin(), keys.end());
  for (std::uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(keys[i], i);
  EXPECT_EQ(w.dist_string(), "shuffled");
}

// The ordered-* presets: each runs, tiny, and yields a row per listed map that this build has
// and thread count; a listed map that it lacks is named in the skip lines, not an error.
TEST(Ordered, EveryOrderedPresetRunsTiny) {
  const std::vector<std::string> presets = {"ordered-lookup",  "ordered-90-10",  "ordered-scan10",
                                            "ordered-scan100", "ordered-prefix", "ordered-insert",
                                            "ordered-uid"};
  for (const auto& name : presets) {
    SCOPED_TRACE(name);
    const workload w = preset(name);
    EXPECT_NO_THROW(validate(w));
    EXPECT_EQ(preset_runs(name).size(), name == "ordered-lookup" ? 2u : 1u);
    EXPECT_NE(std::find(preset_names().begin(), preset_names().end(), name), preset_names().end());
    temp_dir dir;
    const auto r = run_cli({"--preset", name, "--keys", "2000", "--ops", "4000", "--threads", "1,2",
                            "--json", dir.file("r.json")});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(slurp(dir.file("r.json")));
    ASSERT_EQ(j["workloads"].size(), preset_runs(name).size());
    EXPECT_EQ(j["workloads"][0]["key_type"], w.string_keys ? "string" : "u64");
    if (j["workloads"].size() == 2) {
      EXPECT_EQ(j["workloads"][1]["key_type"], "string");
    }
    std::set<std::string> ran;
    for (const auto& res : j["results"]) {
      const std::string map = res["map"];
      ran.insert(map);
      if (res["status"] != "ok") {
        // n/a: a single-thread ceiling above 1 thread, or a map that cannot start a scan at a
        // key on the scan presets (libcds's skip list).
        EXPECT_EQ(res["status"], "n/a") << map;
        const std::string note = res["note"];
        EXPECT_TRUE(res["threads"] == 2 || note.starts_with("no ordered scan:"))
            << map << " " << note;
        continue;
      }
      EXPECT_GT(res["median_mops"].get<double>(), 0) << map;
      EXPECT_GT(res["latency_ns"]["p99"].get<double>(), 0) << map;
      EXPECT_GT(res["bytes_per_entry"].get<double>(), 0) << map;
    }
    EXPECT_TRUE(ran.count("art_map"));
    EXPECT_TRUE(ran.count("std_map_shared_mutex"));
    for (const auto& listed : w.maps) {
      const bool built = std::any_of(registry().begin(), registry().end(),
                                     [&](const map_info& m) { return m.name == listed; });
      if (built) {
        EXPECT_TRUE(ran.count(listed)) << listed;
        continue;
      }
      EXPECT_FALSE(ran.count(listed)) << listed;
      bool named = false;
      for (const auto& line : j["skipped"])
        named = named || line.get<std::string>().find(listed) != std::string::npos;
      EXPECT_TRUE(named) << listed << " " << j["skipped"].dump();
    }
  }
}

TEST(Ordered, WorkloadFieldsAreChecked) {
  EXPECT_THROW(parse_workload_json(nlohmann::json::parse(R"({"mix": {"scan": 100},
                                                             "scan_length": 0})"),
                                   "f"),
               usage_error);
  EXPECT_THROW(parse_workload_json(nlohmann::json::parse(R"({"key_type": "string",
                                                             "key_length": 8,
                                                             "key_prefix": "user-id:"})"),
                                   "f"),
               usage_error);
  EXPECT_THROW(parse_workload_json(nlohmann::json::parse(R"({"key_prefix": "uid:"})"), "f"),
               usage_error);
  const workload w = parse_workload_json(
      nlohmann::json::parse(R"({"key_type": "string", "key_prefix": "k", "mix": {"scan": 100},
                                "scan_length": 7})"),
      "f");
  EXPECT_EQ(w.key_prefix, "k");
  EXPECT_EQ(w.scan_length, 7u);
}

// key_spread: u64 keys 1..N or spread over u64; only for u64 keys; recorded in the JSON.
TEST(Ordered, KeySpreadIsAU64KeyField) {
  EXPECT_FALSE(parse_workload_json(nlohmann::json::parse(R"({"key_spread": "dense"})"), "f")
                   .random_u64_keys);
  const workload w =
      parse_workload_json(nlohmann::json::parse(R"({"key_spread": "random"})"), "f");
  EXPECT_TRUE(w.random_u64_keys);
  EXPECT_TRUE(parse_workload_json(to_json(w), "recorded").random_u64_keys);
  EXPECT_FALSE(parse_workload_json(to_json(workload{}), "recorded").random_u64_keys);
  EXPECT_THROW(parse_workload_json(nlohmann::json::parse(R"({"key_spread": "sparse"})"), "f"),
               usage_error);
  EXPECT_THROW(parse_workload_json(nlohmann::json::parse(R"({"key_spread": 1})"), "f"),
               usage_error);
  EXPECT_THROW(parse_workload_json(
                   nlohmann::json::parse(R"({"key_type": "string", "key_spread": "random"})"),
                   "f"),
               usage_error);
  EXPECT_TRUE(preset("ordered-lookup").random_u64_keys);
  EXPECT_FALSE(preset("read-heavy").random_u64_keys);
}

}  // namespace
}  // namespace cmap_bench
