// race-demo: what happens when threads share a hash map without a lock, and what cmap does
// about it. Each scenario runs in a forked child process, so that a crash ends only the child.
//
//   1. std::unordered_map, no lock: undefined behaviour; reports what was seen (entries lost,
//      the signal that killed the child, a hang, or no visible damage this time).
//   2. cmap::checked_map, no lock: fails fast with "cmap: fatal error: concurrent map writes".
//   3. cmap::locked_map and 4. cmap::sharded_map: correct; sizes, keys, values and shared
//      counters are checked.
//
// Exit status 0 when scenarios 2-4 behaved as described, 1 otherwise, 2 for a usage error.
//
// Usage: race-demo [--threads N] [--keys N]   (N threads, each inserting N keys; >= 2 threads)

#include <poll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmap/checked_map.hpp>
#include <cmap/locked_map.hpp>
#include <cmap/sharded_map.hpp>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <latch>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using u64 = std::uint64_t;

struct options {
  unsigned threads = 2;
  u64 keys = 200000;  // per thread
  u64 total() const { return threads * keys; }
};

// Runs body(t) on `threads` threads, released together so that they overlap.
template <class Body>
void run_threads(unsigned threads, Body body) {
  std::latch start(threads);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (auto& th : pool) th.join();
}

// Thread t inserts the keys [t * keys, (t + 1) * keys), each with the value key + 1.
u64 key_of(const options& o, unsigned t, u64 i) { return t * o.keys + i; }

// ---- children: each returns its exit status -------------------------------------------

// Scenarios 1 and 2: the same unsynchronised writers on a std-like map, then a count of what
// the map holds. Exit 0: nothing wrong seen; 3: damage seen.
template <class Map>
int unlocked_writers(const options& o) {
  Map m;
  run_threads(o.threads, [&](unsigned t) {
    for (u64 i = 0; i < o.keys; ++i) m.emplace(key_of(o, t, i), key_of(o, t, i) + 1);
  });
  const u64 size = m.size();
  u64 walked = 0;
  for ([[maybe_unused]] const auto& kv : m) ++walked;
  u64 missing = 0;
  u64 wrong = 0;
  for (unsigned t = 0; t < o.threads; ++t) {
    for (u64 i = 0; i < o.keys; ++i) {
      const u64 k = key_of(o, t, i);
      auto it = m.find(k);
      if (it == m.end())
        ++missing;
      else if (it->second != k + 1)
        ++wrong;
    }
  }
  std::printf(
      "   child: size() = %llu, iteration finds %llu entries, expected %llu; "
      "%llu keys missing, %llu with a wrong value\n",
      static_cast<unsigned long long>(size), static_cast<unsigned long long>(walked),
      static_cast<unsigned long long>(o.total()), static_cast<unsigned long long>(missing),
      static_cast<unsigned long long>(wrong));
  const bool intact = size == o.total() && walked == o.total() && missing == 0 && wrong == 0;
  return intact ? 0 : 3;
}

// Scenarios 3 and 4: the same writers on a concurrent map, plus every thread incrementing 64
// shared counters with upsert. Exit 0: everything adds up; 1: it does not.
template <class Map>
int concurrent_writers(const options& o) {
  Map m;
  Map counters;
  constexpr u64 hot = 64;
  run_threads(o.threads, [&](unsigned t) {
    for (u64 i = 0; i < o.keys; ++i) {
      m.insert(key_of(o, t, i), key_of(o, t, i) + 1);
      counters.upsert(
          i % hot, [](u64& v) { ++v; }, u64{1});
    }
  });
  u64 missing = 0;
  for (unsigned t = 0; t < o.threads; ++t) {
    for (u64 i = 0; i < o.keys; ++i) {
      const u64 k = key_of(o, t, i);
      if (m.find(k) != k + 1) ++missing;  // absent (empty optional) or a wrong value
    }
  }
  u64 sum = 0;
  for (u64 c = 0; c < hot; ++c) sum += counters.find(c).value_or(0);
  const u64 size = m.size();
  std::printf(
      "   child: size() = %llu (expected %llu), %llu keys missing or wrong; "
      "%llu shared counters sum to %llu (expected %llu)\n",
      static_cast<unsigned long long>(size), static_cast<unsigned long long>(o.total()),
      static_cast<unsigned long long>(missing), static_cast<unsigned long long>(hot),
      static_cast<unsigned long long>(sum), static_cast<unsigned long long>(o.total()));
  return size == o.total() && missing == 0 && sum == o.total() ? 0 : 1;
}

// ---- the parent side ----------------------------------------------------------------------

struct outcome {
  int status = 0;     // from waitpid
  bool hung = false;  // killed by us after the time limit
  std::string err;    // what the child wrote to stderr
  bool fork_failed = false;
};

// A healthy child needs well under a second per million keys; a corrupted bucket list can
// make one loop forever.
std::chrono::seconds time_limit(const options& o) {
  return std::chrono::seconds(10 + o.total() / 1000000);
}

// Forks; the child runs body() with its stderr sent to a pipe and exits with its result. The
// parent collects the stderr text and the wait status, killing the child after `limit`.
template <class Body>
outcome in_child(std::chrono::seconds limit, Body body) {
  outcome out;
  std::fflush(nullptr);  // nothing buffered may be written twice
  int fds[2];
  if (pipe(fds) != 0) {
    out.fork_failed = true;
    return out;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    out.fork_failed = true;
    close(fds[0]);
    close(fds[1]);
    return out;
  }
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    const int rc = body();
    std::fflush(nullptr);
    _exit(rc);
  }
  close(fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      out.hung = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;  // EOF: the child (and all its threads) ended
    out.err.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  waitpid(pid, &out.status, 0);
  return out;
}

