#pragma once
// Runs bpftrace as a child process and hands its output over line by line: standard output
// (bpftrace -f json: one JSON object per line) to one callback, standard error, less the
// noise bpftrace prints on a healthy run, to another.

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace cmap_watch {

/// Lines bpftrace writes to stderr on a healthy run and that say nothing to our user: the
/// warning about RLIMIT_MEMLOCK (raised before exec anyway; kernels since 5.11 account BPF
/// memory to cgroups instead) and, where tracefs is not mounted, the failure to remove uprobes
/// that the kernel removes itself when the program's file descriptors close.
bool is_bpftrace_noise(const std::string& line);

struct tracer_callbacks {
  std::function<void(const std::string&)> on_stdout;
  std::function<void(const std::string&)> on_stderr;  // noise already dropped
};

struct tracer_result {
  int exit_status = -1;        // bpftrace's, or 128 + signal; -1 while it still runs
  bool target_exited = false;  // the traced process went away first
  pid_t still_running = 0;     // bpftrace, still removing its probes when we stopped waiting
  bool spawn_failed = false;
  std::string spawn_error;
};

/// Runs `bpftrace args...`. When `stop` becomes true, or the process `target` (if > 0)
/// exits (which sets `stop`), bpftrace gets SIGINT and `detach_wait_ms` to exit; if it is
/// still removing its probes then, it is left to finish on its own (it ignores SIGPIPE, so
/// our closed pipes do not cut that short) and its PID is returned in still_running.
tracer_result run_bpftrace(const std::string& bpftrace, const std::vector<std::string>& args,
                           const tracer_callbacks& callbacks, pid_t target,
                           std::atomic<bool>& stop, int detach_wait_ms);

/// Runs `bpftrace args...` to the end and returns its standard output and (noise dropped)
/// standard error.
tracer_result run_bpftrace_captured(const std::string& bpftrace,
                                    const std::vector<std::string>& args, std::string& out,
                                    std::string& err);

}  // namespace cmap_watch
