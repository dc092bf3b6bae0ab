#pragma once
// Running workloads over the selected maps.

#include <atomic>
#include <string>
#include <vector>

#include "registry.hpp"
#include "results.hpp"
#include "workload.hpp"

namespace cmap_bench {

struct run_options {
  bool progress = false;                    // a progress line on stderr
  const std::atomic<bool>* stop = nullptr;  // Ctrl-C
  // All repetitions of one map before the next map's (--sequential); else the maps take
  // turns, one repetition each.
  bool sequential = false;
};

// Why map m cannot run w at this thread count; empty if it can.
std::string not_applicable(const map_info& m, const workload& w, unsigned threads);
// The maps a workload runs: its own list (lock-scope, shard-scaling), else the user's
// patterns, else every registered (non-hidden) map. A name (not a glob) in the workload's own
// list that this build does not have is left out: a peer not installed (skipped_peers says
// so), or one this build does not know, for which a line "NAME: skipped: ..." is added to
// *skipped (the ordered presets list peers that only some builds have).
std::vector<selected_map> maps_for(const workload& w, const std::vector<std::string>& patterns,
                                   std::vector<std::string>* skipped = nullptr);
// One result per (thread count, map); an unavailable workload yields one "unavailable" row.
std::vector<map_result> run_workload(const workload& w, const std::vector<selected_map>& maps,
                                     const run_options& opt);

}  // namespace cmap_bench
