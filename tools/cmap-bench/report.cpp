#include "report.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>

#include "chart.hpp"
#include "flood.hpp"
#include "format.hpp"

#ifndef CMAP_BENCH_SOURCE_DIR
#define CMAP_BENCH_SOURCE_DIR ""
#endif
#ifndef CMAP_BENCH_CONFIGURE_COMMIT
#define CMAP_BENCH_CONFIGURE_COMMIT "unknown"
#endif

namespace cmap_bench {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::string run_command(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return {};
  std::string out;
  std::array<char, 256> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get()) != nullptr) out += buf.data();
  return trim(out);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::vector<const map_result*> rows_of(const report_input& in, const std::string& workload) {
  return rows_of(in.results, workload);
}

std::string fmt_ns(double ns) {
  if (ns >= 1e6) return fmt::format("{:.1f}ms", ns / 1e6);
  if (ns >= 1e3) return fmt::format("{:.1f}us", ns / 1e3);
  return fmt::format("{:.0f}ns", ns);
}

}  // namespace

std::string baseline_for(const report_input& in, const std::vector<const map_result*>& rows) {
  for (const auto* r : rows)
    if (r->map == in.baseline) return in.baseline;
  return rows.empty() ? in.baseline : rows.front()->map;
}

run_meta collect_meta(const std::string& command) {
  run_meta m;
  m.command = command;
  {
    std::ifstream cpu("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpu, line)) {
      if (line.rfind("model name", 0) == 0) {
        m.machine = trim(line.substr(line.find(':') + 1));
        break;
      }
    }
    if (m.machine.empty()) m.machine = "unknown";
  }
  m.cpus = std::thread::hardware_concurrency();
  {
    // Physical cores: the distinct (physical id, core id) pairs; a machine that does not list
    // them (some VMs) is taken to have one core per logical CPU.
    std::ifstream cpu("/proc/cpuinfo");
    std::string line;
    std::string package;
    std::set<std::pair<std::string, std::string>> cores;
    while (std::getline(cpu, line)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string key = trim(line.substr(0, colon));
      const std::string value = trim(line.substr(colon + 1));
      if (key == "physical id") package = value;
      if (key == "core id") cores.emplace(package, value);
    }
    m.cores = cores.empty() ? m.cpus : static_cast<unsigned>(cores.size());
  }
#if defined(__clang__)
  m.compiler =
      fmt::format("clang++ {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  m.compiler = fmt::format("g++ {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  m.compiler = "unknown";
#endif
#ifdef NDEBUG
  m.compiler += ", NDEBUG";
#endif
  std::string src = CMAP_BENCH_SOURCE_DIR;
  if (!src.empty())
    m.commit = run_command("git -C '" + src + "' rev-parse --short HEAD 2>/dev/null");
  if (!src.empty() && !m.commit.empty())
    m.tree_modified =
        !run_command("git -C '" + src + "' status --porcelain --untracked-files=no 2>/dev/null")
             .empty();
  if (m.commit.empty()) m.commit = CMAP_BENCH_CONFIGURE_COMMIT;
  if (m.commit.empty()) m.commit = "unknown";
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  m.date = buf.data();
  return m;
}

std::string format_table(const report_input& in) {
  std::string out;
  for (const auto& w : in.workloads) {
    if (w.hash_flood && w.unavailable.empty()) {
      out += format_flood_table(in, w);
      continue;
    }
    const auto rows = rows_of(in, w.name);
    out += fmt::format("== {} ==\n", w.name);
    if (!w.unavailable.empty()) {
      out += fmt::format("   {}\n\n", w.unavailable);
      continue;
    }
    out += fmt::format(
        "   {}\n   {}, {} keys ({}{}), {} B values, mix {}, keys {}, preload {:g}, {} reps\n",
        w.description,
        w.duration_ms ? fmt::format("{} ms per run", w.duration_ms) : fmt::format("{} ops", w.ops),
        w.key_universe, w.string_keys ? "string" : (w.random_u64_keys ? "random u64" : "u64"),
        w.string_keys ? fmt::format(" of {} B", w.key_length) : "", w.value_size, w.mix_string(),
        w.dist_string(), w.preload, w.repetitions);
    const unsigned top = *std::max_element(w.threads.begin(), w.threads.end());
    const auto names = map_names(rows);
    const std::string baseline = baseline_for(in, rows);
    if (baseline != in.baseline) out += fmt::format("   ratios (xR) relative to {}\n", baseline);
    // Header.
    std::vector<std::vector<std::string>> table;
    std::vector<std::string> header{"map"};
    for (unsigned t : w.threads) header.push_back(fmt::format("{} thr", t));
    header.push_back(fmt::format("p50/p99/p99.9 @{}thr", top));
    header.push_back("B/entry");
    header.push_back("peak RSS");
    table.push_back(header);
    // Winners: best median per thread count, lowest p99 and bytes/entry at the top count,
    // among concurrent maps with a result.
    std::map<unsigned, double> best_mops;
    double best_p99 = 0;
    double best_bytes = 0;
    for (const auto* r : rows) {
      if (!r->ok() || r->single_thread_ceiling) continue;
      best_mops[r->threads] = std::max(best_mops[r->threads], r->median_mops);
      if (r->threads == top && r->latency_samples > 0 && (best_p99 == 0 || r->p99_ns < best_p99))
        best_p99 = r->p99_ns;
    }
    for (const auto* r : rows)
      if (r->ok() && !r->single_thread_ceiling && r->bytes_per_entry > 0 &&
          (best_bytes == 0 || r->bytes_per_entry < best_bytes))
        best_bytes = r->bytes_per_entry;
    std::vector<std::string> notes;
    for (const auto& name : names) {
      std::vector<std::string> line{name};
      const map_result* first_ok = nullptr;
      for (unsigned t : w.threads) {
        const auto* r = find_row(rows, name, t);
        const auto* base = find_row(rows, baseline, t);
        if (r == nullptr) {
          line.emplace_back("-");
          continue;
        }
        if (!r->ok()) {
          line.push_back(r->status);
          const std::string note = fmt::format("{} at {} thr: {}", name, t, r->note);
          if (!r->note.empty() && std::find(notes.begin(), notes.end(), note) == notes.end())
            notes.push_back(note);
          continue;
        }
        if (first_ok == nullptr) first_ok = r;
        // Median, min and max in the median's unit, named where it is not Mops/s.
        const rate_unit unit = unit_for(r->median_mops);
        std::string cell = fmt::format(
            "{} [{}-{}]{}", three_digits(in_unit(r->median_mops, unit)),
            three_digits(in_unit(r->min_mops, unit)), three_digits(in_unit(r->max_mops, unit)),
            unit == rate_unit::mops ? "" : std::string(" ") + unit_name(unit));
        if (base != nullptr && base->ok() && base->median_mops > 0)
          cell += " " + format_ratio(r->median_mops / base->median_mops);
        if (!r->single_thread_ceiling && r->median_mops == best_mops[t]) cell = "*" + cell;
        if (r->single_thread_ceiling) cell += " (ceiling)";
        line.push_back(cell);
      }
      const auto* at_top = find_row(rows, name, top);
      if (at_top == nullptr || !at_top->ok()) at_top = first_ok;
      if (at_top != nullptr && at_top->ok()) {
        // No samples (durable-recovery times one call per repetition): no latency to show.
        std::string lat = at_top->latency_samples == 0
                              ? std::string("-")
                              : fmt::format("{}/{}/{}", fmt_ns(at_top->p50_ns),
                                            fmt_ns(at_top->p99_ns), fmt_ns(at_top->p999_ns));
        if (at_top->threads != top)
          lat += fmt::format(" (@{})", at_top->threads);
        else if (!at_top->single_thread_ceiling && at_top->latency_samples > 0 &&
                 at_top->p99_ns == best_p99)
          lat = "*" + lat;
        line.push_back(lat);
        std::string mem =
            at_top->bytes_per_entry > 0
                ? fmt::format("{:.1f}{}", at_top->bytes_per_entry,
                              at_top->memory_method == "counting_allocator" ? " (c)" : "")
                : "-";
        if (!at_top->single_thread_ceiling && at_top->bytes_per_entry > 0 &&
            at_top->bytes_per_entry == best_bytes)
          mem = "*" + mem;
        line.push_back(mem);
        line.push_back(
            fmt::format("{:.0f} MiB", static_cast<double>(at_top->peak_rss_bytes) / (1 << 20)));
      } else {
        line.insert(line.end(), {"-", "-", "-"});
      }
      table.push_back(line);
    }
    out += aligned_rows(table);
    // The durable stores: what they wrote and hold, at the largest thread count.
    for (const auto& name : names) {
      const auto* r = find_row(rows, name, top);
      if (r == nullptr || !r->ok() || !r->durable) continue;
      if (r->recovery) {
        out += fmt::format("   disk: {}: reopened in {:.3f} s ({} entries)\n", name,
                           r->recovery_seconds, r->entries);
        continue;
      }
      std::string line = fmt::format("   disk: {} @{}thr:", name, top);
      if (r->disk_bytes_per_entry > 0)
        line += fmt::format(" {:.1f} B/entry on disk ({:.1f} compacted),", r->disk_bytes_per_entry,
                            r->compacted_disk_bytes_per_entry);
      if (r->user_bytes_written > 0)
        line += fmt::format(" write amplification {:.2f} to the OS, {:.2f} to the device",
                            r->os_write_amplification(), r->device_write_amplification());
      else
        line += " no writes";
      out += line + "\n";
    }
    for (const auto& n : notes) out += fmt::format("   note: {}\n", n);
    out += "\n";
  }
  out += fmt::format(
      "Throughput: median Mops/s of the repetitions [min-max] (in kops/s or ops/s where the "
      "cell says so), xR = median / {}'s at the same thread count; * = best of the column among "
      "the concurrent maps (not the single-thread ceilings).\n"
      "Latency: every {}th operation timed, at the largest thread count (or at N, shown (@N), "
      "where the "
      "map ran only at N).\n"
      "B/entry: after the preload (or, from empty, after the whole run replayed on one thread): "
      "the map's allocated_bytes() / entries (cmap maps), or (c) the heap bytes counted by "
      "counting_allocator / entries (peers; malloc's own chunk overhead not included).\n"
      "peak RSS: the process's, during that map's repetitions, including what other maps' "
      "allocators still hold (oneTBB's caches, say).\n"
      "Repetitions: unless --sequential, the maps take turns, one repetition each, so that the "
      "machine's changing load reaches them alike.\n",
      in.baseline, 64);
  for (const auto& s : in.skipped) out += fmt::format("{}\n", s);
  if (in.interrupted) out += "interrupted: the results above are what was measured before Ctrl-C\n";
  return out;
}

std::string format_csv(const report_input& in) {
  std::string out =
      "workload,map,threads,status,median_mops,min_mops,max_mops,reps,p50_ns,p99_ns,p999_ns,"
      "latency_samples,bytes_per_entry,memory_method,entries,peak_rss_bytes,ratio_to_baseline,"
      "note\n";
  for (const auto& r : in.results) {
    double ratio = 0;
    // A hash-flood row is compared with the same map's random keys.
    const bool flood =
        std::any_of(in.workloads.begin(), in.workloads.end(),
                    [&](const workload& w) { return w.name == r.workload && w.hash_flood; });
    const std::string baseline =
        flood ? flood_reference_row(r.map) : baseline_for(in, rows_of(in, r.workload));
    for (const auto& b : in.results)
      if (b.workload == r.workload && b.map == baseline && b.threads == r.threads && b.ok() &&
          b.median_mops > 0)
        ratio = r.median_mops / b.median_mops;
    out += fmt::format("{},{},{},{},{},{},{},{},{:.1f},{:.1f},{:.1f},{},{:.2f},{},{},{},{},{}\n",
                       csv_field(r.workload), csv_field(r.map), r.threads, r.status, r.median_mops,
                       r.min_mops, r.max_mops, r.reps.size(), r.p50_ns, r.p99_ns, r.p999_ns,
                       r.latency_samples, r.bytes_per_entry, r.memory_method, r.entries,
                       r.peak_rss_bytes, ratio, csv_field(r.note));
  }
  return out;
}

nlohmann::json format_json(const report_input& in) {
  nlohmann::json j;
  j["tool"] = "cmap-bench";
  j["meta"] = {{"machine", in.meta.machine},    {"cpus", in.meta.cpus},
               {"cores", in.meta.cores},        {"compiler", in.meta.compiler},
               {"commit", in.meta.commit},      {"tree_modified", in.meta.tree_modified},
               {"date", in.meta.date},          {"command", in.meta.command},
               {"hash_seed", in.meta.hash_seed}};
  j["baseline"] = in.baseline;
  j["interrupted"] = in.interrupted;
  j["skipped"] = in.skipped;
  j["workloads"] = nlohmann::json::array();
  for (const auto& w : in.workloads) {
    auto wj = to_json(w);
    if (!w.unavailable.empty()) wj["unavailable"] = w.unavailable;
    j["workloads"].push_back(wj);
  }
  j["results"] = nlohmann::json::array();
  for (const auto& r : in.results) {
    nlohmann::json reps = nlohmann::json::array();
    for (const auto& rep : r.reps)
      reps.push_back({{"seconds", rep.seconds}, {"ops", rep.ops}, {"mops", rep.mops}});
    j["results"].push_back(
        {{"workload", r.workload},
         {"map", r.map},
         {"threads", r.threads},
         {"status", r.status},
         {"note", r.note},
         {"single_thread_ceiling", r.single_thread_ceiling},
         {"repetitions", reps},
         {"median_mops", r.median_mops},
         {"min_mops", r.min_mops},
         {"max_mops", r.max_mops},
         {"latency_ns", {{"p50", r.p50_ns}, {"p99", r.p99_ns}, {"p999", r.p999_ns}}},
         {"latency_samples", r.latency_samples},
         {"bytes_per_entry", r.bytes_per_entry},
         {"memory_method", r.memory_method},
         {"entries", r.entries},
         {"peak_rss_bytes", r.peak_rss_bytes}});
    if (r.durable && r.ok()) {
      // The durable stores' measures (docs/cmap-bench.md, "Durable stores").
      nlohmann::json d = {{"disk_bytes_per_entry", r.disk_bytes_per_entry},
                          {"compacted_disk_bytes_per_entry", r.compacted_disk_bytes_per_entry},
                          {"user_bytes_written", r.user_bytes_written},
                          {"os_bytes_written", r.os_bytes_written},
                          {"device_bytes_written", r.device_bytes_written},
                          {"os_write_amplification", r.os_write_amplification()},
                          {"device_write_amplification", r.device_write_amplification()}};
      if (r.recovery) d["recovery_seconds"] = r.recovery_seconds;
      j["results"].back()["durable"] = d;
    }
  }
  return j;
}

namespace {

// The latency percentiles at the largest thread count and the bytes per entry, one bar group
// per map.
std::string latency_and_memory_charts(const workload& w,
                                      const std::vector<const map_result*>& rows) {
  std::string out;
  const unsigned top = *std::max_element(w.threads.begin(), w.threads.end());
  std::vector<bar_group> latency;
  std::vector<bar_group> memory;
  for (const auto& name : map_names(rows)) {
    const map_result* pick = find_row(rows, name, top);
    if (pick == nullptr || !pick->ok()) pick = find_row(rows, name, w.threads.front());
    if (pick == nullptr || !pick->ok()) continue;
    latency.push_back({name,
                       pick->threads == top ? name : fmt::format("{} (@{})", name, pick->threads),
                       {pick->p50_ns, pick->p99_ns, pick->p999_ns}});
    if (pick->bytes_per_entry > 0)
      memory.push_back({name,
                        name + (pick->memory_method == "counting_allocator" ? " (c)" : ""),
                        {pick->bytes_per_entry}});
  }
  out += bar_chart(
      "latency", fmt::format("{}: latency percentiles at {} threads (ns, log scale)", w.name, top),
      "ns", latency, {"p50", "p99", "p99.9"}, true);
  out += bar_chart("memory", fmt::format("{}: bytes per entry", w.name), "bytes/entry", memory,
                   {"bytes/entry"}, false);
  return out;
}

}  // namespace

std::string format_html(const report_input& in) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cmap-bench "
      "report</title>\n"
      "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:"
      "collapse;margin:1em 0}"
      "td,th{border:1px solid #ccc;padding:3px "
      "8px;font-size:13px;text-align:right}td:first-child{text-align:left}"
      "svg.chart{display:block;margin:1em 0;border:1px solid "
      "#eee}pre{background:#f6f6f6;padding:1em;overflow:auto}"
      "</style></head><body>\n<h1>cmap-bench report</h1>\n";
  out += fmt::format(
      "<p>Machine: {} ({} CPUs) &middot; compiler: {} &middot; commit: {} &middot; date: "
      "{}<br>Command: "
      "<code>{}</code> &middot; baseline: {}</p>\n",
      html_escape(in.meta.machine), in.meta.cpus, html_escape(in.meta.compiler),
      html_escape(in.meta.commit), html_escape(in.meta.date), html_escape(in.meta.command),
      html_escape(in.baseline));
  if (in.interrupted) out += "<p><strong>Interrupted:</strong> partial results.</p>\n";
  for (const auto& w : in.workloads) {
    out += fmt::format("<section class=\"workload\" id=\"{0}\"><h2>{0}</h2>\n<p>{1}</p>\n",
                       html_escape(w.name), html_escape(w.description));
    if (!w.unavailable.empty()) {
      out += fmt::format("<p class=\"unavailable\">{}</p></section>\n", html_escape(w.unavailable));
      continue;
    }
    const auto rows = rows_of(in, w.name);
    out += throughput_chart(w, rows);
    // hash-flood times only its inserts and finds: no latency samples, no memory counts.
    if (w.hash_flood) {
      out += "<p>Each row's ratio to the same map's random keys is in the text report below.</p>\n";
    } else {
      out += latency_and_memory_charts(w, rows);
    }
    out +=
        "<table class=\"results\"><tr><th>map</th><th>threads</th><th>status</th>"
        "<th>median</th><th>min</th><th>max</th>"
        "<th>p50 ns</th><th>p99 ns</th><th>p99.9 ns</th><th>B/entry</th><th>peak RSS "
        "MiB</th><th>note</th></tr>\n";
    for (const auto* r : rows) {
      auto rate = [&](double mops) { return r->ok() ? format_rate(mops) : std::string("-"); };
      out += fmt::format(
          "<tr><td class=\"map\">{}</td><td class=\"threads\">{}</td><td>{}</td>"
          "<td class=\"median\">{}</td><td>{}</td><td>{}</td><td>{:.0f}</td><td>{:.0f}</td>"
          "<td>{:.0f}</td><td>{:.1f}</td><td class=\"rss\">{:.1f}</td><td>{}</td></tr>\n",
          html_escape(r->map), r->threads, r->status, rate(r->median_mops), rate(r->min_mops),
          rate(r->max_mops), r->p50_ns, r->p99_ns, r->p999_ns, r->bytes_per_entry,
          static_cast<double>(r->peak_rss_bytes) / (1 << 20), html_escape(r->note));
    }
    out += "</table></section>\n";
  }
  out += "<h2>Text report</h2><pre>" + html_escape(format_table(in)) + "</pre>\n</body></html>\n";
  return out;
}

void write_file_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("cannot write '{}'", path));
    out << content;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error(fmt::format("cannot write '{}'", path));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("cannot rename '{}' to '{}'", tmp, path));
  }
}

}  // namespace cmap_bench
