// kill -9 at any moment, then verify: cmap-statestore's exactly-once claim under crashes.
//
// Each trial starts `cmap-statestore run` on a directory that earlier trials crashed in (and
// now and then a fresh one), lets it run for a random while, SIGKILLs it, and runs `verify`,
// which must find every user's state equal to the fold of exactly the events before its
// partition's recorded offset. The while is counted from the start for two fifths of the
// trials (up to 5 ms: start-up, opening, recovery; or 5 to 100 ms: wherever that lands) and
// from the end of recovery for the rest (up to 100 ms: commits and checkpoints), so that a
// slow build or a loaded machine, whose recovery outlasts a fixed wait, still kills runs
// that have committed. With --checkpoint-every and --checkpoint-bytes small, kills land
// during checkpoints. Two more checks per trial:
//   - no acknowledged commit is lost: the child prints "committed P OFFSET" only after
//     write() returned, and the recovered offset of P is at least the last one printed;
//   - offsets never go backwards from one trial to the next on the same directory.
// Every 20th trial runs to completion instead and must exit 0 at the offsets it was asked for.
//
// CMAP_STATESTORE_KILL_TRIALS sets the number of trials (default 200; 50 in sanitizer builds,
// where the tool runs 5-10x slower; `make kill-soak` runs 2000). CMAP_STATESTORE_KILL_SEED
// repeats a run's random choices.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "child_process.hpp"
#include "statestore.hpp"

namespace {

namespace fs = std::filesystem;
namespace ss = cmap_statestore;
using statestore_test::child_process;
using statestore_test::run_tool;

#ifdef CMAP_STATESTORE_SANITIZED
constexpr std::uint64_t default_trials = 50;
#else
constexpr std::uint64_t default_trials = 200;
#endif

constexpr std::uint64_t partitions = 4;

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  const auto n = ss::parse_u64(v);
  if (!n) throw std::invalid_argument(std::string(name) + " is not a number: " + v);
  return *n;
}

// "committed P OFFSET" -> (P, OFFSET)
bool parse_committed(std::string_view line, std::uint64_t& p, std::uint64_t& offset) {
  constexpr std::string_view prefix = "committed ";
  if (!line.starts_with(prefix)) return false;
  line.remove_prefix(prefix.size());
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return false;
  const auto a = ss::parse_u64(line.substr(0, space));
  const auto b = ss::parse_u64(line.substr(space + 1));
  if (!a || !b) return false;
  p = *a;
  offset = *b;
  return true;
}

// verify's "partition P: offset O" lines; empty if verify did not print all of them.
std::vector<std::uint64_t> verified_offsets(const std::string& output) {
  std::vector<std::uint64_t> offsets(partitions, UINT64_MAX);
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    constexpr std::string_view prefix = "partition ";
    std::string_view l = line;
    if (!l.starts_with(prefix)) continue;
    l.remove_prefix(prefix.size());
    const auto colon = l.find(": offset ");
    if (colon == std::string_view::npos) continue;
    const auto p = ss::parse_u64(l.substr(0, colon));
    const auto o = ss::parse_u64(l.substr(colon + 9));
    if (p && o && *p < partitions) offsets[*p] = *o;
  }
  if (std::find(offsets.begin(), offsets.end(), UINT64_MAX) != offsets.end()) return {};
  return offsets;
}

