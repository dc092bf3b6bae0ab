#include "tracer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "preflight.hpp"

namespace cmap_watch {
namespace {

// Splits what arrives on one pipe into lines.
struct line_reader {
  int fd = -1;
  std::string pending;
  bool open() const { return fd >= 0; }

  // Reads what is there; calls emit for each complete line (and, at end of file, the rest).
  template <class Emit>
  void drain(Emit&& emit) {
    char buf[65536];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      if (!pending.empty()) emit(pending);
      pending.clear();
      ::close(fd);
      fd = -1;
      return;
    }
    pending.append(buf, static_cast<std::size_t>(n));
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
      emit(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
};

}  // namespace

bool is_bpftrace_noise(const std::string& line) {
  return line.find("RLIMIT_MEMLOCK") != std::string::npos ||
         line.find("/sys/kernel/tracing/uprobe_events") != std::string::npos ||
         line.find("/sys/kernel/debug/tracing/uprobe_events") != std::string::npos ||
         line.find("failed to detach probe") != std::string::npos;
}

tracer_result run_bpftrace(const std::string& bpftrace, const std::vector<std::string>& args,
                           const tracer_callbacks& callbacks, pid_t target,
                           std::atomic<bool>& stop, int detach_wait_ms) {
  tracer_result result;
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    result.spawn_failed = true;
    result.spawn_error = std::strerror(errno);
    return result;
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    result.spawn_failed = true;
    result.spawn_error = std::strerror(errno);
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(bpftrace.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  const pid_t child = ::fork();
  if (child == 0) {
    // In the child: only async-signal-safe calls until exec. bpftrace asks for an unlimited
    // RLIMIT_MEMLOCK itself and complains where it cannot; as root we can, so it need not.
    const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    ::setrlimit(RLIMIT_MEMLOCK, &unlimited);
    ::signal(SIGPIPE, SIG_IGN);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    // Its own process group: a Ctrl-C at the terminal reaches cmap-watch only, which then
    // stops bpftrace with one SIGINT and reads the final report.
    ::setpgid(0, 0);
    ::execv(bpftrace.c_str(), argv.data());
    const char msg[] = "cmap-watch: cannot run bpftrace\n";
    [[maybe_unused]] auto ignored = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (child < 0) {
    result.spawn_failed = true;
    result.spawn_error = std::strerror(errno);
    ::close(out[0]);
    ::close(err[0]);
    return result;
  }

  line_reader readers[2] = {{out[0], {}}, {err[0], {}}};
  bool interrupted = false;
  std::chrono::steady_clock::time_point give_up{};
  while (readers[0].open() || readers[1].open()) {
    if (interrupted && std::chrono::steady_clock::now() >= give_up) break;
    pollfd fds[2];
    nfds_t n = 0;
    int which[2];
    for (int i = 0; i < 2; ++i) {
      if (readers[i].open()) {
        fds[n] = {readers[i].fd, POLLIN, 0};
        which[n++] = i;
      }
    }
    const int ready = ::poll(fds, n, 200);
    if (ready < 0 && errno != EINTR) break;
    for (nfds_t k = 0; ready > 0 && k < n; ++k) {
      if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      if (which[k] == 0) {
        readers[0].drain([&](const std::string& l) { callbacks.on_stdout(l); });
      } else {
        readers[1].drain([&](const std::string& l) {
          if (!is_bpftrace_noise(l)) callbacks.on_stderr(l);
        });
      }
    }
    if (!interrupted) {
      if (target > 0 && !process_exists(target)) {
        result.target_exited = true;
        stop.store(true, std::memory_order_relaxed);
      }
      if (stop.load(std::memory_order_relaxed)) {
        ::kill(child, SIGINT);
        interrupted = true;
        give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(detach_wait_ms);
      }
    }
  }
  for (auto& r : readers) {
    if (r.open()) ::close(r.fd);
  }
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(child, &status, interrupted ? WNOHANG : 0);
    if (done == child) break;
    if (done < 0 && errno == EINTR) continue;
    if (done == 0 && std::chrono::steady_clock::now() < give_up) {
      ::usleep(20'000);
      continue;
    }
    result.still_running = child;
    return result;
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

tracer_result run_bpftrace_captured(const std::string& bpftrace,
                                    const std::vector<std::string>& args, std::string& out,
                                    std::string& err) {
  std::atomic<bool> never{false};
  tracer_callbacks cb{[&](const std::string& l) { out += l + "\n"; },
                      [&](const std::string& l) { err += l + "\n"; }};
  return run_bpftrace(bpftrace, args, cb, 0, never, 0);
}

}  // namespace cmap_watch
