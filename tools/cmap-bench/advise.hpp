#pragma once
// cmap-bench advise: the recommendation for one workload, with its reason.

#include <string>
#include <vector>

#include "results.hpp"
#include "workload.hpp"

namespace cmap_bench {

struct advice {
  std::string best;         // empty when nothing could run
  std::string next_best;    // empty when only one candidate ran
  unsigned threads = 0;     // the thread count the advice is for (the workload's largest)
  double speedup = 0;       // best / next best median throughput
  double memory_ratio = 0;  // best / next best bytes per entry (0: not measured)
  std::string text;         // the recommendation and its reason, one paragraph
};

// Picks the concurrent map with the highest median throughput at the workload's largest
// thread count (single-thread ceilings are mentioned, never recommended).
advice make_advice(const workload& w, const std::vector<map_result>& results);

}  // namespace cmap_bench
