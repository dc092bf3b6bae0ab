#pragma once
// The measurement loop, one instantiation per adapter, key type and value size.
//
// For each repetition asked for (run_workload asks for one at a time, taking the maps in turn,
// unless --sequential): a fresh map, the preload (one thread, untimed), then the threads
// start together on a barrier and run their pre-generated streams; the timed phase is from
// the first thread's start to the last thread's end, and covers only operations. Every 64th
// operation is timed on its own for the latency histogram. Each thread writes only its own
// result slot; the main thread reads them after join(), so the runner itself shares nothing
// mutable between threads but the map under test.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "adapters/counting_allocator.hpp"
#include "adapters/durable_common.hpp"
#include "mix.hpp"
#include "measures.hpp"
#include "registry.hpp"

namespace cmap_bench {

constexpr unsigned latency_sample_shift = 6;  // every 64th operation is timed

// The prefix a prefix_scan of key k scans: k without its last two characters, so that a
// dense universe of zero-padded indices has 100 keys under each prefix.
inline std::string_view scan_prefix(const std::string& k) noexcept {
  return std::string_view(k).substr(0, k.size() - 2);  // key_length >= 8 (validate)
}

// One operation of a stream on the map; returns something the caller keeps, so that the
// compiler cannot drop a call.
template <class Map, class KeyOf>
inline std::uint64_t apply(Map& map, std::uint64_t op, const KeyOf& key_of,
                           std::size_t scan_length) {
  using value_type = typename Map::value_type;
  const std::uint64_t index = index_of(op);
  switch (op_of(op)) {
    case op_kind::find:
    case op_kind::find_miss:
      return map.find(key_of(index));
    case op_kind::insert:
      return map.insert(key_of(index), value_type(index));
    case op_kind::insert_or_assign:
      map.insert_or_assign(key_of(index), value_type(index));
      return 1;
    case op_kind::update:
      map.update(key_of(index));
      return 1;
    case op_kind::erase:
      return map.erase(key_of(index));
    case op_kind::for_each:
      return map.for_each();
    case op_kind::scan:
      // Only the ordered maps have scan; for the others the runner reports n/a.
      if constexpr (requires { map.scan(key_of(index), scan_length); })
        return map.scan(key_of(index), scan_length);
      else
        return 0;
    case op_kind::prefix_scan:
      // String keys only (validate); an adapter without prefix_scan is reported n/a.
      if constexpr (requires { map.prefix_scan(scan_prefix(key_of(index)), scan_length); })
        return map.prefix_scan(scan_prefix(key_of(index)), scan_length);
      else
        return 0;
  }
  return 0;
}

// How many operations a timed run does before it looks at the clock again: an eighth of those
// that fit in the time left at the rate so far, at most twice the previous stride (the first
// operations, a few fast finds say, tell little about the rate), and at most 1024. So a map
// whose writes take milliseconds (cow_map) stops within about one operation of its deadline,
// while a fast map soon reads the clock only once per 1024 operations.
inline std::uint64_t check_stride(std::uint64_t previous, std::uint64_t done,
                                  std::chrono::steady_clock::duration elapsed,
                                  std::chrono::steady_clock::duration left) {
  if (done == 0 || elapsed.count() <= 0) return 1;
  const double fit = static_cast<double>(done) * std::chrono::duration<double>(left).count() /
                     std::chrono::duration<double>(elapsed).count();
  return std::clamp<std::uint64_t>(static_cast<std::uint64_t>(fit / 8), 1,
                                   std::min<std::uint64_t>(2 * previous, 1024));
}

// The key and value bytes an operation asked a durable store to write (kind, and what apply
// returned: an insert of a present key or an erase of an absent one writes nothing).
inline std::uint64_t user_bytes_of(op_kind kind, std::uint64_t applied, std::size_t key_bytes,
                                   std::size_t value_bytes) noexcept {
  switch (kind) {
    case op_kind::insert:
      return applied ? key_bytes + value_bytes : 0;
    case op_kind::insert_or_assign:
    case op_kind::update:
      return key_bytes + value_bytes;
    case op_kind::erase:
      return applied ? key_bytes : 0;
    default:
      return 0;
  }
}

template <template <class, class> class Adapter, class Key, class Value>
map_result run_typed(const run_request& rq) {
  using clock = std::chrono::steady_clock;
  const workload& w = *rq.w;
  // The durable stores: no heap count (their memory is mostly the store's own caches), but
  // bytes on disk, the I/O counters over the timed phase, and durable-recovery's reopen.
  constexpr bool durable = durable_store<Adapter<Key, Value>>;
  // A u64 key is index + 1 or its mix (workload::random_u64_keys); a string key comes from the
  // pre-built table.
  auto key_of = [&](std::uint64_t index) -> decltype(auto) {
    if constexpr (std::is_same_v<Key, std::uint64_t>) {
      return w.random_u64_keys ? Key{mix64(index + 1)} : Key{index + 1};
    } else {
      return static_cast<const Key&>((*rq.string_keys)[index]);
    }
  };

  map_result result;
  result.threads = rq.threads;
  result.durable = durable;
  result.recovery = w.recovery;
  if constexpr (!requires(Adapter<Key, Value>& a, std::string_view p) { a.prefix_scan(p, 1); }) {
    // An ordered map whose adapter has no prefix_scan yet: reported, never run as a no-op.
    if (w.has(op_kind::prefix_scan)) {
      result.status = "n/a";
      result.note = "no prefix scan in its adapter";
      return result;
    }
  }
  latency_histogram latency;
  // Memory (untimed, one thread, first thread count only): bytes per entry from the map's
  // allocated_bytes() or, for peers, from counting_allocator, counted while the map is built:
  // after the first repetition's preload or, when the workload starts empty, in a separate
  // pass that replays the whole run on one thread.
  auto record_memory = [&](auto& map) {
    result.entries = map.size();
    const auto counted = allocation_counter::bytes.load(std::memory_order_relaxed);
    allocation_counter::enabled.store(false, std::memory_order_relaxed);
    if (result.entries == 0) return;
    if (auto bytes = map.allocated_bytes()) {
      result.bytes_per_entry = static_cast<double>(*bytes) / static_cast<double>(result.entries);
      result.memory_method = "allocated_bytes";
    } else if (counted > 0) {
      result.bytes_per_entry = static_cast<double>(counted) / static_cast<double>(result.entries);
      result.memory_method = "counting_allocator";
    }
  };
  auto start_counting = [] {
    allocation_counter::bytes.store(0, std::memory_order_relaxed);
    allocation_counter::enabled.store(true, std::memory_order_relaxed);
  };
  if (!durable && rq.measure_memory && w.preload == 0 && rq.first_rep == 0) {
    trim_heap();
    start_counting();
    Adapter<Key, Value> map(rq.param);
    for (const auto& stream : rq.ops->per_thread)
      for (const std::uint64_t op : stream) apply(map, op, key_of, w.scan_length);
    if constexpr (requires { map.finish(); }) map.finish();
    record_memory(map);
  }

  // Peak RSS from here: return what earlier maps (and the memory pass) freed, then reset
  // VmHWM to the RSS now, so the peak is this map's repetitions on top of what the process
  // holds anyway (the operation streams and string keys).
  trim_heap();
  const bool can_reset_peak = reset_peak_rss();
  const unsigned end_rep =
      rq.rep_count == 0 ? w.repetitions : std::min(w.repetitions, rq.first_rep + rq.rep_count);
  for (unsigned rep = rq.first_rep; rep < end_rep; ++rep) {
    if (rq.stop->load(std::memory_order_relaxed)) break;
    trim_heap();
    const bool count_preload = !durable && rep == 0 && rq.measure_memory && w.preload > 0;
    if (count_preload) start_counting();
    Adapter<Key, Value> map(rq.param);
    // An adapter may offer preload_insert for the untimed, single-threaded preload (cow_map:
    // its insert copies the whole map, which would make the preload quadratic).
    for (std::uint64_t i = 0; i < w.key_universe; ++i) {
      if (!preloaded(w, i)) continue;
      if constexpr (requires { map.preload_insert(key_of(i), Value(i)); }) {
        map.preload_insert(key_of(i), Value(i));
      } else {
        map.insert(key_of(i), Value(i));
      }
    }
    if constexpr (requires { map.finish(); }) map.finish();
    if (count_preload) record_memory(map);
    if constexpr (durable) {
      if (w.recovery) {
        // durable-recovery: close the store and time its reopening (the log replayed); the
        // repetition's "operations" are the entries it then holds, counted untimed.
        const auto took = map.reopen();
        const double seconds = std::chrono::duration<double>(took).count();
        result.entries = map.size();
        result.reps.push_back({seconds, result.entries,
                               seconds > 0 ? static_cast<double>(result.entries) / seconds / 1e6
                                           : 0});
        continue;
      }
    }

    struct alignas(64) slot {
      clock::time_point start{};
      clock::time_point end{};
      std::uint64_t ops = 0;
      std::uint64_t sink = 0;
      std::uint64_t user_bytes = 0;  // durable stores: key and value bytes written
      latency_histogram latency;
    };
    std::vector<slot> slots(rq.threads);
    std::latch ready(rq.threads + 1);
    std::atomic<bool> go{false};
    const auto deadline_ms = std::chrono::milliseconds(w.duration_ms);
    std::vector<std::thread> workers;
    workers.reserve(rq.threads);
    for (unsigned t = 0; t < rq.threads; ++t) {
      workers.emplace_back([&, t] {
        // Per-thread set-up the map needs (libcds: attach); outside the timed phase.
        [[maybe_unused]] const typename thread_scope_of<Adapter<Key, Value>>::type scope;
        const auto& stream = rq.ops->per_thread[t];
        slot& my = slots[t];
        ready.count_down();
        // Released by the main thread's store (release) once every thread is ready.
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        my.start = clock::now();
        const auto deadline = my.start + deadline_ms;
        const std::size_t n = stream.size();
        std::uint64_t done = 0;
        // Timed runs: the operation before which to look at the clock, and the last stride.
        std::uint64_t next_check = 0;
        std::uint64_t stride = 1;
        for (std::uint64_t j = 0;; ++j) {
          if (w.duration_ms == 0) {
            if (j >= n) break;
            if ((j & 1023) == 0 && rq.stop->load(std::memory_order_relaxed)) break;
          } else if (j == next_check) {
            if (rq.stop->load(std::memory_order_relaxed)) break;
            const auto now = clock::now();
            if (now >= deadline) break;
            stride = check_stride(stride, j, now - my.start, deadline - now);
            next_check = j + stride;
          }
          const std::uint64_t op = stream[j % n];
          const bool sampled = (j & ((1u << latency_sample_shift) - 1)) == 0;
          const auto t0 = sampled ? clock::now() : clock::time_point{};
          const std::uint64_t applied = apply(map, op, key_of, w.scan_length);
          my.sink += applied;
          if constexpr (durable) my.user_bytes += user_bytes_of(op_of(op), applied, 8, sizeof(Value));
          if (sampled)
            my.latency.record(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count()));
          ++done;
        }
        // An adapter whose writes complete later (serial_map+async) waits for them here,
        // inside the timed phase: the count then covers completed operations only.
        if constexpr (requires { map.finish(); }) map.finish();
        my.end = clock::now();
        my.ops = done;
      });
    }
    ready.arrive_and_wait();
    const auto io_before = durable ? read_io_counters() : std::nullopt;
    go.store(true, std::memory_order_release);
    for (auto& th : workers) th.join();
    const auto io_after = durable ? read_io_counters() : std::nullopt;

    auto first = slots[0].start;
    auto last = slots[0].end;
    std::uint64_t ops = 0;
    for (const auto& s : slots) {
      first = std::min(first, s.start);
      last = std::max(last, s.end);
      ops += s.ops;
      latency.merge(s.latency);
    }
    const double seconds = std::chrono::duration<double>(last - first).count();
    const bool complete =
        w.duration_ms > 0 ? !rq.stop->load(std::memory_order_relaxed) : ops == w.ops;
    if (!complete) break;  // interrupted: a partial repetition is not a measurement
    result.reps.push_back(
        {seconds, ops, seconds > 0 ? static_cast<double>(ops) / seconds / 1e6 : 0});
    if constexpr (durable) {
      for (const auto& s : slots) result.user_bytes_written += s.user_bytes;
      if (io_before && io_after) {
        result.os_bytes_written += io_after->wchar - io_before->wchar;
        result.device_bytes_written += io_after->write_bytes - io_before->write_bytes;
      }
      // Bytes on disk, untimed, once per row (its first repetition): the files as the run
      // left them, then after the store's flush (compacted).
      if (rep == rq.first_rep && rq.first_rep == 0) {
        result.entries = map.size();
        if (result.entries > 0) {
          const auto n = static_cast<double>(result.entries);
          result.disk_bytes_per_entry = static_cast<double>(directory_bytes(map.directory())) / n;
          map.flush();
          result.compacted_disk_bytes_per_entry =
              static_cast<double>(directory_bytes(map.directory())) / n;
        }
      }
    }
  }
  if (auto peak = peak_rss_bytes()) result.peak_rss_bytes = *peak;
  if (!can_reset_peak) result.note = "peak RSS is the process peak (clear_refs unavailable)";
  result.latency = latency;
  if (result.reps.empty()) result.status = "interrupted";
  summarise(result);
  return result;
}

