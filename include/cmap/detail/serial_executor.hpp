#pragma once
// serial_executor: one owner thread that applies submitted commands one at a time, in the
// order they were submitted, in batches: serial_map's writer side, apart from the map.
//
// Commands. A command is an operation op(Target&) that returns a result (or void). It is
// submitted three ways: call() waits for its result (or rethrows its exception); async()
// returns a std::future; post() returns nothing (a throwing op is only counted). Each
// submission takes a ticket under the queue mutex; the owner applies commands in ticket
// order, so one thread's commands go in the order it submitted them, and different threads'
// in the order they took the mutex.
//
// Batches. The owner takes the whole queue at once and hands the runner a function that
// applies every command of it to one Target: runner(apply_all), where the runner makes the
// Target (serial_map: a transient of its snapshot_map, in update()), calls apply_all(target)
// once, and publishes the result; if the runner throws, every command of the batch fails
// with its exception. Only after the runner returns are the batch's results resolved (in
// ticket order) and `completed` advanced past its last ticket, so a caller that has its
// result also sees the batch published.
//
// All or nothing per command. A command submitted Guarded runs under a Savepoint (built
// from the Target, committed when the op returns): if the op throws, the Target is put back
// as it was and no other command of the batch is affected. Unguarded commands must change
// the Target only as their last, non-throwing step.
//
// Backpressure. At most queue_limit commands wait for the owner; a submitter that finds
// the queue full waits until the owner takes it (the owner's own submissions never wait).
//
// Close. close() stops accepting commands (later submissions throw ClosedError), lets the
// owner apply every accepted one, and joins it. Idempotent, from any thread but the owner.
//
// Re-entry. A command runs on the owner thread; from there, call(), flush() and close()
// would wait for the very thread that makes them: reported in every build (abort with a
// message). Waiting on a future of the same executor is not detected.
//
// Requirements: Savepoint(Target&) and Savepoint::commit() (its destructor rolls back unless
// committed); Runner::operator()(F&& apply_all), may throw; ClosedError default
// constructible and throwable.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

#include "backoff.hpp"
#include "observation.hpp"
#include "reentrancy.hpp"

namespace cmap::detail {

// The executor whose owner thread this is (null elsewhere).
inline thread_local const void* serial_owner_of = nullptr;

template <class Target, class Savepoint, class Runner, class ClosedError>
class serial_executor {
  template <class R>
  using stored_t = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  template <class Op>
  using result_t = std::decay_t<std::invoke_result_t<Op&, Target&>>;

 public:
  // Starts the owner thread. runner is called on it for each batch.
  serial_executor(Runner runner, std::size_t queue_limit)
      : runner_(std::move(runner)), queue_limit_(queue_limit == 0 ? 1 : queue_limit) {
    owner_ = std::thread([this] { owner_loop(); });
  }
  // close(): every accepted command is applied first. Must not run on the owner thread.
  ~serial_executor() { close(); }

  serial_executor(const serial_executor&) = delete;
  serial_executor& operator=(const serial_executor&) = delete;

  // Submits op, waits until its batch is published, and returns its result (or rethrows its
  // exception, or the batch's). The op lives on the caller's stack meanwhile.
  template <bool Guarded, class Op>
  auto call(Op&& op) {
    check_not_owner();
    sync_command<Guarded, std::remove_reference_t<Op>> c(op);
    wait_for(enqueue(c));
    if (c.error) std::rethrow_exception(c.error);
    if constexpr (!std::is_void_v<result_t<Op>>) return std::move(*c.result);
  }

  // Submits op (moved into the command); the future is ready once its batch is published,
  // or holds the exception that op or the batch threw.
  template <bool Guarded, class Op>
  auto async(Op&& op) {
    using command_t = future_command<Guarded, std::decay_t<Op>>;
    auto c = std::make_unique<command_t>(std::forward<Op>(op));
    auto f = c->promise.get_future();
    enqueue(*c);
    c.release();  // the owner deletes it in finish()
    return f;
  }

