#pragma once
// Epoch-based memory reclamation (EBR): free memory that lock-free readers may still be
// reading only once no reader can hold it any more.
//
// How it works
// ------------
// One process-wide domain holds a global epoch number and one record per thread that uses it.
//   - A reader *pins* before it loads shared pointers: it announces the global epoch it saw
//     in its record, then fences; it *unpins* when done (announces "idle"). Pins nest.
//   - A writer that unlinks an object *retires* it: the object goes on the writer's own list,
//     tagged with the global epoch at that moment.
//   - The global epoch moves from E to E+1 only when every pinned thread has announced E.
//     An object retired at epoch E is freed once the global epoch reaches E+2: by then every
//     pinned thread announced E+1 or later, so it pinned after the epoch became E+1, i.e.
//     after the object was unlinked (the unlink precedes the retire, which read E), and
//     cannot have loaded a pointer to it.
// Readers write only their own record's line (pin/unpin), never a line shared with other
// threads; writers advance the epoch (one CAS on the shared word) at most once per
// `retire_batch` retires.
//
// Guarantees: an object is never freed while a reader that could have reached it is pinned.
// Garbage is bounded as long as pins are short: each thread holds at most about
// retire_batch objects plus those retired during the last two epochs. A thread that stays
// pinned (a long for_each callback) delays every thread's reclamation for that long.
//
// Each record's retire list has its own small lock, taken by the owner on retire and by
// another thread only in drain() (a map's destructor), so that a map can free everything it
// retired before it goes away. A thread's record is returned to the domain when the thread
// exits; what it still held is handed to the domain and freed by later collections or at
// process exit.
//
// Memory orders, made once here:
//   pin:     announce (relaxed), then a store-load barrier: the announcement is visible to
//            every try_advance before this reader's later loads of shared pointers
//            (store-load ordering, which acquire/release alone do not give). The barrier is
//            asymmetric where the OS allows it (below): a compiler-only fence here, and the
//            heavy side in try_advance; otherwise a seq_cst fence here.
//   retire:  seq_cst fence after the caller's unlink, before reading the epoch (pairs with
//            the barrier in pin).
//   unpin:   release store of idle: the reader's loads happen before a writer that sees idle
//            frees anything.
//   advance: the heavy side of the barrier (membarrier, or a seq_cst fence), then acquire
//            loads of announcements (pairs with the two above); the CAS on the global epoch
//            is seq_cst.
//
// The asymmetric barrier (folly's asymmetricLightBarrier/asymmetricHeavyBarrier, as in its
// hazard pointers): pins are frequent and on every reader's fast path, advances are rare. On
// Linux, membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) makes every running thread of the
// process execute a full memory barrier before the call returns (threads not running get one
// at the context switch). So when try_advance returns from membarrier, every reader is in
// one of two cases:
//   - its pin's announcement was made before the barrier it received: the store has left its
//     store buffer, and the scan that follows sees it (the seq_cst fence's job in pin);
//   - it had not announced yet: then its later loads of shared pointers come after that
//     barrier, which comes after everything this thread (and, through the seq_cst CAS on
//     the epoch and the retire fence, every writer's unlink before the epoch it read)
//     did before the call: so it cannot load a pointer that was unlinked before, and the
//     epoch it announces is the current one, which holds back the advance after next.
// That is the same guarantee as a seq_cst fence on both sides, with the reader's cost a
// compiler barrier (std::atomic_signal_fence, which keeps the compiler from moving the
// reader's loads above the announcement). The choice is made once, by the first thread
// that registers (before any pin): registration (MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
// failing, another OS, or a ThreadSanitizer build (TSan does not model membarrier, so it would
// report the pin's relaxed store and the reclaimer's loads as unordered) keep the seq_cst fence in
// pin. The pre-scan in try_advance needs no barrier: a stale announcement can only make it give up,
// which is always safe; the barrier is paid only when an advance looks possible.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "sanitizers.hpp"

// membarrier is used where the kernel headers have it, except under ThreadSanitizer.
#if defined(__linux__) && !CMAP_DETAIL_TSAN && __has_include(<linux/membarrier.h>)
#define CMAP_EPOCH_MEMBARRIER 1
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "backoff.hpp"
#include "cache_line.hpp"
#include "observation.hpp"