inline map_result not_run(const run_request& rq, std::string why) {
  map_result r;
  r.threads = rq.threads;
  r.status = "n/a";
  r.note = std::move(why);
  return r;
}

// Dispatches on the workload's key type and value size.
template <template <class, class> class Adapter>
map_result run_adapter(const run_request& rq) {
  const workload& w = *rq.w;
  if (w.value_size == 100) return not_run(rq, "100-byte values: the durable stores only");
  auto with_key = [&]<class Key>() -> map_result {
    switch (w.value_size) {
      case 64:
        return run_typed<Adapter, Key, typename value_of<64>::type>(rq);
      case 256:
        return run_typed<Adapter, Key, typename value_of<256>::type>(rq);
      case 1024:
        return run_typed<Adapter, Key, typename value_of<1024>::type>(rq);
      default:
        return run_typed<Adapter, Key, typename value_of<8>::type>(rq);
    }
  };
  if (w.string_keys) return with_key.template operator()<std::string>();
  return with_key.template operator()<std::uint64_t>();
}

}  // namespace cmap_bench

namespace cmap_bench {
// The durable stores: u64 keys, 8- or 100-byte values (the durable presets' shapes; each more
// would compile the stores' adapters again for little).
template <template <class, class> class Adapter>
map_result run_durable_adapter(const run_request& rq) {
  const workload& w = *rq.w;
  if (w.string_keys) return not_run(rq, "the durable stores take u64 keys only");
  switch (w.value_size) {
    case 8:
      return run_typed<Adapter, std::uint64_t, typename value_of<8>::type>(rq);
    case 100:
      return run_typed<Adapter, std::uint64_t, typename value_of<100>::type>(rq);
    default:
      return not_run(rq, "the durable stores take 8- or 100-byte values only");
  }
}
}  // namespace cmap_bench
