// Concurrency stress over every map in all_map_families, each test run with 2 threads and
// with 8 (more than this project's 2-core test machine has, on purpose: threads are preempted
// while they hold locks), all released at once. Each test checks an invariant that only a
// correct map keeps: nothing lost, nothing duplicated, counts add up, each key removed by
// exactly one thread, a walk sees each stable entry exactly once, size() stays within the
// bounds the completed and started writes allow. Run under ThreadSanitizer, they also check
// that the maps' synchronisation covers every access.
//
// Failures seen on worker threads are collected (failure_log) and reported on the test's
// thread after the join, with the first few messages. A watchdog turns a deadlock into a
// failure with the test's name instead of a hang.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "map_types.hpp"
#include "stress/failure_log.hpp"
#include "stress/watchdog.hpp"

#include <cmap/detail/sanitizers.hpp>

namespace {

using cmap_test::all_map_families;
using cmap_test::family_names;
using cmap_test::watchdog;
using u64 = std::uint64_t;

// Work per test: the base counts below times work_scale. Unsanitised builds do 12 times the
// base; AddressSanitizer 6, ThreadSanitizer (an order of magnitude slower, on every access)
// 3, which still runs each test's interleavings at 2 and 8 threads while keeping the binary
// within a few minutes on a 2-core machine.
#if CMAP_DETAIL_TSAN
constexpr std::size_t work_scale = 3;
#elif CMAP_DETAIL_ASAN
constexpr std::size_t work_scale = 6;
#else
constexpr std::size_t work_scale = 12;
#endif

constexpr int thread_counts[] = {2, 8};

// ---- harness ---------------------------------------------------------------------------

// Runs body(thread_index) on n threads, released together by a latch, and joins them.
template <class F>
void run_threads(int n, F body) {
  std::latch start(n);
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(n));
  for (int t = 0; t < n; ++t) {
    pool.emplace_back([&start, &body, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (auto& th : pool) th.join();
}

// Writers of the size() tests start only once the sampler has taken its first sample, so
// that sampling overlaps the writes even when the scheduler starts the sampler last.
void wait_for_first_sample(const std::atomic<u64>& samples) {
  while (samples.load(std::memory_order_relaxed) == 0) std::this_thread::yield();
}

using cmap_test::failure_log;

#define EXPECT_NO_THREAD_FAILURES(log) \
  EXPECT_EQ((log).count(), 0u) << "failures on worker threads; the first ones:" << (log).summary()

template <class Family>
class Stress : public ::testing::Test {
 protected:
  template <class V>
  using map_of = typename Family::template map<u64, V>;
  using u64_map = map_of<u64>;
  // This family's share of the work (cmap_test::work_divisor).
  static constexpr std::size_t work =
      std::max<std::size_t>(1, work_scale / cmap_test::work_divisor<Family>);
};
TYPED_TEST_SUITE(Stress, all_map_families, family_names);

// ---- disjoint inserts ------------------------------------------------------------------

// Each thread inserts its own key range into an empty map (so the tables grow while other
// threads insert and read), through the four inserting calls; each must report an insert.
// Meanwhile each thread re-reads keys it inserted earlier. Afterwards every key is there
// with its value, and size() and for_each agree on the count.
TYPED_TEST(Stress, DisjointInsertsAreAllFoundWithTheirValues) {
  watchdog dog;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    const u64 per_thread = 40000 * TestFixture::work / static_cast<u64>(threads);
    const u64 total = per_thread * static_cast<u64>(threads);
    auto value_of = [](u64 k) { return k * 3 + 1; };
    typename TestFixture::u64_map m;
    failure_log log;
    run_threads(threads, [&](int t) {
      const u64 base = static_cast<u64>(t) * per_thread;
      for (u64 i = 0; i < per_thread; ++i) {
        const u64 k = base + i;
        bool inserted = false;
        switch (i % 4) {
          case 0:
            inserted = m.insert(k, value_of(k));
            break;
          case 1:
            inserted = m.emplace(k, value_of(k));
            break;
          case 2:
            inserted = m.insert_or_assign(k, value_of(k));
            break;
          default:
            inserted = m.find_or_insert(k, value_of(k)).second;
            break;
        }
        if (!inserted) log.add("key ", k, " (thread ", t, ") was not reported inserted");
        if (i % 8 == 7) {
          const u64 earlier = base + i / 2;
          const std::optional<u64> v = m.find(earlier);
          if (v != std::optional<u64>(value_of(earlier))) {
            log.add("thread ", t, " lost its own key ", earlier, " while inserting key ", k);
          }
        }
      }
    });
    EXPECT_NO_THREAD_FAILURES(log);
    EXPECT_EQ(m.size(), total);
    std::size_t missing = 0, wrong = 0;
    for (u64 k = 0; k < total; ++k) {
      const std::optional<u64> v = m.find(k);
      if (!v) {
        ++missing;
      } else if (*v != value_of(k)) {
        ++wrong;
      }
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(wrong, 0u);
    std::size_t walked = 0;
    m.for_each([&](const u64&, const u64&) { ++walked; });
    EXPECT_EQ(walked, total);
  }
}

// ---- upsert counters -------------------------------------------------------------------

// All threads increment 16 hot keys (upsert inserting 1 when absent, or a mutable visit
// when present); no increment may be lost: each key ends at the number of increments it got.
TYPED_TEST(Stress, UpsertCountersOnHotKeysLoseNoIncrement) {
  watchdog dog;
  constexpr std::size_t hot_keys = 16;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    const std::size_t per_thread = 60000 * TestFixture::work / static_cast<std::size_t>(threads);
    typename TestFixture::u64_map m;
    std::vector<std::vector<u64>> counts(static_cast<std::size_t>(threads),
                                         std::vector<u64>(hot_keys, 0));
    run_threads(threads, [&](int t) {
      std::mt19937_64 rng(static_cast<u64>(t) + 1);
      auto& mine = counts[static_cast<std::size_t>(t)];
      auto inc = [](u64& v) { ++v; };
      for (std::size_t i = 0; i < per_thread; ++i) {
        const std::size_t k = rng() % hot_keys;
        if (i % 4 == 3) {
          if (!m.visit(u64{k}, inc)) m.upsert(u64{k}, inc, u64{1});
        } else {
          m.upsert(u64{k}, inc, u64{1});
        }
        ++mine[k];
      }
    });
    u64 sum = 0;
    for (std::size_t k = 0; k < hot_keys; ++k) {
      u64 want = 0;
      for (const auto& c : counts) want += c[k];
      const std::optional<u64> got = m.find(u64{k});
      EXPECT_EQ(got.value_or(0), want) << "key " << k;
      sum += got.value_or(0);
    }
    EXPECT_EQ(sum, static_cast<u64>(per_thread) * static_cast<u64>(threads));
    EXPECT_EQ(m.size(), hot_keys);
  }
}

// ---- removal exactly once ----------------------------------------------------------------

// Every thread tries to remove every key of a pre-filled map, each in its own shuffled
// order; `remove(m, k, t, log)` says whether thread t's call removed key k (and logs a wrong
// value). Each key must be removed by exactly one thread, and the map must end empty.
template <class Map, class Remove>
void check_each_key_removed_once(int threads, u64 keys, Remove remove) {
  Map m;
  for (u64 k = 0; k < keys; ++k) ASSERT_TRUE(m.insert(k, k * 7 + 3));
  ASSERT_EQ(m.size(), keys);
  failure_log log;
  std::vector<std::vector<u64>> won(static_cast<std::size_t>(threads));
  run_threads(threads, [&](int t) {
    std::vector<u64> order(keys);
    for (u64 k = 0; k < keys; ++k) order[k] = k;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(static_cast<u64>(t) * 7919 + 1));
    auto& mine = won[static_cast<std::size_t>(t)];
    for (const u64 k : order) {
      if (remove(m, k, t, log)) mine.push_back(k);
    }
  });
  EXPECT_NO_THREAD_FAILURES(log);
  std::vector<int> winners(keys, 0);
  for (const auto& w : won) {
    for (const u64 k : w) ++winners[k];
  }
  std::size_t none = 0, several = 0;
  u64 first_bad = keys;
  for (u64 k = 0; k < keys; ++k) {
    if (winners[k] == 1) continue;
    if (first_bad == keys) first_bad = k;
    (winners[k] == 0 ? none : several) += 1;
  }
  EXPECT_EQ(none, 0u) << "keys no thread removed (first bad key " << first_bad << ")";
  EXPECT_EQ(several, 0u) << "keys removed by more than one thread (first bad key " << first_bad
                         << ")";
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
  std::size_t walked = 0;
  m.for_each([&](const u64&, const u64&) { ++walked; });
  EXPECT_EQ(walked, 0u);
}

TYPED_TEST(Stress, ExtractRemovesEachKeyForExactlyOneThread) {
  watchdog dog;
  const u64 keys = 20000 * TestFixture::work;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    check_each_key_removed_once<typename TestFixture::u64_map>(
        threads, keys, [](auto& m, u64 k, int t, failure_log& log) {
          const std::optional<u64> v = m.extract(k);
          if (v && *v != k * 7 + 3) log.add("thread ", t, " extracted key ", k, " with value ", *v);
          return v.has_value();
        });
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// The same with erase and compare_erase (half the threads each); compare_erase expects the
// right value, so only absence may make it fail.
TYPED_TEST(Stress, EraseAndCompareEraseRemoveEachKeyForExactlyOneThread) {
  watchdog dog;
  const u64 keys = 20000 * TestFixture::work;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    check_each_key_removed_once<typename TestFixture::u64_map>(
        threads, keys, [](auto& m, u64 k, int t, failure_log&) {
          return t % 2 == 0 ? m.erase(k) : m.compare_erase(k, k * 7 + 3);
        });
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// ---- for_each during writes --------------------------------------------------------------

// Values carry their key ("key=<k>;v=<version>;" and padding past the small-string buffer),
// so a reader can tell a torn or misplaced value from a current one.
std::string tagged_value(u64 key, u64 version) {
  std::string s = "key=" + std::to_string(key) + ";v=" + std::to_string(version) + ";";
  s.resize(s.size() + 24, '#');
  return s;
}
bool value_belongs_to(const std::string& v, u64 key) {
  const std::string prefix = "key=" + std::to_string(key) + ";v=";
  return v.compare(0, prefix.size(), prefix) == 0 && v.size() >= prefix.size() + 24;
}

// Stable keys are inserted first and never erased; writers keep inserting and erasing other
// (volatile) keys, growing and shrinking the tables, and overwrite stable keys' values with
// insert_or_assign. Readers walk the map with for_each over and over: every walk must see
// each stable key exactly once, no key twice, and only values that belong to their key.
// A reader starts its next walk only once the writers have made some progress since its
// last, so that walks cannot starve slow writers (serial_map's owner thread) of the CPU.
TYPED_TEST(Stress, ForEachDuringWritesSeesEveryStableKeyExactlyOnce) {
  watchdog dog;
  constexpr u64 stable = 2000;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    const int writers = std::max(1, threads / 2);
    const int readers = threads - writers;
    const u64 volatile_per_writer = 3000;
    const u64 all_keys = stable + volatile_per_writer * static_cast<u64>(writers);
    const std::size_t writer_ops = 30000 * TestFixture::work / static_cast<std::size_t>(writers);
    constexpr int min_walks = 3;

    typename TestFixture::template map_of<std::string> m;
    for (u64 k = 0; k < stable; ++k) ASSERT_TRUE(m.insert(k, tagged_value(k, 0)));
    failure_log log;
    std::atomic<int> writers_done{0};
    std::atomic<u64> walks{0};
    // Blocks of progress_block writes begun, all writers together. Relaxed throughout: it
    // only paces the readers, and nothing is read through it.
    constexpr std::size_t progress_block = 256;
    std::atomic<u64> progress{0};
    run_threads(threads, [&](int t) {
      if (t < writers) {
        // Writer: owns volatile keys [base, base + volatile_per_writer): inserts them all,
        // then erases them all, and so on; every other step overwrites a stable key.
        const u64 base = stable + static_cast<u64>(t) * volatile_per_writer;
        std::mt19937_64 rng(static_cast<u64>(t) + 100);
        for (std::size_t i = 0; i < writer_ops; ++i) {
          if (i % progress_block == 0) progress.fetch_add(1, std::memory_order_relaxed);
          if (i % 2 == 0) {
            const u64 k = rng() % stable;
            if (m.insert_or_assign(k, tagged_value(k, i + 1)))
              log.add("stable key ", k, " was missing");
          } else {
            const u64 step = i / 2;
            const u64 k = base + step % volatile_per_writer;
            const bool inserting = (step / volatile_per_writer) % 2 == 0;
            const bool done = inserting ? m.insert(k, tagged_value(k, step)) : m.erase(k);
            if (!done)
              log.add("volatile key ", k, (inserting ? " already present" : " already gone"));
          }
        }
        writers_done.fetch_add(1, std::memory_order_release);
        return;
      }
      // Reader: its own stamp per key and walk, so that a repeat within a walk shows.
      std::vector<u64> seen_in(all_keys, 0);
      u64 progress_seen = ~u64{0};
      for (u64 walk = 1;; ++walk) {
        while (walk > min_walks && progress.load(std::memory_order_relaxed) == progress_seen &&
               writers_done.load(std::memory_order_relaxed) != writers)
          std::this_thread::yield();
        progress_seen = progress.load(std::memory_order_relaxed);
        const bool last = writers_done.load(std::memory_order_acquire) == writers;
        u64 stable_seen = 0;
        m.for_each([&](const u64& k, const std::string& v) {
          if (k >= all_keys) {
            log.add("walk saw unknown key ", k);
            return;
          }
          if (seen_in[k] == walk) log.add("walk ", walk, " saw key ", k, " twice");
          seen_in[k] = walk;
          if (k < stable) ++stable_seen;
          if (!value_belongs_to(v, k)) log.add("walk saw key ", k, " with value \"", v, "\"");
        });
        if (stable_seen != stable)
          log.add("walk ", walk, " saw ", stable_seen, " of ", stable, " stable keys");
        walks.fetch_add(1, std::memory_order_relaxed);
        if (last && walk >= min_walks) break;
      }
    });
    EXPECT_NO_THREAD_FAILURES(log);
    EXPECT_GE(walks.load(), static_cast<u64>(readers) * min_walks);
    // Each writer ended on a whole number of its insert/erase rounds, or part-way: the
    // volatile keys present are exactly those its last round left.
    std::size_t want = stable;
    for (int w = 0; w < writers; ++w) {
      const u64 steps = writer_ops / 2;
      const u64 round = steps / volatile_per_writer;
      const u64 into = steps % volatile_per_writer;
      want += round % 2 == 0 ? into : volatile_per_writer - into;
    }
    EXPECT_EQ(m.size(), want);
  }
}

// ---- compare_exchange increments -----------------------------------------------------------

// Threads increment a few keys by read-then-compare_exchange(k, v, v + 1) retry loops. An
// increment counts only when compare_exchange succeeds, so each key's final value must be
// its number of successes; and one thread's reads of a key never go backwards.
TYPED_TEST(Stress, CompareExchangeIncrementsNeverLoseAnUpdate) {
  watchdog dog;
  constexpr std::size_t keys = 4;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    const std::size_t per_thread = 20000 * TestFixture::work / static_cast<std::size_t>(threads);
    typename TestFixture::u64_map m;
    for (u64 k = 0; k < keys; ++k) ASSERT_TRUE(m.insert(k, 0));
    failure_log log;
    std::vector<std::vector<u64>> successes(static_cast<std::size_t>(threads),
                                            std::vector<u64>(keys, 0));
    std::atomic<u64> retries{0};
    run_threads(threads, [&](int t) {
      auto& mine = successes[static_cast<std::size_t>(t)];
      std::vector<u64> last_seen(keys, 0);
      u64 my_retries = 0;
      for (std::size_t i = 0; i < per_thread; ++i) {
        const u64 k = (i + static_cast<std::size_t>(t)) % keys;
        for (;;) {
          u64 cur = 0;
          // Read through find or a const visit, alternately.
          bool found = false;
          if (i % 2 == 0) {
            const std::optional<u64> v = m.find(k);
            found = v.has_value();
            cur = v.value_or(0);
          } else {
            found = std::as_const(m).visit(k, [&](const u64& v) { cur = v; });
          }
          if (!found) {
            log.add("key ", k, " vanished");
            return;
          }
          if (cur < last_seen[k])
            log.add("thread ", t, " read key ", k, " as ", cur, " after ", last_seen[k]);
          last_seen[k] = cur;
          if (m.compare_exchange(k, cur, cur + 1)) {
            ++mine[k];
            last_seen[k] = cur + 1;
            break;
          }
          ++my_retries;
        }
      }
      retries.fetch_add(my_retries, std::memory_order_relaxed);
    });
    EXPECT_NO_THREAD_FAILURES(log);
    u64 sum = 0;
    for (u64 k = 0; k < keys; ++k) {
      u64 want = 0;
      for (const auto& s : successes) want += s[k];
      EXPECT_EQ(m.find(k), std::optional<u64>(want)) << "key " << k;
      sum += want;
    }
    EXPECT_EQ(sum, static_cast<u64>(per_thread) * static_cast<u64>(threads));
    // (retries only shows contention happened; a correct map may have none on 2 threads)
    ::testing::Test::RecordProperty("compare_exchange_retries_" + std::to_string(threads),
                                    std::to_string(retries.load()));
  }
}

// ---- mixed churn ---------------------------------------------------------------------------

// Each thread owns a key range and runs random inserts, erases, assignments and reads on it,
// checking every result against its own std::unordered_map (it is the range's only writer,
// so every result is determined), and reads other threads' ranges (values carry their key,
// so a value found under the wrong key shows). The map starts empty with no reserve, so the
// tables grow while other threads read and write other shards. At the end the map equals
// the union of the local models.
TYPED_TEST(Stress, MixedChurnEndsEqualToTheUnionOfPerThreadModels) {
  watchdog dog;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    const u64 range = 48000 / static_cast<u64>(threads);
    const std::size_t ops = 100000 * TestFixture::work / static_cast<std::size_t>(threads);
    // Values: key in the high bits, a per-thread counter in the low 24.
    auto make_value = [](u64 k, u64 n) { return (k << 24) | (n & 0xFFFFFF); };
    auto key_of_value = [](u64 v) { return v >> 24; };

    typename TestFixture::u64_map m;
    failure_log log;
    std::vector<std::unordered_map<u64, u64>> models(static_cast<std::size_t>(threads));
    run_threads(threads, [&](int t) {
      auto& model = models[static_cast<std::size_t>(t)];
      const u64 base = static_cast<u64>(t) * range;
      const u64 universe = range * static_cast<u64>(threads);
      std::mt19937_64 rng(static_cast<u64>(t) * 31 + 5);
      for (std::size_t i = 0; i < ops; ++i) {
        const u64 k = base + rng() % range;
        const auto it = model.find(k);
        const bool present = it != model.end();
        const u64 v = make_value(k, i);
        const unsigned dice = static_cast<unsigned>(rng() % 100);
        // Insert-leaning for the first third (growth), then balanced.
        const unsigned insert_share = i < ops / 3 ? 45 : 25;
        if (dice < insert_share) {
          bool inserted = false;
          switch (dice % 3) {
            case 0:
              inserted = m.insert(k, v);
              break;
            case 1:
              inserted = m.emplace(k, v);
              break;
            default: {
              const auto [now, ins] = m.find_or_insert(k, v);
              inserted = ins;
              if (now != (present ? it->second : v)) log.add("find_or_insert(", k, ") gave ", now);
            }
          }
          if (inserted == present)
            log.add("insert of key ", k, " said ", inserted, ", model has it: ", present);
          if (!present) model.emplace(k, v);
        } else if (dice < 50) {
          bool removed = false;
          switch (dice % 3) {
            case 0:
              removed = m.erase(k);
              break;
            case 1: {
              const std::optional<u64> got = m.extract(k);
              removed = got.has_value();
              if (present && got != std::optional<u64>(it->second))
                log.add("extract(", k, ") gave the wrong value");
              break;
            }
            default:
              removed = m.compare_erase(k, present ? it->second : v);
              break;
          }
          if (removed != present)
            log.add("removal of key ", k, " said ", removed, ", model has it: ", present);
          model.erase(k);
        } else if (dice < 65) {
          switch (dice % 3) {
            case 0: {
              const bool inserted = m.insert_or_assign(k, v);
              if (inserted == present)
                log.add("insert_or_assign(", k, ") said inserted=", inserted);
              break;
            }
            case 1: {
              const std::optional<u64> old = m.exchange(k, v);
              if (old != (present ? std::optional<u64>(it->second) : std::nullopt))
                log.add("exchange(", k, ") gave the wrong old value");
              break;
            }
            default: {
              const bool ok = m.compare_exchange(k, present ? it->second : v, v);
              if (ok != present)
                log.add("compare_exchange(", k, ") said ", ok, ", model has it: ", present);
              break;
            }
          }
          // insert_or_assign and exchange store v in any case; compare_exchange only over
          // a present value (which it expected right).
          if (present || dice % 3 != 2) model[k] = v;
        } else if (dice < 82) {
          const std::optional<u64> got = m.find(k);
          const std::optional<u64> want = present ? std::optional<u64>(it->second) : std::nullopt;
          if (got != want) log.add("find(", k, ") disagrees with thread ", t, "'s model");
        } else {
          // Another thread's range (or our own): whatever is found must belong to its key.
          const u64 other = rng() % universe;
          if (dice % 2 == 0) {
            const std::optional<u64> got = m.find(other);
            if (got && key_of_value(*got) != other)
              log.add("find(", other, ") gave a value of key ", key_of_value(*got));
          } else {
            std::as_const(m).visit(other, [&](const u64& got) {
              if (key_of_value(got) != other)
                log.add("visit(", other, ") saw a value of key ", key_of_value(got));
            });
          }
        }
      }
    });
    EXPECT_NO_THREAD_FAILURES(log);
    std::unordered_map<u64, u64> want;
    for (const auto& model : models) want.insert(model.begin(), model.end());
    std::unordered_map<u64, u64> got;
    std::size_t duplicates = 0;
    m.for_each([&](const u64& k, const u64& v) {
      if (!got.emplace(k, v).second) ++duplicates;
    });
    EXPECT_EQ(duplicates, 0u);
    EXPECT_EQ(m.size(), want.size());
    EXPECT_TRUE(got == want) << "the map differs from the union of the threads' models ("
                             << got.size() << " entries walked, " << want.size() << " expected)";
    EXPECT_GT(want.size(), range / 4) << "the run should have grown the map";
  }
}