namespace cmap::detail {

class epoch_domain {
 public:
  using epoch_t = std::uint64_t;
  static constexpr epoch_t idle = ~epoch_t{0};
  // Retires between two collection attempts on one thread.
  static constexpr std::size_t retire_batch = 128;

  struct retired {
    void* object;
    void (*deleter)(void* object, void* context);
    void* context;      // e.g. the owner that knows how to free it (allocator); may be null
    const void* owner;  // for drain(owner); may be null
    epoch_t epoch;
  };

 private:
  struct alignas(cache_line_size) record {
    std::atomic<epoch_t> announced{idle};
    std::atomic<bool> in_use{false};
    record* next = nullptr;    // immutable once published in the list
    unsigned nesting = 0;      // owner thread only
    std::mutex retired_mutex;  // owner on retire, others only in drain()
    std::vector<retired> retired_list;
    std::size_t since_collect = 0;  // owner thread only
  };

 public:
  epoch_domain(const epoch_domain&) = delete;
  epoch_domain& operator=(const epoch_domain&) = delete;

  // At process exit no thread uses the domain any more: free everything.
  ~epoch_domain() {
    record* r = records_.load(std::memory_order_acquire);
    while (r != nullptr) {
      record* next = r->next;
      for (const retired& item : r->retired_list) item.deleter(item.object, item.context);
      delete r;
      r = next;
    }
    for (const retired& item : orphans_) item.deleter(item.object, item.context);
  }

  // The domain every cmap map uses; the only one (a thread's record is found through one
  // thread_local slot, so there can be only one domain per process). Constant-initialised
  // (no guard to test on every pin, and destroyed after every object initialised at run
  // time, so a static map may still retire into it from its destructor).
  static epoch_domain& global() noexcept { return global_; }

  // RAII pin: while a guard lives on this thread, nothing retired after it was taken is
  // freed. Nests.
  // Both halves, and pin() itself, are always_inline: a pin is a handful of instructions on
  // every lookup, and compilers otherwise may call them out of line from a large loop, paying
  // a call and the first-use check's branch where a few stores would do (GCC at -O3 called
  // pin() once the probes' cold path sat next to the lookup: 20 instructions per find).
  class guard {
   public:
    [[gnu::always_inline]] explicit guard(epoch_domain& d) : record_(this_thread_record()) {
      if (record_->nesting++ == 0) {
        record_->announced.store(d.global_epoch_.load(std::memory_order_relaxed),
                                 std::memory_order_relaxed);
        // The light side of the store-load barrier (see the top of this file).
        if (d.asymmetric_) [[likely]] {
          std::atomic_signal_fence(std::memory_order_seq_cst);
        } else {
          std::atomic_thread_fence(std::memory_order_seq_cst);
        }
      }
    }
    [[gnu::always_inline]] ~guard() {
      if (--record_->nesting == 0) record_->announced.store(idle, std::memory_order_release);
    }
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;

   private:
    record* record_;
  };

  [[nodiscard, gnu::always_inline]] guard pin() { return guard(*this); }

  // Hands object to the domain: deleter(object, context) runs once no pinned reader can hold
  // it. owner tags it for drain(owner).
  void retire(void* object, void (*deleter)(void*, void*), void* context, const void* owner) {
    record* r = this_thread_record();
    // seq_cst fence between the caller's unlink and the epoch read: with the fence in pin,
    // either the reader's later loads see the unlink, or the epoch read here is one the
    // reader's announcement holds back from advancing twice.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const epoch_t now = global_epoch_.load(std::memory_order_seq_cst);
    {
      std::lock_guard lock(r->retired_mutex);
      r->retired_list.push_back(retired{object, deleter, context, owner, now});
    }
    if (++r->since_collect >= retire_batch) {
      r->since_collect = 0;
      try_advance();
      collect(*r);
      collect_orphans();
    }
  }

