#pragma once
// cooperative_rehash: a table rebuild cut into chunks that the rebuilding thread (the owner)
// shares with the threads it holds up. concurrent_table rebuilds while holding every stripe
// lock; a writer that then waits for its stripe lock calls help() and takes chunks instead
// of waiting idle, so the writers a rebuild stops copy the table with it, and the serial part
// of a map filled by many threads shrinks by their number.
//
// A job has construct chunks [0, c) and then move chunks [c, c + m). Construct chunks build
// parts of the new table (the first write to a fresh page faults it in, most of a large
// table's cost); move chunks place parts of the old table's entries, anywhere in the new
// table, so none starts before every construct chunk is done. Work says what a chunk does:
//   void construct(std::size_t chunk) noexcept          chunk in [0, c)
//   template <bool Shared> void move(std::size_t chunk)  chunk in [0, m); may throw
// Shared tells a move chunk whether other threads may be placing entries in the same table
// at the same time (then it must claim slots with a CAS).
//
// Private until helped: while the owner works alone its move chunks run with Shared = false
// (claiming each slot with a CAS would add a locked instruction per entry that one thread
// alone does not need, on every growth of a single-threaded map). A helper announces itself
// (helpers_) and waits until the owner, between two chunks, sees it and makes the job
// shared (`shared`, release); only then does it take chunks, and from then on every move
// chunk runs with Shared = true. So a rebuild nobody helps costs what a serial one did.
//
// Ordering: the job's fields are written before job_'s seq_cst store, which a helper's
// seq_cst load reads (so the helper also sees whatever the owner wrote before run(), such
// as the frozen old table); the owner's private stores come before its release store of
// `shared`, which the helper acquires. A helper's writes (to the new table, and through
// Work) come before its release increment of `done`; the owner's acquire load that reads
// done == total therefore sees them all (every increment is in the release sequence of the
// earlier ones). Move chunks wait for every construct chunk the same way (`constructed`).
// The job lives in run()'s frame: run() does not return while a helper may still touch it
// (job_ cleared, then helpers_ drained, both seq_cst; see run()).
//
// Exceptions: the first exception of a move chunk is kept, the move chunks not yet started
// are skipped (counted as done), and run() rethrows it once every chunk is accounted for.

#include <atomic>
#include <cstddef>
#include <exception>

#include "backoff.hpp"

namespace cmap::detail {

template <class Work>
class cooperative_rehash {
 public:
  struct result {
    std::size_t chunks = 0;  // all chunks of the job
    std::size_t helped = 0;  // of those, done by helpers
  };

  cooperative_rehash() = default;
  cooperative_rehash(const cooperative_rehash&) = delete;
  cooperative_rehash& operator=(const cooperative_rehash&) = delete;

  // The owner: runs a job of construct_chunks then move_chunks chunks of `work`, with the
  // help of any thread that calls help() meanwhile; returns once every chunk is done and no
  // helper can touch the job any more. Rethrows the first exception of a move chunk. One
  // job at a time (the caller holds whatever lock makes it the only owner).
  result run(Work& work, std::size_t construct_chunks, std::size_t move_chunks) {
    job j(work, construct_chunks, construct_chunks + move_chunks);
    // seq_cst, with the helpers' (see help): with the store of nullptr below and the load of
    // helpers_ after it, no helper can see this job once we stop waiting for helpers.
    job_.store(&j, std::memory_order_seq_cst);
    run_chunks(j, true);
    backoff wait;
    // acquire: pairs with each chunk's release increment of `done` (see the top).
    while (j.done.load(std::memory_order_acquire) != j.total) wait.wait();
    // seq_cst, not merely release: this store and the load of helpers_ below, against a
    // helper's increment of helpers_ and its load of job_ (all four seq_cst), make sure that
    // either the helper sees nullptr, or we see its increment and wait for it. With weaker
    // orders both could miss the other, and the helper would touch a job whose frame is gone.
    job_.store(nullptr, std::memory_order_seq_cst);
    wait.reset();
    // seq_cst, for the reason above; it also acquires, pairing with the helpers' release
    // decrement after their last access to the job.
    while (helpers_.load(std::memory_order_seq_cst) != 0) wait.wait();
    if (j.failed.load(std::memory_order_relaxed)) std::rethrow_exception(j.error);
    return result{j.total, j.helped.load(std::memory_order_relaxed)};
  }

