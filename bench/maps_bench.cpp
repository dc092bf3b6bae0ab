// Single-operation costs of every cmap map next to the usual hand-made alternative,
// std::unordered_map behind one std::shared_mutex, measured in the same run: find (hit and
// miss), insert into an empty map, erase, and a full walk, at 1 thread; and a 90% find /
// 10% insert_or_assign mix over a shared map at 1, 2 and 8 threads (8 oversubscribes this
// 2-core machine on purpose). Read the ratios between rows, not the absolute times.
// serial_map's rows are in wall-clock time, since its writes run on its owner thread, whose
// CPU time the calling thread's clock does not see; its synchronous writes are round trips
// to that thread, so on a loaded machine they measure scheduling latency. Also
// concurrent_hash_map's visit_bulk against one lookup at a time on a 5M-entry table.
// snapshot_map: snapshot() at 1k and 1M entries (its cost must not depend on the size), and
// single-key updates at 100k entries against cow_map (tools/cmap-bench/adapters/cow_map.hpp:
// a std::unordered_map copied in full on every write).
// The string hash alone, at key lengths 8 to 256: cmap::hash<std::string> (rapidhash V3 under
// secrets derived from the seed, the seed mixed once when the hasher is made), the same
// function mixing the seed on every call, and the function it replaced (libstdc++'s
// std::hash<std::string_view> xor the seed, through SplitMix64's finaliser).

#include <benchmark/benchmark.h>

#include <cmap/concurrent_hash_map.hpp>
#include <cmap/detail/rapidhash.hpp>
#include <cmap/hash.hpp>
#include <cmap/locked_map.hpp>
#include <cmap/read_mostly_map.hpp>
#include <cmap/serial_map.hpp>
#include <cmap/sharded_map.hpp>
#include <cmap/snapshot_map.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapters/cow_map.hpp"

namespace {

// The baseline users write by hand: one std::shared_mutex around std::unordered_map.
class shared_mutex_map {
 public:
  std::optional<std::uint64_t> find(std::uint64_t k) const {
    std::shared_lock lock(mutex_);
    auto it = map_.find(k);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  bool insert(std::uint64_t k, std::uint64_t v) {
    std::unique_lock lock(mutex_);
    return map_.emplace(k, v).second;
  }
  bool insert_or_assign(std::uint64_t k, std::uint64_t v) {
    std::unique_lock lock(mutex_);
    return map_.insert_or_assign(k, v).second;
  }
  bool erase(std::uint64_t k) {
    std::unique_lock lock(mutex_);
    return map_.erase(k) == 1;
  }
  template <class F>
  void for_each(F&& f) const {
    std::shared_lock lock(mutex_);
    for (const auto& [k, v] : map_) f(k, v);
  }
  void reserve(std::size_t n) {
    std::unique_lock lock(mutex_);
    map_.reserve(n);
  }

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::uint64_t, std::uint64_t, cmap::hash<std::uint64_t>> map_;
};

using locked = cmap::locked_map<std::uint64_t, std::uint64_t>;
using sharded = cmap::sharded_map<std::uint64_t, std::uint64_t>;
using concurrent = cmap::concurrent_hash_map<std::uint64_t, std::uint64_t>;
using snapshot = cmap::snapshot_map<std::uint64_t, std::uint64_t>;
using read_mostly = cmap::read_mostly_map<std::uint64_t, std::uint64_t>;
using serial = cmap::serial_map<std::uint64_t, std::uint64_t>;

// Keys spread over the 64-bit range, as a hash map's users' keys usually are: i times an odd
// constant (the golden ratio's, as in Fibonacci hashing) is a bijection, so distinct i give
// distinct keys.
constexpr std::uint64_t spread(std::uint64_t i) noexcept { return i * 0x9E3779B97F4A7C15ULL; }
std::vector<std::uint64_t> make_keys(std::size_t n, std::uint64_t salt) {
  std::vector<std::uint64_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = spread(i * 2 + salt);
  return keys;
}

// Fills a map before timing; serial_map takes its preload as fire-and-forget writes, so that
// setting up does not cost a round trip to the owner thread per key.
template <class Map>
void preload(Map& m, const std::vector<std::uint64_t>& keys) {
  if constexpr (requires { m.submit_insert(keys[0], keys[0]); }) {
    for (auto k : keys) m.submit_insert(k, k);
    m.flush();
  } else {
    for (auto k : keys) m.insert(k, k);
  }
}

template <class Map>
void find_hit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto keys = make_keys(n, 0);
  Map m;
  preload(m, keys);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m.find(keys[i]));
    if (++i == n) i = 0;
  }
}