  // Frees, now, everything `owner` retired, on every thread's list. For an owner that is
  // being destroyed: no reader may still be inside it (that would be a use-after-destroy by
  // the caller), so its objects need no grace period. Other owners' objects stay.
  void drain(const void* owner) {
    for (record* r = records_.load(std::memory_order_acquire); r != nullptr; r = r->next) {
      std::vector<retired> mine;
      {
        std::lock_guard lock(r->retired_mutex);
        auto& list = r->retired_list;
        for (std::size_t i = 0; i < list.size();) {
          if (list[i].owner == owner) {
            mine.push_back(list[i]);
            list[i] = list.back();
            list.pop_back();
          } else {
            ++i;
          }
        }
      }
      for (const retired& item : mine) item.deleter(item.object, item.context);
    }
    std::lock_guard lock(orphans_mutex_);
    for (std::size_t i = 0; i < orphans_.size();) {
      if (orphans_[i].owner == owner) {
        orphans_[i].deleter(orphans_[i].object, orphans_[i].context);
        orphans_[i] = orphans_.back();
        orphans_.pop_back();
      } else {
        ++i;
      }
    }
  }

  // Advances the global epoch if every pinned thread has seen it; true if it moved.
  bool try_advance() {
    const epoch_t e = global_epoch_.load(std::memory_order_seq_cst);
    if (asymmetric_) {
      // Pre-scan with no barrier: a stale announcement can only make it give up (safe).
      if (!all_announced(e)) return false;
    }
    heavy_barrier();
    if (!all_announced(e)) return false;
    epoch_t expected = e;
    return global_epoch_.compare_exchange_strong(expected, e + 1, std::memory_order_seq_cst);
  }

  // Whether pins use the asymmetric barrier (a compiler fence, with membarrier in
  // try_advance) rather than a seq_cst fence. Fixed when the first thread registers, before
  // any pin.
  [[nodiscard]] bool asymmetric_barrier() {
    (void)this_thread_record();
    return asymmetric_;
  }

  [[nodiscard]] epoch_t current_epoch() const noexcept {
    return global_epoch_.load(std::memory_order_seq_cst);
  }

  // Objects retired on any thread, or left by exited threads, and not yet freed (for
  // statistics: it takes each thread's list lock in turn, so it is no snapshot).
  [[nodiscard]] std::size_t pending() {
    std::size_t n = 0;
    for (record* r = records_.load(std::memory_order_acquire); r != nullptr; r = r->next) {
      const std::lock_guard lock(r->retired_mutex);
      n += r->retired_list.size();
    }
    const std::lock_guard lock(orphans_mutex_);
    return n + orphans_.size();
  }

  // Objects retired on this thread and not yet freed (for tests and statistics).
  [[nodiscard]] std::size_t pending_on_this_thread() {
    record* r = this_thread_record();
    std::lock_guard lock(r->retired_mutex);
    return r->retired_list.size();
  }

  // Tries to free what this thread retired: advances the epoch where possible (up to twice)
  // and frees everything now safe. For tests, quiescent points, and right after retiring
  // something large (concurrent_table's old tables). Costs two heavy barriers.
  void collect_now() {
    try_advance();
    try_advance();
    collect(*this_thread_record());
    collect_orphans();
  }

 private:
  constexpr epoch_domain() noexcept = default;
  static epoch_domain global_;

  // True if this process may use membarrier(PRIVATE_EXPEDITED) from now on.
  static bool register_membarrier() noexcept {
#if defined(CMAP_EPOCH_MEMBARRIER)
    const long supported = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);
    if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0;
#else
    return false;
#endif
  }

  // The heavy side of the pin's store-load barrier (see the top of this file).
  void heavy_barrier() const noexcept {
#if defined(CMAP_EPOCH_MEMBARRIER)
    if (asymmetric_) {
      // Registered at construction, so it cannot fail with EPERM; on any other failure
      // there is no safe way on: the readers rely on it.
      if (::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != 0) std::terminate();
      return;
    }
#endif
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }

  // Every pinned thread has announced e (acquire: pairs with the readers' unpin).
  bool all_announced(epoch_t e) const noexcept {
    for (record* r = records_.load(std::memory_order_acquire); r != nullptr; r = r->next) {
      const epoch_t a = r->announced.load(std::memory_order_acquire);
      if (a != idle && a != e) return false;
    }
    return true;
  }

