#include "results_page.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "chart.hpp"
#include "format.hpp"
#include "workload.hpp"

namespace cmap_bench {

namespace {

// Reads the fields of one JSON object, naming the file and the object in every error.
class fields {
 public:
  fields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail("must be an object");
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw usage_error(fmt::format("{}: {}", where_, what));
  }
  [[nodiscard]] bool has(const char* key) const { return j_.contains(key); }
  [[nodiscard]] const nlohmann::json& at(const char* key) const {
    if (!j_.contains(key)) fail(fmt::format("'{}' is missing", key));
    return j_[key];
  }
  [[nodiscard]] std::string str(const char* key) const {
    const auto& v = at(key);
    if (!v.is_string()) fail(fmt::format("'{}' must be a string", key));
    return v.get<std::string>();
  }
  [[nodiscard]] double number(const char* key) const {
    const auto& v = at(key);
    if (!v.is_number()) fail(fmt::format("'{}' must be a number", key));
    return v.get<double>();
  }
  [[nodiscard]] std::uint64_t count(const char* key) const {
    const auto& v = at(key);
    if (!v.is_number_unsigned()) fail(fmt::format("'{}' must be a non-negative integer", key));
    return v.get<std::uint64_t>();
  }
  [[nodiscard]] bool flag(const char* key) const {
    const auto& v = at(key);
    if (!v.is_boolean()) fail(fmt::format("'{}' must be true or false", key));
    return v.get<bool>();
  }
  [[nodiscard]] const nlohmann::json& array(const char* key) const {
    const auto& v = at(key);
    if (!v.is_array()) fail(fmt::format("'{}' must be an array", key));
    return v;
  }
  [[nodiscard]] const std::string& where() const { return where_; }

