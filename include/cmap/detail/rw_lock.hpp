#pragma once
// rw_lock: a reader-writer spinlock in one 32-bit word, with writer preference and backoff.
//
// Why not std::shared_mutex: on Linux it is pthread_rwlock, which puts waiters to sleep on a
// futex; for the nanosecond critical sections of a hash map, the sleep/wake-up round trips
// dominate, so that two threads sharing the lock run far slower than one. rw_lock spins
// briefly and then yields (see backoff.hpp), so it neither sleeps for a short wait nor
// burns a time slice when the holder is preempted.
//
// State word:
//   bit 0        writer_bit: a writer holds the lock
//   bit 1        writer_waiting_bit: a writer is waiting; new readers hold back so that a
//                stream of readers cannot starve writers
//   bits 2..31   the number of readers holding the lock, in units of reader_unit
// Invariant: writer_bit set implies the reader count is 0.
//
// Meets the standard's Lockable and SharedLockable requirements, so std::unique_lock,
// std::shared_lock and std::scoped_lock work with it. Not recursive: a thread that already
// holds it (shared or exclusive) and locks it again deadlocks.

#include <atomic>
#include <cstdint>

#include "backoff.hpp"
#include "observation.hpp"

namespace cmap::detail {

class rw_lock {
 public:
  rw_lock() noexcept = default;
  rw_lock(const rw_lock&) = delete;
  rw_lock& operator=(const rw_lock&) = delete;

  [[nodiscard]] bool try_lock_shared() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    // acquire on success: pairs with the release in unlock(), so this reader sees every
    // write of the previous writer's critical section.
    return (s & (writer_bit | writer_waiting_bit)) == 0 &&
           state_.compare_exchange_strong(s, s + reader_unit, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void lock_shared() noexcept {
    if (!try_lock_shared()) [[unlikely]]
      lock_shared_contended();
  }

  void unlock_shared() noexcept {
    // release: the reader's loads happen before a later writer's stores (pairs with the
    // acquire in try_lock()).
    state_.fetch_sub(reader_unit, std::memory_order_release);
  }

  [[nodiscard]] bool try_lock() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    // Free means no writer and no readers; a waiting-writer mark (ours or another writer's)
    // is cleared by whoever takes the lock; the other waiters set it again on their next try.
    // acquire on success: pairs with the release in unlock() and unlock_shared().
    return (s & ~writer_waiting_bit) == 0 &&
           state_.compare_exchange_strong(s, writer_bit, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void lock() noexcept {
    if (!try_lock()) [[unlikely]]
      lock_contended();
  }

  void unlock() noexcept {
    // release: pairs with the acquire of the next holder. fetch_and keeps a waiting-writer
    // mark set by another writer during our hold.
    state_.fetch_and(~writer_bit, std::memory_order_release);
  }

 private:
  static constexpr std::uint32_t writer_bit = 1;
  static constexpr std::uint32_t writer_waiting_bit = 2;
  static constexpr std::uint32_t reader_unit = 4;

  [[gnu::noinline]] void lock_shared_contended() noexcept {
    const lock_wait_scope observed(this, probe_lock_kind::rw_lock_shared);
    backoff b;
    while (!try_lock_shared()) b.wait();
  }

  [[gnu::noinline]] void lock_contended() noexcept {
    const lock_wait_scope observed(this, probe_lock_kind::rw_lock);
    backoff b;
    while (!try_lock()) {
      // Announce the wait, so new readers stop entering and the readers inside drain.
      // relaxed: the mark is only a hint to readers; it orders no data.
      if ((state_.load(std::memory_order_relaxed) & writer_waiting_bit) == 0) {
        state_.fetch_or(writer_waiting_bit, std::memory_order_relaxed);
      }
      b.wait();
    }
  }

  std::atomic<std::uint32_t> state_{0};
};

}  // namespace cmap::detail
