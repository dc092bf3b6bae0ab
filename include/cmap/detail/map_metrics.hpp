#pragma once
// map_metrics: the counters of one map that cmap::metrics (<cmap/metrics.hpp>) reports:
// operations by kind and outcome, lock waits with their time, and table rebuilds with theirs.
//
// Cost model. A map nobody named has a null metrics_slot, and its operations pay one load of
// that pointer (next to the probes' semaphore test, in common_surface's observed()). A named
// map's operations count into a block of the calling thread's own: one thread writes each
// block, so a count is a relaxed load and store of a line no other thread writes (no atomic
// read-modify-write, no shared line), and a scrape sums the blocks. Lock waits and rebuilds
// are counted on their slow paths, where reading the clock costs nothing next to the wait.
//
// Threads. A thread gets a block the first time it touches the map (one allocation); thread
// numbers from max_threads on share one block with atomic adds instead. A thread that exits
// leaves its block, so the totals never go backwards. Each thread remembers the block it last
// counted into and whose it was (metrics_thread_state), so that while a thread keeps to one
// named map a count is a compare and an increment, without the thread number or the block
// table. The owner is remembered by a number never reused, not by address: a map destroyed and
// another built at its address must not find the old map's freed block.
//
// Attribution of slow paths. A lock wait or a rebuild does not know its map; the operation
// around it does. While a named map's operation runs, the thread's metrics_thread_state names
// that map's counters (nested operations restore the outer one), and lock_wait_scope and
// resize_scope (observation.hpp) count there.
//
// Memory orders: relaxed, except where a thread publishes its new block (release, paired with
// the scrape's acquire load, so the scrape reads an initialised block).

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache_line.hpp"
#include "probes.hpp"
#include "thread_number.hpp"

namespace cmap::detail {

/// The operations counted: the common surface's (probe_op), indexed from 0.
inline constexpr std::size_t metric_op_count =
    static_cast<std::size_t>(probe_op::end_) - static_cast<std::size_t>(probe_op::find);

/// Upper bounds, in seconds, of the wait-time histograms' buckets (the last is +Inf).
inline constexpr std::array<double, 8> wait_buckets = {1e-6, 1e-5, 1e-4, 1e-3,
                                                       1e-2, 1e-1, 1.0,  10.0};

/// One thread's counts for one map; the totals are the sums over all blocks.
struct alignas(cache_line_size) metric_block {
  std::array<std::array<std::atomic<std::uint64_t>, 2>, metric_op_count> ops{};  // [op][hit]
  std::atomic<std::uint64_t> lock_waits{0};
  std::atomic<std::uint64_t> lock_wait_ns{0};
  std::array<std::atomic<std::uint64_t>, wait_buckets.size() + 1> lock_wait_buckets{};
  std::atomic<std::uint64_t> resizes{0};
  std::atomic<std::uint64_t> resize_ns{0};
};

/// A sum of every block of a map at one moment (not a snapshot: see striped_counter.hpp).
struct metric_totals {
  std::array<std::array<std::uint64_t, 2>, metric_op_count> ops{};
  std::uint64_t lock_waits = 0;
  std::uint64_t lock_wait_ns = 0;
  std::array<std::uint64_t, wait_buckets.size() + 1> lock_wait_buckets{};  // not cumulative
  std::uint64_t resizes = 0;
  std::uint64_t resize_ns = 0;
};

class map_metrics;

/// What a thread keeps for the metrics (see the top of this file): the named map whose
/// operation it is running, and the block it last counted into with the number of that
/// block's map (0: none).
struct metrics_thread_state {
  map_metrics* current = nullptr;
  std::uint64_t cached_owner = 0;
  metric_block* cached_block = nullptr;
};
constinit inline thread_local metrics_thread_state this_thread_metrics;

/// Numbers for map_metrics objects, from 1 (0 means "no map" in metrics_thread_state).
inline std::atomic<std::uint64_t> next_map_metrics_number{1};

class map_metrics {
 public:
  /// Thread numbers below this have a block each; the rest share one.
  static constexpr std::size_t max_threads = 256;

  map_metrics() = default;
  map_metrics(const map_metrics&) = delete;
  map_metrics& operator=(const map_metrics&) = delete;
  ~map_metrics() {
    for (auto& b : blocks_) delete b.load(std::memory_order_relaxed);
  }

