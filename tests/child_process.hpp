#pragma once
// Runs a program as a child process with its stdout and stderr in one pipe (or stderr in a pipe
// of its own), either to completion or while the caller reads its lines as they come and
// signals it at a moment of its choosing. For the tests that run the project's tools and the
// programs they drive.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace cmap_test {

struct spawn_options {
  // NAME=VALUE pairs that replace the inherited variables of the same name (getenv returns
  // the first of two, so appending would not do: ctest's TSAN_OPTIONS would win).
  std::vector<std::string> env;
  // stderr on its own pipe, read into error_output(), instead of interleaved with stdout.
  bool separate_stderr = false;
};

class child_process {
 public:
  child_process(const std::string& program, const std::vector<std::string>& args,
                const spawn_options& options = {}) {
    int fds[2];
    int err_fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    if (options.separate_stderr && ::pipe2(err_fds, O_CLOEXEC) != 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears close-on-exec on 1 and 2; every other copy of the pipes closes at exec, so
    // that the read ends see end-of-file as soon as the child is gone.
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, options.separate_stderr ? err_fds[1] : fds[1], 2);
    std::vector<std::string> argv_strings;
    argv_strings.push_back(program);
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = environment(options.env);
    std::vector<char*> envp;
    for (auto& v : env_strings) envp.push_back(v.data());
    envp.push_back(nullptr);
    const int rc =
        ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (err_fds[1] >= 0) ::close(err_fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      if (err_fds[0] >= 0) ::close(err_fds[0]);
      throw std::runtime_error("posix_spawn " + program + ": " + std::strerror(rc));
    }
    fd_ = fds[0];
    err_fd_ = err_fds[0];
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (fd_ >= 0) ::close(fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
  }

  // Reads what the child writes until `deadline` or end-of-file, handing each complete line
  // of its stdout (without its newline) to on_line. Returns false at end-of-file.
  template <class OnLine>
  bool read_until(std::chrono::steady_clock::time_point deadline, OnLine&& on_line) {
    while (fd_ >= 0 || err_fd_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return true;
      pollfd p[2] = {{fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      const int n = ::poll(p, 2, static_cast<int>(left.count()));
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return true;
      if (p[1].revents != 0 && !read_errors()) continue;
      if (p[0].revents == 0) continue;
      char buf[4096];
      const ssize_t got = ::read(fd_, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(fd_);
        fd_ = -1;
        if (!partial_.empty()) {
          output_ += partial_;
          on_line(std::string_view(partial_));
          partial_.clear();
        }
        continue;
      }
      partial_.append(buf, static_cast<std::size_t>(got));
      std::size_t start = 0;
      for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos;
           start = nl + 1) {
        output_.append(partial_, start, nl + 1 - start);
        on_line(std::string_view(partial_).substr(start, nl - start));
      }
      partial_.erase(0, start);
    }
    return false;
  }

  void kill() { ::kill(pid_, SIGKILL); }
  void signal(int sig) { ::kill(pid_, sig); }
  pid_t pid() const noexcept { return pid_; }

  // Reads to end-of-file (the child has exited or been killed), then reaps the child.
  template <class OnLine>
  int wait(OnLine&& on_line) {
    while (read_until(std::chrono::steady_clock::now() + std::chrono::hours(1), on_line)) {
    }
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }
  int wait() {
    return wait([](std::string_view) {});
  }

  const std::string& output() const { return output_; }
  // What the child wrote to stderr, with spawn_options::separate_stderr (else it is in
  // output()).
  const std::string& error_output() const { return error_output_; }

 private:
  // The environment: ours, with each of `overrides` replacing the variable of its name.
  static std::vector<std::string> environment(const std::vector<std::string>& overrides) {
    std::vector<std::string> env;
    for (char** p = environ; *p != nullptr; ++p) {
      const std::string_view inherited = *p;
      const auto name = inherited.substr(0, inherited.find('=') + 1);
      bool replaced = false;
      for (const auto& v : overrides) replaced = replaced || v.starts_with(name);
      if (!replaced) env.emplace_back(inherited);
    }
    env.insert(env.end(), overrides.begin(), overrides.end());
    return env;
  }

  // Appends what is waiting on the stderr pipe to error_output_; false once it is closed.
  bool read_errors() {
    char buf[4096];
    const ssize_t got = ::read(err_fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) return true;
    if (got <= 0) {
      ::close(err_fd_);
      err_fd_ = -1;
      return false;
    }
    error_output_.append(buf, static_cast<std::size_t>(got));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  int err_fd_ = -1;
  std::string error_output_;
  std::string partial_;
  std::string output_;
};

struct result {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
  std::string output;  // stdout and stderr, interleaved as written
};

inline result run_program(const std::string& program, const std::vector<std::string>& args) {
  child_process c(program, args);
  const int status = c.wait();
  result r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.output = c.output();
  return r;
}

}  // namespace cmap_test
