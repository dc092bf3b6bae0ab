#pragma once
// spin_lock: an exclusive lock in one byte that spins briefly and then yields (backoff.hpp),
// for critical sections of a few stores, such as concurrent_table's writer stripes.
//
// Why not rw_lock used exclusively: its unlock is a read-modify-write (it must keep the
// waiting-writer mark that readers obey), one more locked instruction per write, and a
// locked instruction on x86 waits for every store before it to reach the cache. Here unlock
// is a plain release store, which lets a writer's stores drain while it goes on (the gain
// shows with several writers; one writer's next lock waits for the same stores anyway).
//
// Meets the standard's Lockable requirements (std::lock_guard, std::unique_lock). Not
// recursive; not fair (under contention any waiter may win).

#include <atomic>

#include "backoff.hpp"
#include "observation.hpp"

namespace cmap::detail {

class spin_lock {
 public:
  spin_lock() noexcept = default;
  spin_lock(const spin_lock&) = delete;
  spin_lock& operator=(const spin_lock&) = delete;

  [[nodiscard]] bool try_lock() noexcept {
    // Test before the exchange, so that waiters spin on a shared copy of the line instead of
    // taking it exclusively on every try. acquire on success: pairs with the release in
    // unlock(), so this holder sees every write of the previous holder's critical section.
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }

  void lock() noexcept {
    if (!try_lock()) [[unlikely]]
      lock_contended();
  }

  void unlock() noexcept {
    // release: the critical section's writes happen before the next holder's acquire.
    locked_.store(false, std::memory_order_release);
  }

 private:
  [[gnu::noinline]] void lock_contended() noexcept {
    const lock_wait_scope observed(this, probe_lock_kind::spin_lock);
    backoff b;
    while (!try_lock()) b.wait();
  }

  std::atomic<bool> locked_{false};
};

}  // namespace cmap::detail