  [[gnu::always_inline]] void count_op(probe_op op, bool hit) noexcept {
    const auto i = static_cast<std::size_t>(op) - static_cast<std::size_t>(probe_op::find);
    metrics_thread_state& t = this_thread_metrics;
    if (t.cached_owner == number_) [[likely]] {
      writer{*t.cached_block, false}.add(t.cached_block->ops[i][hit ? 1 : 0], 1);
      return;
    }
    count_op_uncached(i, hit ? 1 : 0);
  }
  void count_lock_wait(std::chrono::nanoseconds waited) noexcept {
    writer w = mine();
    w.add(w.block.lock_waits, 1);
    w.add(w.block.lock_wait_ns, static_cast<std::uint64_t>(waited.count()));
    w.add(w.block.lock_wait_buckets[bucket_of(waited)], 1);
  }
  void count_resize(std::chrono::nanoseconds took) noexcept {
    writer w = mine();
    w.add(w.block.resizes, 1);
    w.add(w.block.resize_ns, static_cast<std::uint64_t>(took.count()));
  }

  [[nodiscard]] metric_totals totals() const noexcept {
    metric_totals t;
    const auto sum = [&](const metric_block& b) {
      for (std::size_t i = 0; i < metric_op_count; ++i) {
        for (std::size_t h = 0; h < 2; ++h) t.ops[i][h] += b.ops[i][h].load(std::memory_order_relaxed);
      }
      t.lock_waits += b.lock_waits.load(std::memory_order_relaxed);
      t.lock_wait_ns += b.lock_wait_ns.load(std::memory_order_relaxed);
      for (std::size_t i = 0; i < t.lock_wait_buckets.size(); ++i) {
        t.lock_wait_buckets[i] += b.lock_wait_buckets[i].load(std::memory_order_relaxed);
      }
      t.resizes += b.resizes.load(std::memory_order_relaxed);
      t.resize_ns += b.resize_ns.load(std::memory_order_relaxed);
    };
    for (const auto& p : blocks_) {
      // acquire: pairs with the release store in mine(); the block's zeroes are visible.
      if (const metric_block* b = p.load(std::memory_order_acquire)) sum(*b);
    }
    sum(shared_);
    return t;
  }

  static std::size_t bucket_of(std::chrono::nanoseconds d) noexcept {
    const double s = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < wait_buckets.size() && s > wait_buckets[i]) ++i;
    return i;
  }

 private:
  // A block and how to add to it: its own block, which only this thread writes, takes a
  // relaxed load and store; the shared block takes atomic adds.
  struct writer {
    metric_block& block;
    bool shared;
    void add(std::atomic<std::uint64_t>& c, std::uint64_t n) const noexcept {
      if (shared) [[unlikely]] {
        c.fetch_add(n, std::memory_order_relaxed);
      } else {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
      }
    }
  };
  // A thread's block, found through its number; remembered in the thread's state when it is
  // the thread's own (the shared block takes atomic adds, so it is never the remembered one).
  writer mine() noexcept {
    const std::uint32_t n = thread_number();
    if (n >= max_threads) [[unlikely]]
      return {shared_, true};
    metric_block* b = blocks_[n].load(std::memory_order_relaxed);
    if (b == nullptr) [[unlikely]]
      b = adopt(n);
    if (b == &shared_) [[unlikely]]
      return {shared_, true};
    this_thread_metrics.cached_owner = number_;
    this_thread_metrics.cached_block = b;
    return {*b, false};
  }
  [[gnu::noinline]] void count_op_uncached(std::size_t op_index, std::size_t hit) noexcept {
    writer w = mine();
    w.add(w.block.ops[op_index][hit], 1);
  }
  [[gnu::noinline]] metric_block* adopt(std::uint32_t n) noexcept {
    auto* b = new (std::nothrow) metric_block();
    if (b == nullptr) return &shared_;  // out of memory: count into the shared block
    // release: the block's initialisation happens before a scrape that finds it.
    blocks_[n].store(b, std::memory_order_release);
    return b;
  }

  // relaxed: the number only has to be unique.
  const std::uint64_t number_ = next_map_metrics_number.fetch_add(1, std::memory_order_relaxed);
  std::array<std::atomic<metric_block*>, max_threads> blocks_{};
  metric_block shared_;
};

/// The counters of the named map whose operation runs on this thread, or null: where lock
/// waits and rebuilds count (see the top of this file).
inline map_metrics* current_map_metrics() noexcept { return this_thread_metrics.current; }

/// Names the map whose operation runs on this thread for a scope, restoring the outer one after;
/// with a null map (an unnamed map's call), does nothing.
class current_map_scope {
 public:
  explicit current_map_scope(map_metrics* m) noexcept : map_(m) {
    if (map_ != nullptr) [[unlikely]] {
      outer_ = this_thread_metrics.current;
      this_thread_metrics.current = map_;
    }
  }
  current_map_scope(const current_map_scope&) = delete;
  current_map_scope& operator=(const current_map_scope&) = delete;
  ~current_map_scope() {
    if (map_ != nullptr) [[unlikely]] this_thread_metrics.current = outer_;
  }