 private:
  const nlohmann::json& j_;
  std::string where_;
};

// A name made safe for a file name: letters, digits, '.', '_' and '-' kept, the rest '-'.
std::string file_stem(const std::string& name) {
  std::string out;
  for (char c : name)
    out += (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-')
               ? c
               : '-';
  return out.empty() ? "workload" : out;
}

std::string threads_header(unsigned t) { return fmt::format("{} thread{}", t, t == 1 ? "" : "s"); }

std::string cell_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string ratio_text(double r) { return "×" + three_digits(r); }

// "12.3 [11.0–13.1]" in the median's unit, the unit named where it is not Mops/s.
std::string throughput_text(const map_result& r) {
  const rate_unit u = unit_for(r.median_mops);
  return fmt::format("{} [{}–{}]{}", three_digits(in_unit(r.median_mops, u)),
                     three_digits(in_unit(r.min_mops, u)), three_digits(in_unit(r.max_mops, u)),
                     u == rate_unit::mops ? "" : std::string(" ") + unit_name(u));
}

std::string workload_line(const workload& w) {
  return fmt::format(
      "{}, {} keys ({}{}), {} B values, mix {}, keys {}, preload {:g}, {} repetitions.",
      w.duration_ms ? fmt::format("{} ms per run", w.duration_ms) : fmt::format("{} ops", w.ops),
      w.key_universe, w.string_keys ? "string" : "u64",
      w.string_keys ? fmt::format(" of {} B", w.key_length) : "", w.value_size, w.mix_string(),
      w.dist_string(), w.preload, w.repetitions);
}

// One run's rows of a workload as a markdown table: a row per map, a column per thread count
// (median [min-max] and the ratio to the baseline, the best concurrent map in bold), then
// bytes per entry; and the notes of the cells that did not run.
std::string results_table(const report_input& in, const workload& w, bool with_range) {
  const auto rows = rows_of(in.results, w.name);
  const std::string baseline = baseline_for(in, rows);
  std::map<unsigned, double> best;
  for (const auto* r : rows)
    if (r->ok() && !r->single_thread_ceiling)
      best[r->threads] = std::max(best[r->threads], r->median_mops);
  std::string md = "| map |";
  std::string rule = "|---|";
  for (unsigned t : w.threads) {
    md += " " + threads_header(t) + " |";
    rule += "--:|";
  }
  md += " bytes/entry |\n" + rule + "--:|\n";
  // The cells that did not run: per (map, note), the thread counts it applies to.
  std::vector<std::pair<std::string, std::string>> notes;
  std::map<std::pair<std::string, std::string>, std::vector<unsigned>> note_threads;
  for (const auto& name : map_names(rows)) {
    std::string line = "| " + cell_escape(name);
    std::string bytes = "–";
    bool ceiling = false;
    for (unsigned t : w.threads) {
      const auto* r = find_row(rows, name, t);
      if (r == nullptr) {
        line += " | –";
        continue;
      }
      ceiling = ceiling || r->single_thread_ceiling;
      if (r->bytes_per_entry > 0 && bytes == "–")
        bytes = fmt::format("{:.1f}{}", r->bytes_per_entry,
                            r->memory_method == "counting_allocator" ? " (c)" : "");
      if (!r->ok()) {
        line += " | " + r->status;
        if (!r->note.empty()) {
          auto& at = note_threads[{name, r->note}];
          if (at.empty()) notes.emplace_back(name, r->note);
          at.push_back(t);
        }
        continue;
      }
      std::string cell = with_range ? throughput_text(*r) : [&] {
        const rate_unit u = unit_for(r->median_mops);
        return three_digits(in_unit(r->median_mops, u)) +
               (u == rate_unit::mops ? "" : std::string(" ") + unit_name(u));
      }();
      if (!r->single_thread_ceiling && best.count(t) && r->median_mops == best[t])
        cell = "**" + cell + "**";
      const auto* base = find_row(rows, baseline, t);
      if (base != nullptr && base->ok() && base->median_mops > 0)
        cell += " " + ratio_text(r->median_mops / base->median_mops);
      line += " | " + cell;
    }
    if (ceiling) line.insert(2 + cell_escape(name).size(), " (single-thread ceiling)");
    md += line + " | " + bytes + " |\n";
  }
  if (!notes.empty()) md += "\n";
  for (const auto& [map, note] : notes) {
    const auto& at = note_threads[{map, note}];
    std::string counts;
    for (std::size_t i = 0; i < at.size(); ++i)
      counts += fmt::format("{}{}", i == 0 ? "" : i + 1 == at.size() ? " and " : ", ", at[i]);
    md += fmt::format("- {} at {} thread{}: {}\n", map, counts,
                      at.size() == 1 && at[0] == 1 ? "" : "s", note);
  }
  return md;
}

std::string header_of_run(const run_meta& m) {
  return fmt::format(
      "- **Commit:** `{}`{}\n"
      "- **Machine:** {}, {} core{} ({} logical CPU{})\n"
      "- **Compiler:** {}\n"
      "- **Date:** {}\n"
      "- **Command:** `{}`\n",
      m.commit, m.tree_modified ? " with uncommitted changes" : "", m.machine, m.cores,
      m.cores == 1 ? "" : "s", m.cpus, m.cpus == 1 ? "" : "s", m.compiler, m.date, m.command);
}

// Several --json files of one scaling run (one per preset and thread count, as
// scripts/scaling-run.sh makes them) as one: the workloads by name with their thread counts
// joined, every row once.
report_input merge_runs(const std::vector<report_input>& runs,
                        const std::vector<std::string>& paths) {
  report_input out = runs.front();
  out.workloads.clear();
  out.results.clear();
  std::map<std::string, std::string> seen;  // "workload/map/threads" -> file
  for (std::size_t i = 0; i < runs.size(); ++i) {
    for (const auto& w : runs[i].workloads) {
      auto it = std::find_if(out.workloads.begin(), out.workloads.end(),
                             [&](const workload& o) { return o.name == w.name; });
      if (it == out.workloads.end()) {
        out.workloads.push_back(w);
        continue;
      }
      for (unsigned t : w.threads)
        if (std::find(it->threads.begin(), it->threads.end(), t) == it->threads.end())
          it->threads.push_back(t);
      std::sort(it->threads.begin(), it->threads.end());
    }
    for (const auto& r : runs[i].results) {
      const std::string key = fmt::format("{}/{}/{}", r.workload, r.map, r.threads);
      if (const auto s = seen.find(key); s != seen.end())
        throw usage_error(fmt::format("{}: {} at {} threads in '{}' is also in {}", paths[i], r.map,
                                      r.threads, r.workload, s->second));
      seen[key] = paths[i];
      out.results.push_back(r);
    }
  }
  return out;
}

}  // namespace

report_input read_run_json(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw usage_error(fmt::format("cannot open '{}'", path));
  std::ostringstream text;
  text << file.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw usage_error(fmt::format("{}: malformed JSON: {}", path, e.what()));
  }
  if (!j.is_object() || !j.contains("tool") || j["tool"] != "cmap-bench")
    throw usage_error(fmt::format(
        "{}: not the --json output of a cmap-bench run (no \"tool\": \"cmap-bench\")", path));
  const fields top(j, path);
  report_input in;
  const fields meta(top.at("meta"), path + ": meta");
  in.meta.machine = meta.str("machine");
  in.meta.cpus = static_cast<unsigned>(meta.count("cpus"));
  in.meta.cores = meta.has("cores") ? static_cast<unsigned>(meta.count("cores")) : in.meta.cpus;
  in.meta.compiler = meta.str("compiler");
  in.meta.commit = meta.str("commit");
  in.meta.tree_modified = meta.has("tree_modified") && meta.flag("tree_modified");
  in.meta.date = meta.str("date");
  in.meta.command = meta.str("command");
  // Absent from runs recorded before cmap-bench fixed the seed.
  if (meta.has("hash_seed")) in.meta.hash_seed = meta.count("hash_seed");
  in.baseline = top.str("baseline");
  in.interrupted = top.has("interrupted") && top.flag("interrupted");
  std::set<std::string> names;
  const auto& workloads = top.array("workloads");
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    const std::string where = fmt::format("{}: workloads[{}]", path, i);
    const fields f(workloads[i], where);
    nlohmann::json recorded = workloads[i];
    std::string unavailable;
    if (f.has("unavailable")) {
      unavailable = f.str("unavailable");
      recorded.erase("unavailable");
    }
    workload w = parse_workload_json(recorded, where);
    w.unavailable = unavailable;
    names.insert(w.name);
    in.workloads.push_back(std::move(w));
  }
  const auto& results = top.array("results");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const fields f(results[i], fmt::format("{}: results[{}]", path, i));
    map_result r;
    r.workload = f.str("workload");
    if (!names.count(r.workload))
      f.fail(fmt::format("workload '{}' is not among the file's workloads", r.workload));
    r.map = f.str("map");
    r.threads = static_cast<unsigned>(f.count("threads"));
    r.status = f.str("status");
    if (f.has("note")) r.note = f.str("note");
    if (f.has("single_thread_ceiling")) r.single_thread_ceiling = f.flag("single_thread_ceiling");
    r.median_mops = f.number("median_mops");
    r.min_mops = f.number("min_mops");
    r.max_mops = f.number("max_mops");
    r.bytes_per_entry = f.number("bytes_per_entry");
    if (f.has("memory_method")) r.memory_method = f.str("memory_method");
    if (f.has("entries")) r.entries = f.count("entries");
    if (f.has("peak_rss_bytes")) r.peak_rss_bytes = f.count("peak_rss_bytes");
    if (f.has("latency_samples")) r.latency_samples = f.count("latency_samples");
    if (f.has("latency_ns")) {
      const fields lat(f.at("latency_ns"), f.where() + ": latency_ns");
      r.p50_ns = lat.number("p50");
      r.p99_ns = lat.number("p99");
      r.p999_ns = lat.number("p999");
    }
    if (f.has("repetitions")) {
      const auto& reps = f.array("repetitions");
      for (std::size_t k = 0; k < reps.size(); ++k) {
        const fields rep(reps[k], fmt::format("{}: repetitions[{}]", f.where(), k));
        r.reps.push_back({rep.number("seconds"), rep.count("ops"), rep.number("mops")});
      }
    }
    in.results.push_back(std::move(r));
  }
  return in;
}

