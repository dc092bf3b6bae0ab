#include "results.hpp"

#include <algorithm>

namespace cmap_bench {

std::vector<const map_result*> rows_of(const std::vector<map_result>& results,
                                       const std::string& workload) {
  std::vector<const map_result*> out;
  for (const auto& r : results)
    if (r.workload == workload) out.push_back(&r);
  return out;
}

std::vector<std::string> map_names(const std::vector<const map_result*>& rows) {
  std::vector<std::string> names;
  for (const auto* r : rows)
    if (std::find(names.begin(), names.end(), r->map) == names.end()) names.push_back(r->map);
  return names;
}

const map_result* find_row(const std::vector<const map_result*>& rows, const std::string& map,
                           unsigned threads) {
  for (const auto* r : rows)
    if (r->map == map && r->threads == threads) return r;
  return nullptr;
}

}  // namespace cmap_bench
