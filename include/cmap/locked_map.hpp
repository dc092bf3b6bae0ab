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
#include <initializer_list>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "detail/locking_map_base.hpp"
#include "hash.hpp"

namespace cmap {

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
class locked_map : public detail::locking_map_base<locked_map<Key, T, Hash, KeyEqual, Allocator>,
                                                   Key, T, Hash, KeyEqual, Allocator> {
  using base = detail::locking_map_base<locked_map, Key, T, Hash, KeyEqual, Allocator>;
  friend base;

 public:
  using typename base::shard_type;
  using typename base::size_type;
  using typename base::table_type;

  locked_map() : locked_map(0) {}
  // An empty map with room for `capacity` entries.
  explicit locked_map(size_type capacity, const Hash& hash = Hash(),
                      const KeyEqual& eq = KeyEqual(), const Allocator& alloc = Allocator())
      : base(hash), shard_(hash, eq, alloc) {
    if (capacity != 0) shard_.table.reserve(capacity);
  }
  explicit locked_map(const Allocator& alloc) : locked_map(0, Hash(), KeyEqual(), alloc) {}
  locked_map(std::initializer_list<std::pair<Key, T>> init) : locked_map(init.size()) {
    for (const auto& [k, v] : init) this->insert(k, v);
  }

  // Not copyable or movable: other threads may be using the map (and its lock) at any time.
  // To copy the contents, use with_read_lock([](const auto& t) { return t; }).
  locked_map(const locked_map&) = delete;
  locked_map& operator=(const locked_map&) = delete;

  // f(const table_type&) under the shared lock: several reads that must see one state.
  // Returns what f returns.
  template <class F>
  decltype(auto) with_read_lock(F&& f) const {
    const detail::reentrancy_guard not_reentered(this);
    std::shared_lock guard(shard_.lock);
    return std::forward<F>(f)(std::as_const(shard_.table));
  }

  // f(table_type&) under the exclusive lock: compound logic that must be atomic (iterate,
  // then conditionally update). f may use the whole table_type interface (find, try_emplace,
  // insert_or_assign, erase, erase_if, for_each, reserve, ...). Returns what f returns.
  template <class F>
  decltype(auto) with_write_lock(F&& f) {
    const detail::reentrancy_guard not_reentered(this);
    std::unique_lock guard(shard_.lock);
    return std::forward<F>(f)(shard_.table);
  }

 private:
  shard_type& shard_for(std::size_t /*hash*/) noexcept { return shard_; }
  const shard_type& shard_for(std::size_t /*hash*/) const noexcept { return shard_; }
  static constexpr size_type shard_count() noexcept { return 1; }
  shard_type& shard_at(size_type /*i*/) noexcept { return shard_; }
  const shard_type& shard_at(size_type /*i*/) const noexcept { return shard_; }

  shard_type shard_;
};

}  // namespace cmap
