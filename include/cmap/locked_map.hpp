#pragma once
// cmap::locked_map: one reader-writer lock around one open-addressing hash table.
//
// The C++ form of Go's `sync.RWMutex` + `map`: simple, predictable, and the right choice when
//  - the map is small or rarely contended (a config table, a registry read now and then), or
//  - you need compound updates that must be atomic across several keys ("look at A and B,
//    then change C"): with_read_lock / with_write_lock hand you the whole table under one
//    lock, which no finer-grained map can offer.
// Not for: many threads writing at once (every writer excludes everyone) or many threads
// reading a hot map (every reader still writes the lock's cache line, which then bounces
// between cores). Use sharded_map for write-heavy shared maps, and see docs/choosing.md.
//
// Guarantees
//  - Every call is linearizable: it takes effect at one instant while it holds the lock.
//  - Readers (find, contains, const visit, for_each, size) share the lock; writers hold it
//    alone. A waiting writer holds back new readers, so readers cannot starve writers.
//  - for_each holds the shared lock for the whole walk, so it sees one consistent state.
//  - No call hands out a reference into the table except to a callback while the lock is
//    held. Callbacks must not call into the same map (the lock is not recursive).
//  - A throwing hash, equality, constructor or callback releases the lock; single-key calls
//    then leave the map unchanged (strong guarantee), except for what a throwing
//    visit/upsert callback itself changed.
// Costs: each call is one lock acquisition (an atomic read-modify-write on the lock word)
// plus the table operation: expected O(1); a growing insert rehashes in O(n) under the lock.
//
// The lock is cmap::detail::rw_lock: it spins briefly and then yields, rather than sleeping
// in the kernel as std::shared_mutex does (see detail/rw_lock.hpp for why).

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "detail/locking_map_base.hpp"
#include "detail/map_constructors.hpp"
#include "detail/reentrancy.hpp"
#include "hash.hpp"

namespace cmap {
namespace detail {

// locked_map's body: one shard, the whole table under one lock (see the top of this file).
template <class Key, class T, class Hash, class KeyEqual, class Allocator>
class locked_map_core : public locking_map_base<locked_map_core<Key, T, Hash, KeyEqual, Allocator>,
                                                Key, T, Hash, KeyEqual, Allocator> {
  using base = locking_map_base<locked_map_core, Key, T, Hash, KeyEqual, Allocator>;
  friend base;
  static constexpr probe_map_kind probe_kind() noexcept { return probe_map_kind::locked_map; }

 public:
  using typename base::shard_type;
  using typename base::size_type;
  using typename base::table_type;
  using options_type = no_options;

  // The constructors are detail/map_constructors.hpp's: room for `capacity` entries.
  locked_map_core(size_type capacity, const Hash& hash, const KeyEqual& eq, const Allocator& alloc,
                  no_options)
      : base(hash), shard_(hash, eq, alloc) {
    if (capacity != 0) shard_.table.reserve(capacity);
  }

  // Not copyable or movable: other threads may be using the map (and its lock) at any time.
  // To copy the contents, use with_read_lock([](const auto& t) { return t; }).
  locked_map_core(const locked_map_core&) = delete;
  locked_map_core& operator=(const locked_map_core&) = delete;

  // f(const table_type&) under the shared lock: several reads that must see one state.
  // Returns what f returns.
  template <class F>
  decltype(auto) with_read_lock(F&& f) const {
    const reentrancy_guard not_reentered(this);
    std::shared_lock guard(shard_.lock);
    return std::forward<F>(f)(std::as_const(shard_.table));
  }

  // f(table_type&) under the exclusive lock: compound logic that must be atomic (iterate,
  // then conditionally update). f may use the whole table_type interface (find, try_emplace,
  // insert_or_assign, erase, erase_if, for_each, reserve, ...). Returns what f returns.
  template <class F>
  decltype(auto) with_write_lock(F&& f) {
    const reentrancy_guard not_reentered(this);
    std::unique_lock guard(shard_.lock);
    return std::forward<F>(f)(shard_.table);
  }

 private:
  shard_type& shard_for(std::size_t /*hash*/) noexcept { return shard_; }
  const shard_type& shard_for(std::size_t /*hash*/) const noexcept { return shard_; }
  static constexpr size_type shard_count() noexcept { return 1; }
  static constexpr size_type shards_bytes() noexcept { return 0; }  // a member
  shard_type& shard_at(size_type /*i*/) noexcept { return shard_; }
  const shard_type& shard_at(size_type /*i*/) const noexcept { return shard_; }

  shard_type shard_;
};

}  // namespace detail

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
class locked_map
    : public detail::map_constructors<detail::locked_map_core<Key, T, Hash, KeyEqual, Allocator>> {
  using base = detail::map_constructors<detail::locked_map_core<Key, T, Hash, KeyEqual, Allocator>>;

 public:
  using base::base;
};

}  // namespace cmap
