// watch-demo: a program for cmap-watch to attach to (its tests, and the sample sessions in
// docs/observability.md). It prints its PID, the address and kind of each map, and each
// worker thread's kernel tid, then works until --seconds pass or SIGINT/SIGTERM arrives.
//
//   --race  misuse: threads share one cmap::checked_map without a lock, with the map's own
//           check switched off (a call() policy that only counts reports). The race is made
//           so that it cannot crash: writers assign through operator[] and insert_or_assign
//           to keys that already exist (no node is allocated and the table never rehashes),
//           and a reader finds. cmap-watch --races should name the map, the threads and
//           their operations.
//   --load  correct use under load: worker threads doing finds, inserts and erases on a
//           concurrent_hash_map (growing from its smallest table), a locked_map, a
//           sharded_map, an art_map, a snapshot_map and a serial_map.
//
// Usage: watch-demo (--race | --load) [--seconds S] [--threads N]
// Exit status 0, 2 for a usage error.

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmap/art_map.hpp>
#include <cmap/checked_map.hpp>
#include <cmap/concurrent_hash_map.hpp>
#include <cmap/locked_map.hpp>
#include <cmap/serial_map.hpp>
#include <cmap/sharded_map.hpp>
#include <cmap/snapshot_map.hpp>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using u64 = std::uint64_t;

std::atomic<bool> stopping{false};
extern "C" void on_signal(int) { stopping.store(true, std::memory_order_relaxed); }

std::mutex print_mutex;

void say(const std::string& line) {
  std::lock_guard lock(print_mutex);
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

void announce_map(const void* address, std::string_view kind) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "map %p %.*s", address, static_cast<int>(kind.size()), kind.data());
  say(buf);
}

void announce_thread(std::string_view role) {
  say("thread " + std::to_string(::syscall(SYS_gettid)) + " " + std::string(role));
}

// A small xorshift generator per thread: the demo's keys need no quality, only speed.
struct rng {
  u64 s;
  u64 operator()() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

bool running() { return !stopping.load(std::memory_order_relaxed); }

// ---- --race -------------------------------------------------------------------------------

constexpr u64 race_keys = 1024;

void race(unsigned threads) {
  std::atomic<u64> reports{0};
  cmap::checked_map<u64, u64> m(cmap::violation_policy::call(
      [&](const cmap::access_violation&) { reports.fetch_add(1, std::memory_order_relaxed); }));
  // Every key the writers touch exists before they start, and the table has room for all:
  // operator[] and insert_or_assign then only assign, and nothing rehashes.
  m.reserve(race_keys * 2);
  for (u64 k = 0; k < race_keys; ++k) m[k] = k;
  announce_map(&m, "checked_map");

  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      rng r{t * 0x9e3779b97f4a7c15ULL + 1};
      switch (t % 3) {
        case 0:
          announce_thread("operator[]");
          while (running()) m[r() % race_keys] = r();
          break;
        case 1:
          announce_thread("find");
          while (running()) {
            auto it = m.find(r() % race_keys);
            if (it == m.end()) std::abort();  // every key exists
          }
          break;
        default:
          announce_thread("insert_or_assign");
          while (running()) m.insert_or_assign(r() % race_keys, r());
          break;
      }
    });
  }
  for (auto& th : pool) th.join();
  say("checked_map reports (counted, not acted on): " + std::to_string(reports.load()));
}

// ---- --load -------------------------------------------------------------------------------

// One round of work on a map with the common surface: mostly finds, some writes and erases.
template <class Map>
void work(Map& m, rng& r, u64 keys) {
  const u64 k = r() % keys;
  switch (r() % 8) {
    case 0:
    case 1:
      m.insert_or_assign(k, k);
      break;
    case 2:
      m.erase(k);
      break;
    default:
      [[maybe_unused]] bool found = m.contains(k);
      break;
  }
}

void load(unsigned threads) {
  cmap::concurrent_hash_map<u64, u64> chm;
  cmap::locked_map<u64, u64> locked;
  cmap::sharded_map<u64, u64> sharded;
  cmap::art_map<u64, u64> art;
  cmap::snapshot_map<u64, u64> snapshot;
  cmap::serial_map<u64, u64> serial;
  announce_map(&chm, "concurrent_hash_map");
  announce_map(&locked, "locked_map");
  announce_map(&sharded, "sharded_map");
  announce_map(&art, "art_map");
  announce_map(&snapshot, "snapshot_map");
  announce_map(&serial, "serial_map");

  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      announce_thread("load");
      rng r{t * 0x9e3779b97f4a7c15ULL + 1};
      // The concurrent_hash_map's key range widens over the first rounds, so its table grows
      // while a tracer may be watching.
      u64 chm_keys = 1024;
      for (u64 round = 0; running(); ++round) {
        if (chm_keys < (u64{1} << 20) && round % 64 == 0) chm_keys += 256;
        work(chm, r, chm_keys);
        work(locked, r, 4096);
        work(sharded, r, 4096);
        work(art, r, 4096);
        // A snapshot_map write copies a path of the trie, and a synchronous serial_map write
        // waits for the owner thread: these two get a share of the rounds.
        if (round % 4 == 0) work(snapshot, r, 4096);
        if (round % 16 == 0) work(serial, r, 4096);
      }
    });
  }
  for (auto& th : pool) th.join();
}

int usage(const char* message) {
  std::fprintf(stderr, "watch-demo: %s\nusage: watch-demo (--race | --load) [--seconds S] [--threads N]\n",
               message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode;
  double seconds = 0;
  unsigned threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--race" || a == "--load") {
      mode = a.substr(2);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::strtod(argv[++i], nullptr);
      if (!(seconds > 0)) return usage("--seconds needs a positive number");
    } else if (a == "--threads" && i + 1 < argc) {
      threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
      if (threads == 0 || threads > 64) return usage("--threads needs 1 to 64");
    } else {
      return usage(("unknown argument " + std::string(a)).c_str());
    }
  }
  if (mode.empty()) return usage("say --race or --load");
  if (threads == 0) threads = mode == "race" ? 3 : 2;

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  say("watch-demo: pid " + std::to_string(::getpid()) + " mode " + mode);

  // The timer: a thread that sets the flag when --seconds pass (or leaves with the workers).
  std::thread timer([seconds] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (running()) {
      if (seconds > 0 && std::chrono::steady_clock::now() >= deadline) stopping.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  if (mode == "race") {
    race(threads);
  } else {
    load(threads);
  }
  stopping.store(true);
  timer.join();
  say("watch-demo: done");
  return 0;
}