  // Frees what exited threads left behind, once it is two epochs old. Skipped if another
  // thread is at it.
  void collect_orphans() {
    std::vector<retired> ready;
    std::size_t backlog = 0;
    {
      std::unique_lock lock(orphans_mutex_, std::try_to_lock);
      if (!lock.owns_lock() || orphans_.empty()) return;
      const epoch_t now = global_epoch_.load(std::memory_order_seq_cst);
      for (std::size_t i = 0; i < orphans_.size();) {
        if (orphans_[i].epoch + 2 <= now) {
          ready.push_back(orphans_[i]);
          orphans_[i] = orphans_.back();
          orphans_.pop_back();
        } else {
          ++i;
        }
      }
      backlog = orphans_.size();
    }
    for (const retired& item : ready) item.deleter(item.object, item.context);
    if (!ready.empty()) note_reclaim(this, ready.size(), backlog);
  }

  // Frees the items of r that are two epochs old. Deleters run outside the lock.
  void collect(record& r) {
    const epoch_t now = global_epoch_.load(std::memory_order_seq_cst);
    std::vector<retired> ready;
    std::size_t backlog = 0;
    {
      std::lock_guard lock(r.retired_mutex);
      auto& list = r.retired_list;
      for (std::size_t i = 0; i < list.size();) {
        if (list[i].epoch + 2 <= now) {
          ready.push_back(list[i]);
          list[i] = list.back();
          list.pop_back();
        } else {
          ++i;
        }
      }
      backlog = list.size();
    }
    for (const retired& item : ready) item.deleter(item.object, item.context);
    if (!ready.empty()) note_reclaim(this, ready.size(), backlog);
  }

  // Hands the thread's record back at thread exit.
  struct record_owner {
    epoch_domain* domain = nullptr;
    record* rec = nullptr;
    ~record_owner() {
      if (rec == nullptr) return;
      domain->try_advance();
      domain->collect(*rec);
      {
        std::scoped_lock lock(rec->retired_mutex, domain->orphans_mutex_);
        domain->orphans_.insert(domain->orphans_.end(), rec->retired_list.begin(),
                                rec->retired_list.end());
        rec->retired_list.clear();
      }
      rec->since_collect = 0;
      rec->in_use.store(false, std::memory_order_release);
      // A pin after this (from a later thread_local's destructor) registers again rather
      // than use a record another thread may now take.
      this_thread_record_ = nullptr;
    }
  };

  // The calling thread's record. One domain per process (global()), so one thread_local
  // slot suffices; a plain pointer, so that reading it costs no initialisation check.
  [[gnu::always_inline]] static record* this_thread_record() {
    record* r = this_thread_record_;
    if (r == nullptr) [[unlikely]]
      r = global_.register_this_thread();
    return r;
  }
  static inline thread_local record* this_thread_record_ = nullptr;

  // A thread's first use: decides the barrier (once per process, before any pin), takes a
  // record, and arranges for it to be handed back when the thread exits.
  [[gnu::noinline, gnu::cold]] record* register_this_thread() {
    std::call_once(barrier_chosen_, [this] { asymmetric_ = register_membarrier(); });
    thread_local record_owner owner;
    owner.domain = this;
    owner.rec = acquire_record();
    this_thread_record_ = owner.rec;
    return owner.rec;
  }

  record* acquire_record() {
    for (record* r = records_.load(std::memory_order_acquire); r != nullptr; r = r->next) {
      bool expected = false;
      if (!r->in_use.load(std::memory_order_relaxed) &&
          r->in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
        return r;
      }
    }
    auto* r = new record;
    r->in_use.store(true, std::memory_order_relaxed);
    record* head = records_.load(std::memory_order_relaxed);
    do {
      r->next = head;
      // release: the record's fields are initialised before another thread walks to it.
    } while (!records_.compare_exchange_weak(head, r, std::memory_order_release,
                                             std::memory_order_relaxed));
    return r;
  }

  // Set once, by the first thread that registers (register_this_thread: every thread does
  // before its first pin or retire, and call_once orders the write before them); read by
  // every pin (see heavy_barrier).
  bool asymmetric_ = false;
  std::once_flag barrier_chosen_;
  alignas(cache_line_size) std::atomic<epoch_t> global_epoch_{0};
  alignas(cache_line_size) std::atomic<record*> records_{nullptr};
  std::mutex orphans_mutex_;
  std::vector<retired> orphans_;
};

constinit inline epoch_domain epoch_domain::global_{};

}  // namespace cmap::detail
