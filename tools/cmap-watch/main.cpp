// cmap-watch: attaches to a running process by PID, without restarting it, and prints live
// what its cmap maps are doing, from cmap's USDT probes through bpftrace: operations per
// second per map and per operation, latency histograms, lock waits and the hottest locks,
// resizes, reclamation backlog, serial_map batches and durable_map log syncs; with --races,
// threads inside a checked_map at once. docs/observability.md explains the output.
//
// Usage: cmap-watch [--races] [--duration S] [--interval S] [--json] PID
// Exit status: 0 done, 1 bpftrace failed, 2 bad arguments, 3 not allowed to trace (root or
// CAP_BPF + CAP_PERFMON), 4 bpftrace not found, 5 no such process, 6 no cmap probes in it.

#include <CLI/CLI.hpp>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <string>

#include "preflight.hpp"
#include "report.hpp"
#include "script.hpp"
#include "tracer.hpp"

namespace {

using namespace cmap_watch;

std::atomic<bool> stop_requested{false};

// The probe limit cmap-watch gives bpftrace (BPFTRACE_MAX_PROBES) unless the user set one.
constexpr const char* max_probe_sites = "8192";

extern "C" void on_stop_signal(int) { stop_requested.store(true, std::memory_order_relaxed); }

std::string process_name(long pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name.empty() ? "?" : name;
}

int fail(int status, const std::string& message) {
  std::fprintf(stderr, "cmap-watch: %s\n", message.c_str());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cmap-watch: live view of a running process's cmap maps, through bpftrace"};
  long pid = 0;
  bool races = false;
  bool json_output = false;
  bool print_script = false;
  double duration = 0;
  double interval_s = 1;
  app.add_option("PID", pid, "the process to attach to")->check(CLI::PositiveNumber);
  app.add_flag("--races", races,
               "report threads inside a checked_map at once (a write with a write or a read)");
  app.add_option("--duration", duration, "stop after S seconds (default: until interrupted)")
      ->check(CLI::PositiveNumber);
  app.add_option("--interval", interval_s, "print every S seconds (default 1)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_flag("--json", json_output,
               "one JSON object per interval and a final summary, one a line");
  app.add_flag("--print-script", print_script,
               "print the bpftrace program for a process with every cmap probe, and exit");
  try {
    app.parse(argc, argv);
    if (!print_script && pid == 0) throw CLI::RequiredError("PID");
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_usage;
  }

  script_options options;
  options.races = races;
  options.interval_ms = static_cast<unsigned>(std::lround(interval_s * 1000));
  // A run ends at an interval boundary: one no longer than the run.
  if (duration > 0 && duration < interval_s) interval_s = duration;
  options.interval_ms = static_cast<unsigned>(std::lround(interval_s * 1000));
  if (print_script) {
    std::fputs(compose_script(all_probe_names(), options).text.c_str(), stdout);
    return exit_ok;
  }

  const auto target = static_cast<pid_t>(pid);
  if (!process_exists(target)) return fail(exit_no_process, fmt::format("no process {}", pid));
  const auto bpftrace = find_bpftrace();
  if (!bpftrace) {
    return fail(exit_no_bpftrace,
                "bpftrace not found (on PATH, in /usr/sbin or /usr/bin, or at "
                "$CMAP_WATCH_BPFTRACE); install it (Debian: apt-get install bpftrace)");
  }
  if (!may_trace()) {
    return fail(exit_no_privilege,
                "tracing another process needs root (or the capabilities CAP_BPF and "
                "CAP_PERFMON): run cmap-watch with sudo");
  }
  const auto listing = list_cmap_probes(*bpftrace, target);
  if (listing.probes.empty()) {
    if (!process_exists(target)) return fail(exit_no_process, fmt::format("no process {}", pid));
    std::string message = fmt::format(
        "process {} ({}) has no cmap probes: it does not use cmap, or was built with "
        "CMAP_NO_PROBES or without <sys/sdt.h> (Debian: systemtap-sdt-dev)",
        pid, process_name(pid));
    if (!listing.error.empty()) message += "\nbpftrace: " + listing.error;
    return fail(exit_no_probes, message);
  }

  const composed_script script = compose_script(listing.probes, options);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGPIPE, SIG_IGN);

