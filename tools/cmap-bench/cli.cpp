#include "cli.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <optional>

#include "adapters/hash_seed.hpp"
#include "adapters/name_maps.hpp"
#include "advise.hpp"
#include "bench.hpp"
#include "report.hpp"
#include "results_page.hpp"

namespace cmap_bench {

namespace {

std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler stores to it");

extern "C" void on_sigint(int /*signal*/) { interrupted.store(true, std::memory_order_relaxed); }

struct options {
  std::vector<std::string> presets;
  std::string workload_file;
  bool standard = false;
  bool list = false;
  std::vector<std::string> maps;
  std::vector<unsigned> threads;
  std::optional<std::uint64_t> ops;
  std::optional<std::uint64_t> duration_ms;
  std::optional<std::uint64_t> keys;
  std::optional<std::string> key_type;
  std::optional<unsigned> value_size;
  std::optional<std::string> mix;
  std::optional<std::string> dist;
  std::optional<double> preload;
  std::optional<std::uint64_t> seed;
  std::optional<std::uint64_t> hash_seed;
  bool name_maps = false;
  std::optional<unsigned> reps;
  std::string baseline = "std_shared_mutex";
  std::string csv;
  std::string json;
  std::string html;
  bool progress = true;
  bool sequential = false;
};

void apply_overrides(const options& o, workload& w) {
  if (w.hash_flood) {
    if (o.ops || o.duration_ms)
      throw usage_error(fmt::format(
          "workload '{}': hash-flood inserts each key once and finds it once; give --keys, not "
          "--ops or --duration-ms",
          w.name));
    if (o.mix || o.dist || o.preload)
      throw usage_error(fmt::format(
          "workload '{}': --mix, --dist and --preload do not apply to hash-flood (each key is "
          "inserted, then found)",
          w.name));
  }
  if (!o.threads.empty()) w.threads = o.threads;
  if (o.ops && o.duration_ms)
    throw usage_error("--ops and --duration-ms contradict each other; give only one");
  if (o.ops) {
    w.ops = *o.ops;
    w.duration_ms = 0;
  }
  if (o.duration_ms) {
    w.duration_ms = *o.duration_ms;
    w.ops = 0;
  }
  if (o.keys) w.key_universe = *o.keys;
  if (o.key_type) {
    if (*o.key_type == "u64") {
      w.string_keys = false;
    } else if (o.key_type->rfind("string", 0) == 0) {
      w.string_keys = true;
      if (o.key_type->size() > 6) {
        if ((*o.key_type)[6] != ':')
          throw usage_error(
              fmt::format("--key-type '{}': expected u64, string or string:LENGTH", *o.key_type));
        try {
          w.key_length = static_cast<unsigned>(std::stoul(o.key_type->substr(7)));
        } catch (const std::exception&) {
          throw usage_error(
              fmt::format("--key-type '{}': the length is not a number", *o.key_type));
        }
      }
    } else {
      throw usage_error(
          fmt::format("--key-type '{}': expected u64, string or string:LENGTH", *o.key_type));
    }
  }
  if (o.value_size) w.value_size = *o.value_size;
  if (o.mix) parse_mix(*o.mix, w);
  if (o.dist) w.dist = parse_distribution(*o.dist);
  if (o.preload) w.preload = *o.preload;
  if (o.seed) w.seed = *o.seed;
  if (o.reps) w.repetitions = *o.reps;
  if (w.hash_flood) w.ops = 2 * w.key_universe;
}

bool has_workload_flags(const options& o) {
  return o.mix || o.dist || o.key_type || o.value_size || o.preload || o.keys;
}

void check_output_path(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  const std::filesystem::path p(path);
  const auto dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw usage_error(
        fmt::format("{} {}: the directory '{}' does not exist", flag, path, dir.string()));
  if (::access(dir.c_str(), W_OK) != 0)
    throw usage_error(
        fmt::format("{} {}: the directory '{}' is not writable", flag, path, dir.string()));
  if (std::filesystem::is_directory(p, ec))
    throw usage_error(fmt::format("{} {}: is a directory", flag, path));
}

void add_common(CLI::App& app, options& o) {
  app.add_option("--maps", o.maps,
                 "maps to run: names or globs, comma-separated (default: every map --list shows "
                 "without the [variant] mark, which a glob never matches; --standard also leaves "
                 "out libcds_split_list; presets that name their own maps run those)")
      ->delimiter(',');
  app.add_option("--threads", o.threads, "thread counts, e.g. 1,2,4,8")->delimiter(',');
  app.add_option("--ops", o.ops, "total operations per run (all threads)");
  app.add_option("--duration-ms", o.duration_ms,
                 "run each measurement for this long instead of --ops");
  app.add_option("--reps", o.reps,
                 "repetitions per measurement, 3 to 100 (median, min and max reported)");
  app.add_option("--seed", o.seed, "seed of the operation streams");
  app.add_option("--hash-seed", o.hash_seed,
                 fmt::format("seed of every cmap::hash the maps and peers hash with (default "
                             "{:#x}: fixed, so that runs compare; hash-flood also builds maps "
                             "with a secret seed, on purpose)",
                             default_hash_seed));
  app.add_flag("--name-maps", o.name_maps,
               "name every cmap map for cmap::metrics, so that its operations are counted "
               "(to measure what counting costs)");
  app.add_flag("--sequential", o.sequential,
               "run all repetitions of one map before the next (default: the maps take turns, "
               "one repetition each, so that the machine's changing load reaches them alike)");
}

// The maps --standard runs unless --maps says otherwise: the default selection (every map
// without the variant mark) but the libcds peer, whose split-ordered list (a pointer chase per key,
// hazard pointers on every step) adds an estimated minute to a suite that must stay under 3 minutes
// on the 2-core machine (docs/journal/cmap-bench.md); `--standard --maps '*'` includes it.
std::vector<std::string> standard_maps() {
  std::vector<std::string> names;
  for (const auto& m : registry())
    if (!m.hidden && m.name != "libcds_split_list") names.push_back(m.name);
  return names;
}

}  // namespace

int cli_main(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  options o;
  CLI::App app{"cmap-bench: run a workload on every cmap map and installed peer, side by side",
               "cmap-bench"};
  std::string presets;
  for (const auto& name : preset_names()) presets += (presets.empty() ? "" : ", ") + name;
  app.add_option("--preset", o.presets,
                 fmt::format("named presets, comma-separated: {} (see --list and "
                             "docs/cmap-bench.md; hash-flood and ordered run u64 and string keys "
                             "unless --key-type picks one)",
                             presets))
      ->delimiter(',');
  app.add_option("--workload", o.workload_file,
                 "a workload file: JSON, or TOML if it ends in .toml");
  app.add_flag("--standard", o.standard, "the standard suite (make bench)");
  app.add_flag("--list", o.list, "list the maps and presets");
  add_common(app, o);
  app.add_option("--keys", o.keys, "key universe size");
  app.add_option("--key-type", o.key_type, "u64 or string[:LENGTH]");
  app.add_option(
      "--value-size", o.value_size, "value bytes: 8, 64, 256 or 1024; 100 (the durable stores)");
  app.add_option("--mix", o.mix, "operation mix, e.g. find=90,update=10");
  app.add_option("--dist", o.dist,
                 "uniform, zipf[:theta], sequential, shuffled, hotset[:fraction[:probability]]");
  app.add_option("--preload", o.preload, "fraction of the key universe inserted before timing");
  app.add_option("--baseline", o.baseline, "the map the ratios are relative to")
      ->capture_default_str();
  app.add_option("--csv", o.csv, "write the results as CSV");
  app.add_option("--json", o.json, "write the results, workloads and every repetition as JSON");
  app.add_option("--report", o.html, "write a self-contained HTML report with SVG charts");
  auto* advise_cmd =
      app.add_subcommand("advise", "run the candidates on a workload file and recommend one");
  options ao;
  advise_cmd->add_option("--workload", ao.workload_file, "the workload file (JSON or .toml)")
      ->required();
  add_common(*advise_cmd, ao);

  auto* results_cmd = app.add_subcommand(
      "results",
      "render the results page (docs/benchmarks.md) and its SVG charts from a run's --json file");
  results_page_request page;
  results_cmd->add_option("run", page.run, "the --json file of a cmap-bench run")->required();
  results_cmd
      ->add_option("--scaling", page.scaling,
                   "the --json files of a thread-scaling run on a larger machine "
                   "(scripts/scaling-run.sh writes one per preset and thread count)")
      ->delimiter(',');
  results_cmd->add_option("--out", page.out, "the markdown page to write")->required();
  results_cmd->add_option("--charts", page.charts,
                          "the folder of the SVG charts (default: the page's name without .md)");
  results_cmd->add_option("--what", page.intro.what,
                          "what the run is, for the page's opening (default: cmap-bench's "
                          "standard suite)");
  results_cmd->add_option("--regenerate", page.intro.regenerate,
                          "the command that regenerates the page (default: make results)");

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    fmt::print(out, "{}", app.help());
    return 0;
  } catch (const CLI::ParseError& e) {
    fmt::print(err, "cmap-bench: {}\n", e.what());
    return 2;
  }

