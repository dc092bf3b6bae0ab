// The single-thread cost of checked_map's checks: each benchmark runs on std::unordered_map and
// on cmap::checked_map with the same key, value and Hash; the overhead is the ratio of a
// checked row's time to the std row with the same name and size (target: at most 1.05).
//
//   find_present / find_absent   find of keys in / not in a map of 1k and 1M entries, in a
//                                random order (1M: mostly cache misses)
//   count / contains             the same, keys present or absent at random (1k, 1M)
//   subscript                    ++m[k] on keys present, in a random order (1k, 1M)
//   emplace / erase              a batch of 256 keys emplaced into / erased from a map of 1k
//                                or 1M entries; the batch is then undone outside the timed
//                                part (manual time: the thread's CPU time, see batch_timer)
//   insert                       insert N keys into an empty map, then clear (1k, 100k)
//   iterate                      a range-for over 1k entries (one check per ++)
//
// Run: checked_map_bench --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true
// and compare CPU times (the manual time of emplace and erase is CPU time already): on a shared
// machine the wall time also counts the time other jobs hold the core.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmap/checked_map.hpp>
#include <cstdint>
#include <ctime>
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
void fill(Map& m, std::int64_t n) {
  m.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) m.emplace(present_key(i), static_cast<key>(i));
}

constexpr std::size_t probes = 1 << 16;  // a power of two

enum class keys { present, absent, either };

// probes keys of a map of n entries, in a random order.
std::vector<key> probe_keys(std::int64_t n, keys which) {
  std::vector<key> probe(probes);
  std::mt19937_64 rng(42);
  for (auto& p : probe) {
    const key r = rng();
    const auto i = static_cast<std::int64_t>(r % static_cast<key>(n));
    const bool present = which == keys::present || (which == keys::either && (r >> 63) != 0);
    p = present ? present_key(i) : absent_key(i);
  }
  return probe;
}

// One lookup per iteration, lookup(m, key) -> a number summed so that it is not optimised
// away, over probe keys of the given kind.
template <class Map, class Lookup>
void lookups(benchmark::State& state, keys which, Lookup lookup) {
  const std::int64_t n = state.range(0);
  Map m;
  fill(m, n);
  const auto probe = probe_keys(n, which);
  std::size_t j = 0;
  key sum = 0;
  for (auto _ : state) {
    sum += lookup(m, probe[j]);
    j = (j + 1) & (probes - 1);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

// A lambda, not a function pointer, so that the call is inlined into the loop.
template <class Map>
constexpr auto found_value = [](const Map& m, key k) -> key {
  auto it = m.find(k);
  return it != m.end() ? it->second : 0;
};

template <class Map>
void find_present(benchmark::State& state) {
  lookups<Map>(state, keys::present, found_value<Map>);
}
template <class Map>
void find_absent(benchmark::State& state) {
  lookups<Map>(state, keys::absent, found_value<Map>);
}
template <class Map>
void count(benchmark::State& state) {
  lookups<Map>(state, keys::either, [](const Map& m, key k) -> key { return m.count(k); });
}
template <class Map>
void contains(benchmark::State& state) {
  lookups<Map>(state, keys::either, [](const Map& m, key k) -> key { return m.contains(k) ? 1 : 0; });
}

template <class Map>
void subscript(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  Map m;
  fill(m, n);
  const auto probe = probe_keys(n, keys::present);
  std::size_t j = 0;
  for (auto _ : state) {
    ++m[probe[j]];
    j = (j + 1) & (probes - 1);
  }
  benchmark::DoNotOptimize(m.size());
  state.SetItemsProcessed(state.iterations());
}

// Emplacing into, and erasing from, a map of a steady size: each iteration times one batch of
// `batch` calls and undoes it untimed, so the map has n entries whenever a batch starts.
constexpr std::size_t batch = 256;

// Times a batch by the thread's CPU clock, less the clock's own cost (a system call of about
// a microsecond on a VM, measured once): a batch lasts microseconds, so a wall clock would
// count every time the thread lost the core, and the uncorrected clock would dilute the ratio.
class batch_timer {
 public:
  batch_timer() {
    std::vector<double> empty(101);
    for (double& e : empty) e = -now() + now();
    std::nth_element(empty.begin(), empty.begin() + 50, empty.end());
    overhead_ = empty[50];
  }
  void start() { start_ = now(); }
  double seconds() const { return std::max(0.0, now() - start_ - overhead_); }

 private:
  static double now() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  }
  double start_ = 0;
  double overhead_ = 0;
};

template <class Map>
void emplace(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  Map m;
  fill(m, n + static_cast<std::int64_t>(batch));  // reserved for n + batch: no rehash below
  for (std::size_t i = 0; i < batch; ++i) m.erase(present_key(n + static_cast<std::int64_t>(i)));
  std::vector<key> fresh(batch);
  for (std::size_t i = 0; i < batch; ++i) fresh[i] = present_key(n + static_cast<std::int64_t>(i));
  batch_timer timer;
  for (auto _ : state) {
    timer.start();
    for (key k : fresh) m.emplace(k, k);
    state.SetIterationTime(timer.seconds());
    for (key k : fresh) m.erase(k);
  }
  benchmark::DoNotOptimize(m.size());
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

template <class Map>
void erase(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  Map m;
  fill(m, n);
  // Batches of distinct present keys in a random order, a different batch each iteration.
  std::vector<key> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = present_key(i);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(42));
  std::size_t first = 0;
  key sum = 0;
  batch_timer timer;
  for (auto _ : state) {
    if (first + batch > order.size()) first = 0;
    const key* keys = order.data() + first;
    timer.start();
    for (std::size_t i = 0; i < batch; ++i) sum += m.erase(keys[i]);
    state.SetIterationTime(timer.seconds());
    for (std::size_t i = 0; i < batch; ++i) m.emplace(keys[i], keys[i]);
    first += batch;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
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
BENCHMARK_TEMPLATE(count, std_map)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(count, checked)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(contains, std_map)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(contains, checked)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(subscript, std_map)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(subscript, checked)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(emplace, std_map)->Arg(1 << 10)->Arg(1 << 20)->UseManualTime();
BENCHMARK_TEMPLATE(emplace, checked)->Arg(1 << 10)->Arg(1 << 20)->UseManualTime();
BENCHMARK_TEMPLATE(erase, std_map)->Arg(1 << 10)->Arg(1 << 20)->UseManualTime();
BENCHMARK_TEMPLATE(erase, checked)->Arg(1 << 10)->Arg(1 << 20)->UseManualTime();
BENCHMARK_TEMPLATE(insert, std_map)->Arg(1 << 10)->Arg(100000);
BENCHMARK_TEMPLATE(insert, checked)->Arg(1 << 10)->Arg(100000);
BENCHMARK_TEMPLATE(iterate, std_map)->Arg(1 << 10);
BENCHMARK_TEMPLATE(iterate, checked)->Arg(1 << 10);

}  // namespace
