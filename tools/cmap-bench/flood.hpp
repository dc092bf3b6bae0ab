#pragma once
// The hash-flood preset: what hash flooding costs each cmap hash map, and what the secret
// seed of cmap::hash saves.
//
// For each map and thread count, three key sets of the same size n (the workload's key
// universe), each measured the same way: a fresh map, n inserts into it, a barrier, then a
// find of each key; the threads split the keys (thread t takes the t-th contiguous n/T), and
// the time runs from the first thread's start to the last thread's end, 2n operations. A
// repetition runs such cycles, each on a fresh map, until their times add up to 20 ms (one
// cycle when it takes longer), and reports their operations over their time: a cycle of
// 20,000 random keys takes a millisecond, too short to time alone on a shared machine.
//   random               n distinct random keys (u64), or "uid:" and a random number below
//                        10^8 (strings), in a map with the run's fixed seed
//   attack, seed known   hash_flood::flood_keys against cmap::hash with the run's seed, for
//                        the map's layout, in a map built with that seed: what an attacker
//                        who knows the seed does (u64 keys: one set collides in every
//                        open-addressing table at once; strings: a set per layout)
//   attack, secret seed  the same keys in a map whose hasher is default-constructed: a
//                        secret seed, the way a user gets the map
// Each row reports its throughput and its ratio to the same map's random keys. The maps and
// the key sets take turns, one repetition each (unless --sequential), a map's three sets in
// an order that rotates from round to round, so that none always runs first. The keys are made
// before any timing; the table's notes say what the attack keys share and how long they took
// to find.

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <latch>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "registry.hpp"
#include "report.hpp"
#include "results.hpp"
#include "workload.hpp"

namespace cmap_bench {

// The least time a repetition measures (see the top of this file).
inline constexpr double flood_min_repetition_seconds = 0.020;

// One timed run of the hash-flood measurement on one map.
struct flood_request {
  unsigned threads = 1;
  const std::vector<std::uint64_t>* u64_keys = nullptr;   // the key set, for u64 keys
  const std::vector<std::string>* string_keys = nullptr;  // the key set, for string keys
  // The seed of the map's cmap::hash; none: a default-constructed one, whose seed is secret.
  std::optional<std::uint64_t> hash_seed;
  std::size_t param = 0;  // the variant's number ('sharded_map:N')
  const std::atomic<bool>* stop = nullptr;
};

enum class flood_key_set { random, attack_known_seed, attack_secret_seed };
inline constexpr flood_key_set flood_key_sets[] = {
    flood_key_set::random, flood_key_set::attack_known_seed, flood_key_set::attack_secret_seed};
// "random", "attack, seed known", "attack, secret seed".
const char* flood_key_set_name(flood_key_set s) noexcept;
// A row of the preset: "concurrent_hash_map / attack, seed known".
std::string flood_row_name(const std::string& map, flood_key_set s);
// The row a hash-flood row's ratio is relative to: the same map's random keys.
std::string flood_reference_row(const std::string& row);

// Every (map, key set) row at every thread count of w; maps without flood support get n/a rows.
std::vector<map_result> run_hash_flood(const workload& w, const std::vector<selected_map>& maps,
                                       const run_options& opt);
// The table of a hash-flood workload (format_table's part for it).
std::string format_flood_table(const report_input& in, const workload& w);

// One timed cycle on Adapter's map (see the top of this file); nothing if Ctrl-C stopped it.
// Throws std::runtime_error if a key inserted is not found.
template <template <class, class> class Adapter, class Key>
std::optional<rep_result> run_flood_typed(const flood_request& rq, const std::vector<Key>& keys) {
  using clock = std::chrono::steady_clock;
  using adapter = Adapter<Key, std::uint64_t>;
  using hasher = typename adapter::hasher;
  adapter map(rq.param, rq.hash_seed ? hasher(*rq.hash_seed) : hasher());
  const std::size_t n = keys.size();

  struct alignas(64) slot {
    clock::time_point start{};
    clock::time_point end{};
    std::uint64_t found = 0;
  };
  std::vector<slot> slots(rq.threads);
  std::latch ready(rq.threads + 1);
  std::barrier inserted(static_cast<std::ptrdiff_t>(rq.threads));
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  workers.reserve(rq.threads);
  for (unsigned t = 0; t < rq.threads; ++t) {
    workers.emplace_back([&, t] {
      const std::size_t first = n * t / rq.threads;
      const std::size_t last = n * (t + 1) / rq.threads;
      slot& my = slots[t];
      ready.count_down();
      // Released by the main thread's store once every thread is ready.
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      my.start = clock::now();
      for (std::size_t i = first; i < last; ++i) {
        if ((i & 1023) == 0 && rq.stop->load(std::memory_order_relaxed)) break;
        map.insert(keys[i], std::uint64_t{i});
      }
      // Every key is in before any is looked up, so each find is a hit.
      inserted.arrive_and_wait();
      for (std::size_t i = first; i < last; ++i) {
        if ((i & 1023) == 0 && rq.stop->load(std::memory_order_relaxed)) break;
        my.found += map.find(keys[i]) ? 1 : 0;
      }
      my.end = clock::now();
    });
  }
  ready.arrive_and_wait();
  go.store(true, std::memory_order_release);
  for (auto& th : workers) th.join();
  if (rq.stop->load(std::memory_order_relaxed)) return std::nullopt;

  auto first = slots[0].start;
  auto last = slots[0].end;
  std::uint64_t found = 0;
  for (const auto& s : slots) {
    first = std::min(first, s.start);
    last = std::max(last, s.end);
    found += s.found;
  }
  if (found != n)
    throw std::runtime_error("hash-flood: " + std::to_string(n - found) + " of " +
                             std::to_string(n) + " keys inserted were not found");
  const double seconds = std::chrono::duration<double>(last - first).count();
  const std::uint64_t ops = 2 * n;
  return rep_result{seconds, ops, seconds > 0 ? static_cast<double>(ops) / seconds / 1e6 : 0};
}

template <template <class, class> class Adapter>
std::optional<rep_result> run_flood(const flood_request& rq) {
  if (rq.string_keys != nullptr) return run_flood_typed<Adapter>(rq, *rq.string_keys);
  return run_flood_typed<Adapter>(rq, *rq.u64_keys);
}

// The registry's entry for a map the preset runs.
template <template <class, class> class Adapter>
flood_support flood_with(hash_flood::layout layout) {
  return {layout, run_flood<Adapter>};
}

}  // namespace cmap_bench