  if (results_cmd->parsed()) {
    try {
      render_results_page(page);
    } catch (const usage_error& e) {
      fmt::print(err, "cmap-bench results: {}\n", e.what());
      return 2;
    } catch (const std::exception& e) {
      fmt::print(err, "cmap-bench results: {}\n", e.what());
      return 1;
    }
    fmt::print(out, "cmap-bench results: wrote {}\n", page.out);
    return 0;
  }

  const bool advising = advise_cmd->parsed();
  options& opt = advising ? ao : o;
  std::vector<workload> workloads;
  std::vector<std::vector<selected_map>> selections;
  std::vector<std::string> not_built;  // maps a workload names that this build lacks
  try {
    if (o.list) {
      fmt::print(out, "maps:\n");
      for (const auto& m : registry())
        fmt::print(out, "  {:<24} {:<8} {}{}\n", m.name, m.family, m.description,
                   m.hidden ? " [variant: run by its preset or by name]" : "");
      for (const auto& s : skipped_peers()) fmt::print(out, "  {}\n", s);
      fmt::print(out,
                 "  without --maps: every map above but the [variant] ones; --standard leaves out "
                 "libcds_split_list too (--standard --maps '*' adds it back)\n");
      fmt::print(out, "presets:\n");
      for (const auto& name : preset_names()) {
        const auto w = preset(name);
        fmt::print(out, "  {:<18} {}{}\n", name, w.description,
                   w.unavailable.empty() ? "" : " [" + w.unavailable + "]");
      }
      return 0;
    }
    if (advising) {
      workloads.push_back(load_workload_file(ao.workload_file));
      if (workloads.back().hash_flood)
        throw usage_error("advise: hash-flood compares key sets, not maps; run it with --workload");
    } else {
      if (o.standard) {
        if (!o.presets.empty() || !o.workload_file.empty())
          throw usage_error(
              "--standard runs its own suite; it cannot be combined with --preset or --workload");
        workloads = standard_suite();
        if (o.maps.empty()) o.maps = standard_maps();
      }
      for (const auto& name : o.presets) {
        // --key-type picks one key type of a preset that runs several (hash-flood).
        if (o.key_type) {
          workloads.push_back(preset(name));
        } else {
          for (auto& w : preset_runs(name)) workloads.push_back(std::move(w));
        }
      }
      if (!o.workload_file.empty()) workloads.push_back(load_workload_file(o.workload_file));
      if (workloads.empty()) {
        if (!has_workload_flags(o))
          throw usage_error(
              "nothing to run: give --preset NAME, --workload FILE, --standard, or a custom "
              "workload "
              "(--mix, --keys, --dist, ...); --list shows the presets");
        workloads.emplace_back();
        workloads.back().description = "custom workload from the command line";
      }
    }
    for (auto& w : workloads) {
      if (!w.unavailable.empty()) continue;
      apply_overrides(opt, w);
      validate(w);
    }
    for (const auto& w : workloads) {
      std::vector<selected_map> maps;
      if (w.unavailable.empty()) {
        maps = maps_for(w, opt.maps, &not_built);
        if (advising) {
          std::erase_if(maps, [](const selected_map& m) { return m.info->hidden; });
        }
        if (maps.empty()) throw usage_error(fmt::format("workload '{}': no map selected", w.name));
      }
      selections.push_back(std::move(maps));
    }
    // The baseline must be a known map.
    bool baseline_known = false;
    for (const auto& m : registry()) baseline_known = baseline_known || m.name == o.baseline;
    for (const auto& sel : selections)
      for (const auto& m : sel) baseline_known = baseline_known || m.name == o.baseline;
    if (!baseline_known) throw usage_error(fmt::format("--baseline '{}': unknown map", o.baseline));
    check_output_path("--csv", o.csv);
    check_output_path("--json", o.json);
    check_output_path("--report", o.html);
  } catch (const usage_error& e) {
    fmt::print(err, "cmap-bench: {}\n", e.what());
    return 2;
  }

