// What watching a map costs a call, single-threaded: find and insert_or_assign of present
// keys on five maps, each unnamed and named (cmap::metrics::watch) in the same process, so the
// two take turns under --benchmark_enable_random_interleaving. The probes' cost is the same
// benchmark built twice, with and without CMAP_NO_PROBES, the two binaries run alternately.
//
//   find/<map>/<named>               find of a present key, in a random order
//   insert_or_assign/<map>/<named>   insert_or_assign of a present key (a replacement)
//
// 4k entries: the table stays in the first caches and on a few pages, so the call's own
// instructions set the time (the case where a fixed per-call cost shows most). With 64k
// entries the times moved by up to 2x from one process to the next with where the table
// landed, which hid the few percent this is for.
//
// Run: observation_bench --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true
// and compare CPU times of rows that differ only in named (counting) or only in the build
// (probes). docs/journal/observability.md has the runs.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmap/art_map.hpp>
#include <cmap/concurrent_hash_map.hpp>
#include <cmap/locked_map.hpp>
#include <cmap/metrics.hpp>
#include <cmap/read_mostly_map.hpp>
#include <cmap/sharded_map.hpp>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using key = std::uint64_t;
constexpr std::int64_t entries = 1 << 12;

// Distinct keys spread over the whole range (splitmix64's finaliser, a bijection).
key mix(key x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The map's keys, in a random order: the order the calls visit them.
const std::vector<key>& shuffled_keys() {
  static const std::vector<key> keys = [] {
    std::vector<key> k(entries);
    for (std::int64_t i = 0; i < entries; ++i) k[static_cast<std::size_t>(i)] = mix(static_cast<key>(i));
    std::shuffle(k.begin(), k.end(), std::mt19937_64(42));
    return k;
  }();
  return keys;
}

// A filled map, named for the metrics when state.range(0) is 1.
template <class Map>
struct fixture {
  Map map;
  cmap::metrics::registration name;
  explicit fixture(const benchmark::State& state) {
    for (std::int64_t i = 0; i < entries; ++i) map.insert(mix(static_cast<key>(i)), key{1});
    if (state.range(0) == 1) name = cmap::metrics::watch(map, "bench");
  }
};

// One call of op(map, key, i) per iteration, over the keys in their random order.
template <class Map, class Op>
void each_key(benchmark::State& state, Op op) {
  fixture<Map> f(state);
  const auto& keys = shuffled_keys();
  std::size_t i = 0;
  key sum = 0;
  for (auto _ : state) {
    sum += op(f.map, keys[i], i);
    i = (i + 1) & (keys.size() - 1);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

template <class Map>
void find(benchmark::State& state) {
  each_key<Map>(state, [](Map& m, key k, std::size_t) { return m.find(k).value_or(0); });
}

template <class Map>
void insert_or_assign(benchmark::State& state) {
  each_key<Map>(state, [](Map& m, key k, std::size_t i) -> key {
    return m.insert_or_assign(k, static_cast<key>(i)) ? 1 : 0;
  });
}

using chm = cmap::concurrent_hash_map<key, key>;
using read_mostly = cmap::read_mostly_map<key, key>;
using locked = cmap::locked_map<key, key>;
using sharded = cmap::sharded_map<key, key>;
using art = cmap::art_map<key, key>;

#define CMAP_OBSERVATION_BENCH(map)                                              \
  BENCHMARK_TEMPLATE(find, map)->ArgName("named")->Arg(0)->Arg(1);               \
  BENCHMARK_TEMPLATE(insert_or_assign, map)->ArgName("named")->Arg(0)->Arg(1)

CMAP_OBSERVATION_BENCH(chm);
CMAP_OBSERVATION_BENCH(read_mostly);
CMAP_OBSERVATION_BENCH(locked);
CMAP_OBSERVATION_BENCH(sharded);
CMAP_OBSERVATION_BENCH(art);

}  // namespace