  // Submits op (moved into the command) with no result: a throwing op changes nothing and is
  // counted in failed().
  template <bool Guarded, class Op>
  void post(Op&& op) {
    using command_t = detached_command<Guarded, std::decay_t<Op>>;
    auto c = std::make_unique<command_t>(std::forward<Op>(op), failed_);
    enqueue(*c);
    c.release();  // the owner deletes it in finish()
  }

  // Waits until every command submitted before this call (by any thread) is finished.
  // Returns at once after close().
  void flush() {
    check_not_owner();
    std::uint64_t last;
    {
      std::lock_guard lock(queue_mutex_);
      last = last_ticket_;
    }
    wait_for(last);
  }

  // Stops accepting commands, applies every accepted one, joins the owner thread.
  void close() {
    check_not_owner();
    std::lock_guard closing(close_mutex_);
    {
      std::lock_guard lock(queue_mutex_);
      closed_ = true;
    }
    queue_cv_.notify_one();
    space_cv_.notify_all();  // submitters held back by a full queue: refused now
    if (owner_.joinable()) owner_.join();
  }
  [[nodiscard]] bool closed() const {
    std::lock_guard lock(queue_mutex_);
    return closed_;
  }
  [[nodiscard]] std::size_t queue_limit() const noexcept { return queue_limit_; }
  // Whether the calling thread is this executor's owner (a command is running on it).
  [[nodiscard]] bool on_owner_thread() const noexcept { return serial_owner_of == this; }