std::string signal_name(int sig) {
  static constexpr std::pair<int, const char*> names[] = {
      {SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},  {SIGILL, "SIGILL"},
      {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"}, {SIGTRAP, "SIGTRAP"}};
  std::string s = "signal " + std::to_string(sig);
  for (const auto& [n, name] : names)
    if (n == sig) s = name;
  // The parent is single-threaded, so strsignal's static buffer is safe here.
  return s + " (" + strsignal(sig) + ")";  // NOLINT(concurrency-mt-unsafe)
}

void print_child_stderr(const std::string& err) {
  std::string_view rest = err;
  int shown = 0;
  while (!rest.empty() && shown < 8) {
    const auto nl = rest.find('\n');
    const auto line = rest.substr(0, nl);
    if (!line.empty()) {
      std::printf("   child stderr: %.*s\n", static_cast<int>(line.size()), line.data());
      ++shown;
    }
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
}

// Describes how the child ended in the general case (signal, hang, odd exit).
void describe_end(const outcome& r, const options& o) {
  if (r.hung)
    std::printf(
        "   => the child hung and was killed after %lld s (a corrupted bucket list can "
        "loop forever)\n",
        static_cast<long long>(time_limit(o).count()));
  else if (WIFSIGNALED(r.status))
    std::printf("   => the child was killed by %s\n", signal_name(WTERMSIG(r.status)).c_str());
  else if (WIFEXITED(r.status))
    std::printf("   => the child exited with status %d\n", WEXITSTATUS(r.status));
}

bool scenario_std(const options& o) {
  std::printf("\n1. std::unordered_map<uint64_t, uint64_t>, %u threads, no lock\n", o.threads);
  const outcome r =
      in_child(time_limit(o), [&] { return unlocked_writers<std::unordered_map<u64, u64>>(o); });
  print_child_stderr(r.err);
  if (r.fork_failed)
    std::printf("   => could not start the child\n");
  else if (!r.hung && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3)
    std::printf(
        "   => damage: entries lost or misplaced (not found by find), and nothing said so\n");
  else if (!r.hung && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)
    std::printf("   => no damage seen this time\n");
  else
    describe_end(r, o);
  std::printf(
      "   This is undefined behaviour: lost entries, a crash, a hang and no visible "
      "damage are all possible outcomes, different from run to run.\n");
  return true;  // any outcome is a faithful demonstration
}

bool scenario_checked(const options& o) {
  std::printf("\n2. cmap::checked_map<uint64_t, uint64_t>, %u threads, no lock\n", o.threads);
  const outcome r =
      in_child(time_limit(o), [&] { return unlocked_writers<cmap::checked_map<u64, u64>>(o); });
  print_child_stderr(r.err);
  const bool reported = r.err.find("cmap: fatal error: concurrent map writes") != std::string::npos;
  const bool aborted = !r.hung && WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT;
  if (reported && aborted) {
    std::printf("   => child aborted (SIGABRT) after checked_map reported the race\n");
    return true;
  }
  if (!r.hung && WIFEXITED(r.status)) {
    std::printf(
        "   => UNEXPECTED: checked_map did not report the race this time (with few keys "
        "the threads may finish before they overlap)\n");
  } else {
    describe_end(r, o);
    std::printf("   => UNEXPECTED: %s\n",
                reported ? "the child did not abort after the report" : "no checked_map report");
  }
  return false;
}

template <class Map>
bool scenario_concurrent(const options& o, int number, const char* name) {
  std::printf("\n%d. %s<uint64_t, uint64_t>, %u threads\n", number, name, o.threads);
  const outcome r = in_child(time_limit(o), [&] { return concurrent_writers<Map>(o); });
  print_child_stderr(r.err);
  if (!r.hung && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
    std::printf("   => correct: every key present with its value, size and counters exact\n");
    return true;
  }
  if (!r.hung && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1)
    std::printf("   => UNEXPECTED: the counts do not add up\n");
  else
    describe_end(r, o);
  return false;
}

bool parse_count(const char* s, u64& out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*end != '\0' || v == 0) return false;
  out = v;
  return true;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--threads N] [--keys N]\n"
               "  --threads N  writer threads, at least 2 (default 2)\n"
               "  --keys N     distinct keys inserted by each thread (default 200000)\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) try {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    u64 v = 0;
    if (arg == "--threads" && i + 1 < argc && parse_count(argv[i + 1], v) && v >= 2 && v <= 1024) {
      o.threads = static_cast<unsigned>(v);
      ++i;
    } else if (arg == "--keys" && i + 1 < argc && parse_count(argv[i + 1], v) &&
               v <= (u64{1} << 32)) {
      o.keys = v;
      ++i;
    } else {
      return usage(argv[0]);
    }
  }

  std::printf(
      "race-demo: %u threads, each inserting %llu distinct keys (%llu in all) into one "
      "shared map.\nEach scenario runs in a child process, so that a crash ends only "
      "the child.\n",
      o.threads, static_cast<unsigned long long>(o.keys),
      static_cast<unsigned long long>(o.total()));

  scenario_std(o);
  bool as_expected = scenario_checked(o);
  as_expected &= scenario_concurrent<cmap::locked_map<u64, u64>>(o, 3, "cmap::locked_map");
  as_expected &= scenario_concurrent<cmap::sharded_map<u64, u64>>(o, 4, "cmap::sharded_map");

  std::printf("\nrace-demo: %s\n", as_expected
                                       ? "scenarios 2-4 behaved as expected."
                                       : "some scenario did NOT behave as expected (see above).");
  return as_expected ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "race-demo: %s\n", e.what());
  return 1;
}