  collector reports;
  bool attached = false;
  bool summarised = false;
  auto emit = [&](const interval& iv, bool summary) {
    if (json_output) {
      std::fputs((render_json(iv, races, summary, pid).dump() + "\n").c_str(), stdout);
    } else {
      std::fputs((render_text(iv, races, summary) + "\n").c_str(), stdout);
    }
    std::fflush(stdout);
  };
  // The summary covers the whole intervals seen: it is printed as soon as the run is over,
  // without waiting for bpftrace, whose probes take a while to remove (script.hpp).
  auto finish = [&] {
    if (summarised || !attached) return;
    summarised = true;
    emit(reports.summary(), true);
  };
  tracer_callbacks callbacks;
  callbacks.on_stdout = [&](const std::string& line) {
    if (summarised) return;
    auto ev = reports.feed(line);
    if (ev.kind == collector::event::attached) {
      attached = true;
      std::string skipped;
      if (!script.skipped.empty()) {
        skipped = fmt::format(" (not in this build: {})", fmt::join(script.skipped, ", "));
      }
      std::fprintf(stderr, "cmap-watch: attached to %ld (%s), %d probe sites: %s%s\n", pid,
                   process_name(pid).c_str(), reports.probes_attached(),
                   fmt::format("{}", fmt::join(script.used, ", ")).c_str(), skipped.c_str());
    } else if (ev.kind == collector::event::interval_done) {
      emit(*ev.closed, false);
      // Within half an interval of the end: the next boundary would overshoot more.
      if (duration > 0 && ev.closed->end >= duration - interval_s / 2) {
        finish();
        stop_requested.store(true, std::memory_order_relaxed);
      }
    }
  };
  callbacks.on_stderr = [&](const std::string& line) {
    if (!summarised) std::fprintf(stderr, "bpftrace: %s\n", line.c_str());
  };

  // bpftrace refuses to attach more than 512 probes unless BPFTRACE_MAX_PROBES says otherwise,
  // and each inlined copy of a cmap call is a probe site of its own: a program with many map
  // types and call sites has more (cmap-bench: 990). A value the user set is kept.
  if (const char* set = std::getenv("BPFTRACE_MAX_PROBES"); set == nullptr || *set == '\0') {
    ::setenv("BPFTRACE_MAX_PROBES", max_probe_sites, 1);
  }
  constexpr int detach_wait_ms = 1000;
  const auto result =
      run_bpftrace(*bpftrace, {"-B", "line", "-f", "json", "-p", std::to_string(pid), "-e", script.text},
                   callbacks, target, stop_requested, detach_wait_ms);
  if (result.spawn_failed) return fail(exit_failed, "cannot run bpftrace: " + result.spawn_error);
  if (!attached) {
    if (result.target_exited) return fail(exit_no_process, fmt::format("process {} exited", pid));
    return fail(exit_failed, fmt::format("bpftrace could not attach to {} (status {})", pid,
                                         result.exit_status));
  }
  if (result.target_exited) std::fprintf(stderr, "cmap-watch: process %ld exited\n", pid);
  const bool interrupted = stop_requested.load() && !summarised;
  finish();
  if (result.still_running != 0) {
    std::fprintf(stderr,
                 "cmap-watch: bpftrace (pid %d) is still removing its %d probes and exits when "
                 "done\n",
                 static_cast<int>(result.still_running), reports.probes_attached());
  } else if (!interrupted && !result.target_exited && result.exit_status != 0) {
    return fail(exit_failed, fmt::format("bpftrace ended early (status {})", result.exit_status));
  }
  return exit_ok;
}