// ---- size() during writes ------------------------------------------------------------------

// Thread 0 samples size() while the others insert disjoint keys, then (after a barrier)
// erase them all. A writer counts an operation as started before the call and done after it
// returns, so a sample must lie between the operations done before the size() call and those
// started after it returns: inserts-done <= size <= inserts-started while inserting, and
// total - erases-started <= size <= total - erases-done while erasing. Samples never go
// down while inserting nor up while erasing. Writers also make calls that must not change
// the size (a repeated insert, an assignment to a present key), which are not counted.
TYPED_TEST(Stress, SizeDuringWritesStaysWithinCompletedAndStartedWrites) {
  watchdog dog;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    const int writers = threads - 1;
    const u64 per_writer = 16000 * TestFixture::work / static_cast<u64>(writers);
    const u64 total = per_writer * static_cast<u64>(writers);
    typename TestFixture::u64_map m;
    failure_log log;
    std::atomic<u64> started{0}, done{0};
    std::atomic<int> writers_finished{0};
    std::barrier phase(threads);
    std::atomic<u64> samples[2] = {0, 0};  // per phase
    run_threads(threads, [&](int t) {
      if (t == 0) {
        // Phase 1: inserting.
        std::size_t prev = 0;
        for (bool last = false; !last;) {
          last = writers_finished.load() == writers;
          const u64 lo = done.load();
          const std::size_t s = m.size();
          const u64 hi = started.load();
          if (s < lo || s > hi)
            log.add("insert phase: size() = ", s, " outside [", lo, ", ", hi, "]");
          if (s < prev) log.add("insert phase: size() went down from ", prev, " to ", s);
          prev = s;
          samples[0].fetch_add(1, std::memory_order_relaxed);
        }
        if (m.size() != total) log.add("after inserting: size() = ", m.size(), ", want ", total);
        started.store(0);
        done.store(0);
        writers_finished.store(0);
        phase.arrive_and_wait();
        // Phase 2: erasing.
        prev = total;
        for (bool last = false; !last;) {
          last = writers_finished.load() == writers;
          const u64 erased_surely = done.load();
          const std::size_t s = m.size();
          const u64 erased_maybe = started.load();
          if (s + erased_maybe < total || s + erased_surely > total) {
            log.add("erase phase: size() = ", s, " outside [", total - erased_maybe, ", ",
                    total - erased_surely, "]");
          }
          if (s > prev) log.add("erase phase: size() went up from ", prev, " to ", s);
          prev = s;
          samples[1].fetch_add(1, std::memory_order_relaxed);
        }
        if (!m.empty()) log.add("after erasing: size() = ", m.size());
        return;
      }
      const u64 base = static_cast<u64>(t - 1) * per_writer;
      wait_for_first_sample(samples[0]);
      for (u64 i = 0; i < per_writer; ++i) {
        const u64 k = base + i;
        started.fetch_add(1);
        if (!m.insert(k, k)) log.add("insert of new key ", k, " failed");
        done.fetch_add(1);
        if (i % 16 == 15) {
          if (m.insert(k, 0)) log.add("a repeated insert of key ", k, " inserted");
          if (m.insert_or_assign(base + i / 2, i))
            log.add("an assignment to key ", base + i / 2, " inserted");
        }
      }
      writers_finished.fetch_add(1);
      phase.arrive_and_wait();
      wait_for_first_sample(samples[1]);
      for (u64 i = 0; i < per_writer; ++i) {
        const u64 k = base + i;
        started.fetch_add(1);
        if (!m.erase(k)) log.add("erase of key ", k, " failed");
        done.fetch_add(1);
        if (i % 16 == 15 && m.erase(k)) log.add("a repeated erase of key ", k, " erased");
      }
      writers_finished.fetch_add(1);
    });
    EXPECT_NO_THREAD_FAILURES(log);
  }
}