  // Statistics (relaxed counters): batches run, commands applied, the largest batch, and
  // posted commands that failed. A batch is counted before its results resolve, so a caller
  // whose command has finished sees it counted.
  [[nodiscard]] std::uint64_t batches() const noexcept {
    return batches_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t applied() const noexcept {
    return applied_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t largest_batch() const noexcept {
    return largest_batch_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t failed() const noexcept {
    return failed_.load(std::memory_order_relaxed);
  }
  // Commands in the queue, not yet taken by the owner (takes the queue mutex).
  [[nodiscard]] std::size_t queued() const {
    const std::lock_guard lock(queue_mutex_);
    return queued_;
  }

 private:
  // Runs op on t and puts its result in out. Guarded: under a savepoint, so that if op (or
  // the move of its result) throws, t is as before.
  template <bool Guarded, class Op>
  static void run(Op& op, Target& t, std::optional<stored_t<result_t<Op>>>& out) {
    std::optional<Savepoint> sp;
    if constexpr (Guarded) sp.emplace(t);
    if constexpr (std::is_void_v<result_t<Op>>) {
      op(t);
      out.emplace();
    } else {
      out.emplace(op(t));
    }
    if constexpr (Guarded) sp->commit();
  }

  // A queued command. The owner calls apply() in ticket order inside the batch's target,
  // then, once the batch is published, finish() (with the batch's error if publishing
  // failed); after finish() it no longer touches the command.
  struct command {
    command* next = nullptr;
    std::uint64_t ticket = 0;
    virtual void apply(Target& t) noexcept = 0;
    virtual void finish(const std::exception_ptr& batch_error) noexcept = 0;

   protected:
    ~command() = default;
  };

  // A command that keeps its result (or exception) for its caller. Stored is Op& (a
  // synchronous call: the op lives on the caller's stack) or Op (held by the command).
  template <bool Guarded, class Op, class Stored>
  struct result_command : command {
    template <class O>
    explicit result_command(O&& o) : op(std::forward<O>(o)) {}
    void apply(Target& t) noexcept final {
      try {
        run<Guarded>(op, t, result);
      } catch (...) {
        error = std::current_exception();
      }
    }
    Stored op;
    std::optional<stored_t<result_t<Op>>> result;
    std::exception_ptr error;

   protected:
    ~result_command() = default;
  };

  // A synchronous call's command, on the caller's stack; the caller reads it once the
  // completed ticket reaches its own.
  template <bool Guarded, class Op>
  struct sync_command final : result_command<Guarded, Op, Op&> {
    using result_command<Guarded, Op, Op&>::result_command;
    void finish(const std::exception_ptr& batch_error) noexcept override {
      if (batch_error) this->error = batch_error;
    }
  };

  // An async() command: on the heap, resolves its promise and deletes itself in finish().
  template <bool Guarded, class Op>
  struct future_command final : result_command<Guarded, Op, Op> {
    using result_command<Guarded, Op, Op>::result_command;
    void finish(const std::exception_ptr& batch_error) noexcept override {
      if (batch_error) this->error = batch_error;
      try {
        if (this->error) {
          promise.set_exception(this->error);
        } else if constexpr (std::is_void_v<result_t<Op>>) {
          promise.set_value();
        } else {
          promise.set_value(std::move(*this->result));
        }
      } catch (...) {
        try {
          promise.set_exception(std::current_exception());  // the result's move threw
        } catch (...) {  // already satisfied: nothing more to tell
        }
      }
      delete this;
    }
    std::promise<result_t<Op>> promise;
  };

  // A post() command: on the heap, counts its failure and deletes itself in finish().
  template <bool Guarded, class Op>
  struct detached_command final : command {
    template <class O>
    detached_command(O&& o, std::atomic<std::uint64_t>& f) : op(std::forward<O>(o)), failed(f) {}
    void apply(Target& t) noexcept override {
      try {
        std::optional<stored_t<result_t<Op>>> ignored;
        run<Guarded>(op, t, ignored);
      } catch (...) {
        threw = true;
      }
    }
    void finish(const std::exception_ptr& batch_error) noexcept override {
      if (threw || batch_error) failed.fetch_add(1, std::memory_order_relaxed);
      delete this;
    }
    Op op;
    std::atomic<std::uint64_t>& failed;
    bool threw = false;
  };

  void check_not_owner() const {
    if (on_owner_thread()) {
      report_reentrant_call(
          "a synchronous serial_map write, flush() or close() from a callback running on the "
          "map's owner thread would wait for itself");
    }
  }

  // Queues c; returns its ticket. Throws ClosedError (c not queued) after close().
  std::uint64_t enqueue(command& c) {
    bool wake;
    std::uint64_t ticket;
    {
      std::unique_lock lock(queue_mutex_);
      if (queued_ >= queue_limit_ && !on_owner_thread()) {
        ++held_back_;
        space_cv_.wait(lock, [&] { return closed_ || queued_ < queue_limit_; });
        --held_back_;
      }
      if (closed_) throw ClosedError();
      ++queued_;
      ticket = c.ticket = ++last_ticket_;
      // relaxed: a hint for the spinning owner, which then takes queue_mutex_ to read the
      // queue itself.
      submitted_.store(ticket, std::memory_order_relaxed);
      if (tail_ != nullptr) {
        tail_->next = &c;
      } else {
        head_ = &c;
      }
      tail_ = &c;
      wake = owner_idle_;
      owner_idle_ = false;  // one notification per sleep is enough
    }
    if (wake) queue_cv_.notify_one();
    return ticket;
  }

  // Both sides of a round trip (a synchronous caller waiting for its result, the owner
  // waiting for work) spin for a short while before they sleep: on an idle VM, waking a
  // sleeping thread costs tens of microseconds (the vCPU halts; the wake-up is an
  // inter-processor interrupt through the hypervisor), while the owner applies a small batch
  // in about a microsecond. The spin is bounded (backoff: pauses, then yields, so it gives
  // way to runnable threads), then the thread sleeps.
  static constexpr int spin_rounds = 40;

  // Waits until the owner has finished every command up to ticket.
  void wait_for(std::uint64_t ticket) const {
    // acquire: pairs with the owner's release store after finishing the batch, so the
    // command's result, and what the runner published, are visible here.
    std::uint64_t done = completed_.load(std::memory_order_acquire);
    backoff b;
    for (int round = 0; done < ticket && round < spin_rounds; ++round) {
      b.wait();
      done = completed_.load(std::memory_order_acquire);
    }
    for (; done < ticket; done = completed_.load(std::memory_order_acquire)) {
      completed_.wait(done, std::memory_order_acquire);
    }
  }

  // The owner, with the queue found empty after taking up to ticket `taken`: spins until a
  // later ticket is handed out, or the spin runs out.
  void spin_for_work(std::uint64_t taken) const noexcept {
    backoff b;
    for (int round = 0; round < spin_rounds; ++round) {
      if (submitted_.load(std::memory_order_relaxed) != taken) return;
      b.wait();
    }
  }

  // The owner thread: take the whole queue, apply it as one batch, publish, resolve.
  void owner_loop() noexcept {
    serial_owner_of = this;
    std::uint64_t taken = 0;  // the last ticket taken from the queue
    for (;;) {
      command* batch;
      bool make_room;
      spin_for_work(taken);
      {
        std::unique_lock lock(queue_mutex_);
        while (head_ == nullptr && !closed_) {
          owner_idle_ = true;
          queue_cv_.wait(lock);
        }
        owner_idle_ = false;
        if (head_ == nullptr) break;  // closed and drained
        batch = std::exchange(head_, nullptr);
        tail_ = nullptr;
        taken = last_ticket_;
        queued_ = 0;
        make_room = held_back_ > 0;
      }
      if (make_room) space_cv_.notify_all();
      apply_batch(batch);
    }
  }

  void apply_batch(command* batch) noexcept {
    std::exception_ptr batch_error;
    try {
      runner_([batch](Target& t) {
        for (command* c = batch; c != nullptr; c = c->next) c->apply(t);
      });
    } catch (...) {
      // Only the runner itself can throw here (each command catches its own): then every
      // command of the batch fails with it.
      batch_error = std::current_exception();
    }
    // The statistics first: a caller whose result resolves below (which synchronises with
    // it) then also sees them counting its batch.
    std::uint64_t last = 0, count = 0;
    for (const command* c = batch; c != nullptr; c = c->next) {
      last = c->ticket;
      ++count;
    }
    batches_.fetch_add(1, std::memory_order_relaxed);
    applied_.fetch_add(count, std::memory_order_relaxed);
    if (count > largest_batch_.load(std::memory_order_relaxed)) {
      largest_batch_.store(count, std::memory_order_relaxed);  // only the owner writes it
    }
    note_serial_batch(this, count);
    for (command* c = batch; c != nullptr;) {
      command* next = c->next;  // c may be gone after finish()
      c->finish(batch_error);
      c = next;
    }
    // release: pairs with the acquire loads in wait_for(); the batch is published and every
    // synchronous command's result written before a waiter sees its ticket completed.
    completed_.store(last, std::memory_order_release);
    completed_.notify_all();
  }

  Runner runner_;

  // The queue: an intrusive list of commands in ticket order, taken whole by the owner.
  // Guarded by queue_mutex_, as are closed_, owner_idle_, last_ticket_, queued_ and
  // held_back_.
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;  // the owner sleeps on it when the queue is empty
  command* head_ = nullptr;
  command* tail_ = nullptr;
  bool closed_ = false;
  bool owner_idle_ = false;        // the owner waits on queue_cv_: the next enqueue notifies
  std::uint64_t last_ticket_ = 0;  // the last ticket handed out
  // A copy of last_ticket_ that the owner reads without the lock while it spins.
  std::atomic<std::uint64_t> submitted_{0};
  std::size_t queued_ = 0;     // commands in the queue (not yet taken by the owner)
  std::size_t held_back_ = 0;  // submitters waiting on space_cv_ for room
  std::condition_variable space_cv_;
  const std::size_t queue_limit_;

  // The last ticket whose command is finished (its batch published): written by the owner
  // (release), waited on by synchronous callers and flush() (acquire).
  mutable std::atomic<std::uint64_t> completed_{0};

  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> largest_batch_{0};
  std::atomic<std::uint64_t> failed_{0};

  std::mutex close_mutex_;  // one close() at a time joins the owner
  std::thread owner_;       // last: started once everything above is initialised
};

}  // namespace cmap::detail
