#pragma once
// The outputs: the table on stdout, CSV, JSON and the self-contained HTML report. Files are
// written to a temporary name and renamed once complete, so no partial file is ever left.

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "results.hpp"
#include "workload.hpp"

namespace cmap_bench {

struct run_meta {
  std::string machine;  // CPU model
  unsigned cpus = 0;    // logical CPUs
  unsigned cores = 0;   // physical cores
  std::string compiler;
  std::string commit;          // of the source tree cmap-bench was built from, at run time
  bool tree_modified = false;  // that tree had uncommitted changes to tracked files
  std::string date;            // UTC, ISO 8601
  std::string command;
  std::uint64_t hash_seed = 0;  // of every cmap::hash the run's maps built (--hash-seed)
};
// The machine from /proc/cpuinfo; the commit from `git rev-parse` in the source tree when it
// runs, else the one recorded when the build was configured, else "unknown".
run_meta collect_meta(const std::string& command);

struct report_input {
  run_meta meta;
  std::vector<workload> workloads;
  std::vector<map_result> results;   // every workload's rows
  std::string baseline;              // the map the ratios are relative to
  std::vector<std::string> skipped;  // peers not compiled in
  bool interrupted = false;
};

// The map a workload's ratios are relative to: in.baseline where the workload ran it, else the
// workload's first map (lock-scope and shard-scaling compare variants of one map).
std::string baseline_for(const report_input& in, const std::vector<const map_result*>& rows);

// One table per workload: throughput per thread count (median Mops/s and ratio to the
// baseline), latency percentiles and memory at the largest thread count; '*' marks each
// column's winner among the concurrent maps.
std::string format_table(const report_input& in);
std::string format_csv(const report_input& in);
nlohmann::json format_json(const report_input& in);
std::string format_html(const report_input& in);

// Writes content to path through path.tmp.<pid> + rename; throws std::runtime_error.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace cmap_bench
