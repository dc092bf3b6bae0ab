#pragma once
// parking_lock: an exclusive lock in four bytes whose waiters sleep in the kernel (a futex,
// through std::atomic::wait) instead of spinning, for critical sections that may last a
// disk sync: durable_map's key stripes are held from reading a key's value, through the
// log's fdatasync, to applying the write.
//
// Why not std::mutex: durable_map locks many stripes at once (a write batch locks one per
// key, a checkpoint all of them), and ThreadSanitizer's deadlock detector tracks at most 64
// mutexes held by one thread: beyond that its runtime fails a CHECK and hangs. A lock built
// on atomics is checked for data races like any other synchronisation, but not counted
// there. And why not spin_lock: a waiter may wait a whole sync (a millisecond), and spinning
// or yielding for that long takes the CPU from the thread it waits for.
//
// The state is Drepper's ("Futexes Are Tricky", mutex 2): 0 free, 1 held, 2 held and a
// waiter may be asleep. unlock() wakes a sleeper only when the state says there may be one,
// so an uncontended lock and unlock make no system call.
//
// Meets the standard's Lockable requirements. Not recursive; not fair.

#include <atomic>
#include <cstdint>

#include "observation.hpp"

namespace cmap::detail {

class parking_lock {
 public:
  parking_lock() noexcept = default;
  parking_lock(const parking_lock&) = delete;
  parking_lock& operator=(const parking_lock&) = delete;

  [[nodiscard]] bool try_lock() noexcept {
    std::uint32_t free = 0;
    // acquire on success: pairs with the release in unlock(), so the new holder sees every
    // write of the previous holder's critical section.
    return state_.compare_exchange_strong(free, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void lock() noexcept {
    if (try_lock()) return;
    const lock_wait_scope observed(this, probe_lock_kind::parking_lock);
    // Mark the lock contended (2) before sleeping, so that the holder's unlock wakes us.
    // Taking it this way leaves it marked 2 even if nobody else waits: at worst one wake-up
    // call too many. acquire: as in try_lock, when the exchange finds it free.
    while (state_.exchange(2, std::memory_order_acquire) != 0) {
      // Sleeps only while the state is still 2; a change (an unlock) returns at once.
      state_.wait(2, std::memory_order_relaxed);
    }
  }

  void unlock() noexcept {
    // release: the critical section's writes happen before the next holder's acquire.
    if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
  }

 private:
  std::atomic<std::uint32_t> state_{0};
};

}  // namespace cmap::detail