  // A thread held up by the owner: takes chunks of the job in progress until none is left;
  // true if it did any. Returns false at once when no job runs (the common case).
  bool help() const {
    if (job_.load(std::memory_order_relaxed) == nullptr) return false;
    helpers_.fetch_add(1, std::memory_order_seq_cst);  // seq_cst: see run()
    bool helped = false;
    if (job* j = job_.load(std::memory_order_seq_cst)) {
      // Wait for the owner to make the job shared (at its next chunk boundary), unless every
      // chunk is handed out already.
      backoff wait;
      while (!j->shared.load(std::memory_order_acquire)) {
        if (j->next.load(std::memory_order_relaxed) >= j->total) break;
        wait.wait();
      }
      if (j->shared.load(std::memory_order_acquire)) helped = run_chunks(*j, false);
    }
    // release: our accesses to the job happen before the owner sees the count drop.
    helpers_.fetch_sub(1, std::memory_order_release);
    return helped;
  }

  // Whether a job runs now, and how many threads are inside help() (hints: relaxed).
  [[nodiscard]] bool running() const noexcept {
    return job_.load(std::memory_order_relaxed) != nullptr;
  }
  [[nodiscard]] unsigned helpers() const noexcept {
    return helpers_.load(std::memory_order_relaxed);
  }

 private:
  struct job {
    job(Work& w, std::size_t c, std::size_t t) noexcept : work(w), construct_chunks(c), total(t) {}
    Work& work;
    const std::size_t construct_chunks;       // chunks [0, construct_chunks) construct
    const std::size_t total;                  // the rest move
    std::atomic<std::size_t> next{0};         // the next chunk to hand out
    std::atomic<std::size_t> constructed{0};  // construct chunks finished
    std::atomic<std::size_t> done{0};         // chunks finished (or skipped)
    std::atomic<std::size_t> helped{0};       // chunks done by helpers
    std::atomic<bool> shared{false};          // helpers may take chunks (set by the owner)
    std::atomic<bool> failed{false};
    std::exception_ptr error;  // written by the thread that set failed, before its `done`
  };

  // Takes chunks until none is left; true if it took any.
  bool run_chunks(job& j, bool owner) const noexcept {
    bool shared = !owner;  // a helper runs only once the job is shared
    bool took = false;
    for (;; took = true) {
      // The owner goes shared once someone waits to help. relaxed: seeing a helper late only
      // delays it; a helper takes no chunk before it acquires `shared`.
      if (!shared && helpers_.load(std::memory_order_relaxed) != 0) {
        shared = true;
        j.shared.store(true, std::memory_order_release);
      }
      // relaxed: a chunk index only needs to be unique; what it covers is fixed by the job.
      const std::size_t c = j.next.fetch_add(1, std::memory_order_relaxed);
      if (c >= j.total) return took;
      if (c < j.construct_chunks) {
        j.work.construct(c);
        j.constructed.fetch_add(1, std::memory_order_release);
      } else {
        // Entries go anywhere in the new table: every construct chunk must be done first.
        backoff wait;
        while (j.constructed.load(std::memory_order_acquire) != j.construct_chunks) wait.wait();
        if (!j.failed.load(std::memory_order_relaxed)) {
          try {
            if (shared) {
              j.work.template move<true>(c - j.construct_chunks);
            } else {
              j.work.template move<false>(c - j.construct_chunks);
            }
          } catch (...) {
            if (!j.failed.exchange(true, std::memory_order_relaxed))
              j.error = std::current_exception();
          }
        }
      }
      if (!owner) j.helped.fetch_add(1, std::memory_order_relaxed);
      j.done.fetch_add(1, std::memory_order_release);
    }
  }

  // The job in progress (in the owner's frame), or null; and how many threads may be
  // touching it. Mutable: help() is called by const callers waiting for a lock.
  mutable std::atomic<job*> job_{nullptr};
  mutable std::atomic<unsigned> helpers_{0};
};

}  // namespace cmap::detail
