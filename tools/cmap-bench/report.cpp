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
#include <stdexcept>
#include <thread>

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

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
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
  std::vector<const map_result*> out;
  for (const auto& r : in.results)
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

// The map a workload's ratios are relative to: --baseline where the workload ran it, else
// the workload's first map (lock-scope and shard-scaling compare variants of one map).
std::string baseline_for(const report_input& in, const std::vector<const map_result*>& rows) {
  for (const auto* r : rows)
    if (r->map == in.baseline) return in.baseline;
  return rows.empty() ? in.baseline : rows.front()->map;
}

std::string fmt_ns(double ns) {
  if (ns >= 1e6) return fmt::format("{:.1f}ms", ns / 1e6);
  if (ns >= 1e3) return fmt::format("{:.1f}us", ns / 1e3);
  return fmt::format("{:.0f}ns", ns);
}

}  // namespace

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
    const auto rows = rows_of(in, w.name);
    out += fmt::format("== {} ==\n", w.name);
    if (!w.unavailable.empty()) {
      out += fmt::format("   {}\n\n", w.unavailable);
      continue;
    }
    out += fmt::format(
        "   {}\n   {} ops{}, {} keys ({}{}), {} B values, mix {}, keys {}, preload {:g}, {} reps\n",
        w.description, w.duration_ms ? 0 : w.ops,
        w.duration_ms ? fmt::format(" ({} ms per run)", w.duration_ms) : "", w.key_universe,
        w.string_keys ? "string" : "u64",
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
        std::string cell =
            fmt::format("{:.2f} [{:.2f}-{:.2f}]", r->median_mops, r->min_mops, r->max_mops);
        if (base != nullptr && base->ok() && base->median_mops > 0)
          cell += fmt::format(" x{:.2f}", r->median_mops / base->median_mops);
        if (!r->single_thread_ceiling && r->median_mops == best_mops[t]) cell = "*" + cell;
        if (r->single_thread_ceiling) cell += " (ceiling)";
        line.push_back(cell);
      }
      const auto* at_top = find_row(rows, name, top);
      if (at_top == nullptr || !at_top->ok()) at_top = first_ok;
      if (at_top != nullptr && at_top->ok()) {
        std::string lat = fmt::format("{}/{}/{}", fmt_ns(at_top->p50_ns), fmt_ns(at_top->p99_ns),
                                      fmt_ns(at_top->p999_ns));
        if (at_top->threads != top)
          lat += fmt::format(" (@{})", at_top->threads);
        else if (!at_top->single_thread_ceiling && at_top->p99_ns == best_p99)
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
    std::vector<std::size_t> width(table[0].size(), 0);
    for (const auto& line : table)
      for (std::size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
    for (const auto& line : table) {
      out += "   ";
      for (std::size_t i = 0; i < line.size(); ++i)
        out += fmt::format("{:<{}}{}", line[i], width[i], i + 1 < line.size() ? "  " : "\n");
    }
    for (const auto& n : notes) out += fmt::format("   note: {}\n", n);
    out += "\n";
  }
  out += fmt::format(
      "Throughput: median Mops/s of the repetitions [min-max], xR = median / {}'s at the same "
      "thread count; * = best of the column among the concurrent maps (not the single-thread "
      "ceilings).\n"
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
    const std::string baseline = baseline_for(in, rows_of(in, r.workload));
    for (const auto& b : in.results)
      if (b.workload == r.workload && b.map == baseline && b.threads == r.threads && b.ok() &&
          b.median_mops > 0)
        ratio = r.median_mops / b.median_mops;
    out += fmt::format(
        "{},{},{},{},{:.4f},{:.4f},{:.4f},{},{:.1f},{:.1f},{:.1f},{},{:.2f},{},{},{},{:.4f},{}\n",
        csv_field(r.workload), csv_field(r.map), r.threads, r.status, r.median_mops, r.min_mops,
        r.max_mops, r.reps.size(), r.p50_ns, r.p99_ns, r.p999_ns, r.latency_samples,
        r.bytes_per_entry, r.memory_method, r.entries, r.peak_rss_bytes, ratio, csv_field(r.note));
  }
  return out;
}

nlohmann::json format_json(const report_input& in) {
  nlohmann::json j;
  j["tool"] = "cmap-bench";
  j["meta"] = {{"machine", in.meta.machine}, {"cpus", in.meta.cpus}, {"compiler", in.meta.compiler},
               {"commit", in.meta.commit},   {"date", in.meta.date}, {"command", in.meta.command}};
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
  }
  return j;
}