  // Run.
  interrupted.store(false);
  auto* previous = std::signal(SIGINT, on_sigint);
  report_input in;
  std::string command = "cmap-bench";
  for (const auto& a : args) command += " " + a;
  // Before any map is built: every cmap::hash of this run takes it (adapters/hash_seed.hpp).
  set_hash_seed(opt.hash_seed.value_or(default_hash_seed));
  set_name_maps(opt.name_maps);
  in.meta = collect_meta(command);
  in.meta.hash_seed = hash_seed();
  in.baseline = o.baseline;
  in.skipped = skipped_peers();
  in.skipped.insert(in.skipped.end(), not_built.begin(), not_built.end());
  run_options ro;
  ro.progress = ::isatty(STDERR_FILENO) != 0 && err == stderr;
  ro.stop = &interrupted;
  ro.sequential = opt.sequential;
  try {
    for (std::size_t i = 0; i < workloads.size(); ++i) {
      if (interrupted.load()) break;
      in.workloads.push_back(workloads[i]);
      auto rows = run_workload(workloads[i], selections[i], ro);
      in.results.insert(in.results.end(), rows.begin(), rows.end());
    }
  } catch (const std::exception& e) {
    std::signal(SIGINT, previous);
    fmt::print(err, "cmap-bench: run failed: {}\n", e.what());
    return 1;
  }
  std::signal(SIGINT, previous);
  in.interrupted = interrupted.load();

  fmt::print(out, "cmap-bench: {} ({} CPUs), {}, commit {}, hash seed {:#x}\n\n", in.meta.machine,
             in.meta.cpus, in.meta.compiler, in.meta.commit, in.meta.hash_seed);
  fmt::print(out, "{}", format_table(in));
  if (advising) {
    const auto a = make_advice(in.workloads.front(), in.results);
    fmt::print(out, "\nrecommendation: {}\n", a.text);
  }
  std::fflush(out);
  try {
    if (!o.csv.empty()) write_file_atomically(o.csv, format_csv(in));
    if (!o.json.empty()) write_file_atomically(o.json, format_json(in).dump(2) + "\n");
    if (!o.html.empty()) write_file_atomically(o.html, format_html(in));
  } catch (const std::exception& e) {
    fmt::print(err, "cmap-bench: {}\n", e.what());
    return 1;
  }
  return in.interrupted ? 130 : 0;
}

}  // namespace cmap_bench
