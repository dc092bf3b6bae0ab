#include "runner.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "bench.hpp"
#include "flood.hpp"

namespace cmap_bench {

void summarise(map_result& r) {
  if (r.reps.empty()) return;
  std::vector<double> v;
  for (const auto& rep : r.reps) v.push_back(rep.mops);
  std::sort(v.begin(), v.end());
  r.min_mops = v.front();
  r.max_mops = v.back();
  r.median_mops = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  r.p50_ns = r.latency.percentile(0.50);
  r.p99_ns = r.latency.percentile(0.99);
  r.p999_ns = r.latency.percentile(0.999);
  r.latency_samples = r.latency.total();
  if (r.recovery) {
    std::vector<double> t;
    for (const auto& rep : r.reps) t.push_back(rep.seconds);
    std::sort(t.begin(), t.end());
    r.recovery_seconds =
        t.size() % 2 ? t[t.size() / 2] : (t[t.size() / 2 - 1] + t[t.size() / 2]) / 2;
  }
}

std::string not_applicable(const map_info& m, const workload& w, unsigned threads) {
  if (w.recovery && !m.durable) return "not a durable store (recovery reopens a store's files)";
  if ((w.has(op_kind::scan) || w.has(op_kind::prefix_scan)) && !m.ordered)
    return m.no_scan.empty() ? "no ordered scan (unordered map)" : "no ordered scan: " + m.no_scan;
  if (threads <= 1) return {};
  if (!m.can.concurrent) return "unlocked map: single-thread ceiling, run at 1 thread only";
  if (w.has(op_kind::erase) && !m.can.concurrent_erase) return "no concurrent erase";
  if ((w.has(op_kind::update) || w.has(op_kind::insert_or_assign)) && !m.can.concurrent_update)
    return "no synchronised update of a present value";
  if (w.has(op_kind::for_each) && w.writes() && !m.can.concurrent_for_each)
    return "iteration is not safe while other threads write";
  return {};
}

std::vector<selected_map> maps_for(const workload& w, const std::vector<std::string>& patterns,
                                   std::vector<std::string>* skipped) {
  if (!w.maps.empty()) {
    std::vector<std::string> names;
    for (const auto& name : w.maps) {
      const bool known = std::any_of(registry().begin(), registry().end(),
                                     [&](const map_info& m) { return m.name == name; });
      const bool glob = name.find_first_of("*?[:") != std::string::npos;
      if (known || glob) {
        names.push_back(name);
        continue;
      }
      // Not in this build: a peer not installed has its line in skipped_peers already.
      const bool not_installed =
          std::any_of(skipped_peers().begin(), skipped_peers().end(), [&](const std::string& s) {
            return s.find(name + ":") != std::string::npos ||
                   s.find(name + ",") != std::string::npos;
          });
      if (!not_installed && skipped) {
        const std::string line = fmt::format(
            "{}: skipped: not in this build (a preset or workload file names it)", name);
        if (std::find(skipped->begin(), skipped->end(), line) == skipped->end())
          skipped->push_back(line);
      }
    }
    return select_maps(names);
  }
  if (!patterns.empty()) return select_maps(patterns);
  return select_maps({"*"});
}

std::vector<map_result> run_workload(const workload& w, const std::vector<selected_map>& maps,
                                     const run_options& opt) {
  std::vector<map_result> out;
  if (!w.unavailable.empty()) {
    map_result r;
    r.workload = w.name;
    r.map = "-";
    r.status = "unavailable";
    r.note = w.unavailable;
    out.push_back(r);
    return out;
  }
  if (w.hash_flood) return run_hash_flood(w, maps, opt);
  std::vector<std::string> keys;
  for (unsigned threads : w.threads) {
    if (opt.stop->load()) break;
    const streams s = generate(w, threads);
    if (w.string_keys && keys.size() <= s.max_index) {
      keys.clear();
      keys.reserve(s.max_index + 1);
      for (std::uint64_t i = 0; i <= s.max_index; ++i)
        keys.push_back(string_key(i, w.key_length, w.key_prefix));
    }
    // One row per map at this thread count. Interleaved (the default): repetition 1 of every
    // map, then repetition 2 of every map, and so on, so that a change in the machine's load
    // during the run reaches every map's repetitions alike instead of favouring the maps run
    // in its quiet part. Sequential: all repetitions of one map, then the next map.
    std::vector<map_result> rows(maps.size());
    std::vector<bool> runs(maps.size(), false);     // applicable at this thread count
    std::vector<bool> started(maps.size(), false);  // its first repetition ran (or n/a)
    for (std::size_t i = 0; i < maps.size(); ++i) {
      rows[i].threads = threads;
      if (auto why = not_applicable(*maps[i].info, w, threads); !why.empty()) {
        rows[i].status = "n/a";
        rows[i].note = why;
        started[i] = true;
      } else {
        runs[i] = true;
      }
    }
    const unsigned rounds = opt.sequential ? 1 : w.repetitions;
    for (unsigned round = 0; round < rounds && !opt.stop->load(); ++round) {
      for (std::size_t i = 0; i < maps.size() && !opt.stop->load(); ++i) {
        if (!runs[i]) continue;
        const selected_map& m = maps[i];
        if (opt.progress) {
          fmt::print(stderr, "\r\033[K[{}] {} at {} thread{}{} ...", w.name, m.name, threads,
                     threads == 1 ? "" : "s",
                     rounds > 1 ? fmt::format(", repetition {}/{}", round + 1, rounds) : "");
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
        rq.first_rep = round;
        rq.rep_count = opt.sequential ? 0 : 1;
        map_result part = m.info->run(rq);
        if (round == 0) {
          rows[i] = std::move(part);
          started[i] = true;
          continue;
        }
        // Later rounds add their repetition, latency samples and peak RSS to the row.
        map_result& row = rows[i];
        if (!part.ok() || !row.ok()) continue;  // interrupted (Ctrl-C): keep what was measured
        row.reps.insert(row.reps.end(), part.reps.begin(), part.reps.end());
        row.latency.merge(part.latency);
        row.peak_rss_bytes = std::max(row.peak_rss_bytes, part.peak_rss_bytes);
        row.user_bytes_written += part.user_bytes_written;
        row.os_bytes_written += part.os_bytes_written;
        row.device_bytes_written += part.device_bytes_written;
      }
    }
    for (std::size_t i = 0; i < maps.size(); ++i) {
      if (!started[i]) continue;  // Ctrl-C came before its turn
      map_result& r = rows[i];
      if (runs[i] && !r.reps.empty()) summarise(r);
      if (r.bytes_per_entry == 0 && threads != w.threads.front()) {
        // Memory does not depend on the thread count: carry the first pass's figures.
        for (const auto& earlier : out) {
          if (earlier.map == maps[i].name && earlier.threads == w.threads.front()) {
            r.entries = earlier.entries;
            r.bytes_per_entry = earlier.bytes_per_entry;
            r.memory_method = earlier.memory_method;
          }
        }
      }
      r.workload = w.name;
      r.map = maps[i].name;
      r.single_thread_ceiling = !maps[i].info->can.concurrent;
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