std::string format_results_page(const report_input& run, const std::vector<report_input>& scaling,
                                const std::string& chart_link, std::vector<chart_file>& charts,
                                const page_intro& intro) {
  const auto chart_path = [&](const std::string& file) {
    return chart_link.empty() || chart_link == "." ? file : chart_link + "/" + file;
  };
  std::set<unsigned> all_threads;
  for (const auto& w : run.workloads) all_threads.insert(w.threads.begin(), w.threads.end());
  const unsigned most_threads = all_threads.empty() ? 1 : *all_threads.rbegin();

  std::string md = fmt::format(
      "# cmap-bench results\n\n"
      "<!-- Generated by `cmap-bench results` from the --json output of one run: regenerate it "
      "with `{1}` rather than edit it. -->\n\n"
      "The current figures of {0}: every map and installed peer on each preset, from one run. "
      "One command regenerates this page and its charts:\n\n"
      "    {1}\n\n"
      "It builds cmap-bench (Release), runs the command below and renders this page from its "
      "JSON output with `cmap-bench results`.\n\n",
      intro.what, intro.regenerate);
  md += header_of_run(run.meta);
  md += fmt::format("- **Baseline of the ratios:** `{}`\n", run.baseline);
  if (run.interrupted)
    md += "\n**This run was interrupted:** the figures below are what it measured before.\n";

  md += "\n## How to read it\n\n";
  md += fmt::format(
      "- Each cell is the median throughput of the repetitions, all threads together, in Mops/s "
      "(million operations per second) unless it names kops/s or ops/s; [min–max] is the range "
      "of the repetitions; ×N is the ratio to `{}` at the same thread count (for presets that do "
      "not run it, to their first map). In bold: the best concurrent map at that thread count.\n",
      run.baseline);
  md +=
      "- Compare maps within this run, as ratios. The maps took turns, one repetition each, so a "
      "change in the machine's load reached them alike; absolute figures only show the scale, "
      "and move with the machine. On the 2-core development VM, runs differ by about ±25%: a gap "
      "under 1.5× is not conclusive.\n";
  if (most_threads > run.meta.cpus)
    md += fmt::format(
        "- {} threads on {} logical CPUs is oversubscribed on purpose: it shows what preempted "
        "lock holders cost.\n",
        most_threads, run.meta.cpus);
  md +=
      "- Single-thread ceilings (maps without any lock) run at 1 thread only and are never in "
      "bold. Bytes per entry: the map's own `allocated_bytes()` per entry after the preload (or "
      "after the whole run, for presets that start empty); (c): the bytes the map's allocator was "
      "asked for, counted by a wrapper (peers; malloc's own overhead not included).\n"
      "- How cmap-bench measures, the presets and the maps: [cmap-bench.md](cmap-bench.md). "
      "Dated experiments, earlier runs and the reasoning behind the maps' designs: "
      "[journal/](journal/README.md).\n";

  md += "\n## Contents\n\n";
  for (const auto& w : run.workloads) md += fmt::format("- [{0}](#{0})\n", w.name);
  md += "- [Thread scaling](#thread-scaling)\n";

  for (const auto& w : run.workloads) {
    md += fmt::format("\n## {}\n\n", w.name);
    if (!w.description.empty()) md += w.description + ".\n\n";
    if (!w.unavailable.empty()) {
      md += fmt::format("Not run: {}.\n", w.unavailable);
      continue;
    }
    md += workload_line(w) + "\n\n";
    if (const auto baseline = baseline_for(run, rows_of(run.results, w.name));
        baseline != run.baseline)
      md +=
          fmt::format("Ratios to `{}`: this preset does not run `{}`.\n\n", baseline, run.baseline);
    md += results_table(run, w, true);
    const std::string file = file_stem(w.name) + ".svg";
    charts.push_back({file, throughput_chart(w, rows_of(run.results, w.name))});
    md += fmt::format("\n![{}: median throughput vs threads]({})\n", w.name, chart_path(file));
  }

  md += "\n## Thread scaling\n\n";
  if (scaling.empty()) {
    md +=
        "No 16-core run is recorded in this regeneration: the development machine has 2 cores. "
        "The runs on a 16-core machine, 1 to 32 threads, are in "
        "[journal/thread-scaling-16-cores.md](journal/thread-scaling-16-cores.md). "
        "`scripts/scaling-run.sh` makes such a run; `make results SCALING='OUT/json/*.json'` "
        "puts it here.\n";
    return md;
  }
  const report_input& s = scaling.front();
  std::set<std::string> commits;
  std::set<std::string> commands;
  for (const auto& r : scaling) {
    commits.insert(r.meta.commit);
    commands.insert(r.meta.command);
  }
  md += fmt::format(
      "On a {}-core machine: {}, {} logical CPUs; {}, {}, {} run{} of cmap-bench (one per preset "
      "and thread count when made by `scripts/scaling-run.sh`), the first on {}. Median Mops/s "
      "(unless a cell names another unit) and the ratio to `{}` at the same thread count; "
      "single runs, so a gap under 1.5× is not conclusive.\n",
      s.meta.cores, s.meta.machine, s.meta.cpus, s.meta.compiler,
      [&] {
        std::string out;
        for (const auto& c : commits) out += (out.empty() ? "commit `" : ", `") + c + "`";
        return out;
      }(),
      scaling.size(), scaling.size() == 1 ? "" : "s", s.meta.date, s.baseline);
  if (commands.size() == 1) md += fmt::format("\n    {}\n", *commands.begin());
  for (const auto& w : s.workloads) {
    if (!w.unavailable.empty()) continue;
    md += fmt::format("\n### {} on {} cores\n\n", w.name, s.meta.cores);
    md += results_table(s, w, false);
    const std::string file = "scaling-" + file_stem(w.name) + ".svg";
    charts.push_back({file, throughput_chart(w, rows_of(s.results, w.name))});
    md += fmt::format("\n![{}: median throughput vs threads on {} cores]({})\n", w.name,
                      s.meta.cores, chart_path(file));
  }
  return md;
}