// Writers each keep a fixed number of their own keys present, replacing them one at a time:
// insert a fresh key, then erase the oldest. Each writer then holds `own` or `own + 1` keys
// at every instant, so a size() that is a value the size really had lies in
// [base + writers * own, base + writers * (own + 1)]. (A size() summed shard by shard while
// writers move entries between shards could see an erase without the insert before it, and
// fall below the range.)
TYPED_TEST(Stress, SizeWithAConstantPopulationStaysInItsRange) {
  watchdog dog;
  constexpr u64 base_entries = 1000;
  constexpr u64 own = 64;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    const int writers = threads - 1;
    const u64 replacements = 30000 * TestFixture::work / static_cast<u64>(writers);
    const u64 low = base_entries + static_cast<u64>(writers) * own;
    const u64 high = low + static_cast<u64>(writers);
    typename TestFixture::u64_map m;
    // Keys: the base entries, then each writer's keys in its own stride of the key space.
    auto writer_key = [](int w, u64 i) { return (static_cast<u64>(w + 1) << 40) + i; };
    for (u64 k = 0; k < base_entries; ++k) ASSERT_TRUE(m.insert(k, k));
    for (int w = 0; w < writers; ++w) {
      for (u64 i = 0; i < own; ++i) ASSERT_TRUE(m.insert(writer_key(w, i), i));
    }
    ASSERT_EQ(m.size(), low);
    failure_log log;
    std::atomic<int> writers_finished{0};
    std::atomic<u64> samples{0};
    run_threads(threads, [&](int t) {
      if (t == 0) {
        while (writers_finished.load(std::memory_order_acquire) < writers) {
          const std::size_t s = m.size();
          if (s < low || s > high) log.add("size() = ", s, " outside [", low, ", ", high, "]");
          samples.fetch_add(1, std::memory_order_relaxed);
        }
        return;
      }
      wait_for_first_sample(samples);
      const int w = t - 1;
      for (u64 i = own; i < own + replacements; ++i) {
        if (!m.insert(writer_key(w, i), i))
          log.add("insert of fresh key ", writer_key(w, i), " failed");
        if (!m.erase(writer_key(w, i - own)))
          log.add("erase of key ", writer_key(w, i - own), " failed");
      }
      writers_finished.fetch_add(1, std::memory_order_release);
    });
    EXPECT_NO_THREAD_FAILURES(log);
    EXPECT_EQ(m.size(), low);
  }
}

