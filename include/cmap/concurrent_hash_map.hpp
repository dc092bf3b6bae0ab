#pragma once
// cmap::concurrent_hash_map: the general-purpose concurrent hash map. Start here.
//
// Choose it for any map shared by several threads: reads (find, contains, const visit,
// for_each, visit_bulk) take no lock and write no memory shared with other threads, so a
// hot key read by every core costs no cache-line ping-pong, and a reader never waits for
// any writer, not even one the OS descheduled in the middle of a write. Writers lock a
// stripe of keys (not the map), and growth happens while readers read on.
// Consider instead: read_mostly_map (the same engine and calls, with sync.Map's names
// documented, for copyable values only: its for_each callbacks never take a lock);
// locked_map, for compound multi-key updates under one lock; a single-threaded map (or checked_map)
// when only one thread uses it at a time.
//
// Guarantees
//  - Single-key calls are linearizable.
//  - Readers take no lock, except readers of values that cannot be copied (see "Values");
//    they pin an epoch (detail/epoch.hpp), which writes only the calling thread's own
//    record. A reader never retries and never waits for a writer: a lookup is a bounded
//    number of loads (the probe), whatever writers do or wherever they are descheduled.
//  - Writers of the same key are serialised by its stripe's lock; writers of different
//    stripes run in parallel. Growth takes every stripe lock for the copy of the slot
//    pointers (entries never move) but never stops readers, who keep finding every entry.
//    Writers that growth stops do not wait idle: they take chunks of the copy (and of
//    building the new table), so filling a map from many threads grows it in parallel.
//  - for_each is weakly consistent: an entry present for the whole walk is seen exactly once,
//    and no key is seen twice, even one erased and inserted again during the walk (inline
//    slots: a key keeps one slot for the life of a table; nodes: entries inserted after the
//    walk began are skipped).
//  - erase leaves a tombstone; tombstones are dropped when the table is rebuilt (at the same
//    size when they make up half the load), so erase-heavy use does not grow the table.
//  - Memory of erased or replaced entries is freed once no reader can hold it (epoch-based
//    reclamation); everything is freed when the map is destroyed.
//  - Callbacks: const visit / for_each / visit_bulk callbacks may run concurrently with
//    writers of the same key and see the value as it was when read. Mutable visit and
//    upsert run f under the key's stripe lock: writers of that key wait, readers do not.
//    Callbacks must not write to the same map (debug builds report a callback that takes a
//    stripe lock it already holds).
//  - Exceptions: a throwing hash, equality, constructor, allocation or callback leaves the
//    map valid with every lock released; single-key calls then leave it unchanged.
//
// Storage and values (chosen at compile time, see detail/concurrent_table.hpp)
//  - inline slots: Key and T trivially copyable, at most 8 bytes each (u64 -> u64, int ->
//    double, ...): key and value live in the table's slots; no node, no allocation per
//    insert, no pointer to follow on a hit, nothing to retire on erase. A slot that has held
//    a key is never given to another key until the table is rebuilt (erase leaves a
//    tombstone that only the same key may take again), so a reader that reads a key and
//    then its value never pairs a key with another key's value. Growth copies keys and
//    values into the new table.
//  Otherwise, nodes (one allocation per entry), with the value policy by T:
//  - trivially copyable T of at most 8 bytes: stored as std::atomic<T> in the entry; updates
//    in place, no allocation.
//  - other copyable T: entries are immutable once published; an update copies the entry,
//    changes the copy and swaps it in (one allocation per update).
//  - T that cannot be copied (std::unique_ptr, ...): updated in place under the stripe lock,
//    and readers of the value (const visit, for_each) take that lock too; find(), which
//    would return a copy, is not available. contains() stays lock-free.
//
// Costs: find/contains: a hash, one to two cache lines of the table (nodes: plus one of the
// entry), and an epoch pin (a store on the caller's own line and a compiler barrier; the
// matching heavy barrier, membarrier, is paid by the rare epoch advance; where membarrier
// is unavailable, a full fence). Insert: the stripe lock and two CAS on a control word
// (claim, then publish; plus an atomic OR for each full group it passes, which records the
// overflow at most once per group and hash bit), plus a node allocation with nodes. A miss
// usually reads one group: the probe stops at the first group that no key of its hash bit
// overflowed. Update: the stripe lock and one store (inline, atomic values) or a node swap
// (other copyable values). Erase: the stripe lock and a CAS on a control word (plus a
// retire of the node with nodes). size(): takes every stripe lock (O(stripes)). Growth:
// O(n) work, done by the growing writer and every writer waiting for it, in chunks of 512
// groups; rehash_stats() says how much of it the waiting writers did.
// Memory: groups of 15 slots and 16 control bytes; inline slots, sizeof(Key) + sizeof(T)
// bytes per slot plus the control bytes (256 bytes per group, 17.1 per slot, for u64 -> u64);
// nodes, 9.1 bytes per slot (a pointer and the control bytes) plus one node per entry (hash,
// birth, key, value, rounded up by the allocator). The load runs from 7/16 to 7/8 between
// growths (27-28 bytes per u64 -> u64 entry on average), or from 7/12 to 7/8 with
// set_growth_policy(growth_policy::grow_by_half) (23-24 bytes; 10-22% slower on
// cmap-bench's insert-only and mixed presets here, within noise on read-heavy and
// parallel-load; docs/benchmarks.md).
// reserve(n) and the constructor's capacity allocate what n entries need, not a power of two.
//
// The allocator must be stateless (std::allocator, or any with is_always_equal): retired
// entries are freed later, on whichever thread collects them.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "detail/callback.hpp"
#include "detail/common_surface.hpp"
#include "detail/concurrent_table.hpp"
#include "growth_policy.hpp"
#include "hash.hpp"