template <class Map>
void find_miss(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto keys = make_keys(n, 0), absent = make_keys(n, 1);
  Map m;
  preload(m, keys);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m.find(absent[i]));
    if (++i == n) i = 0;
  }
}

// Inserts n keys into an empty map without reserve (growth included), per item.
template <class Map>
void insert_grow(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto keys = make_keys(n, 0);
  for (auto _ : state) {
    Map m;
    for (auto k : keys) m.insert(k, k);
    benchmark::DoNotOptimize(&m);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

template <class Map>
void erase_all(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto keys = make_keys(n, 0);
  for (auto _ : state) {
    state.PauseTiming();
    Map m;
    preload(m, keys);
    state.ResumeTiming();
    for (auto k : keys) benchmark::DoNotOptimize(m.erase(k));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

template <class Map>
void walk(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto keys = make_keys(n, 0);
  Map m;
  preload(m, keys);
  for (auto _ : state) {
    std::uint64_t sum = 0;
    m.for_each([&](const std::uint64_t&, const std::uint64_t& v) { sum += v; });
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

// serial_map's fire-and-forget writes: n submit_insert calls and one flush() (which waits
// until the owner thread has applied them all), per item. Its synchronous insert, measured
// by insert_grow, is a round trip to the owner thread per call.
void insert_grow_submitted(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto keys = make_keys(n, 0);
  for (auto _ : state) {
    serial m;
    for (auto k : keys) m.submit_insert(k, k);
    m.flush();
    benchmark::DoNotOptimize(&m);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

// 90% find / 10% insert_or_assign over one shared map of 100k keys, every thread on its own
// key stream.
template <class Map>
void read_mostly_mix(benchmark::State& state) {
  static Map* shared = nullptr;
  constexpr std::size_t n = 100000;
  static const auto keys = make_keys(n, 0);
  if (state.thread_index() == 0) {
    shared = new Map;
    preload(*shared, keys);
  }
  // Google Benchmark starts the timed loop of all threads together, after thread 0's setup.
  std::uint64_t x = 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(state.thread_index() + 1);
  for (auto _ : state) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const std::uint64_t k = keys[x % n];
    if (x % 10 == 0) {
      benchmark::DoNotOptimize(shared->insert_or_assign(k, x));
    } else {
      benchmark::DoNotOptimize(shared->find(k));
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete shared;
    shared = nullptr;
  }
}

// visit_bulk against one find per key, single thread, on a table far larger than the caches
// (5M entries): batches of 1024 random present keys.
// Built once per size and kept (the build takes seconds).
const concurrent& bulk_map(std::size_t entries) {
  static std::map<std::size_t, std::unique_ptr<concurrent>> built;
  auto& m = built[entries];
  if (!m) {
    m = std::make_unique<concurrent>(entries);
    for (std::size_t i = 0; i < entries; ++i) {
      const std::uint64_t k = spread(i * 2);  // make_keys(entries, 0)[i]
      m->insert(k, k);
    }
  }
  return *m;
}
// n keys drawn at random from the map's entries.
std::vector<std::uint64_t> bulk_batch(std::size_t entries, std::size_t n, std::uint64_t seed) {
  std::vector<std::uint64_t> out(n);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, entries - 1);
  for (auto& k : out) k = spread(pick(rng) * 2);  // make_keys(entries, 0)[pick]
  return out;
}

void lookups_one_by_one(benchmark::State& state) {
  const auto entries = static_cast<std::size_t>(state.range(0));
  const concurrent& m = bulk_map(entries);
  const auto batch = bulk_batch(entries, 1 << 16, 7);
  std::size_t i = 0;
  for (auto _ : state) {
    std::uint64_t sum = 0;
    for (std::size_t j = 0; j < 1024; ++j, i = (i + 1) & (batch.size() - 1)) {
      m.visit(batch[i], [&](const std::uint64_t& v) { sum += v; });
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 1024));
}

void lookups_visit_bulk(benchmark::State& state) {
  const auto entries = static_cast<std::size_t>(state.range(0));
  const concurrent& m = bulk_map(entries);
  const auto batch = bulk_batch(entries, 1 << 16, 7);
  std::size_t i = 0;
  for (auto _ : state) {
    std::uint64_t sum = 0;
    m.visit_bulk(batch.begin() + static_cast<std::ptrdiff_t>(i),
                 batch.begin() + static_cast<std::ptrdiff_t>(i + 1024),
                 [&](std::size_t, const std::uint64_t& v) { sum += v; });
    i = (i + 1024) & (batch.size() - 1);
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 1024));
}

// snapshot(): a pin, a load and a reference count increment, whatever the size.
void snapshot_cost(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  snapshot m;
  m.update([&](auto& t) {
    for (auto k : make_keys(n, 0)) t.insert(k, k);
  });
  for (auto _ : state) {
    auto s = m.snapshot();
    benchmark::DoNotOptimize(s.size());
  }
}

// One insert_or_assign of a present key in a map of 100k entries.
void update_snapshot_map(benchmark::State& state) {
  constexpr std::size_t n = 100000;
  const auto keys = make_keys(n, 0);
  snapshot m;
  m.update([&](auto& t) {
    for (auto k : keys) t.insert(k, k);
  });
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m.insert_or_assign(keys[i], i));
    if (++i == n) i = 0;
  }
}
void update_cow_map(benchmark::State& state) {
  constexpr std::size_t n = 100000;
  const auto keys = make_keys(n, 0);
  cmap_bench::cow_map_adapter<std::uint64_t, std::uint64_t> m(0);
  for (auto k : keys) m.preload_insert(k, k);  // insert would copy the whole map per key
  std::size_t i = 0;
  for (auto _ : state) {
    m.insert_or_assign(keys[i], i);
    if (++i == n) i = 0;
  }
}

// 1024 keys of state.range(0) random printable bytes (256 KiB at most, in L2), so that the
// loop times the hash rather than memory. The hashes of successive keys are
// independent, so the loop measures throughput: the cost of a hash in a batch of lookups.
std::vector<std::string> string_keys(std::size_t length) {
  std::mt19937_64 rng(length);
  std::uniform_int_distribution<int> printable(0x21, 0x7e);
  std::vector<std::string> keys(1024);
  for (auto& k : keys) {
    k.resize(length);
    for (char& c : k) c = static_cast<char>(printable(rng));
  }
  return keys;
}

// The seed is not known to the compiler, which could otherwise derive the secrets and mix the
// seed at compile time.
std::uint64_t opaque_seed() {
  std::uint64_t seed = 0x5eed5eed5eed5eedULL;
  benchmark::DoNotOptimize(seed);
  return seed;
}

template <class Hash>
void hash_strings(benchmark::State& state, const Hash& hash) {
  const auto keys = string_keys(static_cast<std::size_t>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(hash(std::string_view(keys[i])));
    i = (i + 1) & (keys.size() - 1);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void string_hash_cmap(benchmark::State& state) {
  const cmap::hash<std::string> h(opaque_seed());
  hash_strings(state, h);
}

void string_hash_seed_per_call(benchmark::State& state) {
  const std::uint64_t seed = opaque_seed();
  const cmap::detail::rapidhash_secrets secrets = cmap::detail::rapidhash_secrets_from(seed);
  hash_strings(state, [&](std::string_view s) {
    return cmap::detail::rapidhash(s.data(), s.size(), seed, secrets);
  });
}

void string_hash_previous(benchmark::State& state) {
  const std::uint64_t seed = opaque_seed();
  hash_strings(state, [&](std::string_view s) {
    return cmap::detail::mix(static_cast<std::size_t>(std::hash<std::string_view>{}(s) ^ seed));
  });
}

}  // namespace

BENCHMARK(string_hash_cmap)
    ->Name("string_hash/cmap::hash")
    ->RangeMultiplier(2)
    ->Range(8, 64)
    ->Arg(256);
BENCHMARK(string_hash_seed_per_call)
    ->Name("string_hash/rapidhash_seed_mixed_per_call")
    ->RangeMultiplier(2)
    ->Range(8, 64)
    ->Arg(256);
BENCHMARK(string_hash_previous)
    ->Name("string_hash/std_hash_xor_seed_mixed")
    ->RangeMultiplier(2)
    ->Range(8, 64)
    ->Arg(256);

BENCHMARK(snapshot_cost)->Arg(1000)->Name("snapshot/snapshot_map/1k");
BENCHMARK(snapshot_cost)->Arg(1000000)->Name("snapshot/snapshot_map/1M");
BENCHMARK(update_snapshot_map)->Name("update_100k/snapshot_map");
BENCHMARK(update_cow_map)->Name("update_100k/cow_map");

// 5M entries, a table larger than most caches, and 40M (about 1.1 GiB of table): this VM reports a
// 260 MiB L3, which holds much of the 5M-entry table, so the larger one is where lookups go to
// memory. Independent lookups one by one already overlap their misses in the core's
// out-of-order window, which bounds what visit_bulk's prefetching can add.
BENCHMARK(lookups_one_by_one)->Arg(5'000'000)->Name("bulk_5M/concurrent_hash_map/one_by_one");
BENCHMARK(lookups_visit_bulk)->Arg(5'000'000)->Name("bulk_5M/concurrent_hash_map/visit_bulk");
BENCHMARK(lookups_one_by_one)->Arg(40'000'000)->Name("bulk_40M/concurrent_hash_map/one_by_one");
BENCHMARK(lookups_visit_bulk)->Arg(40'000'000)->Name("bulk_40M/concurrent_hash_map/visit_bulk");

#define CMAP_SINGLE_THREAD(fn, arg)                                                            \
  BENCHMARK_TEMPLATE(fn, shared_mutex_map)->Arg(arg)->Name(#fn "/shared_mutex+unordered_map"); \
  BENCHMARK_TEMPLATE(fn, locked)->Arg(arg)->Name(#fn "/locked_map");                           \
  BENCHMARK_TEMPLATE(fn, sharded)->Arg(arg)->Name(#fn "/sharded_map");                         \
  BENCHMARK_TEMPLATE(fn, concurrent)->Arg(arg)->Name(#fn "/concurrent_hash_map");              \
  BENCHMARK_TEMPLATE(fn, read_mostly)->Arg(arg)->Name(#fn "/read_mostly_map");                 \
  BENCHMARK_TEMPLATE(fn, snapshot)->Arg(arg)->Name(#fn "/snapshot_map");                       \
  BENCHMARK_TEMPLATE(fn, serial)->Arg(arg)->Name(#fn "/serial_map")->UseRealTime()

CMAP_SINGLE_THREAD(find_hit, 1 << 20);
CMAP_SINGLE_THREAD(find_miss, 1 << 20);
CMAP_SINGLE_THREAD(insert_grow, 1 << 18);
CMAP_SINGLE_THREAD(erase_all, 1 << 18);
CMAP_SINGLE_THREAD(walk, 1 << 18);
BENCHMARK(insert_grow_submitted)
    ->Arg(1 << 18)
    ->Name("insert_grow/serial_map+submit")
    ->UseRealTime();

BENCHMARK_TEMPLATE(read_mostly_mix, shared_mutex_map)
    ->Name("read_mostly_mix/shared_mutex+unordered_map")
    ->Threads(1)
    ->Threads(2)
    ->Threads(8)
    ->UseRealTime();
BENCHMARK_TEMPLATE(read_mostly_mix, locked)
    ->Name("read_mostly_mix/locked_map")
    ->Threads(1)
    ->Threads(2)
    ->Threads(8)
    ->UseRealTime();
BENCHMARK_TEMPLATE(read_mostly_mix, concurrent)
    ->Name("read_mostly_mix/concurrent_hash_map")
    ->Threads(1)
    ->Threads(2)
    ->Threads(8)
    ->UseRealTime();
BENCHMARK_TEMPLATE(read_mostly_mix, sharded)
    ->Name("read_mostly_mix/sharded_map")
    ->Threads(1)
    ->Threads(2)
    ->Threads(8)
    ->UseRealTime();
BENCHMARK_TEMPLATE(read_mostly_mix, read_mostly)
    ->Name("read_mostly_mix/read_mostly_map")
    ->Threads(1)
    ->Threads(2)
    ->Threads(8)
    ->UseRealTime();
BENCHMARK_TEMPLATE(read_mostly_mix, serial)
    ->Name("read_mostly_mix/serial_map")
    ->Threads(1)
    ->Threads(2)
    ->Threads(8)
    ->UseRealTime();
