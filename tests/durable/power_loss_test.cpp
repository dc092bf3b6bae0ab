// Power loss under load. Several threads write to a durable_map through fault_file_system
// while checkpoints run; at a random moment the power goes out (every file operation fails
// from then on, and the disk keeps only what was synced); the store is then reopened from the
// real disk and checked against what the writers were told:
//   sync::group and sync::every_write: every write that returned is found (or the one write
//     its thread had in flight when the power went, which may or may not have arrived), no
//     key holds a value that was never written, and a batch is found whole or not at all.
//     Each key has one writer thread, and each thread's writes reach the log in the order it
//     made them, so the recovered state of a thread's keys must be the state after some
//     prefix of its writes at least as long as the ones that returned.
//   sync::none: nothing is promised across a power loss but that the store opens (the loss
//     drops a suffix of unsynced bytes, which tolerate_torn_tail accepts) and holds only
//     values that were written; without checkpoints the state is still a prefix of each
//     thread's writes.
//
// The seed is printed on failure; CMAP_TEST_SEED replays one. CMAP_POWER_LOSS_TRIALS sets the
// number of trials of each test (a soak sets it high).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <cmap/durable_map.hpp>

#include "durable/fault_file_system.hpp"
#include "durable/temp_directory.hpp"

namespace {

using cmap_test::fault_file_system;
using cmap_test::unsynced_bytes;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int default_trials = 12;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr int default_trials = 12;
#else
constexpr int default_trials = 60;
#endif
#else
constexpr int default_trials = 60;
#endif

int trials() {
  if (const char* s = std::getenv("CMAP_POWER_LOSS_TRIALS"); s != nullptr && *s != '\0') {
    return std::max(1, std::atoi(s));
  }
  return default_trials;
}

constexpr int writer_threads = 3;
constexpr std::size_t keys_per_thread = 48;

// Keys and values that name their writer: a key belongs to one thread, and a value names the
// thread and the position of the write in its sequence, so no two writes write equal values.
template <class K, class V>
struct naming;
template <>
struct naming<std::uint64_t, std::uint64_t> {
  static std::uint64_t key(int t, std::size_t i) { return std::uint64_t(t) << 32 | i; }
  static std::uint64_t value(int t, std::uint64_t seq) { return std::uint64_t(t + 1) << 40 | seq; }
};
template <>
struct naming<std::string, std::string> {
  static std::string key(int t, std::size_t i) {
    return "t" + std::to_string(t) + "/key" + std::to_string(i);
  }
  // Of varied length, so that records straddle pages and segment ends at varied places.
  static std::string value(int t, std::uint64_t seq) {
    return "t" + std::to_string(t) + "#" + std::to_string(seq) +
           std::string(static_cast<std::size_t>(seq * 7 % 61), 'v');
  }
};

template <class V>
struct write_op {
  std::vector<std::size_t> keys;  // indices into the thread's keys
  std::optional<V> value;  // empty: erase
};

// One writer thread's record of what it asked for and what returned.
template <class V>
struct writer_log {
  std::vector<write_op<V>> ops;  // every write it began, in order
  std::size_t returned = 0;  // ops[0, returned) returned; a later one was in flight
  std::string problem;  // the first thing the live map got wrong, if any
};

struct trial_setup {
  cmap::sync mode;
  unsynced_bytes on_power_loss;
  bool checkpoints;
};

const char* name_of(cmap::sync s) {
  switch (s) {
    case cmap::sync::none: return "none";
    case cmap::sync::group: return "group";
    case cmap::sync::every_write: return "every_write";
  }
  return "?";
}
const char* name_of(unsynced_bytes u) {
  switch (u) {
    case unsynced_bytes::drop: return "drop";
    case unsynced_bytes::keep_prefix: return "keep_prefix";
    case unsynced_bytes::zero_tail: return "zero_tail";
    case unsynced_bytes::any: return "any";
  }
  return "?";
}

// What one trial saw, summed over the trials to show what they covered.
struct trial_result {
  bool prefix = false;  // each thread's keys held the state after a prefix of its writes
  std::uint64_t acknowledged = 0;  // writes that returned before the power went
  bool from_checkpoint = false;  // recovery loaded a checkpoint
  std::uint64_t segments_replayed = 0;
  bool torn = false;  // recovery dropped a torn tail
};

template <class K, class V>
class power_loss_trial {
  using map_type = cmap::durable_map<K, V>;
  using names = naming<K, V>;

