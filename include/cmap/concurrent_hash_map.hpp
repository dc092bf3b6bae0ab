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
// growth_policy::grow_by_half (23-24 bytes; 10-22% slower on inserts from empty and on
// mixed loads, the same on lookups; docs/journal/growth-and-memory.md).
// reserve(n) and the constructor's capacity allocate what n entries need, not a power of two;
// rehash(n) and shrink_to_fit() rebuild the table smaller after mass erasure.
//
// Allocator: every byte the map holds (tables, nodes, the stripe locks) comes from it, and
// it may be stateful (get_allocator() returns it). Retired memory is freed later, on
// whichever thread collects it, so the allocator must be usable from any thread.

#include <functional>
#include <memory>
#include <utility>

#include "detail/concurrent_map_facade.hpp"
#include "detail/map_constructors.hpp"
#include "hash.hpp"

namespace cmap {

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
class concurrent_hash_map : public detail::map_constructors<
                                detail::concurrent_map_facade<Key, T, Hash, KeyEqual, Allocator>> {
  using base =
      detail::map_constructors<detail::concurrent_map_facade<Key, T, Hash, KeyEqual, Allocator>>;

 public:
  using base::base;
};

}  // namespace cmap
