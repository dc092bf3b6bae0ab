#include "runner.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "bench.hpp"

namespace cmap_bench {

void summarise(map_result& r) {
  if (r.reps.empty()) return;
  std::vector<double> v;
  for (const auto& rep : r.reps) v.push_back(rep.mops);
  std::sort(v.begin(), v.end());
  r.min_mops = v.front();
  r.max_mops = v.back();
  r.median_mops = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string not_applicable(const map_info& m, const workload& w, unsigned threads) {
  if (threads <= 1) return {};
  if (!m.can.concurrent) return "unlocked map: single-thread ceiling, run at 1 thread only";
  if (w.has(op_kind::erase) && !m.can.concurrent_erase) return "no concurrent erase";
  if ((w.has(op_kind::update) || w.has(op_kind::insert_or_assign)) && !m.can.concurrent_update)
    return "no synchronised update of a present value";
  if (w.has(op_kind::for_each) && w.writes() && !m.can.concurrent_for_each)
    return "iteration is not safe while other threads write";
  return {};
}

std::vector<selected_map> maps_for(const workload& w, const std::vector<std::string>& patterns) {
  if (!w.maps.empty()) return select_maps(w.maps);
  if (!patterns.empty()) return select_maps(patterns);
  return select_maps({"*"});
}

std::vector<map_result> run_workload(const workload& w, const std::vector<selected_map>& maps,
                                     const run_options& opt) {
  std::vector<map_result> out;
  // String members are assigned from std::string temporaries: g++ 12 at -O3 reports a bogus
  // -Wrestrict for assigning a literal (GCC PR 105651).
  if (!w.unavailable.empty()) {
    map_result r;
    r.workload = w.name;
    r.map = std::string("-");
    r.status = std::string("unavailable");
    r.note = w.unavailable;
    out.push_back(r);
    return out;
  }
  std::vector<std::string> keys;
  for (unsigned threads : w.threads) {
    if (opt.stop->load()) break;
    const streams s = generate(w, threads);
    if (w.string_keys && keys.size() <= s.max_index) {
      keys.clear();
      keys.reserve(s.max_index + 1);
      for (std::uint64_t i = 0; i <= s.max_index; ++i) keys.push_back(string_key(i, w.key_length));
    }
    for (const auto& m : maps) {
      if (opt.stop->load()) break;
      map_result r;
      if (auto why = not_applicable(*m.info, w, threads); !why.empty()) {
        r.status = std::string("n/a");
        r.note = why;
        r.threads = threads;
      } else {
        if (opt.progress) {
          fmt::print(stderr, "\r\033[K[{}] {} at {} thread{} ...", w.name, m.name, threads,
                     threads == 1 ? "" : "s");
          std::fflush(stderr);
        }
        run_request rq;
        rq.w = &w;
        rq.threads = threads;
        rq.ops = &s;
        rq.string_keys = &keys;
        rq.param = m.param;
        rq.stop = opt.stop;
        rq.measure_memory = threads == w.threads.front();
        r = m.info->run(rq);
        if (!rq.measure_memory) {
          // Memory does not depend on the thread count: carry the first pass's figures.
          for (const auto& earlier : out) {
            if (earlier.map == m.name && earlier.threads == w.threads.front()) {
              r.entries = earlier.entries;
              r.bytes_per_entry = earlier.bytes_per_entry;
              r.memory_method = earlier.memory_method;
            }
          }
        }
      }
      r.workload = w.name;
      r.map = m.name;
      r.single_thread_ceiling = !m.info->can.concurrent;
      out.push_back(std::move(r));
    }
  }
  if (opt.progress) {
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  return out;
}

}  // namespace cmap_bench
