#pragma once
// cmap::serial_map: a concurrent map whose writes are serialised through a queue ("share
// memory by communicating"): one owner thread applies every write, in submission order;
// readers read the latest published version and never wait for the queue.
//
// Inside is a snapshot_map (a persistent hash trie, detail/champ.hpp). Writers put commands
// on a queue; the owner thread, started by the constructor, takes the whole queue at once,
// applies every command to one transient of the trie (snapshot_map::update), publishes the
// result once, and only then resolves the commands' results. So N queued writes cost one
// queue hand-off, one publication and one retired version, and the nodes that several of
// them touch are copied once, instead of N lock hand-offs.
//
// Choose it when writes come from many threads and the writers need not wait (submit_*:
// fire-and-forget, or *_async: a std::future), e.g. event ingestion or counters fed by many
// producers and read by others; when all writes must be applied in one global order by one
// thread (callbacks of upsert/visit then run on that thread: single-threaded code, one after
// another); or when readers need snapshot_map's consistent snapshots alongside.
// Consider instead: concurrent_hash_map for general traffic (its writers run in parallel and
// a synchronous write has no thread hand-off); a synchronous write here costs a hand-off to
// the owner and back (two thread wake-ups when the owner was idle, microseconds), so one
// thread doing synchronous writes is much slower than with any locking map; snapshot_map
// if there are few writers and they want their result immediately. Not for write
// throughput: one thread applies every write, at the trie's insert rate (about 1 M new
// keys/s on the 2-vCPU development VM), so on 100%-write loads even fire-and-forget writes
// reached only 0.07-0.19x locked_map (docs/benchmarks.md). Values must be copyable.
//
// Guarantees
//  - Order: every accepted write gets a ticket when it is queued (under the queue mutex);
//    the owner applies writes in ticket order. Writes of one thread are applied in the order
//    that thread submitted them; writes of different threads in the order their submissions
//    took the queue mutex. Results (futures, synchronous returns) are resolved in ticket
//    order, after the batch holding them is published: a caller that waited for its result
//    (a synchronous call, future::get(), or flush()) and then reads sees its write (and
//    every write before it in ticket order) or a later version.
//  - Single-key synchronous calls are linearizable (their effect happens at the publication
//    of their batch, between call and return). A batch is published atomically: a reader
//    sees all of it or none of it.
//  - Readers (find, contains, const visit, for_each, size, snapshot) are snapshot_map's:
//    they take no lock, never wait for the queue or the owner, and see one published
//    version, never part of a batch.
//  - Exceptions: a write that throws (hash, equality, constructor, allocation, callback)
//    leaves the map as if it had not been submitted; its exception goes to its caller (a
//    synchronous call rethrows it, a future holds it) and to no other write: the other
//    writes of its batch are applied. Each command is all-or-nothing inside the batch:
//    commands that might throw half-way are run under a transient savepoint, rolled back if
//    they throw. A fire-and-forget write that throws is counted in failed_submissions().
//  - Callbacks of upsert, mutable visit, erase_if and apply_async run on the owner thread,
//    one at a time, while the owner holds the inner writer lock. They may read the map (they
//    see the published version, not the batch) and may submit asynchronous writes (applied
//    in a later batch), but must not make a synchronous write, flush() or close() on this
//    map (it would wait for the thread running it: detected in every build, reported by
//    aborting with a message), nor wait on a future of this map (not detected: a deadlock).
//    upsert and mutable visit run f on a copy of the value and store it back when f returns
//    (f never sees a half-written value, and a throwing f changes nothing).
//  - close() stops accepting writes (later submissions throw cmap::serial_map_closed),
//    applies every write already accepted, and joins the owner. It is idempotent; the
//    destructor calls it. Reads keep working after close().
//
//  - Backpressure: the queue holds at most queue_limit() commands (default 65536); a
//    submission that finds it full waits until the owner takes the queue.
//
// Costs: reads as snapshot_map. A write: one queue push (a mutex held for a few
// instructions), plus a heap command for *_async (and its std::promise) and submit_*; a
// synchronous call keeps its command on the caller's stack and waits on an atomic. On the
// owner thread, per command: the trie write (about log32 n nodes; a node already copied in
// this batch is changed in place), plus a path copy for commands run under a savepoint
// (erase, extract, compare_erase, erase_if, apply_async/submit, and others when T's move
// may throw). Per batch: one publication and one retired version.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "detail/backoff.hpp"
#include "detail/callback.hpp"
#include "detail/common_surface.hpp"
#include "detail/reentrancy.hpp"
#include "hash.hpp"
#include "snapshot_map.hpp"