// ---- throwing hash, copies and callbacks ----------------------------------------------------

struct stress_boom {};

// A value whose copies throw now and then (moves never do), on threads that arm it.
struct fragile_value {
  u64 v = 0;
  static inline thread_local unsigned copy_failure_percent = 0;  // 0: copies never throw
  static inline thread_local std::minstd_rand failure_rng{1};
  fragile_value() = default;
  explicit fragile_value(u64 x) noexcept : v(x) {}
  fragile_value(const fragile_value& o) : v(o.v) { maybe_throw(); }
  fragile_value& operator=(const fragile_value& o) {
    maybe_throw();
    v = o.v;
    return *this;
  }
  fragile_value(fragile_value&&) noexcept = default;
  fragile_value& operator=(fragile_value&&) noexcept = default;
  ~fragile_value() = default;

 private:
  static void maybe_throw() {
    if (copy_failure_percent != 0 && failure_rng() % 100 < copy_failure_percent)
      throw stress_boom{};
  }
};

// Throws for "poisoned" keys, every time (a hash must be a function of the key).
struct fragile_hash {
  static bool poisoned(u64 k) noexcept { return k % 53 == 7; }
  std::size_t operator()(u64 k) const {
    if (poisoned(k)) throw stress_boom{};
    return cmap::hash<u64>{0}(k);
  }
};