namespace {

constexpr std::array<const char*, 10> palette = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                 "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                 "#bcbd22", "#17becf"};
constexpr double chart_w = 640;
constexpr double chart_h = 300;
constexpr double pad_l = 60;
constexpr double pad_r = 170;
constexpr double pad_t = 30;
constexpr double pad_b = 40;

std::string svg_open(const std::string& cls, const std::string& title) {
  return fmt::format(
      "<svg class=\"chart {}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" "
      "role=\"img\"><title>{}</title><text x=\"{}\" y=\"18\" font-size=\"14\" "
      "font-weight=\"bold\">{}</text>\n",
      cls, chart_w, chart_h, chart_w, chart_h, html_escape(title), pad_l, html_escape(title));
}

std::string legend(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const double y = pad_t + 14 + static_cast<double>(i) * 16;
    out += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" "
        "font-size=\"11\">{}</text>\n",
        chart_w - pad_r + 10, y - 9, palette[i % palette.size()], chart_w - pad_r + 24, y,
        html_escape(names[i]));
  }
  return out;
}

std::string axes(double y_max, const std::string& y_label, bool log_scale, double y_min) {
  std::string out;
  const double plot_h = chart_h - pad_t - pad_b;
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333\"/>", pad_l,
                     pad_t, chart_h - pad_b);
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#333\"/>", pad_l,
                     chart_h - pad_b, chart_w - pad_r);
  for (int i = 0; i <= 4; ++i) {
    const double frac = i / 4.0;
    const double v = log_scale ? y_min * std::pow(y_max / y_min, frac) : y_max * frac;
    const double y = chart_h - pad_b - frac * plot_h;
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                       pad_l - 4, y + 3,
                       v >= 100 ? fmt::format("{:.0f}", v) : fmt::format("{:.3g}", v));
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>", pad_l, y,
                       chart_w - pad_r, y);
  }
  out += fmt::format(
      "<text x=\"12\" y=\"{}\" font-size=\"11\" transform=\"rotate(-90 12 {})\" "
      "text-anchor=\"middle\">{}</text>\n",
      chart_h / 2, chart_h / 2, html_escape(y_label));
  return out;
}

// Throughput vs threads: one line per map.
std::string throughput_chart(const workload& w, const std::vector<const map_result*>& rows) {
  const auto names = map_names(rows);
  double y_max = 0;
  for (const auto* r : rows)
    if (r->ok()) y_max = std::max(y_max, r->max_mops);
  if (y_max <= 0) y_max = 1;
  y_max *= 1.1;
  const double plot_w = chart_w - pad_l - pad_r;
  const double plot_h = chart_h - pad_t - pad_b;
  auto x_of = [&](std::size_t i) {
    return pad_l + (w.threads.size() == 1
                        ? plot_w / 2
                        : plot_w * 0.05 + plot_w * 0.9 * static_cast<double>(i) /
                                              static_cast<double>(w.threads.size() - 1));
  };
  std::string out = svg_open("throughput", w.name + ": throughput (Mops/s) vs threads");
  out += axes(y_max, "Mops/s", false, 0);
  for (std::size_t i = 0; i < w.threads.size(); ++i)
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                       x_of(i), chart_h - pad_b + 14, w.threads[i]);
  out += fmt::format(
      "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">threads</text>\n",
      pad_l + plot_w / 2, chart_h - 6);
  for (std::size_t m = 0; m < names.size(); ++m) {
    std::string points;
    std::string dots;
    for (std::size_t i = 0; i < w.threads.size(); ++i) {
      const auto* r = find_row(rows, names[m], w.threads[i]);
      if (r == nullptr || !r->ok()) continue;
      const double x = x_of(i);
      const double y = chart_h - pad_b - plot_h * r->median_mops / y_max;
      points += fmt::format("{:.1f},{:.1f} ", x, y);
      dots += fmt::format(
          "<circle class=\"point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{} @{}: "
          "{:.2f} Mops/s "
          "[{:.2f}-{:.2f}]</title></circle>",
          x, y, palette[m % palette.size()], html_escape(names[m]), w.threads[i], r->median_mops,
          r->min_mops, r->max_mops);
    }
    if (!points.empty())
      out += fmt::format(
          "<polyline class=\"series\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
          "points=\"{}\"/>{}\n",
          palette[m % palette.size()], points, dots);
  }
  out += legend(names);
  return out + "</svg>\n";
}