namespace cmap {

// Thrown by a write submitted to a serial_map after close() (or during its destructor).
class serial_map_closed : public std::logic_error {
 public:
  serial_map_closed() : std::logic_error("cmap::serial_map: write submitted after close()") {}
};

namespace detail {
// The serial_map whose owner thread this is (null elsewhere): a synchronous call from an
// owner thread to its own map would wait for itself.
inline thread_local const void* serial_owner_of = nullptr;
}  // namespace detail

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
requires(std::copy_constructible<Key>&& std::copy_constructible<T>) class serial_map
    : public detail::common_surface<serial_map<Key, T, Hash, KeyEqual, Allocator>, Key, T, Hash,
                                    KeyEqual> {
  using inner_map = snapshot_map<Key, T, Hash, KeyEqual, Allocator>;
  friend detail::lookup_surface<serial_map, Key, T, Hash, KeyEqual>;
  friend detail::common_surface<serial_map, Key, T, Hash, KeyEqual>;

 public:
  using key_type = Key;
  using mapped_type = T;
  using value_type = std::pair<const Key, T>;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using size_type = std::size_t;
  using snapshot_type = typename inner_map::snapshot_type;
  // What apply_async/submit callbacks get: snapshot_map's batch editor.
  using transient = typename inner_map::transient;

  // The queue holds at most default_queue_limit commands (see queue_limit()).
  static constexpr size_type default_queue_limit = size_type{1} << 16;

  serial_map() : serial_map(Hash(), KeyEqual()) {}
  explicit serial_map(const Hash& hash, const KeyEqual& eq = KeyEqual()) : inner_(hash, eq) {
    start();
  }
  // With a queue of at most queue_limit (>= 1) commands.
  explicit serial_map(size_type queue_limit, const Hash& hash = Hash(),
                      const KeyEqual& eq = KeyEqual())
      : inner_(hash, eq), queue_limit_(queue_limit == 0 ? 1 : queue_limit) {
    start();
  }
  serial_map(std::initializer_list<std::pair<Key, T>> init) : inner_(init) { start(); }

  // Not copyable or movable: the owner thread and other threads may be inside.
  serial_map(const serial_map&) = delete;
  serial_map& operator=(const serial_map&) = delete;

  // close(): every accepted write is applied first. Must not run on the owner thread.
  ~serial_map() { close(); }

  // The single-key calls (find, contains, visit, insert, emplace, insert_or_assign,
  // find_or_insert, upsert, exchange, compare_exchange, erase, extract, compare_erase) come
  // from detail/common_surface.hpp. Reads (find, contains, const visit) read the published
  // version: no lock, they never wait for the queue. Writes are synchronous: each is
  // submitted, waited for until its batch is published, and returns its result; each throws
  // serial_map_closed after close(), rethrows the exception its write threw, and must not be
  // called from this map's callbacks (see the top of this file). upsert's and mutable
  // visit's f runs on the owner thread, on a copy of the value that is then stored back.
  // find_or_insert answers a key already published without the queue.

  // f(const Key&, const T&) on each entry of one published version; false from f stops.
  // No lock is held while f runs: f may call any method of the map.
  template <class F>
  void for_each(F&& f) const {
    inner_.for_each(std::forward<F>(f));
  }
  // The published version's entry count (writes still queued are not counted).
  [[nodiscard]] size_type size() const { return inner_.size(); }
  // The published version, as an immutable snapshot: O(1).
  [[nodiscard]] snapshot_type snapshot() const { return inner_.snapshot(); }
  [[nodiscard]] size_type allocated_bytes() const { return inner_.allocated_bytes(); }
  [[nodiscard]] static constexpr size_type max_size() noexcept { return inner_map::max_size(); }
  [[nodiscard]] hasher hash_function() const { return inner_.hash_function(); }
  [[nodiscard]] key_equal key_eq() const { return inner_.key_eq(); }
  [[nodiscard]] allocator_type get_allocator() const { return allocator_type(); }

  // ---- synchronous writes over the whole map ---------------------------------------------
  // Erases every entry with pred(const Key&, const T&), all in one batch; returns how many.
  // pred runs on the owner thread.
  template <class P>
  size_type erase_if(P&& pred) {
    return call<true>([&](transient& t) { return t.erase_if(pred); });
  }

  // Empties the map (in submission order with the other writes).
  void clear() {
    call<false>([](transient& t) { t.clear(); });
  }
  // Nothing to reserve in a trie; throws std::length_error beyond max_size(). Not queued.
  void reserve(size_type n) { inner_.reserve(n); }

  // ---- asynchronous writes: a std::future for the result ---------------------------------
  // The future is ready once the write is published (or failed: it then holds the
  // exception). Throws serial_map_closed after close(). Keys and values are taken by value.
  std::future<bool> insert_async(Key key, T value) {
    return async<false>([k = std::move(key), v = std::move(value)](transient& t) mutable {
      return t.insert(std::move(k), std::move(v));
    });
  }
  std::future<bool> insert_or_assign_async(Key key, T value) {
    return async<!nothrow_moves>([k = std::move(key), v = std::move(value)](transient& t) mutable {
      return t.insert_or_assign(std::move(k), std::move(v));
    });
  }
  std::future<bool> erase_async(Key key) {
    return async<true>([k = std::move(key)](transient& t) { return t.erase(k); });
  }
  // upsert(key, f, args...) with f and args copied (or moved) into the command.
  template <class F, class... Args>
  std::future<bool> upsert_async(Key key, F f, Args... args) {
    return async<!nothrow_moves>(upsert_command(std::move(key), std::move(f), std::move(args)...));
  }
  // f(transient&) on the owner thread as one all-or-nothing step of a batch (it sees the
  // writes queued before it; if it throws, its changes are undone and the future holds the
  // exception); the future holds what f returns.
  template <class F>
  auto apply_async(F f) -> std::future<std::decay_t<std::invoke_result_t<F&, transient&>>> {
    return async<true>(std::move(f));
  }

  // ---- fire-and-forget writes: no result, no promise ----------------------------------------
  // Cheaper than *_async (no shared state to allocate or synchronise). flush() waits until
  // they are published. A write that throws changes nothing and is counted in
  // failed_submissions(). Throw serial_map_closed after close().
  void submit_insert(Key key, T value) {
    post<false>([k = std::move(key), v = std::move(value)](transient& t) mutable {
      t.insert(std::move(k), std::move(v));
    });
  }
  void submit_insert_or_assign(Key key, T value) {
    post<!nothrow_moves>([k = std::move(key), v = std::move(value)](transient& t) mutable {
      t.insert_or_assign(std::move(k), std::move(v));
    });
  }
  void submit_erase(Key key) {
    post<true>([k = std::move(key)](transient& t) { t.erase(k); });
  }
  template <class F, class... Args>
  void submit_upsert(Key key, F f, Args... args) {
    post<!nothrow_moves>(upsert_command(std::move(key), std::move(f), std::move(args)...));
  }
  // f(transient&) on the owner thread as one all-or-nothing step (see apply_async).
  template <class F>
  void submit(F f) {
    post<true>(std::move(f));
  }

  // ---- the queue ------------------------------------------------------------------------------
  // Waits until every write submitted before this call (by any thread) is published, or has
  // failed. Returns at once after close(). Not from this map's callbacks.
  void flush() {
    check_not_owner();
    std::uint64_t last;
    {
      std::lock_guard lock(queue_mutex_);
      last = last_ticket_;
    }
    wait_for(last);
  }

  // Stops accepting writes, applies every accepted one, joins the owner thread. Idempotent;
  // safe to call from several threads. Not from this map's callbacks.
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
  // Backpressure: a submission (of any kind) that finds queue_limit() commands waiting for
  // the owner waits until the owner takes them (or close() refuses it), so producers faster
  // than the owner cannot grow the queue without bound. Submissions from the owner thread
  // itself (callbacks) are never held back.
  [[nodiscard]] size_type queue_limit() const noexcept { return queue_limit_; }

  // Statistics (relaxed counters, for tests and tuning): batches applied (each published
  // at most once), commands applied, the largest batch, and fire-and-forget writes that
  // threw. A batch is counted before its results resolve, so a caller whose write has
  // completed (future ready, synchronous call returned, flush() returned) sees it counted.
  [[nodiscard]] std::uint64_t batches() const noexcept {
    return batches_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t applied() const noexcept {
    return applied_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t largest_batch() const noexcept {
    return largest_batch_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t failed_submissions() const noexcept {
    return failed_.load(std::memory_order_relaxed);
  }

 private:
  // Moves of T that cannot throw let single-key calls that change a value in place run
  // without a savepoint (the change is one noexcept move after every step that may throw).
  static constexpr bool nothrow_moves =
      std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>;

  template <class R>
  using stored_t = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  template <class Op>
  using result_t = std::decay_t<std::invoke_result_t<Op&, transient&>>;

  // Runs op on t and puts its result in out. Guarded: under a savepoint, so that if op (or
  // the move of its result) throws, t is as before.
  template <bool Guarded, class Op>
  static void run(Op& op, transient& t, std::optional<stored_t<result_t<Op>>>& out) {
    std::optional<typename transient::savepoint> sp;
    if constexpr (Guarded) sp.emplace(t);
    if constexpr (std::is_void_v<result_t<Op>>) {
      op(t);
      out.emplace();
    } else {
      out.emplace(op(t));
    }
    if constexpr (Guarded) sp->commit();
  }

  // A queued write. The owner calls apply() in ticket order inside the batch's transient,
  // then, once the batch is published, finish() (with the batch's error if publishing
  // failed); after finish() it no longer touches the command.
  struct command {
    command* next = nullptr;
    std::uint64_t ticket = 0;
    virtual void apply(transient& t) noexcept = 0;
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
    void apply(transient& t) noexcept final {
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

  // An *_async command: on the heap, resolves its promise and deletes itself in finish().
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

  // A submit_* command: on the heap, counts its failure and deletes itself in finish().
  template <bool Guarded, class Op>
  struct detached_command final : command {
    detached_command(Op&& o, std::atomic<std::uint64_t>& f) : op(std::move(o)), failed(f) {}
    void apply(transient& t) noexcept override {
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

  // ---- the common surface's hooks (detail/common_surface.hpp) --------------------------
  // Which writes run under a savepoint (call<true>): those that may throw after changing the
  // batch. Erases: the trie's erase may throw (allocation) after the entry is gone, while it
  // restores the trie's canonical form. Writes that change a value in place: only when T's
  // moves may throw (see nothrow_moves). Inserts change the batch last.
  template <class K>
  std::optional<T> find_impl(const K& key) const {
    return inner_.find(key);
  }
  template <class K>
  bool contains_impl(const K& key) const {
    return inner_.contains(key);
  }
  template <class K, class F>
  bool visit_impl(const K& key, F& f) const {
    return inner_.visit(key, f);
  }
  template <class K, class F>
  bool visit_mut_impl(const K& key, F& f) {
    return call<!nothrow_moves>([&](transient& t) { return visit_in(t, key, f); });
  }
  template <class KK, class... Args>
  bool emplace_impl(KK&& key, Args&&... args) {
    return call<false>([&](transient& t) {
      return t.emplace(std::forward<KK>(key), std::forward<Args>(args)...);
    });
  }
  template <class KK>
  bool insert_or_assign_impl(KK&& key, T&& value) {
    return call<!nothrow_moves>(
        [&](transient& t) { return t.insert_or_assign(std::forward<KK>(key), std::move(value)); });
  }
  template <class KK>
  std::pair<T, bool> find_or_insert_impl(KK&& key, T&& value) {
    if (auto v = find_impl(key)) return {std::move(*v), false};
    return call<!nothrow_moves>(
        [&](transient& t) { return t.find_or_insert(std::forward<KK>(key), std::move(value)); });
  }
  template <class KK, class F, class... Args>
  bool upsert_impl(KK&& key, F& f, Args&&... args) {
    return call<!nothrow_moves>([&](transient& t) {
      return upsert_in(t, std::forward<KK>(key), f, std::forward<Args>(args)...);
    });
  }
  template <class KK>
  std::optional<T> exchange_impl(KK&& key, T&& value) {
    return call<!nothrow_moves>(
        [&](transient& t) { return t.exchange(std::forward<KK>(key), std::move(value)); });
  }
  template <class K>
  bool compare_exchange_impl(const K& key, const T& expected, T& desired) {
    return call<!nothrow_moves>(
        [&](transient& t) { return t.compare_exchange(key, expected, std::move(desired)); });
  }
  template <class K>
  bool erase_impl(const K& key) {
    return call<true>([&](transient& t) { return t.erase(key); });
  }
  template <class K>
  std::optional<T> extract_impl(const K& key) {
    return call<true>([&](transient& t) { return t.extract(key); });
  }
  template <class K>
  bool compare_erase_impl(const K& key, const T& expected) {
    return call<true>([&](transient& t) { return t.compare_erase(key, expected); });
  }

  // upsert on the batch. With nothrow moves: f runs on a copy, stored back by one noexcept
  // move (no savepoint needed); otherwise in place, under the caller's savepoint.
  template <class KK, class F, class... Args>
  static bool upsert_in(transient& t, KK&& key, F& f, Args&&... args) {
    if constexpr (nothrow_moves) {
      if (visit_in(t, key, f)) return false;
      return t.emplace(std::forward<KK>(key), std::forward<Args>(args)...);
    } else {
      return t.upsert(std::forward<KK>(key), f, std::forward<Args>(args)...);
    }
  }
  template <class K, class F>
  static bool visit_in(transient& t, const K& key, F& f) {
    if constexpr (nothrow_moves) {
      std::optional<T> copy = t.find(key);
      if (!copy) return false;
      f(*copy);
      t.visit(key, [&](T& slot) noexcept { slot = std::move(*copy); });
      return true;
    } else {
      return t.visit(key, f);
    }
  }
  template <class F, class... Args>
  static auto upsert_command(Key key, F f, Args... args) {
    return [k = std::move(key), f = std::move(f),
            a = std::make_tuple(std::move(args)...)](transient& t) mutable {
      return std::apply(
          [&](Args&... as) { return upsert_in(t, std::move(k), f, std::move(as)...); }, a);
    };
  }

  void check_not_owner() const {
    if (detail::serial_owner_of == this) {
      detail::report_reentrant_call(
          "a synchronous serial_map write, flush() or close() from a callback running on the "
          "map's owner thread would wait for itself");
    }
  }

  // Queues c; returns its ticket. Throws serial_map_closed (c not queued) after close().
  std::uint64_t enqueue(command& c) {
    bool wake;
    std::uint64_t ticket;
    {
      std::unique_lock lock(queue_mutex_);
      if (queued_ >= queue_limit_ && detail::serial_owner_of != this) {
        ++held_back_;
        space_cv_.wait(lock, [&] { return closed_ || queued_ < queue_limit_; });
        --held_back_;
      }
      if (closed_) throw serial_map_closed();
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
  // in about a microsecond. Measured here: a synchronous insert took 76 us with both sides
  // sleeping at once. The spin is bounded (backoff: pauses, then yields, so it gives way to
  // runnable threads), then the thread sleeps as before.
  static constexpr int spin_rounds = 40;

  // Waits until the owner has finished every command up to ticket.
  void wait_for(std::uint64_t ticket) const {
    // acquire: pairs with the owner's release store after finishing the batch, so the
    // command's result, and the published version, are visible here.
    std::uint64_t done = completed_.load(std::memory_order_acquire);
    detail::backoff b;
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
    detail::backoff b;
    for (int round = 0; round < spin_rounds; ++round) {
      if (submitted_.load(std::memory_order_relaxed) != taken) return;
      b.wait();
    }
  }

  template <bool Guarded, class Op>
  auto call(Op&& op) {
    check_not_owner();
    sync_command<Guarded, std::remove_reference_t<Op>> c(op);
    wait_for(enqueue(c));
    if (c.error) std::rethrow_exception(c.error);
    return std::move(*c.result);
  }

  template <bool Guarded, class Op>
  auto async(Op&& op) {
    using command_t = future_command<Guarded, std::decay_t<Op>>;
    auto c = std::make_unique<command_t>(std::forward<Op>(op));
    auto f = c->promise.get_future();
    enqueue(*c);
    c.release();  // the owner deletes it in finish()
    return f;
  }

  template <bool Guarded, class Op>
  void post(Op&& op) {
    using command_t = detached_command<Guarded, std::decay_t<Op>>;
    auto c = std::make_unique<command_t>(std::forward<Op>(op), failed_);
    enqueue(*c);
    c.release();  // the owner deletes it in finish()
  }

  void start() {
    owner_ = std::thread([this] { owner_loop(); });
  }

  // The owner thread: take the whole queue, apply it as one batch, publish, resolve.
  void owner_loop() noexcept {
    detail::serial_owner_of = this;
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
      inner_.update([batch](transient& t) {
        for (command* c = batch; c != nullptr; c = c->next) c->apply(t);
      });
    } catch (...) {
      // Only the publication itself can throw here (each command catches its own): then
      // every command of the batch fails with it.
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

  inner_map inner_;

  // The queue: an intrusive list of commands in ticket order, taken whole by the owner.
  // Guarded by queue_mutex_, as are closed_, owner_idle_ and last_ticket_.
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;  // the owner sleeps on it when the queue is empty
  command* head_ = nullptr;
  command* tail_ = nullptr;
  bool closed_ = false;
  bool owner_idle_ = false;        // the owner waits on queue_cv_: the next enqueue notifies
  std::uint64_t last_ticket_ = 0;  // the last ticket handed out
  // A copy of last_ticket_ that the owner reads without the lock while it spins.
  std::atomic<std::uint64_t> submitted_{0};
  size_type queued_ = 0;     // commands in the queue (not yet taken by the owner)
  size_type held_back_ = 0;  // submitters waiting on space_cv_ for room
  std::condition_variable space_cv_;
  const size_type queue_limit_ = default_queue_limit;

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

}  // namespace cmap
