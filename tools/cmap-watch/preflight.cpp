#include "preflight.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

#include "tracer.hpp"

namespace cmap_watch {

std::optional<std::string> find_bpftrace() {
  auto executable = [](const std::string& p) { return ::access(p.c_str(), X_OK) == 0; };
  if (const char* forced = std::getenv("CMAP_WATCH_BPFTRACE"); forced != nullptr) {
    if (executable(forced)) return std::string(forced);
    return std::nullopt;
  }
  std::string dirs = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin";
  std::istringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/bpftrace";
    if (executable(candidate)) return candidate;
  }
  return std::nullopt;
}

bool process_exists(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  // A zombie has exited: its probes are gone with its memory.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close_paren = line.rfind(')');
  return close_paren == std::string::npos || close_paren + 2 >= line.size() ||
         (line[close_paren + 2] != 'Z' && line[close_paren + 2] != 'X');
}

bool may_trace() {
  if (::geteuid() == 0) return true;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (!line.starts_with("CapEff:")) continue;
    const unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
    constexpr unsigned cap_sys_admin = 21;
    constexpr unsigned cap_perfmon = 38;
    constexpr unsigned cap_bpf = 39;
    auto has = [&](unsigned cap) { return (caps >> cap & 1ULL) != 0; };
    return has(cap_sys_admin) || (has(cap_bpf) && has(cap_perfmon));
  }
  return false;
}

probe_listing list_cmap_probes(const std::string& bpftrace, pid_t pid) {
  probe_listing listing;
  std::string out;
  std::string err;
  const auto r = run_bpftrace_captured(bpftrace, {"-l", "usdt:*:cmap:*", "-p", std::to_string(pid)},
                                       out, err);
  if (r.spawn_failed) {
    listing.error = r.spawn_error;
    return listing;
  }
  // One probe a line: usdt:<binary>:cmap:<name>.
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.rfind(':');
    if (!line.starts_with("usdt:") || colon == std::string::npos) continue;
    const std::string_view provider_and_name = std::string_view(line).substr(0, colon);
    if (!provider_and_name.ends_with(":cmap")) continue;
    listing.probes.insert(line.substr(colon + 1));
  }
  if (r.exit_status != 0) listing.error = err.empty() ? "bpftrace -l failed" : err;
  return listing;
}

}  // namespace cmap_watch