// Grouped bars, one group per map; values <= 0 are left out.
std::string bar_chart(const std::string& cls, const std::string& title, const std::string& y_label,
                      const std::vector<std::string>& groups,
                      const std::vector<std::string>& series,
                      const std::vector<std::vector<double>>& values, bool log_scale) {
  double y_max = 0;
  double y_min = 0;
  for (const auto& g : values)
    for (double v : g)
      if (v > 0) {
        y_max = std::max(y_max, v);
        y_min = y_min == 0 ? v : std::min(y_min, v);
      }
  if (y_max <= 0) y_max = 1;
  if (log_scale) {
    y_min = std::pow(10, std::floor(std::log10(y_min > 0 ? y_min : 1)));
    y_max = std::pow(10, std::ceil(std::log10(y_max * 1.01)));
    if (y_max <= y_min) y_max = y_min * 10;
  } else {
    y_max *= 1.1;
  }
  const double plot_w = chart_w - pad_l - pad_r;
  const double plot_h = chart_h - pad_t - pad_b;
  std::string out = svg_open(cls, title);
  out += axes(y_max, y_label, log_scale, y_min);
  const double group_w = plot_w / static_cast<double>(std::max<std::size_t>(groups.size(), 1));
  const double bar_w = group_w * 0.8 / static_cast<double>(std::max<std::size_t>(series.size(), 1));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const double gx = pad_l + group_w * static_cast<double>(g) + group_w * 0.1;
    for (std::size_t s = 0; s < series.size(); ++s) {
      const double v = values[g][s];
      if (v <= 0) continue;
      const double frac = log_scale ? std::log(v / y_min) / std::log(y_max / y_min) : v / y_max;
      const double h = std::max(1.0, plot_h * std::clamp(frac, 0.0, 1.0));
      out += fmt::format(
          "<rect class=\"bar\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"{}\"><title>{} "
          "{}: {:.1f}</title></rect>",
          gx + bar_w * static_cast<double>(s), chart_h - pad_b - h, std::max(1.0, bar_w - 1), h,
          palette[(series.size() == 1 ? g : s) % palette.size()], html_escape(groups[g]),
          html_escape(series[s]), v);
    }
    out += fmt::format(
        "<text x=\"{:.1f}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>\n",
        gx + group_w * 0.4, chart_h - pad_b + 12 + static_cast<double>(g % 2) * 10,
        html_escape(groups[g]));
  }
  if (series.size() > 1) out += legend(series);
  return out + "</svg>\n";
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
    const unsigned top = *std::max_element(w.threads.begin(), w.threads.end());
    std::vector<std::string> lat_groups;
    std::vector<std::vector<double>> lat_values;
    std::vector<std::string> mem_groups;
    std::vector<std::vector<double>> mem_values;
    for (const auto& name : map_names(rows)) {
      const map_result* pick = find_row(rows, name, top);
      if (pick == nullptr || !pick->ok()) pick = find_row(rows, name, w.threads.front());
      if (pick == nullptr || !pick->ok()) continue;
      lat_groups.push_back(pick->threads == top ? name
                                                : fmt::format("{} (@{})", name, pick->threads));
      lat_values.push_back({pick->p50_ns, pick->p99_ns, pick->p999_ns});
      if (pick->bytes_per_entry > 0) {
        mem_groups.push_back(name + (pick->memory_method == "counting_allocator" ? " (c)" : ""));
        mem_values.push_back({pick->bytes_per_entry});
      }
    }
    out +=
        bar_chart("latency",
                  fmt::format("{}: latency percentiles at {} threads (ns, log scale)", w.name, top),
                  "ns", lat_groups, {"p50", "p99", "p99.9"}, lat_values, true);
    out += bar_chart("memory", fmt::format("{}: bytes per entry", w.name), "bytes/entry",
                     mem_groups, {"bytes/entry"}, mem_values, false);
    out +=
        "<table><tr><th>map</th><th>threads</th><th>status</th><th>median "
        "Mops/s</th><th>min</th><th>max</th>"
        "<th>p50 ns</th><th>p99 ns</th><th>p99.9 ns</th><th>B/entry</th><th>peak RSS "
        "MiB</th><th>note</th></tr>\n";
    for (const auto* r : rows)
      out += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2f}</td><td>{:.2f}</td><td>{:.2f}</"
          "td><td>{:.0f}</td>"
          "<td>{:.0f}</td><td>{:.0f}</td><td>{:.1f}</td><td "
          "class=\"rss\">{:.1f}</td><td>{}</td></tr>\n",
          html_escape(r->map), r->threads, r->status, r->median_mops, r->min_mops, r->max_mops,
          r->p50_ns, r->p99_ns, r->p999_ns, r->bytes_per_entry,
          static_cast<double>(r->peak_rss_bytes) / (1 << 20), html_escape(r->note));
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
