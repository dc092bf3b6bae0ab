#pragma once
// observation: the slow-path events a tracer sees besides operations — a lock that was not
// free, a table's growth, a reclamation pass, a serial batch, a log sync — each as one scope or
// call where it happens, which fires its probes (probes.hpp, docs/probes.md). Each is reached
// only on a path that already waits, allocates or makes a system call, so each probe's
// semaphore test is the whole cost here.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "map_metrics.hpp"
#include "probes.hpp"

namespace cmap::detail {

/// lock_wait_begin and lock_wait_end's second argument.
enum class probe_lock_kind : std::uint8_t {
  spin_lock = 1,
  rw_lock,         // exclusive
  rw_lock_shared,  // shared
  table_stripe,    // concurrent_hash_map's writer stripes
  parking_lock,    // durable_map's key stripes
};

/// A wait for a lock that was not free at the first try: lock_wait_begin when constructed,
/// lock_wait_end when destroyed (the lock is held by then). Construct only on the slow path.
class lock_wait_scope {
 public:
  lock_wait_scope(const void* lock, probe_lock_kind kind) noexcept
      : lock_(lock), kind_(static_cast<unsigned>(kind)), counters_(current_map_metrics()) {
    if (counters_ != nullptr) start_ = std::chrono::steady_clock::now();
    if (CMAP_PROBE_ENABLED(lock_wait_begin)) CMAP_PROBE(lock_wait_begin, lock_, kind_);
  }
  lock_wait_scope(const lock_wait_scope&) = delete;
  lock_wait_scope& operator=(const lock_wait_scope&) = delete;
  ~lock_wait_scope() {
    if (CMAP_PROBE_ENABLED(lock_wait_end)) CMAP_PROBE(lock_wait_end, lock_, kind_);
    if (counters_ != nullptr) counters_->count_lock_wait(std::chrono::steady_clock::now() - start_);
  }

 private:
  [[maybe_unused]] const void* lock_;
  [[maybe_unused]] unsigned kind_;
  map_metrics* counters_;  // the named map whose call waits, if any (map_metrics.hpp)
  std::chrono::steady_clock::time_point start_{};
};

/// A table growing (or shrinking) from old_capacity to new_capacity slots: resize_begin when
/// constructed, resize_end when destroyed.
class resize_scope {
 public:
  resize_scope(const void* table, std::size_t old_capacity, std::size_t new_capacity) noexcept
      : table_(table), old_(old_capacity), new_(new_capacity), counters_(current_map_metrics()) {
    if (counters_ != nullptr) start_ = std::chrono::steady_clock::now();
    if (CMAP_PROBE_ENABLED(resize_begin)) CMAP_PROBE(resize_begin, table_, old_, new_);
  }
  resize_scope(const resize_scope&) = delete;
  resize_scope& operator=(const resize_scope&) = delete;
  ~resize_scope() {
    if (CMAP_PROBE_ENABLED(resize_end)) CMAP_PROBE(resize_end, table_, old_, new_);
    if (counters_ != nullptr) counters_->count_resize(std::chrono::steady_clock::now() - start_);
  }

 private:
  [[maybe_unused]] const void* table_;
  [[maybe_unused]] std::size_t old_, new_;
  map_metrics* counters_;  // the named map whose call rebuilds, if any (map_metrics.hpp)
  std::chrono::steady_clock::time_point start_{};
};

/// A reclamation pass of an epoch domain freed `freed` objects; `backlog` are still waiting.
inline void note_reclaim([[maybe_unused]] const void* domain, [[maybe_unused]] std::size_t freed,
                         [[maybe_unused]] std::size_t backlog) noexcept {
  if (CMAP_PROBE_ENABLED(reclaim)) CMAP_PROBE(reclaim, domain, freed, backlog);
}

/// A serial executor applied a batch of `commands` commands.
inline void note_serial_batch([[maybe_unused]] const void* executor,
                              [[maybe_unused]] std::size_t commands) noexcept {
  if (CMAP_PROBE_ENABLED(serial_batch)) CMAP_PROBE(serial_batch, executor, commands);
}

/// A log's sync of `bytes` bytes: log_sync, with the sync's duration in nanoseconds, when
/// destroyed. The clock is read only while a tracer is attached.
class log_sync_scope {
 public:
  log_sync_scope(const void* log, std::size_t bytes) noexcept : log_(log), bytes_(bytes) {
    if (CMAP_PROBE_ENABLED(log_sync)) start_ = std::chrono::steady_clock::now();
  }
  log_sync_scope(const log_sync_scope&) = delete;
  log_sync_scope& operator=(const log_sync_scope&) = delete;
  ~log_sync_scope() {
    if (CMAP_PROBE_ENABLED(log_sync)) {
      [[maybe_unused]] const auto ns =
          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now() - start_)
                                         .count());
      CMAP_PROBE(log_sync, log_, bytes_, ns);
    }
  }

 private:
  [[maybe_unused]] const void* log_;
  [[maybe_unused]] std::size_t bytes_;
  std::chrono::steady_clock::time_point start_{};
};

}  // namespace cmap::detail