namespace cmap {
namespace detail {

// The class body of concurrent_hash_map and read_mostly_map, over the engine with the storage
// it chooses (inline slots where they fit).
template <class Key, class T, class Hash, class KeyEqual, class Allocator>
class concurrent_map_facade
    : public common_surface<concurrent_map_facade<Key, T, Hash, KeyEqual, Allocator>, Key, T, Hash,
                            KeyEqual> {
  friend common_surface<concurrent_map_facade, Key, T, Hash, KeyEqual>;
  using engine = concurrent_table<Key, T, Hash, KeyEqual, Allocator>;
  using position = typename engine::position;
  static constexpr bool copyable = std::is_copy_constructible_v<T>;

 public:
  using key_type = Key;
  using mapped_type = T;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using size_type = std::size_t;

  // Writer stripes: 4 per hardware thread, at least 16, rounded up to a power of two.
  [[nodiscard]] static size_type default_stripe_count() noexcept {
    const unsigned hw = std::thread::hardware_concurrency();
    return std::bit_ceil(std::max<size_type>(16, static_cast<size_type>(hw == 0 ? 1 : hw) * 4));
  }

  concurrent_map_facade() : concurrent_map_facade(0) {}
  // Room for `capacity` entries before the first growth. stripe_count: a power of two
  // (throws std::invalid_argument otherwise).
  explicit concurrent_map_facade(size_type capacity, const Hash& hash = Hash(),
                                 const KeyEqual& eq = KeyEqual(),
                                 size_type stripe_count = default_stripe_count())
      : table_(stripe_count, capacity, hash, eq) {}
  concurrent_map_facade(std::initializer_list<std::pair<Key, T>> init) requires copyable
      : concurrent_map_facade(init.size()) {
    for (const auto& [k, v] : init) this->insert(k, v);
  }

  // Not copyable or movable: other threads may be inside at any time.
  concurrent_map_facade(const concurrent_map_facade&) = delete;
  concurrent_map_facade& operator=(const concurrent_map_facade&) = delete;

  // The single-key calls (find, contains, visit, insert, emplace, insert_or_assign,
  // find_or_insert, upsert, exchange, compare_exchange, erase, extract, compare_erase) come
  // from detail/common_surface.hpp. Here: lookups take no lock and write no shared memory
  // (mutable visit and upsert run f under the key's stripe lock); writers take the key's
  // stripe lock. Const visit's f may run while a writer of the key replaces the value: it
  // sees the value as it was when read.

  // Looks up the keys of [first, last), calling f(index, const T&) for each one present
  // (index: the key's position in the range); returns how many were found. The batch's
  // memory accesses overlap, so this beats one find per key on tables larger than the caches.
  template <class It, class F>
  std::size_t visit_bulk(It first, It last, F&& f) const {
    return table_.visit_bulk(first, last, f);
  }

  // ---- whole map --------------------------------------------------------------------------
  // Erases every entry with pred(const Key&, const T&); returns how many. Locks one stripe
  // at a time, entry by entry.
  template <class P>
  size_type erase_if(P&& pred) {
    return table_.erase_if(pred);
  }

  // f(const Key&, const T&) on each entry, lock-free (Go: Range); false from f stops.
  template <class F>
  void for_each(F&& f) const {
    table_.for_each(f);
  }

  [[nodiscard]] size_type size() const { return table_.size(); }
  void clear() { table_.clear(); }
  void reserve(size_type n) { table_.reserve(n); }
  // How the table grows from now on (see cmap::growth_policy): double_size (the default,
  // fastest) or grow_by_half (about 15% less memory per entry). Any thread, any time: the
  // next growth uses it.
  void set_growth_policy(growth_policy g) noexcept {
    table_.set_grow_by_half(g == growth_policy::grow_by_half);
  }
  [[nodiscard]] growth_policy get_growth_policy() const noexcept {
    return table_.grows_by_half() ? growth_policy::grow_by_half : growth_policy::double_size;
  }
  // Bytes of the slot table plus one node per entry, as asked of the allocator (its own
  // overhead per allocation is not counted, nor memory still waiting for its grace period).
  [[nodiscard]] size_type allocated_bytes() const { return table_.allocated_bytes(); }
  // Bytes of the slot table alone: changes only when the table grows or is rebuilt.
  [[nodiscard]] size_type table_bytes() const { return table_.table_bytes(); }

  // How many times the table was rebuilt, in how many chunks, and how many of those chunks
  // writers waiting for their stripe lock did (a rebuild holds every stripe lock, and the
  // writers it stops help with it instead of waiting idle).
  using rehash_statistics = detail::rehash_statistics;
  [[nodiscard]] rehash_statistics rehash_stats() const noexcept { return table_.rehash_stats(); }

  [[nodiscard]] size_type stripe_count() const noexcept { return table_.stripe_count(); }
  [[nodiscard]] hasher hash_function() const { return table_.hash_function(); }
  [[nodiscard]] key_equal key_eq() const { return table_.key_eq(); }
  [[nodiscard]] allocator_type get_allocator() const { return allocator_type(); }

 private:
  // The lookups are always_inline, down to the probe (see common_surface.hpp's find).
  template <class K>
  [[gnu::always_inline]] bool contains_impl(const K& key) const {
    return table_.contains(key);
  }

  template <class K, class F>
  [[gnu::always_inline]] bool visit_impl(const K& key, F& f) const {
    return table_.read(key, [&](const Key&, const T& v) { f(v); });
  }

  template <class K>
  [[gnu::always_inline]] std::optional<T> find_impl(const K& key) const {
    std::optional<T> out;
    table_.read(key, [&](const Key&, const T& v) { out.emplace(v); });
    return out;
  }

  template <class K, class F>
  bool visit_mut_impl(const K& key, F& f) {
    return table_.write(key, false, [&](position& p) {
      if (p.n == nullptr) return false;
      table_.update(p, f);
      return true;
    });
  }

  template <class KK, class... Args>
  bool emplace_impl(KK&& key, Args&&... args) {
    return table_.write(key, true, [&](position& p) {
      if (p.n != nullptr) return false;
      table_.insert_absent(p, std::forward<KK>(key), std::forward<Args>(args)...);
      return true;
    });
  }

  template <class KK>
  bool insert_or_assign_impl(KK&& key, T&& value) {
    return table_.write(key, true, [&](position& p) {
      if (p.n != nullptr) {
        table_.assign(p, std::move(value));
        return false;
      }
      table_.insert_absent(p, std::forward<KK>(key), std::move(value));
      return true;
    });
  }

  template <class KK>
  std::pair<T, bool> find_or_insert_impl(KK&& key, T&& value) {
    return table_.write(key, true, [&](position& p) {
      if (p.n != nullptr) return std::pair<T, bool>(table_.copy_value(p), false);
      table_.insert_absent(p, std::forward<KK>(key), std::move(value));
      return std::pair<T, bool>(table_.copy_value(p), true);
    });
  }

  template <class KK, class F, class... Args>
  bool upsert_impl(KK&& key, F& f, Args&&... args) {
    return table_.write(key, true, [&](position& p) {
      if (p.n != nullptr) {
        table_.update(p, f);
        return false;
      }
      table_.insert_absent(p, std::forward<KK>(key), std::forward<Args>(args)...);
      return true;
    });
  }

  template <class KK>
  std::optional<T> exchange_impl(KK&& key, T&& value) {
    return table_.write(key, true, [&](position& p) -> std::optional<T> {
      if (p.n == nullptr) {
        table_.insert_absent(p, std::forward<KK>(key), std::move(value));
        return std::nullopt;
      }
      if constexpr (copyable) {
        std::optional<T> old(table_.copy_value(p));
        table_.assign(p, std::move(value));
        return old;
      } else {
        std::optional<T> old(table_.take_value(p));
        table_.assign(p, std::move(value));
        return old;
      }
    });
  }

  template <class K>
  bool compare_exchange_impl(const K& key, const T& expected, T& desired) {
    return table_.write(key, false, [&](position& p) {
      if (p.n == nullptr || !value_equals(p, expected)) return false;
      table_.assign(p, std::move(desired));
      return true;
    });
  }

  template <class K>
  bool erase_impl(const K& key) {
    return table_.write(key, false, [&](position& p) {
      if (p.n == nullptr) return false;
      table_.erase(p);
      return true;
    });
  }

  template <class K>
  std::optional<T> extract_impl(const K& key) {
    return table_.write(key, false, [&](position& p) -> std::optional<T> {
      if (p.n == nullptr) return std::nullopt;
      std::optional<T> out(table_.take_value(p));  // if this throws, the entry stays
      table_.erase(p);
      return out;
    });
  }

  template <class K>
  bool compare_erase_impl(const K& key, const T& expected) {
    return table_.write(key, false, [&](position& p) {
      if (p.n == nullptr || !value_equals(p, expected)) return false;
      table_.erase(p);
      return true;
    });
  }

  // Under the stripe lock: no writer can change the value meanwhile.
  bool value_equals(const position& p, const T& expected) const {
    if constexpr (engine::policy == value_policy::atomic_inline) {
      return table_.copy_value(p) == expected;
    } else {
      return p.n->value == expected;
    }
  }

  engine table_;
};

}  // namespace detail

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
class concurrent_hash_map
    : public detail::concurrent_map_facade<Key, T, Hash, KeyEqual, Allocator> {
  using base = detail::concurrent_map_facade<Key, T, Hash, KeyEqual, Allocator>;

 public:
  using base::base;
};

}  // namespace cmap