 private:
  map_metrics* map_;
  map_metrics* outer_ = nullptr;
};

class metrics_slot;

/// The figures read from a map when the metrics are written; the optional ones exist only for
/// the maps that have them.
struct map_gauges {
  std::size_t entries = 0;
  std::size_t allocated_bytes = 0;
  std::optional<std::uint64_t> queued_writes;  // serial_map
  std::optional<std::uint64_t> log_syncs;      // durable_map
  std::optional<std::uint64_t> log_bytes;      // durable_map
  std::optional<std::uint64_t> checkpoints;    // durable_map
};

/// What the registry keeps of a named map. The registry (cmap::metrics) and the map's slot
/// both point at it; each tells the other when it goes, under registry_mutex().
struct metrics_entry {
  std::string name;
  std::string kind;
  std::vector<std::pair<std::string, std::string>> labels;
  std::shared_ptr<map_metrics> counters;
  // Reads the map's gauges. Called under registry_mutex().
  std::function<map_gauges()> gauges;
  metrics_slot* slot = nullptr;  // null once the map is destroyed
  // checked_map, which has no slot and counts no operations (its cost budget has no room for
  // a test per call): its address, and its own detector's reports by violation kind.
  const void* checked_map = nullptr;
  std::array<std::atomic<std::uint64_t>, 3> violations{};
};

/// The registry of named maps; one per program. Its mutex orders naming, unnaming, a map's
/// destruction and a scrape.
inline std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
inline std::vector<std::shared_ptr<metrics_entry>>& registry_entries() {
  static std::vector<std::shared_ptr<metrics_entry>> entries;
  return entries;
}

/// How many checked_maps are named: while none is, a violation report and a checked_map's
/// destruction skip the registry. relaxed: a map is named before it is shared (the thread
/// that shares it publishes the naming), and the registry's mutex orders the rest.
inline std::atomic<std::size_t> named_checked_maps{0};

/// A checked_map's detector reported a violation of kind (0 to 2) on the map at address.
inline void count_checked_violation(const void* map, unsigned kind) noexcept {
  if (named_checked_maps.load(std::memory_order_relaxed) == 0 || kind >= 3) return;
  const std::lock_guard lock(registry_mutex());
  for (const auto& e : registry_entries()) {
    if (e->checked_map == map) e->violations[kind].fetch_add(1, std::memory_order_relaxed);
  }
}

/// A checked_map at address is being destroyed: it leaves the registry if it is named.
inline void forget_checked_map(const void* map) noexcept {
  if (named_checked_maps.load(std::memory_order_relaxed) == 0) return;
  const std::lock_guard lock(registry_mutex());
  auto& entries = registry_entries();
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if ((*it)->checked_map == map) {
      (*it)->checked_map = nullptr;
      named_checked_maps.fetch_sub(1, std::memory_order_relaxed);
      entries.erase(it);
      return;
    }
  }
}

/// The member every map carries through common_surface: null until the map is named
/// (cmap::metrics::watch). A copy or a move of a map is a new, unnamed map. A map destroyed
/// while still named leaves the registry then.
class metrics_slot {
 public:
  metrics_slot() noexcept = default;
  metrics_slot(const metrics_slot&) noexcept {}
  metrics_slot& operator=(const metrics_slot&) noexcept { return *this; }
  ~metrics_slot() {
    if (owned_ == nullptr) return;
    const std::lock_guard lock(registry_mutex());
    auto& entries = registry_entries();
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if ((*it)->slot == this) {
        (*it)->slot = nullptr;
        entries.erase(it);
        break;
      }
    }
  }

  /// The fast path's test. acquire: pairs with attach's release, so an operation that finds
  /// the counters finds them constructed (a plain load on x86).
  [[nodiscard]] map_metrics* get() const noexcept {
    return active_.load(std::memory_order_acquire);
  }

  /// Starts counting into m (kept alive as long as this slot). Not concurrent with another
  /// attach or with the map's destruction.
  void attach(std::shared_ptr<map_metrics> m) noexcept {
    owned_ = std::move(m);
    // release: the counters' construction happens before an operation that finds them.
    active_.store(owned_.get(), std::memory_order_release);
  }
  /// Stops counting; an operation already counting finishes into the counters, which this
  /// slot keeps until the map is destroyed.
  void detach() noexcept { active_.store(nullptr, std::memory_order_relaxed); }

 private:
  std::atomic<map_metrics*> active_{nullptr};
  std::shared_ptr<map_metrics> owned_;
};

}  // namespace cmap::detail
