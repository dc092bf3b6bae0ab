#pragma once
// What cmap-watch checks before it attaches, in this order, each failure with its own exit
// status (docs/observability.md lists them): the arguments (2, in main.cpp), that the process
// exists (5), that bpftrace is installed (4), that we may trace (3), and that the process has
// cmap's probes (6). The process is checked first because that needs no privilege.

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>

namespace cmap_watch {

enum exit_status : int {
  exit_ok = 0,
  exit_failed = 1,         // bpftrace failed to attach or died
  exit_usage = 2,          // bad arguments
  exit_no_privilege = 3,   // neither root nor CAP_BPF with CAP_PERFMON
  exit_no_bpftrace = 4,    // bpftrace not found
  exit_no_process = 5,     // no process with that PID
  exit_no_probes = 6,      // the process has no cmap probes
};

/// The bpftrace to run: $CMAP_WATCH_BPFTRACE if set (it must then exist), else the first
/// bpftrace on PATH or in /usr/sbin, /usr/bin, /usr/local/sbin, /usr/local/bin (sudo often
/// resets PATH).
std::optional<std::string> find_bpftrace();

/// Whether a process with this PID exists (a zombie counts as gone).
bool process_exists(pid_t pid);

/// Whether this process may load BPF programs and attach uprobes: euid 0, or the effective
/// capabilities CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN).
bool may_trace();

struct probe_listing {
  std::set<std::string> probes;  // e.g. "op_begin", in the executable or its shared objects
  std::string error;             // bpftrace's complaint, when it could not list them
};

/// The cmap probes of process pid, as `bpftrace -l 'usdt:*:cmap:*' -p PID` lists them.
probe_listing list_cmap_probes(const std::string& bpftrace, pid_t pid);

}  // namespace cmap_watch