// Each thread owns a key range and runs random writes on it while its copies of values throw
// (about 1 in 5), its upsert callbacks throw (1 in 4, before changing anything) and every call
// on a poisoned key throws from the hash. A single-key call that throws must leave the map
// unchanged, so the thread's model skips it; every result of a call that returns is checked
// against the model. The map starts empty, so it grows under the throwing calls. At the end
// (copies disarmed) the map equals the union of the models and holds no poisoned key.
// (An ordered map has no hash: art_map_test runs the same with a key encoding that throws.)
TYPED_TEST(Stress, ThrowingHashCopiesAndCallbacksLeaveTheMapValidAndUnchanged) {
  if constexpr (!TypeParam::hashed) return;
  watchdog dog;
  using map_t = typename TypeParam::template map<u64, fragile_value, fragile_hash>;
  for (const int threads : thread_counts) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    const u64 range = 24000 / static_cast<u64>(threads);
    const std::size_t ops = 20000 * TestFixture::work / static_cast<std::size_t>(threads);
    map_t m;
    failure_log log;
    std::atomic<u64> copy_throws{0}, callback_throws{0}, hash_throws{0};
    std::vector<std::unordered_map<u64, u64>> models(static_cast<std::size_t>(threads));
    run_threads(threads, [&](int t) {
      auto& model = models[static_cast<std::size_t>(t)];
      const u64 base = static_cast<u64>(t) * range;
      std::mt19937_64 rng(static_cast<u64>(t) * 131 + 9);
      fragile_value::failure_rng.seed(static_cast<unsigned>(t) + 1);
      fragile_value::copy_failure_percent = 20;
      for (std::size_t i = 0; i < ops; ++i) {
        const u64 k = base + rng() % range;
        const u64 v = (k << 20) | (i & 0xFFFFF);
        const unsigned dice = static_cast<unsigned>(rng() % 7);
        const bool callback_throws_now = rng() % 4 == 0;
        const auto it = model.find(k);
        const bool present = it != model.end();
        const u64 old = present ? it->second : 0;
        try {
          switch (dice) {
            case 0: {  // insert from a const value: the map copies it
              const fragile_value value(v);
              if (m.insert(k, value) == present) log.add("insert(", k, ") disagrees");
              if (!present) model.emplace(k, v);
              break;
            }
            case 1:
              if (m.insert_or_assign(k, fragile_value(v)) == present)
                log.add("insert_or_assign(", k, ") disagrees");
              model[k] = v;
              break;
            case 2: {
              const bool inserted = m.upsert(
                  k,
                  [&](fragile_value& x) {
                    if (callback_throws_now) throw stress_boom{};
                    ++x.v;
                  },
                  v);
              if (inserted == present) log.add("upsert(", k, ") disagrees");
              model[k] = present ? old + 1 : v;
              break;
            }
            case 3:
              if (m.erase(k) != present) log.add("erase(", k, ") disagrees");
              model.erase(k);
              break;
            case 4: {
              const std::optional<fragile_value> got = m.extract(k);
              if (got.has_value() != present || (got && got->v != old))
                log.add("extract(", k, ") disagrees");
              model.erase(k);
              break;
            }
            case 5: {
              const std::optional<fragile_value> got = m.exchange(k, fragile_value(v));
              if (got.has_value() != present || (got && got->v != old))
                log.add("exchange(", k, ") disagrees");
              model[k] = v;
              break;
            }
            default: {
              const std::optional<fragile_value> got = m.find(k);
              if (got.has_value() != present || (got && got->v != old))
                log.add("find(", k, ") disagrees");
              break;
            }
          }
        } catch (const stress_boom&) {
          if (fragile_hash::poisoned(k)) {
            hash_throws.fetch_add(1, std::memory_order_relaxed);
          } else if (dice == 2 && callback_throws_now && present) {
            callback_throws.fetch_add(1, std::memory_order_relaxed);
          } else {
            copy_throws.fetch_add(1, std::memory_order_relaxed);
          }
          // The call threw: the map must be as before it, so the model stays as it is.
        } catch (...) {
          log.add("call on key ", k, " threw something other than the hash's or the value's");
        }
      }
      fragile_value::copy_failure_percent = 0;
    });
    EXPECT_NO_THREAD_FAILURES(log);
    EXPECT_GT(copy_throws.load(), 0u);
    EXPECT_GT(callback_throws.load(), 0u);
    EXPECT_GT(hash_throws.load(), 0u);
    std::unordered_map<u64, u64> want;
    for (const auto& model : models) want.insert(model.begin(), model.end());
    std::unordered_map<u64, u64> got;
    std::size_t duplicates = 0;
    m.for_each([&](const u64& k, const fragile_value& x) {
      if (!got.emplace(k, x.v).second) ++duplicates;
    });
    EXPECT_EQ(duplicates, 0u);
    EXPECT_EQ(m.size(), want.size());
    EXPECT_TRUE(got == want) << "the map differs from the union of the threads' models ("
                             << got.size() << " entries walked, " << want.size() << " expected)";
    for (const auto& [k, x] : got) EXPECT_FALSE(fragile_hash::poisoned(k)) << "poisoned " << k;
    // Still fully usable after all those exceptions.
    u64 fresh = 1'000'000'000;
    while (fragile_hash::poisoned(fresh)) ++fresh;
    EXPECT_TRUE(m.insert(fresh, fragile_value(1)));
    EXPECT_EQ(m.size(), want.size() + 1);
  }
}

}  // namespace