void render_results_page(const results_page_request& rq) {
  namespace fs = std::filesystem;
  const report_input run = read_run_json(rq.run);
  std::vector<report_input> scaling;
  for (const auto& path : rq.scaling) scaling.push_back(read_run_json(path));
  if (scaling.size() > 1) scaling = {merge_runs(scaling, rq.scaling)};

  const fs::path out = fs::absolute(rq.out).lexically_normal();
  std::error_code ec;
  if (!fs::is_directory(out.parent_path(), ec))
    throw usage_error(fmt::format("--out {}: the directory '{}' does not exist", rq.out,
                                  out.parent_path().string()));
  if (fs::is_directory(out, ec)) throw usage_error(fmt::format("--out {}: is a directory", rq.out));
  fs::path charts_dir = rq.charts.empty() ? fs::path(out).replace_extension("")
                                          : fs::absolute(rq.charts).lexically_normal();
  if (!charts_dir.has_filename()) charts_dir = charts_dir.parent_path();  // a trailing '/'
  if (fs::exists(charts_dir, ec) && !fs::is_directory(charts_dir, ec))
    throw usage_error(fmt::format("--charts {}: not a directory", charts_dir.string()));
  const std::string link = charts_dir.lexically_relative(out.parent_path()).generic_string();

  std::vector<chart_file> charts;
  const std::string page = format_results_page(run, scaling, link, charts, rq.intro);
  fs::create_directories(charts_dir, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("cannot create '{}': {}", charts_dir.string(), ec.message()));
  for (const auto& c : charts)
    write_file_atomically((charts_dir / c.name).string(),
                          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + c.svg);
  write_file_atomically(out.string(), page);
}

}  // namespace cmap_bench
