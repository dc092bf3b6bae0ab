// cmap-bench results: the results page rendered from a run's --json file. On a small run
// written here, with known figures: the header (the command that regenerates the page, the
// run's commit, machine, date and command line), a table per workload with every map at every
// thread count and the ratios to the baseline, the charts as SVG files the page links, and
// the thread-scaling section with and without a scaling run. Then a real run rendered, and
// bad input: a missing file, malformed JSON and JSON of another shape give one line naming
// the file and the problem, exit status 2 and no page.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "chart_check.hpp"
#include "test_util.hpp"
#include "workload.hpp"

namespace cmap_bench {
namespace {

using testing::run_cli;
using testing::slurp;
using testing::temp_dir;

nlohmann::json row(const std::string& workload, const std::string& map, unsigned threads,
                   double median, double min, double max, double bytes = 0,
                   const std::string& method = "allocated_bytes") {
  return {
      {"workload", workload},
      {"map", map},
      {"threads", threads},
      {"status", "ok"},
      {"note", ""},
      {"single_thread_ceiling", false},
      {"repetitions", nlohmann::json::array({{{"seconds", 0.5}, {"ops", 1000}, {"mops", median}}})},
      {"median_mops", median},
      {"min_mops", min},
      {"max_mops", max},
      {"latency_ns", {{"p50", 100.0}, {"p99", 1000.0}, {"p999", 5000.0}}},
      {"latency_samples", 100},
      {"bytes_per_entry", bytes},
      {"memory_method", bytes > 0 ? method : ""},
      {"entries", 1000},
      {"peak_rss_bytes", 10 << 20}};
}

nlohmann::json not_run(const std::string& workload, const std::string& map, unsigned threads,
                       const std::string& note) {
  auto r = row(workload, map, threads, 0, 0, 0);
  r["status"] = "n/a";
  r["note"] = note;
  r["single_thread_ceiling"] = true;
  r["repetitions"] = nlohmann::json::array();
  return r;
}

nlohmann::json meta(unsigned cores, const std::string& command) {
  return {{"machine", "Test CPU 9000"},       {"cpus", cores},       {"cores", cores},
          {"compiler", "g++ 12.2.0, NDEBUG"}, {"commit", "abc1234"}, {"tree_modified", false},
          {"date", "2026-01-02T03:04:05Z"},   {"command", command}};
}

const std::string command =
    "cmap-bench --standard --threads 1,2,8 --json build/release/results.json";
const std::string ceiling_note = "unlocked map: single-thread ceiling, run at 1 thread only";

// read-heavy at 1, 2 and 8 threads (std_shared_mutex the baseline, a ceiling that runs at 1
// thread only), and cow-vs-persistent at 1 and 2, whose cow_map is slower than 0.01 Mops/s.
nlohmann::json small_run() {
  workload read_heavy = preset("read-heavy");
  read_heavy.threads = {1, 2, 8};
  workload cow = preset("cow-vs-persistent");
  auto absl_1 = row("read-heavy", "absl_flat_map", 1, 8.0, 7.5, 8.5, 40.0, "counting_allocator");
  absl_1["single_thread_ceiling"] = true;
  return {{"tool", "cmap-bench"},
          {"meta", meta(2, command)},
          {"baseline", "std_shared_mutex"},
          {"interrupted", false},
          {"skipped", nlohmann::json::array()},
          {"workloads", {to_json(read_heavy), to_json(cow)}},
          {"results",
           {row("read-heavy", "concurrent_hash_map", 1, 5.0, 4.0, 6.0, 45.5),
            row("read-heavy", "std_shared_mutex", 1, 2.0, 1.9, 2.1, 60.0, "counting_allocator"),
            row("read-heavy", "locked_map", 1, 2.2, 2.0, 2.4, 38.0), absl_1,
            row("read-heavy", "concurrent_hash_map", 2, 9.0, 8.0, 9.5, 45.5),
            row("read-heavy", "std_shared_mutex", 2, 1.5, 1.4, 1.6, 60.0, "counting_allocator"),
            row("read-heavy", "locked_map", 2, 1.0, 0.9, 1.1, 38.0),
            not_run("read-heavy", "absl_flat_map", 2, ceiling_note),
            row("read-heavy", "concurrent_hash_map", 8, 10.0, 9.0, 11.0, 45.5),
            row("read-heavy", "std_shared_mutex", 8, 0.5, 0.4, 0.6, 60.0, "counting_allocator"),
            row("read-heavy", "locked_map", 8, 0.25, 0.2, 0.3, 38.0),
            not_run("read-heavy", "absl_flat_map", 8, ceiling_note),
            row("cow-vs-persistent", "cow_map", 1, 0.000874, 0.000724, 0.000978, 37.8,
                "counting_allocator"),
            row("cow-vs-persistent", "snapshot_map", 1, 4.03, 3.29, 4.42, 31.4),
            row("cow-vs-persistent", "cow_map", 2, 0.000831, 0.00071, 0.000913, 37.8,
                "counting_allocator"),
            row("cow-vs-persistent", "snapshot_map", 2, 2.94, 2.77, 3.15, 31.4)}}};
}

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// The line of the page's table that starts with "| map" (in the section from `from` on).
std::string table_line(const std::string& page, const std::string& map, std::size_t from = 0) {
  const auto at = page.find("\n| " + map + " ", from);
  if (at == std::string::npos) return {};
  return page.substr(at + 1, page.find('\n', at + 1) - at - 1);
}

// --what and --regenerate: a page of another run (the ordered presets) says what it is and
// how to regenerate it.
TEST(ResultsPage, IntroNamesTheRunAndItsCommand) {
  temp_dir dir;
  write(dir.file("run.json"), small_run().dump(2));
  const auto r = run_cli({"results", dir.file("run.json"), "--out", dir.file("page.md"), "--what",
                          "the ordered presets", "--regenerate", "make results-ordered"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = slurp(dir.file("page.md"));
  EXPECT_NE(page.find("The current figures of the ordered presets:"), std::string::npos) << page;
  EXPECT_NE(page.find("\n    make results-ordered\n"), std::string::npos) << page;
  EXPECT_NE(page.find("regenerate it with `make results-ordered`"), std::string::npos) << page;
  EXPECT_EQ(page.find("standard suite"), std::string::npos) << page;
}

TEST(ResultsPage, RendersEveryWorkloadMapAndChart) {
  temp_dir dir;
  write(dir.file("run.json"), small_run().dump(2));
  const auto r = run_cli({"results", dir.file("run.json"), "--out", dir.file("page.md"), "--charts",
                          dir.file("charts")});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = slurp(dir.file("page.md"));

  // The header: how to regenerate the page, and the run it shows.
  EXPECT_NE(page.find("\n    make results\n"), std::string::npos) << page;
  EXPECT_NE(page.find("The current figures of cmap-bench's standard suite:"), std::string::npos);
  EXPECT_NE(page.find("- **Commit:** `abc1234`\n"), std::string::npos) << page;
  EXPECT_NE(page.find("- **Machine:** Test CPU 9000, 2 cores (2 logical CPUs)\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("- **Date:** 2026-01-02T03:04:05Z\n"), std::string::npos) << page;
  EXPECT_NE(page.find("- **Command:** `" + command + "`\n"), std::string::npos) << page;
  EXPECT_NE(page.find("[cmap-bench.md](cmap-bench.md)"), std::string::npos);
  EXPECT_NE(page.find("[journal/](journal/README.md)"), std::string::npos);
  EXPECT_NE(page.find("8 threads on 2 logical CPUs is oversubscribed"), std::string::npos);

  // read-heavy: every map, every thread count, the ratios to std_shared_mutex, the best
  // concurrent map in bold (the ceiling, faster at 1 thread, is not).
  const auto rh = page.find("\n## read-heavy\n");
  ASSERT_NE(rh, std::string::npos) << page;
  EXPECT_NE(page.find("| map | 1 thread | 2 threads | 8 threads | bytes/entry |", rh),
            std::string::npos)
      << page;
  EXPECT_EQ(table_line(page, "concurrent_hash_map", rh),
            "| concurrent_hash_map | **5.00 [4.00–6.00]** ×2.50 | **9.00 [8.00–9.50]** ×6.00 | "
            "**10.0 [9.00–11.0]** ×20.0 | 45.5 |");
  EXPECT_EQ(table_line(page, "std_shared_mutex", rh),
            "| std_shared_mutex | 2.00 [1.90–2.10] ×1.00 | 1.50 [1.40–1.60] ×1.00 | "
            "0.500 [0.400–0.600] ×1.00 | 60.0 (c) |");
  EXPECT_EQ(table_line(page, "locked_map", rh),
            "| locked_map | 2.20 [2.00–2.40] ×1.10 | 1.00 [0.900–1.10] ×0.667 | "
            "0.250 [0.200–0.300] ×0.500 | 38.0 |");
  EXPECT_EQ(table_line(page, "absl_flat_map", rh),
            "| absl_flat_map (single-thread ceiling) | 8.00 [7.50–8.50] ×4.00 | n/a | n/a | "
            "40.0 (c) |");
  EXPECT_NE(page.find("- absl_flat_map at 2 and 8 threads: " + ceiling_note, rh), std::string::npos)
      << page;

  // cow-vs-persistent: its own baseline, and cow_map in ops/s rather than 0.00 Mops/s.
  const auto cow = page.find("\n## cow-vs-persistent\n");
  ASSERT_NE(cow, std::string::npos) << page;
  EXPECT_NE(page.find("Ratios to `cow_map`: this preset does not run `std_shared_mutex`.", cow),
            std::string::npos)
      << page;
  EXPECT_EQ(table_line(page, "cow_map", cow),
            "| cow_map | 874 [724–978] ops/s ×1.00 | 831 [710–913] ops/s ×1.00 | 37.8 (c) |");
  EXPECT_EQ(table_line(page, "snapshot_map", cow),
            "| snapshot_map | **4.03 [3.29–4.42]** ×4611 | **2.94 [2.77–3.15]** ×3538 | 31.4 |");
  EXPECT_FALSE(testing::shows_zero_figure(page)) << page;

  // The charts: one SVG file per workload, linked from its section, drawn from its results.
  const std::map<std::string, std::map<std::string, int>> expected = {
      {"read-heavy",
       {{"concurrent_hash_map", 3},
        {"std_shared_mutex", 3},
        {"locked_map", 3},
        {"absl_flat_map", 1}}},
      {"cow-vs-persistent", {{"cow_map", 2}, {"snapshot_map", 2}}}};
  for (const auto& [workload, points] : expected) {
    const auto file = dir.path() / "charts" / (workload + ".svg");
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    const std::string svg = slurp(file);
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
    ASSERT_EQ(testing::charts(svg, "throughput").size(), 1u) << svg;
    EXPECT_EQ(testing::check_throughput_chart(svg, points), std::vector<std::string>{}) << workload;
    EXPECT_NE(page.find("(charts/" + workload + ".svg)"), std::string::npos) << page;
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path() / "charts"),
                          std::filesystem::directory_iterator()),
            2);

  // No scaling run given: the section says so and points to the journal's.
  const auto scaling = page.find("\n## Thread scaling\n");
  ASSERT_NE(scaling, std::string::npos) << page;
  EXPECT_NE(page.find("No 16-core run is recorded in this regeneration", scaling),
            std::string::npos);
  EXPECT_NE(page.find("(journal/thread-scaling-16-cores.md)", scaling), std::string::npos);
}

TEST(ResultsPage, ThreadScalingFromTheFilesOfAScalingRun) {
  temp_dir dir;
  write(dir.file("run.json"), small_run().dump());
  // Two cells of a scaling run, one process each: parallel-load at 1 and at 16 threads.
  auto cell = [&](unsigned threads, double chm, double tbb) {
    workload w = preset("parallel-load");
    w.threads = {threads};
    return nlohmann::json{{"tool", "cmap-bench"},
                          {"meta", meta(16, "cmap-bench --preset parallel-load --threads " +
                                                std::to_string(threads))},
                          {"baseline", "tbb_hash_map"},
                          {"workloads", {to_json(w)}},
                          {"results",
                           {row("parallel-load", "concurrent_hash_map", threads, chm, chm, chm),
                            row("parallel-load", "tbb_hash_map", threads, tbb, tbb, tbb)}}};
  };
  write(dir.file("pl-1.json"), cell(1, 24.6, 11.7).dump());
  write(dir.file("pl-16.json"), cell(16, 139.8, 64.9).dump());
  const auto r = run_cli({"results", dir.file("run.json"), "--out", dir.file("page.md"),
                          "--scaling", dir.file("pl-1.json"), dir.file("pl-16.json")});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = slurp(dir.file("page.md"));
  const auto scaling = page.find("\n## Thread scaling\n");
  ASSERT_NE(scaling, std::string::npos) << page;
  EXPECT_EQ(page.find("No 16-core run", scaling), std::string::npos);
  EXPECT_NE(page.find("On a 16-core machine: Test CPU 9000", scaling), std::string::npos) << page;
  const auto section = page.find("\n### parallel-load on 16 cores\n", scaling);
  ASSERT_NE(section, std::string::npos) << page;
  EXPECT_NE(page.find("| map | 1 thread | 16 threads | bytes/entry |", section), std::string::npos);
  EXPECT_EQ(table_line(page, "concurrent_hash_map", section),
            "| concurrent_hash_map | **24.6** ×2.10 | **140** ×2.15 | – |");
  // Without --charts, the charts go next to the page, in a folder named after it.
  const auto chart = dir.path() / "page" / "scaling-parallel-load.svg";
  ASSERT_TRUE(std::filesystem::exists(chart));
  EXPECT_EQ(testing::check_throughput_chart(slurp(chart),
                                            {{"concurrent_hash_map", 2}, {"tbb_hash_map", 2}}),
            std::vector<std::string>{});
  EXPECT_NE(page.find("(page/scaling-parallel-load.svg)"), std::string::npos) << page;

  // The same cell twice is a mistake, not a merge.
  const auto twice = run_cli({"results", dir.file("run.json"), "--out", dir.file("page2.md"),
                              "--scaling", dir.file("pl-1.json"), dir.file("pl-1.json")});
  EXPECT_EQ(twice.status, 2);
  EXPECT_NE(twice.err.find("concurrent_hash_map at 1 threads in 'parallel-load' is also in"),
            std::string::npos)
      << twice.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("page2.md")));
}

// A run as cmap-bench writes it reads back and renders: the JSON the tool writes is the JSON
// the renderer reads.
TEST(ResultsPage, RendersARealRun) {
  temp_dir dir;
  const auto run = run_cli({"--mix", "find=90,update=10", "--keys", "2000", "--ops", "6000",
                            "--threads", "1,2", "--maps", "locked_map,sharded_map,std_shared_mutex",
                            "--json", dir.file("run.json")});
  ASSERT_EQ(run.status, 0) << run.err;
  const auto r = run_cli({"results", dir.file("run.json"), "--out", dir.file("page.md"), "--charts",
                          dir.file("charts/")});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = slurp(dir.file("page.md"));
  const auto j = nlohmann::json::parse(slurp(dir.file("run.json")));
  EXPECT_NE(page.find("- **Commit:** `" + j["meta"]["commit"].get<std::string>()),
            std::string::npos)
      << page;
  EXPECT_NE(page.find(j["meta"]["command"].get<std::string>()), std::string::npos);
  for (const char* map : {"locked_map", "sharded_map", "std_shared_mutex"})
    EXPECT_NE(table_line(page, map), "") << map << "\n" << page;
  EXPECT_NE(table_line(page, "std_shared_mutex").find("×1.00"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "charts" / "custom.svg"));
}

TEST(ResultsPage, BadInputExitsWith2AndWritesNothing) {
  temp_dir dir;
  write(dir.file("malformed.json"), R"({"tool": "cmap-bench", "meta": )");
  write(dir.file("workload.json"), R"({"preset": "read-heavy", "ops": 1000})");
  auto with = [&](const std::string& file, auto change) {
    auto j = small_run();
    change(j);
    write(dir.file(file), j.dump());
    return dir.file(file);
  };
  const auto no_meta = with("no_meta.json", [](nlohmann::json& j) { j.erase("meta"); });
  const auto text_figure =
      with("text.json", [](nlohmann::json& j) { j["results"][3]["median_mops"] = "fast"; });
  const auto unknown_workload =
      with("unknown.json", [](nlohmann::json& j) { j["results"][0]["workload"] = "nope"; });
  const auto bad_workload =
      with("bad_workload.json", [](nlohmann::json& j) { j["workloads"][1]["mix"] = 5; });
  const auto good = with("good.json", [](nlohmann::json&) {});
  const std::size_t inputs = dir.entries();

  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{dir.file("absent.json")}, "cannot open '" + dir.file("absent.json") + "'"},
      {{dir.file("malformed.json")}, dir.file("malformed.json") + ": malformed JSON"},
      {{dir.file("workload.json")},
       dir.file("workload.json") + ": not the --json output of a cmap-bench run"},
      {{no_meta}, no_meta + ": 'meta' is missing"},
      {{text_figure}, text_figure + ": results[3]: 'median_mops' must be a number"},
      {{unknown_workload},
       unknown_workload + ": results[0]: workload 'nope' is not among the file's workloads"},
      {{bad_workload}, bad_workload + ": workloads[1]: field 'mix' must be an object"},
      {{good, "--scaling", dir.file("absent.json")}, "cannot open"},
      {{good, "--scaling", dir.file("malformed.json")}, "malformed JSON"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> cli = {"results"};
    cli.insert(cli.end(), args.begin(), args.end());
    for (const char* a : {"--out", "", "--charts", ""}) cli.emplace_back(a);
    cli[cli.size() - 3] = dir.file("page.md");
    cli[cli.size() - 1] = dir.file("charts");
    const auto r = run_cli(cli);
    EXPECT_EQ(r.status, 2) << args[0] << "\n" << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args[0] << "\n" << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line expected: " << r.err;
    EXPECT_EQ(dir.entries(), inputs) << args[0] << ": a page or charts folder was written";
  }
  const auto no_dir = run_cli({"results", good, "--out", dir.file("missing/page.md")});
  EXPECT_EQ(no_dir.status, 2);
  EXPECT_NE(no_dir.err.find("does not exist"), std::string::npos) << no_dir.err;
  const auto no_out = run_cli({"results", good});
  EXPECT_EQ(no_out.status, 2);
  EXPECT_NE(no_out.err.find("--out"), std::string::npos) << no_out.err;
  EXPECT_EQ(dir.entries(), inputs);
}

}  // namespace
}  // namespace cmap_bench
