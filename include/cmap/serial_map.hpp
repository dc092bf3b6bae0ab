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
// keys/s on a 2-core machine), so on 100%-write loads even fire-and-forget writes reach only
// a fraction of locked_map's rate (docs/benchmarks.md has the current figures). Values must
// be copyable.
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

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "detail/callback.hpp"
#include "detail/common_surface.hpp"
#include "detail/map_constructors.hpp"
#include "detail/serial_executor.hpp"
#include "hash.hpp"
#include "map_stats.hpp"
#include "options.hpp"
#include "snapshot_map.hpp"

namespace cmap {

// Thrown by a write submitted to a serial_map after close() (or during its destructor).
class serial_map_closed : public std::logic_error {
 public:
  serial_map_closed() : std::logic_error("cmap::serial_map: write submitted after close()") {}
};

namespace detail {

// serial_map's body (see the top of this file): the published map, and the executor
// (detail/serial_executor.hpp) whose owner thread applies the writes to it in batches.
template <class Key, class T, class Hash, class KeyEqual, class Allocator>
requires(std::copy_constructible<Key>&& std::copy_constructible<T>) class serial_map_core
    : public common_surface<serial_map_core<Key, T, Hash, KeyEqual, Allocator>, Key, T, Hash,
                            KeyEqual, Allocator> {
  using inner_map = snapshot_map<Key, T, Hash, KeyEqual, Allocator>;
  friend lookup_surface<serial_map_core, Key, T, Hash, KeyEqual>;
  friend common_surface<serial_map_core, Key, T, Hash, KeyEqual, Allocator>;
  static constexpr probe_map_kind probe_kind() noexcept { return probe_map_kind::serial_map; }

 public:
  using size_type = std::size_t;
  using options_type = serial_map_options;
  using snapshot_type = typename inner_map::snapshot_type;
  // What apply_async/submit callbacks get: snapshot_map's batch editor.
  using transient = typename inner_map::transient;

  // The queue holds at most default_queue_limit commands unless the options say otherwise
  // (see queue_limit()).
  static constexpr size_type default_queue_limit = serial_map_options{}.queue_limit;

  // The constructors are detail/map_constructors.hpp's. A trie has nothing to reserve:
  // capacity is only checked against max_size(). The owner thread starts here.
  serial_map_core(size_type capacity, const Hash& hash, const KeyEqual& eq, const Allocator& alloc,
                  const serial_map_options& options)
      : inner_(capacity, hash, eq, alloc), writer_(batch_runner{&inner_}, options.queue_limit) {}

  // Not copyable or movable: the owner thread and other threads may be inside.
  serial_map_core(const serial_map_core&) = delete;
  serial_map_core& operator=(const serial_map_core&) = delete;

  // close(): every accepted write is applied first. Must not run on the owner thread.
  ~serial_map_core() { close(); }

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
  [[nodiscard]] Hash hash_function() const { return inner_.hash_function(); }
  [[nodiscard]] KeyEqual key_eq() const { return inner_.key_eq(); }
  [[nodiscard]] Allocator get_allocator() const { return inner_.get_allocator(); }
  // The published version's stats (snapshot_map's: a trie has no slots or rebuilds).
  [[nodiscard]] map_stats stats() const { return inner_.stats(); }

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
  // Nothing to reserve or give back in a trie: each throws std::length_error beyond
  // max_size(), and does nothing else. Not queued.
  void reserve(size_type n) { inner_.reserve(n); }
  void rehash(size_type n) { inner_.rehash(n); }
  void shrink_to_fit() noexcept {}

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
  void flush() { writer_.flush(); }

  // Stops accepting writes, applies every accepted one, joins the owner thread. Idempotent;
  // safe to call from several threads. Not from this map's callbacks.
  void close() { writer_.close(); }
  [[nodiscard]] bool closed() const { return writer_.closed(); }
  // Backpressure: a submission (of any kind) that finds queue_limit() commands waiting for
  // the owner waits until the owner takes them (or close() refuses it), so producers faster
  // than the owner cannot grow the queue without bound. Submissions from the owner thread
  // itself (callbacks) are never held back.
  [[nodiscard]] size_type queue_limit() const noexcept { return writer_.queue_limit(); }

  // Statistics (relaxed counters, for tests and tuning): batches applied (each published
  // at most once), commands applied, the largest batch, and fire-and-forget writes that
  // threw. A batch is counted before its results resolve, so a caller whose write has
  // completed (future ready, synchronous call returned, flush() returned) sees it counted.
  [[nodiscard]] std::uint64_t batches() const noexcept { return writer_.batches(); }
  [[nodiscard]] std::uint64_t applied() const noexcept { return writer_.applied(); }
  [[nodiscard]] std::uint64_t largest_batch() const noexcept { return writer_.largest_batch(); }
  [[nodiscard]] std::uint64_t failed_submissions() const noexcept { return writer_.failed(); }
  // Writes queued for the owner and not yet taken by it (a gauge; takes the queue's mutex).
  [[nodiscard]] std::size_t queued_writes() const { return writer_.queued(); }

 private:
  // Moves of T that cannot throw let single-key calls that change a value in place run
  // without a savepoint (the change is one noexcept move after every step that may throw).
  static constexpr bool nothrow_moves =
      std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>;

  // The executor's batch: every command of it applied to one transient of inner_, published
  // as one version when they are all applied.
  struct batch_runner {
    inner_map* map;
    template <class F>
    void operator()(F&& apply_all) {
      map->update(apply_all);
    }
  };
  using executor =
      serial_executor<transient, typename transient::savepoint, batch_runner, serial_map_closed>;

  template <bool Guarded, class Op>
  auto call(Op&& op) {
    return writer_.template call<Guarded>(std::forward<Op>(op));
  }
  template <bool Guarded, class Op>
  auto async(Op&& op) {
    return writer_.template async<Guarded>(std::forward<Op>(op));
  }
  template <bool Guarded, class Op>
  void post(Op&& op) {
    writer_.template post<Guarded>(std::forward<Op>(op));
  }

  // ---- the common surface's hooks (detail/common_surface.hpp) --------------------------
  // A range goes in as one command: one batch step, all of it or (if an insert throws)
  // nothing.
  template <class It>
  size_type insert_range_impl(It first, It last) {
    return call<true>([&](transient& t) { return t.insert(first, last); });
  }
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

  inner_map inner_;
  executor writer_;  // last: its owner thread starts once inner_ is built, stops first
};

}  // namespace detail

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
requires(std::copy_constructible<Key>&& std::copy_constructible<T>) class serial_map
    : public detail::map_constructors<detail::serial_map_core<Key, T, Hash, KeyEqual, Allocator>> {
  using base = detail::map_constructors<detail::serial_map_core<Key, T, Hash, KeyEqual, Allocator>>;

 public:
  using base::base;
};

}  // namespace cmap
