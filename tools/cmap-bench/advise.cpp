#include "advise.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "format.hpp"

namespace cmap_bench {

advice make_advice(const workload& w, const std::vector<map_result>& results) {
  advice a;
  a.threads = *std::max_element(w.threads.begin(), w.threads.end());
  std::vector<const map_result*> ranked;
  const map_result* ceiling = nullptr;
  for (const auto& r : results) {
    if (r.workload != w.name || !r.ok()) continue;
    if (r.single_thread_ceiling) {
      if (ceiling == nullptr || r.median_mops > ceiling->median_mops) ceiling = &r;
      continue;
    }
    if (r.threads == a.threads) ranked.push_back(&r);
  }
  std::sort(ranked.begin(), ranked.end(), [](const map_result* x, const map_result* y) {
    return x->median_mops > y->median_mops;
  });
  if (ranked.empty()) {
    a.text = fmt::format("no concurrent map could run '{}' at {} threads", w.name, a.threads);
    return a;
  }
  const map_result& best = *ranked[0];
  a.best = best.map;
  const std::string mix =
      fmt::format("{} mix, {} keys, {} at {} thread{}", w.mix_string(), w.key_universe,
                  w.dist_string(), a.threads, a.threads == 1 ? "" : "s");
  if (ranked.size() == 1) {
    a.text = fmt::format("{}: the only concurrent map that ran this workload ({}): {}.", best.map,
                         mix, format_rate(best.median_mops));
  } else {
    const map_result& next = *ranked[1];
    a.next_best = next.map;
    a.speedup = next.median_mops > 0 ? best.median_mops / next.median_mops : 0;
    std::string memory;
    if (best.bytes_per_entry > 0 && next.bytes_per_entry > 0) {
      a.memory_ratio = best.bytes_per_entry / next.bytes_per_entry;
      memory = fmt::format(", {}x its memory ({:.0f} vs {:.0f} B/entry{})",
                           three_digits(a.memory_ratio), best.bytes_per_entry, next.bytes_per_entry,
                           best.memory_method != next.memory_method
                               ? ", measured differently: allocated bytes vs RSS"
                               : "");
    }
    // Spread between repetitions: if the two overlap, the ranking is not conclusive.
    const bool overlap = best.min_mops <= next.max_mops;
    a.text = fmt::format("{}: {}x the next best ({}, {} vs {}) on this {}{}.", best.map,
                         three_digits(a.speedup), next.map, format_rate(best.median_mops),
                         format_rate(next.median_mops), mix, memory);
    if (overlap || a.speedup < 1.1)
      a.text += fmt::format(
          " The repetitions of {} and {} overlap: the difference is within this machine's noise; "
          "prefer the one that fits your other needs.",
          best.map, next.map);
  }
  if (ceiling != nullptr)
    a.text += fmt::format(
        " For reference, the unlocked single-thread ceiling ({}) reached {} on 1 thread.",
        ceiling->map, format_rate(ceiling->median_mops));
  return a;
}

}  // namespace cmap_bench