 public:
  power_loss_trial(std::uint64_t seed, trial_setup setup) : seed_(seed), setup_(setup) {}

  // Runs the trial, asserting what the mode promises.
  trial_result run() {
    trial_result result;
    cmap_test::temp_directory dir("power-loss");
    auto fs = std::make_shared<fault_file_system>(
        cmap_test::fault_options{setup_.on_power_loss, seed_ * 31 + 7, false});
    cmap::durable_options options;
    options.fs = fs;
    options.default_sync = setup_.mode;
    // Small segments and checkpoint thresholds: segments rotate and checkpoints start in the
    // background every few dozen writes, so the power goes out in the middle of both.
    options.segment_bytes = 4096;
    options.checkpoint_log_bytes = setup_.checkpoints ? 8192 : 0;

    std::mt19937_64 rng(seed_);
    // When the power goes: after this many writes returned, in total.
    const std::uint64_t cut_after = std::uniform_int_distribution<std::uint64_t>(0, 1500)(rng);

    auto m = std::make_unique<map_type>(dir.path(), options);
    std::vector<writer_log<V>> logs(writer_threads);
    std::atomic<std::uint64_t> returned{0};
    std::atomic<bool> stop{false};
    std::mutex problem_m;
    std::string problem;
    const auto note = [&](const std::string& what) {
      std::lock_guard l(problem_m);
      if (problem.empty()) problem = what;
    };

    std::vector<std::thread> threads;
    for (int t = 0; t < writer_threads; ++t) {
      threads.emplace_back([&, t] {
        write_loop(*m, *fs, t, seed_ ^ (0x9e3779b97f4a7c15ull * (t + 1)), logs[t], returned,
                   stop);
      });
    }
    if (setup_.checkpoints) {
      threads.emplace_back([&] {
        std::mt19937_64 r(seed_ + 99);
        while (!stop.load()) {
          std::this_thread::sleep_for(std::chrono::microseconds(
              std::uniform_int_distribution<int>(0, 800)(r)));
          try {
            (void)m->checkpoint();
          } catch (const cmap::durable_error& e) {
            if (!fs->dead()) note(std::string("a checkpoint failed before the power loss: ") + e.what());
            break;
          }
        }
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (returned.load() < cut_after && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    fs->power_loss();
    stop.store(true);
    for (auto& th : threads) th.join();
    EXPECT_EQ(problem, "") << describe();
    for (int t = 0; t < writer_threads; ++t) {
      EXPECT_EQ(logs[t].problem, "") << "thread " << t << ", " << describe();
    }
    // The destructor swallows the errors of the dead disk.
    m.reset();

    // Reopen from what the disk kept, with the real file system.
    cmap::durable_options plain;
    plain.checkpoint_log_bytes = 0;
    std::unique_ptr<map_type> r;
    try {
      r = std::make_unique<map_type>(dir.path(), plain);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the store does not open after a power loss: " << e.what() << "; "
                    << describe();
      return result;
    }
    std::map<K, V> recovered;
    r->for_each([&](const K& k, const V& v) { recovered.emplace(k, v); });
    result.prefix = check(logs, recovered);
    for (const auto& log : logs) result.acknowledged += log.returned;
    result.from_checkpoint = r->recovery().checkpoint_number != 0;
    result.segments_replayed = r->recovery().segments_replayed;
    result.torn = r->recovery().torn_bytes_dropped != 0;
    // The recovered store takes writes again.
    EXPECT_TRUE(r->insert_or_assign(names::key(writer_threads, 0), names::value(writer_threads, 0)))
        << describe();
    return result;
  }

  std::string describe() const {
    std::ostringstream s;
    s << "seed " << seed_ << " (CMAP_TEST_SEED=" << seed_ << "), sync::" << name_of(setup_.mode)
      << ", unsynced bytes: " << name_of(setup_.on_power_loss)
      << (setup_.checkpoints ? ", with checkpoints" : ", without checkpoints");
    return s.str();
  }

 private:
  static void write_loop(map_type& m, fault_file_system& fs, int t, std::uint64_t seed,
                         writer_log<V>& log, std::atomic<std::uint64_t>& returned,
                         std::atomic<bool>& stop) {
    std::mt19937_64 rng(seed);
    // What this thread's keys hold in the live map, as it wrote them.
    std::vector<std::optional<V>> model(keys_per_thread);
    std::uint64_t seq = 0;
    const auto fail = [&](const std::string& what) {
      if (log.problem.empty()) log.problem = what;
    };
    while (!stop.load(std::memory_order_relaxed)) {
      const int kind = std::uniform_int_distribution<int>(0, 99)(rng);
      const std::size_t i = std::uniform_int_distribution<std::size_t>(0, keys_per_thread - 1)(rng);
      const K key = names::key(t, i);
      const V value = names::value(t, ++seq);
      write_op<V> op;
      try {
        if (kind < 35) {
          op = {{i}, value};
          log.ops.push_back(op);
          const bool inserted = m.insert_or_assign(key, value);
          if (inserted != !model[i].has_value()) fail("insert_or_assign's result disagrees");
        } else if (kind < 50) {
          op = {{i}, std::nullopt};
          if (!model[i]) continue;  // an erase of an absent key logs nothing
          log.ops.push_back(op);
          if (!m.erase(key)) fail("erase did not find a key the thread wrote");
        } else if (kind < 75) {
          // The new value ignores the old one, so that each write's value is unique; the old
          // one is checked against what this thread last wrote.
          op = {{i}, value};
          log.ops.push_back(op);
          const std::optional<V> expected = model[i];
          bool saw_right_value = true;
          const bool inserted = m.upsert(
              key,
              [&](V& v) {
                saw_right_value = expected && v == *expected;
                v = value;
              },
              value);
          if (inserted != !expected.has_value() || !saw_right_value) {
            fail("upsert saw a value the thread did not write last");
          }
        } else {
          // A batch of 2 to 5 distinct keys, all given this write's value.
          typename map_type::batch b;
          op.value = value;
          std::vector<bool> taken(keys_per_thread, false);
          const std::size_t n = std::uniform_int_distribution<std::size_t>(2, 5)(rng);
          for (std::size_t j = 0; j < n; ++j) {
            std::size_t k = std::uniform_int_distribution<std::size_t>(0, keys_per_thread - 1)(rng);
            while (taken[k]) k = (k + 1) % keys_per_thread;
            taken[k] = true;
            op.keys.push_back(k);
            b.insert_or_assign(names::key(t, k), value);
          }
          log.ops.push_back(op);
          m.write(b);
        }
      } catch (const cmap::durable_error& e) {
        // Only the power loss may fail a write; the one in flight stays unacknowledged.
        if (!fs.dead()) fail(std::string("a write failed before the power loss: ") + e.what());
        return;
      }
      for (const std::size_t k : op.keys) {
        model[k] = op.value;
        // A write that returned is visible in the live map at once.
        if (m.find(names::key(t, k)) != op.value) fail("the live map lacks a write that returned");
      }
      log.returned = log.ops.size();
      returned.fetch_add(1);
    }
  }

  // Checks recovered against the writers' logs; returns whether each thread's keys hold the
  // state after some prefix of its writes (asserted for group and every_write).
  bool check(const std::vector<writer_log<V>>& logs, const std::map<K, V>& recovered) {
    const bool promised = setup_.mode != cmap::sync::none;
    bool all_prefix = true;
    std::size_t matched = 0;
    for (int t = 0; t < writer_threads; ++t) {
      const writer_log<V>& log = logs[t];
      std::vector<std::optional<V>> got(keys_per_thread);
      for (std::size_t i = 0; i < keys_per_thread; ++i) {
        if (auto it = recovered.find(names::key(t, i)); it != recovered.end()) {
          got[i] = it->second;
          ++matched;
        }
      }
      // Every recovered value was written to its key by some write of the thread.
      for (std::size_t i = 0; i < keys_per_thread; ++i) {
        if (!got[i]) continue;
        bool written = false;
        for (const auto& op : log.ops) {
          if (op.value == got[i] && std::find(op.keys.begin(), op.keys.end(), i) != op.keys.end()) {
            written = true;
            break;
          }
        }
        EXPECT_TRUE(written) << "key " << i << " of thread " << t
                             << " holds a value that was never written to it; " << describe();
      }
      // The prefixes of the thread's writes whose state equals the recovered one, found by
      // applying the writes one at a time and counting the keys that differ.
      std::vector<std::optional<V>> state(keys_per_thread);
      std::size_t differ = 0;
      for (std::size_t i = 0; i < keys_per_thread; ++i) differ += got[i] != state[i];
      const std::size_t lowest = promised ? log.returned : 0;
      bool found = false;
      std::vector<std::optional<V>> state_at_lowest;
      for (std::size_t p = 0;; ++p) {
        if (p == lowest) state_at_lowest = state;
        if (p >= lowest && differ == 0) {
          found = true;
          break;
        }
        if (p == log.ops.size()) break;
        for (const std::size_t k : log.ops[p].keys) {
          differ -= got[k] != state[k];
          state[k] = log.ops[p].value;
          differ += got[k] != state[k];
        }
      }
      if (!found) {
        all_prefix = false;
        if (promised) {
          std::ostringstream what;
          for (std::size_t i = 0; i < keys_per_thread; ++i) {
            if (got[i] != state_at_lowest[i]) {
              what << "\n  key " << i << ": recovered "
                   << (got[i] ? "a value" : "nothing") << ", acknowledged state "
                   << (state_at_lowest[i] ? "a value" : "absent");
            }
          }
          ADD_FAILURE() << "thread " << t << ": the recovered state is not the state after "
                        << log.returned << " acknowledged writes (of " << log.ops.size()
                        << " begun), nor after the one in flight:" << what.str() << "\n"
                        << describe();
        }
      }
    }
    // No key that no thread wrote.
    EXPECT_EQ(recovered.size(), matched) << "the store holds keys that were never written; "
                                         << describe();
    return all_prefix;
  }

  const std::uint64_t seed_;
  const trial_setup setup_;
};

template <class K, class V>
void run_trials(trial_setup setup, bool prefix_promised) {
  const std::uint64_t base = cmap_test::test_seed();
  const int n = std::getenv("CMAP_TEST_SEED") != nullptr ? 1 : trials();
  int prefixes = 0;
  int from_checkpoint = 0;
  int torn = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t segments = 0;
  int ran = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    power_loss_trial<K, V> trial(base + static_cast<std::uint64_t>(i), setup);
    SCOPED_TRACE(trial.describe());
    const trial_result r = trial.run();
    ++ran;
    prefixes += r.prefix;
    from_checkpoint += r.from_checkpoint;
    torn += r.torn;
    acknowledged += r.acknowledged;
    segments += r.segments_replayed;
    if (::testing::Test::HasFailure()) break;  // one seed to replay is enough
  }
  if (prefix_promised) {
    EXPECT_EQ(prefixes, ran);
  }
  std::cout << "  " << ran << " trials (seeds " << base << " to " << base + ran - 1 << ") in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count()
            << " ms; " << acknowledged << " writes acknowledged; recovery loaded a checkpoint in "
            << from_checkpoint << ", replayed " << segments << " segments, dropped a torn tail in "
            << torn << "; a prefix of every thread's writes in " << prefixes << "\n";
}

TEST(power_loss, group_commit_u64) {
  run_trials<std::uint64_t, std::uint64_t>({cmap::sync::group, unsynced_bytes::any, true}, true);
}
TEST(power_loss, group_commit_string) {
  run_trials<std::string, std::string>({cmap::sync::group, unsynced_bytes::any, true}, true);
}
TEST(power_loss, every_write_u64) {
  run_trials<std::uint64_t, std::uint64_t>({cmap::sync::every_write, unsynced_bytes::any, true},
                                           true);
}
TEST(power_loss, every_write_string) {
  run_trials<std::string, std::string>({cmap::sync::every_write, unsynced_bytes::any, true}, true);
}
// sync::none without checkpoints: the loss takes a suffix of the log, so the state is a
// prefix of each thread's writes (perhaps shorter than the writes that returned).
TEST(power_loss, sync_none_without_checkpoints_recovers_a_prefix) {
  run_trials<std::string, std::string>({cmap::sync::none, unsynced_bytes::any, false}, true);
}
// sync::none with checkpoints: the store must still open, holding only written values.
TEST(power_loss, sync_none_with_checkpoints_opens) {
  run_trials<std::uint64_t, std::uint64_t>({cmap::sync::none, unsynced_bytes::any, true}, false);
}

}  // namespace
