#pragma once
// cmap::read_mostly_map: Go's sync.Map for C++, every one of its operations, without its
// write-heavy collapse.
//
// Choose it where you would reach for sync.Map: keys written once and read many times
// (caches that only grow, registries, interned ids), or threads working on disjoint keys;
// and where code ported from Go expects sync.Map's promises, above all Range's: "Range does
// not block other methods on the receiver; even f itself may call any method on m" (here:
// for_each's f may insert, erase or look up in the same map).
// Consider instead: concurrent_hash_map for move-only values (read_mostly_map needs
// copyable T so that no reader ever takes a lock), locked_map for compound multi-key updates.
//
// Design: a thin facade over concurrent_hash_map's engine (detail/concurrent_table.hpp), not
// a second engine. Go's original keeps a lock-free read-only map plus a mutex-guarded
// "dirty" map, and promotes dirty to read-only (an O(n) copy) after enough misses, so a
// stream of new keys serialises on the mutex and pays O(n) promotions: the reason Go 1.24
// replaced it. The shared engine already has what sync.Map's read side is for (lookups that
// take no lock and write no shared memory) and none of its write side's costs: a new key
// takes one stripe lock out of many, never a map-wide one, and no write promotes or copies a
// second map (growth rehashes the table, under the stripe locks, while readers read on; call
// reserve() first where even that pause matters).
// It differs from concurrent_hash_map only in what it accepts: copyable T, so that no reader
// ever takes a lock (the sync.Map operations below are the common surface's, which both
// maps offer). The storage is the engine's
// choice, as for concurrent_hash_map: small trivially copyable entries (u64 -> u64) live
// inline in the slots (no node, no pointer to follow on a hit: the reads sync.Map is for
// at the speed of concurrent_hash_map's), others in nodes. Both keep Go's "no key is
// visited more than once" while f erases and re-inserts keys: a key keeps one slot for
// the life of a table (inline), or carries an insertion stamp (nodes).
//
// Operations, with their sync.Map names (semantics as in Go, values returned by copy):
//   find(k)                  Load              -> std::optional<T> (empty: not present)
//   insert_or_assign(k, v)   Store             -> true if k was new
//   find_or_insert(k, v)     LoadOrStore       -> {value now in the map, whether v was stored}
//   extract(k)               LoadAndDelete     -> the erased value, or empty
//   erase(k)                 Delete            -> true if k was present
//   exchange(k, v)           Swap              -> the previous value, or empty
//   compare_exchange(k, old, new)  CompareAndSwap   -> true if the value equalled old
//   compare_erase(k, old)    CompareAndDelete  -> true if erased
//   for_each(f)              Range             f(const Key&, const T&); returning false stops
//   clear()                  Clear
// plus the rest of the common surface (contains, visit, insert, emplace, upsert, erase_if,
// size, reserve) and concurrent_hash_map's visit_bulk.
//
// Guarantees: those of concurrent_hash_map (single-key calls linearizable; readers never
// block and are never blocked, not even by a writer the OS descheduled mid-write; for_each
// weakly consistent, each key seen at most once, and it holds no lock, so f may call any
// method of the map). Costs: those of concurrent_hash_map (its header).

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "detail/concurrent_map_facade.hpp"
#include "detail/map_constructors.hpp"
#include "hash.hpp"

namespace cmap {

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
// A move-only T would make the engine lock a stripe for readers of the value (for_each
// included), breaking Range's promise that f may call any method: such a T is rejected
// (use concurrent_hash_map for move-only values).
requires std::is_copy_constructible_v<T>
class read_mostly_map : public detail::map_constructors<
                            detail::concurrent_map_facade<Key, T, Hash, KeyEqual, Allocator>> {
  using base =
      detail::map_constructors<detail::concurrent_map_facade<Key, T, Hash, KeyEqual, Allocator>>;

 public:
  using base::base;
};

}  // namespace cmap