TEST(statestore_kill, state_after_sigkill_is_the_fold_up_to_the_recorded_offset) {
  const std::uint64_t trials = env_number("CMAP_STATESTORE_KILL_TRIALS", default_trials);
  const std::uint64_t seed = env_number("CMAP_STATESTORE_KILL_SEED", std::random_device{}());
  std::mt19937_64 rng(seed);
  std::cout << "statestore kill test: " << trials << " trials, CMAP_STATESTORE_KILL_SEED="
            << seed << '\n';

  const fs::path dir =
      fs::temp_directory_path() / ("cmap-statestore-kill-" + std::to_string(::getpid()));
  fs::remove_all(dir);

  std::vector<std::uint64_t> floor(partitions, 0);  // offsets the store must not fall below
  std::uint64_t kills = 0, kills_before_recovered = 0, kills_in_checkpoint = 0;
  std::uint64_t kills_after_commits = 0, completed = 0, fresh = 0, acknowledged = 0;
  const auto started = std::chrono::steady_clock::now();

  for (std::uint64_t trial = 0; trial < trials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial) + " (CMAP_STATESTORE_KILL_SEED=" +
                 std::to_string(seed) + ")");
    if (trial % 50 == 49) {
      fs::remove_all(dir);
      std::fill(floor.begin(), floor.end(), 0);
      ++fresh;
    }
    const bool to_completion = trial % 20 == 19;
    const std::uint64_t target =
        to_completion ? *std::max_element(floor.begin(), floor.end()) + 2000 : 1'000'000'000;
    child_process run({"run", dir.string(), "--events", std::to_string(target), "--users",
                       "2000", "--partitions", std::to_string(partitions), "--batch", "50",
                       "--sync", "group", "--checkpoint-every", "4000", "--checkpoint-bytes",
                       "65536", "--seed", "11", "--print-commits"});

    std::vector<std::uint64_t> acked(partitions, 0);
    bool recovered = false, in_checkpoint = false, saw_commit = false;
    std::string bad_line;
    const auto on_line = [&](std::string_view line) {
      std::uint64_t p = 0, offset = 0;
      if (parse_committed(line, p, offset)) {
        if (p >= partitions || offset < acked[p]) bad_line = std::string(line);
        if (p < partitions) acked[p] = std::max(acked[p], offset);
        saw_commit = true;
        ++acknowledged;
      } else if (line.starts_with("recovered in ")) {
        recovered = true;
      } else if (line == "checkpoint begin") {
        in_checkpoint = true;
      } else if (line.starts_with("checkpoint end")) {
        in_checkpoint = false;
      }
    };

    int status = 0;
    if (to_completion) {
      status = run.wait(on_line);
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << run.output();
      ++completed;
    } else {
      // A fifth of the kills within 5 ms of the start, a fifth 5 to 100 ms after it, and the
      // rest up to 100 ms after the run reports that recovery ended.
      const int kind = std::uniform_int_distribution<int>(0, 4)(rng);
      const auto wait_us = kind == 0 ? std::uniform_int_distribution<int>(0, 5000)(rng)
                           : kind == 1 ? std::uniform_int_distribution<int>(5000, 100000)(rng)
                                       : std::uniform_int_distribution<int>(0, 100000)(rng);
      bool alive = true;
      if (kind >= 2) {
        // Recovery replays what earlier trials left, several times slower under sanitizers;
        // a minute is far beyond any of it.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
        while (alive && !recovered && std::chrono::steady_clock::now() < give_up)
          alive = run.read_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(2),
                                 on_line);
        ASSERT_TRUE(recovered || !alive) << "no end of recovery reported within a minute:\n"
                                         << run.output();
      }
      if (alive)
        alive = run.read_until(
            std::chrono::steady_clock::now() + std::chrono::microseconds(wait_us), on_line);
      ASSERT_TRUE(alive) << "the run ended before it was killed:\n" << run.output();
      run.kill();
      status = run.wait(on_line);
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "the run should have died of SIGKILL:\n"
          << run.output();
      ++kills;
      kills_before_recovered += recovered ? 0 : 1;
      kills_in_checkpoint += in_checkpoint ? 1 : 0;
      kills_after_commits += saw_commit ? 1 : 0;
    }
    ASSERT_TRUE(bad_line.empty()) << "a commit line out of order: " << bad_line;

    const bool existed = fs::exists(dir);
    const auto v = run_tool({"verify", dir.string()});
    if (!existed || (v.exit_code == 1 && v.output.find("is empty") != std::string::npos)) {
      // Killed on a fresh directory before it was created, or before the config was
      // written: nothing to verify, and nothing can have been committed.
      ASSERT_EQ(v.exit_code, 1) << v.output;
      ASSERT_EQ(floor, std::vector<std::uint64_t>(partitions, 0)) << v.output;
      ASSERT_EQ(acked, std::vector<std::uint64_t>(partitions, 0)) << run.output();
      continue;
    }
    ASSERT_EQ(v.exit_code, 0) << "verify after the run:\n"
                              << v.output << "\nthe run's output:\n"
                              << run.output();
    const auto offsets = verified_offsets(v.output);
    ASSERT_EQ(offsets.size(), partitions) << v.output;
    for (std::uint64_t p = 0; p < partitions; ++p) {
      ASSERT_GE(offsets[p], acked[p])
          << "partition " << p << " lost an acknowledged commit\n"
          << v.output << "\nthe run's output:\n"
          << run.output();
      ASSERT_GE(offsets[p], floor[p]) << "partition " << p << "'s offset went backwards\n"
                                      << v.output;
      if (to_completion) {
        ASSERT_EQ(offsets[p], target) << v.output;
      }
      floor[p] = offsets[p];
    }
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "statestore kill test: " << trials << " trials in " << seconds << " s: " << kills
            << " kills (" << kills_before_recovered << " before recovery ended, "
            << kills_in_checkpoint << " during a checkpoint, " << kills_after_commits
            << " after commits), " << completed << " runs to completion, " << fresh
            << " fresh directories, " << acknowledged << " acknowledged commits checked\n";
  // A test whose kills all landed before the first commit would check nothing. (How many
  // land where depends on the machine's load: a loaded machine starts the child slowly.)
  if (kills >= 10) {
    EXPECT_GT(kills_after_commits, 0u);
  }
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
