// The single-thread cost of checked_map's checks: each benchmark runs on std::unordered_map and
// on cmap::checked_map with the same key, value and Hash; the overhead is the ratio of a
// checked row's time to the std row with the same name and size (target: at most 1.10).
//
//   find_present / find_absent   find of keys in / not in a map of 1k and 1M entries, in a
//                                random order (1M: mostly cache misses)
//   insert                       insert N keys into an empty map, then clear (1k, 100k)
//   iterate                      a range-for over 1k entries (one check per ++)
//
// Run: checked_map_bench --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmap/checked_map.hpp>
#include <cstdint>
#include <functional>
#include <random>
#include <unordered_map>
#include <vector>

namespace {

using key = std::uint64_t;
using std_map = std::unordered_map<key, key, std::hash<key>>;
using checked = cmap::checked_map<key, key, std::hash<key>>;

// A bijection on 64-bit words (splitmix64's finaliser): distinct keys spread over the whole
// range, so std::hash (the identity) does not see a dense, collision-free sequence.
key mix(key x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
key present_key(std::int64_t i) { return mix(static_cast<key>(i) * 2); }
key absent_key(std::int64_t i) { return mix(static_cast<key>(i) * 2 + 1); }

template <class Map>
void find(benchmark::State& state, bool present) {
  const std::int64_t n = state.range(0);
  Map m;
  m.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) m.emplace(present_key(i), static_cast<key>(i));
  constexpr std::size_t probes = 1 << 16;  // a power of two
  std::vector<key> probe(probes);
  std::mt19937_64 rng(42);
  for (auto& p : probe) {
    const auto i = static_cast<std::int64_t>(rng() % static_cast<key>(n));
    p = present ? present_key(i) : absent_key(i);
  }
  std::size_t j = 0;
  key sum = 0;
  for (auto _ : state) {
    auto it = m.find(probe[j]);
    if (it != m.end()) sum += it->second;
    j = (j + 1) & (probes - 1);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

template <class Map>
void find_present(benchmark::State& state) {
  find<Map>(state, true);
}
template <class Map>
void find_absent(benchmark::State& state) {
  find<Map>(state, false);
}

template <class Map>
void insert(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  std::vector<key> keys(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) keys[static_cast<std::size_t>(i)] = present_key(i);
  Map m;
  for (auto _ : state) {
    for (key k : keys) m.insert({k, k});
    benchmark::DoNotOptimize(m.size());
    m.clear();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// The sum is returned, not passed to DoNotOptimize inside the loop: a local whose address
// escapes is kept in memory by clang across the (cold) report call of every ++, which measures
// the escape more than the check (1.3x instead of 1.0x on this loop).
template <class Map>
key sum_values(const Map& m) {
  key sum = 0;
  for (const auto& kv : m) sum += kv.second;
  return sum;
}

template <class Map>
void iterate(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  Map m;
  for (std::int64_t i = 0; i < n; ++i) m.emplace(present_key(i), static_cast<key>(i));
  for (auto _ : state) benchmark::DoNotOptimize(sum_values(m));
  state.SetItemsProcessed(state.iterations() * n);
}

BENCHMARK_TEMPLATE(find_present, std_map)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(find_present, checked)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(find_absent, std_map)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(find_absent, checked)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(insert, std_map)->Arg(1 << 10)->Arg(100000);
BENCHMARK_TEMPLATE(insert, checked)->Arg(1 << 10)->Arg(100000);
BENCHMARK_TEMPLATE(iterate, std_map)->Arg(1 << 10);
BENCHMARK_TEMPLATE(iterate, checked)->Arg(1 << 10);

}  // namespace
