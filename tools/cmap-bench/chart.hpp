#pragma once
// The SVG charts, drawn by one piece of code for the HTML report (inline) and for the results
// page (docs/benchmarks.md, one file per chart). Each chart is a standalone <svg> element with
// its namespace and a white background, so that it reads the same inline, as a file, and on
// a dark page. What is drawn is marked for the tests: the plot area is a
// <rect class="plot-area">, each map's throughput line a <polyline class="series"
// data-map="..."> with a <circle class="point"> per measured thread count, each bar a
// <rect class="bar" data-map="...">; every mark lies inside the plot area.

#include <string>
#include <vector>

#include "results.hpp"
#include "workload.hpp"

namespace cmap_bench {

// Median throughput vs threads, one line per map that has a result. The unit follows the
// largest figure (Mops/s, else kops/s or ops/s); the scale is logarithmic when the figures
// span more than a factor of 100 (cow_map next to snapshot_map), so that no line lies flat on
// the axis.
std::string throughput_chart(const workload& w, const std::vector<const map_result*>& rows);

// One group of bars per map: values[i] belongs to series[i]; values <= 0 are left out.
struct bar_group {
  std::string map;    // data-map of its bars
  std::string label;  // under the group
  std::vector<double> values;
};
std::string bar_chart(const std::string& cls, const std::string& title, const std::string& y_label,
                      const std::vector<bar_group>& groups, const std::vector<std::string>& series,
                      bool log_scale);

}  // namespace cmap_bench
