// Kill tests (after RocksDB's db_crashtest): a child process writes to a durable_map with
// sync::group and reports each write before it starts and once it returned; the parent kills
// it with SIGKILL at a random moment, reopens the store, and checks that the state is exactly
// the acknowledged writes, plus, per writer thread, possibly the one write it had in flight
// (whole, for a batch): nothing acknowledged lost, nothing invented, no batch in part. The
// directory is kept from trial to trial, so later children recover what earlier ones left
// and kills land in recovery, log rotation and background checkpoints too.
//
// CMAP_KILL_TRIALS sets the number of trials (default 200; 40 under a sanitizer, where a
// child runs several times slower); make kill-soak runs 2000. CMAP_TEST_SEED changes the
// random choices.
#include <cmap/detail/sanitizers.hpp>
#include <cmap/durable_map.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using u64 = std::uint64_t;
using state = std::map<u64, u64>;

constexpr int default_trials = CMAP_DETAIL_TSAN || CMAP_DETAIL_ASAN ? 40 : 200;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : fallback;
}

struct write_op {
  bool erase = false;
  u64 version = 0;
  std::vector<u64> keys;
};

void apply(state& s, const write_op& w) {
  for (u64 k : w.keys) {
    if (w.erase) {
      s.erase(k);
    } else {
      s[k] = w.version;
    }
  }
}

// What a child said before it died.
struct transcript {
  bool ready = false;
  std::vector<write_op> acknowledged;  // in the order acknowledged
  std::map<int, write_op> in_flight;  // per thread: begun, not acknowledged
  u64 max_version = 0;
};

void parse_line(const std::string& line, transcript& t, std::map<int, write_op>& begun) {
  std::istringstream in(line);
  std::string tag;
  in >> tag;
  if (tag == "r") {
    t.ready = true;
  } else if (tag == "b") {
    int thread;
    write_op w;
    std::string kind;
    in >> thread >> w.version >> kind;
    w.erase = kind == "e";
    u64 k;
    while (in >> k) w.keys.push_back(k);
    begun[thread] = w;
    t.max_version = std::max(t.max_version, w.version);
  } else if (tag == "a") {
    int thread;
    u64 version;
    in >> thread >> version;
    auto it = begun.find(thread);
    ASSERT_TRUE(it != begun.end() && it->second.version == version) << line;
    t.acknowledged.push_back(it->second);
    begun.erase(it);
  } else {
    FAIL() << "unexpected line from the child: " << line;
  }
}

// Starts the child, lets it run for `run_for` (counted from the start, or from the child's
// report that it recovered and is about to write), kills it, and returns what it said.
transcript run_and_kill(const fs::path& dir, int threads, u64 first_version, u64 seed,
                        bool from_ready, std::chrono::microseconds run_for) {
  int out[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  const std::string dir_s = dir.string(), threads_s = std::to_string(threads),
                    first_s = std::to_string(first_version), seed_s = std::to_string(seed);
  const char* args[] = {CMAP_KILL_CHILD, dir_s.c_str(), threads_s.c_str(), first_s.c_str(),
                        seed_s.c_str(), nullptr};
  pid_t pid;
  const int rc = posix_spawn(&pid, CMAP_KILL_CHILD, &actions, nullptr,
                             const_cast<char* const*>(args), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  transcript t;
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << CMAP_KILL_CHILD;
    ::close(out[0]);
    return t;
  }
  std::map<int, write_op> begun;
  std::string buffer;
  auto drain = [&](int timeout_ms) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return true;
    char chunk[65536];
    const ssize_t n = ::read(out[0], chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      parse_line(buffer.substr(0, nl), t, begun);
      buffer.erase(0, nl + 1);
    }
    return true;
  };
  bool alive = true;
  if (from_ready) {
    // Recovery replays what earlier children left, several times slower under sanitizers;
    // a minute is far beyond any of it.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (alive && !t.ready && std::chrono::steady_clock::now() < give_up) alive = drain(10);
    EXPECT_TRUE(t.ready || !alive) << "the child did not report ready within a minute";
  }
  const auto deadline = std::chrono::steady_clock::now() + run_for;
  while (alive && std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!drain(static_cast<int>(std::max<long>(1, left.count())))) break;
  }
  ::kill(pid, SIGKILL);
  while (drain(1000)) {
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended on its own (status " << status << ")";
  // Only complete lines count: a line cut by the kill was never fully said.
  t.in_flight = std::move(begun);
  return t;
}

TEST(DurableKill, AcknowledgedWritesSurviveSigkill) {
  const int trials = env_int("CMAP_KILL_TRIALS", default_trials);
  const u64 seed = static_cast<u64>(env_int("CMAP_TEST_SEED", 1));
  std::mt19937_64 rng(seed);
  const fs::path dir = fs::temp_directory_path() / ("cmap-kill-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  state expected;  // what the store held after the last trial's check
  u64 version = 0;
  int acknowledged = 0, in_flight_applied = 0, ready = 0;
  for (int trial = 0; trial < trials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial) + " seed " + std::to_string(seed));
    if (rng() % 25 == 0) {  // now and then a fresh store
      fs::remove_all(dir);
      expected.clear();
    }
    const int threads = 1 + static_cast<int>(rng() % 4);
    // Half the kills within 20 ms of the start (start-up, recovery, the first writes); the
    // rest timed from the child's ready report, so that a slow build or a loaded machine,
    // whose recovery outlasts a fixed wait, still kills children that write: within 20 ms
    // of it, or (one in four kills) 20 to 140 ms after it.
    const u64 kind = rng() % 4;
    const auto run_for =
        std::chrono::microseconds(kind == 3 ? 20000 + rng() % 120000 : rng() % 20000);
    const transcript t = run_and_kill(dir, threads, version, rng(), kind >= 2, run_for);
    if (::testing::Test::HasFatalFailure()) return;
    version = t.max_version + 1;
    ready += t.ready ? 1 : 0;
    acknowledged += static_cast<int>(t.acknowledged.size());
    for (const write_op& w : t.acknowledged) apply(expected, w);
    std::optional<cmap::durable_map<u64, u64>> m;
    try {
      m.emplace(dir);
    } catch (const std::exception& e) {
      FAIL() << "recovery failed after a kill: " << e.what();
    }
    state got;
    m->for_each([&](u64 k, u64 v) { got[k] = v; });
    m.reset();
    // Per thread (their keys are disjoint): the acknowledged state, or that plus its write
    // in flight, whole.
    state want = expected;
    for (const auto& [thread, w] : t.in_flight) {
      bool applied = true;
      bool unapplied = true;
      for (u64 k : w.keys) {
        const auto g = got.find(k);
        const auto e = expected.find(k);
        const bool same_as_before = (g == got.end()) == (e == expected.end()) &&
                                    (g == got.end() || g->second == e->second);
        const bool same_as_write = w.erase ? g == got.end() : g != got.end() && g->second == w.version;
        applied = applied && same_as_write;
        unapplied = unapplied && same_as_before;
      }
      ASSERT_TRUE(applied || unapplied)
          << "thread " << thread << "'s write in flight (version " << w.version
          << ") is in the store in part";
      if (applied && !unapplied) {
        apply(want, w);
        ++in_flight_applied;
      }
    }
    ASSERT_EQ(got, want) << "the recovered state is not the acknowledged writes";
    expected = std::move(want);
  }
  fs::remove_all(dir);
  std::printf("%d trials: %d children recovered and wrote, %d writes acknowledged, %d writes "
              "in flight found applied\n",
              trials, ready, acknowledged, in_flight_applied);
  EXPECT_GT(acknowledged, trials);  // the children did write
}

}  // namespace
