#pragma once
// concurrent_table: the engine of concurrent_hash_map. Lookups take no lock and write no
// shared memory; writers lock a stripe of keys; the table grows while readers read on.
//
// Layout: two storages, chosen at compile time from Key and T (storage_policy_for)
// ---------------------------------------------------------------------------------
// The table is an array of groups, of any count (growth doubles it or grows it by half, see
// growth_policy; reserve sizes it exactly). A group has 16 control bytes (in two atomic
// 64-bit words, so they can be read and changed atomically) and 15 slots: bytes 0..14 are
// the slots' control bytes, those of group.hpp (empty, deleted, or the 7-bit tag of the
// key's hash), byte 15 holds 8 overflow bits (invariant (1)). A u64 -> u64 group is exactly
// 4 cache lines, on a line boundary (see group_block).
//  - nodes (any Key and T): each slot is an atomic pointer to a node {hash, birth, key,
//    value}. Nodes are allocated one by one and never move: a resize copies pointers, not
//    entries. ctrl_busy marks a slot claimed by a writer that has not published its node.
//  - inline_slots (Key and T trivially copyable, each a lock-free atomic of at most 8
//    bytes, e.g. u64 -> u64): each slot holds the key and the value themselves, as two
//    atomics. 256 / 15 bytes per slot for u64 -> u64; no allocation per insert, no pointer to
//    follow on a hit, nothing to retire on erase. A slot is never given to another key
//    before the table is rebuilt (below).
//
// Hash bits: bits 0..6 the tag (and the overflow bit, bits 0..2); the home group is the
// whole hash scaled to the group count (probe_sequence), so mostly its high bits; the top
// log2(stripes) bits pick the writer stripe. So a stripe's keys have their home groups in
// one contiguous 1/stripes of the table, and writers of different stripes rarely share a
// group.
//
// Writers: stripes
// ----------------
// Every call that changes the entry of key k holds the lock of k's stripe (chosen by the
// hash's top bits, independent of the table size). So all writers of one key are
// serialised, which makes "search, then insert if absent" safe without any lock on the
// table itself. Writers of different stripes may still meet in one group: they claim free
// slots with a CAS on the control word (free -> busy; inline slots: empty -> busy only),
// so two never take the same slot.
// A resize takes every stripe lock (in index order), so while a writer holds its stripe
// lock the table cannot be replaced under it.
//
// Inline slots: an insert claims an empty slot (CAS empty -> busy), stores key and value,
// and publishes them with the tag (busy -> tag, release). An erase turns the tag into a
// tombstone and leaves key and value where they are. Those two changes, and a tombstone's
// reuse by its own key, need no CAS: no other writer can change that byte meanwhile, so one
// atomic add of the difference changes it and keeps the word's other bytes (group_ctrl::move).
// An update (assign, mutable visit, upsert) changes only the value, one atomic: it runs the
// callback on a copy under the stripe lock and stores the result (release). A tombstone is
// taken again only by the key it held (a reader holding an older control snapshot may still
// read its key and value, so a slot that has shown a key keeps it until the table is
// rebuilt; grow() rebuilds at the same size when the budget runs out and most used slots
// are tombstones).
//
// Readers
// -------
// A reader pins the epoch (epoch.hpp), loads the table pointer, probes groups: for each
// control byte equal to the tag it compares the slot's key (nodes: loads the node first);
// it stops at a group without its hash's overflow bit. It writes only its own epoch record.
//   - Inline slots: the reader loads the control words (acquire), then a matching slot's key
//     and, on a hit, its value (acquire). Key and value read one after the other belong
//     together because the slot is never reused for another key while this table lives
//     (see above); the value is whichever the key had at the moment of the load. No retry
//     and no wait: a writer descheduled anywhere delays no reader.
//   - Publication: a writer stores the node into the slot (release), then sets the tag with
//     a release read-modify-write; a reader's acquire load of either sees the node fully built.
//   - Erase: the tag becomes deleted (a tombstone, always: never "empty", see below) and
//     the slot null; the node is retired and freed two epochs later, so a reader that loaded
//     it may still read it.
//   - Resize: the resizer holds every stripe lock, so the old table is frozen while it copies
//     the pointers (inline: the keys and values), in chunks that the writers waiting for a
//     stripe lock share (rehash_locked); readers keep probing the old table and find
//     everything; the new table is published with a release store, the old array retired (and
//     freed at once, once the locks are released, if no reader is pinned). A reader that still
//     walks the old table after that sees the map as it was at the moment of the freeze.
//
// Invariants
// ----------
// (1) Overflow bits (as in Boost's foa): an insert that finds no slot it may claim in a
//     group sets that group's overflow bit for its hash (1 of 8, overflow_bit) before it
//     goes on to the next group; bits are cleared only by building a new table. So every key
//     sits in its home group or past groups that carry its bit, and a lookup stops at the
//     first group of its probe sequence without its bit: a miss usually reads one group, at
//     any load. Erase writes a tombstone, never "empty" (a group never regains an empty slot
//     before the next rebuild, which invariant (3) and the budget (2) rely on).
// (2) Claims of empty slots are limited to max_load = 7/8 of the slots (tombstones and busy
//     slots are not empty; with inline slots an insert claims an empty slot unless it takes
//     back its own key's tombstone, with nodes it may take any tombstone instead, at no
//     cost), so every insert finds a slot. The budget is kept per stripe (no shared
//     counter on the write path); a stripe refills from a shared pool in chunks, and an
//     empty pool means: resize (grow, by growth_policy, or rebuild at the same size when
//     tombstones are at least half of the load).
// (3) Inline slots: a key has at most one slot in a table, for the table's whole life. It
//     is placed in the first group of its probe sequence that has an empty slot, and the
//     groups before it carry its overflow bit (1), so a later search for the key reaches that
//     group before it can stop, sees the key's tombstone if it was erased, and takes it back
//     (claim_and_store). So for_each, which visits each slot of one table once, never shows
//     a key twice, even one erased and inserted again during the walk.
//
// Values (node storage): three policies, chosen at compile time from T
// ---------------------------------------------------------------------
//  - atomic_inline (trivially copyable T of at most 8 bytes, lock-free std::atomic<T>): the
//    node holds std::atomic<T>; readers load it, writers (under the stripe lock) load,
//    modify a copy, store. No allocation per update.
//  - copy_on_write (other copyable T): nodes are immutable once published; an update builds
//    a new node (copying the value, then applying the change) and swaps the slot's pointer;
//    the old node is retired. Readers read the value with no lock.
//  - locked_in_place (T not copyable, e.g. std::unique_ptr): no copy to swap in, so updates
//    change the value in place under the stripe lock, and readers of the value (const
//    visit, for_each) take the key's stripe lock too. contains() stays lock-free.

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "allocated_array.hpp"
#include "backoff.hpp"
#include "cache_line.hpp"
#include "callback.hpp"
#include "concurrent_group.hpp"
#include "cooperative_rehash.hpp"
#include "epoch.hpp"
#include "group.hpp"
#include "huge_pages.hpp"
#include "observation.hpp"
#include "power_of_two.hpp"
#include "probe_tally.hpp"
#include "reentrancy.hpp"
#include "spin_lock.hpp"

namespace cmap::detail {

// What concurrent_table::rehash_stats() reports.
struct rehash_statistics {
  std::size_t rehashes = 0;       // tables rebuilt (grown, rebuilt at the same size, reserved)
  std::size_t chunks = 0;         // pieces of work those rebuilds were cut into
  std::size_t helped_chunks = 0;  // of those, done by threads waiting for a stripe lock
};

enum class value_policy { atomic_inline, copy_on_write, locked_in_place };

template <class T>
constexpr value_policy value_policy_for() {
  if constexpr (std::is_trivially_copyable_v<T> && sizeof(T) <= 8) {
    if constexpr (std::atomic<T>::is_always_lock_free) return value_policy::atomic_inline;
  }
  if constexpr (std::is_copy_constructible_v<T>) return value_policy::copy_on_write;
  return value_policy::locked_in_place;
}

// Where entries live, chosen at compile time from Key and T.
//  - inline_slots: Key and T trivially copyable, default constructible, and each a lock-free
//    std::atomic (at most 8 bytes): key and value sit in the table's slot array itself. No
//    allocation per insert, no pointer to follow on a hit, nothing to retire on erase.
//    A slot is never given to another key, so readers need no validation (see below).
//  - nodes: everything else (strings, move-only or large values): slots hold pointers to
//    nodes, with the value policies above.
enum class storage_policy { inline_slots, nodes };

template <class Key, class T>
constexpr storage_policy storage_policy_for() {
  if constexpr (std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<T> &&
                std::is_default_constructible_v<Key> && std::is_default_constructible_v<T> &&
                sizeof(Key) <= 8 && sizeof(T) <= 8) {
    if constexpr (std::atomic<Key>::is_always_lock_free && std::atomic<T>::is_always_lock_free)
      return storage_policy::inline_slots;
  }
  return storage_policy::nodes;
}

// A slot of the inline_slots storage: the entry itself. Atomics so that a reader racing a
// writer reads whole values.
template <class Key, class T>
struct inline_slot {
  std::atomic<Key> key;
  std::atomic<T> value;
};

// An entry. `birth` numbers the entry's insertion within its stripe (a copy made by an
// update keeps it): for_each skips entries born after the walk began, which is what makes a
// key re-inserted behind the walk's position not show up twice.
template <class Key, class T, value_policy P>
struct concurrent_node {
  template <class K, class... Args>
  explicit concurrent_node(std::size_t h, std::uint64_t b, K&& k, Args&&... args)
      : hash(h), birth(b), key(std::forward<K>(k)), value(std::forward<Args>(args)...) {}

  const std::size_t hash;
  const std::uint64_t birth;
  const Key key;
  std::conditional_t<P == value_policy::atomic_inline, std::atomic<T>, T> value;
};

// The allocator: nodes, and tables in whole cache lines, come from (rebinds of) the one the
// table was given, which may be stateful; it must be usable from any thread that uses the
// map (retired memory is freed on the thread that collects it, see epoch.hpp).
template <class Key, class T, class Hash, class KeyEqual, class Allocator>
class concurrent_table {
 public:
  static constexpr value_policy policy = value_policy_for<T>();
  static constexpr storage_policy storage = storage_policy_for<Key, T>();
  static constexpr bool inline_storage = storage == storage_policy::inline_slots;
  // With inline_slots, a "node" is the slot itself (a position's n points into the table).
  using node =
      std::conditional_t<inline_storage, inline_slot<Key, T>, concurrent_node<Key, T, policy>>;
  using size_type = std::size_t;

 private:
  using node_alloc = typename std::allocator_traits<Allocator>::template rebind_alloc<node>;
  using node_traits = std::allocator_traits<node_alloc>;

  // A slot. Nodes: a pointer to the entry. Inline slots: the entry itself; a slot goes
  // empty -> busy (claimed by a writer) -> tagged (key and value stored, then published by
  // the tag) -> deleted, and is taken again only by the key it held (see claim_and_store),
  // so a slot that has shown a tag keeps that key for the life of the table.
  using slot_type = std::conditional_t<inline_storage, node, std::atomic<node*>>;

  // A group: 16 control bytes in two atomic words, then group_slots = 15 slots. Bytes 0..14
  // are the slots' control bytes, byte 15 the group's overflow bits (invariant (1)). Fifteen
  // slots make a u64 -> u64 group exactly 4 cache lines (16 + 15 * 16 bytes), allocated on a
  // line boundary: the control words share a line with slots 0..2 and a hit touches at most
  // one more line, in the same page (Boost's foa groups have the same shape). Groups of other
  // sizes are packed, at the control words' alignment (smaller slots, such as int -> int,
  // have a smaller one).
  static constexpr unsigned group_slots = concurrent_group_slots;
  static constexpr std::size_t group_bytes =
      2 * sizeof(std::uint64_t) + group_slots * sizeof(slot_type);
  struct alignas(group_bytes % cache_line_size == 0
                     ? cache_line_size
                     : std::max(alignof(slot_type),
                                alignof(std::atomic<std::uint64_t>))) group_block {
    std::atomic<std::uint64_t> ctrl[2];
    slot_type slots[group_slots];
  };
  // Where a group is, for the code that reads or changes it.
  struct group_ref {
    group_ctrl ctrl;             // the group's 2 control words (concurrent_group.hpp)
    slot_type* slots = nullptr;  // its group_slots slots
  };

  // One allocation: this header in the first cache line, then the groups.
  struct table {
    std::size_t group_count;
    group_block* groups;
    [[nodiscard]] std::size_t capacity() const noexcept { return group_count * group_slots; }
    [[nodiscard]] group_ref group_at(std::size_t gi) const noexcept {
      return group_ref{group_ctrl(groups[gi].ctrl), groups[gi].slots};
    }
    [[nodiscard]] std::size_t home_group(std::size_t h) const noexcept {
      return scaled_probe_sequence::home_group(h, group_count);
    }
  };

  // The groups a hash visits in table t, in order (group.hpp: the home group scaled from
  // the hash, then triangular steps; any group count).
  class probe_sequence : public scaled_probe_sequence {
   public:
    probe_sequence(std::size_t h, const table* t) noexcept
        : scaled_probe_sequence(h, t->group_count) {}
  };

  struct alignas(cache_line_size) stripe {
    spin_lock lock;                    // stripes serialise writers only
    std::atomic<std::size_t> size{0};  // entries of this stripe's keys; written under lock
    // Insertions so far (the next entry's birth); written under lock, read by for_each.
    std::atomic<std::uint64_t> births{0};
    std::size_t budget = 0;  // empty slots this stripe may still claim; under lock
  };

  static constexpr std::size_t max_budget_chunk = 32;

 public:
  concurrent_table(size_type stripes, size_type capacity, const Hash& hash, const KeyEqual& eq,
                   const Allocator& alloc)
      : hash_(hash),
        eq_(eq),
        alloc_(alloc),
        stripe_count_(checked_power_of_two(stripes, "stripe count", "cmap::concurrent_hash_map")),
        stripe_shift_(static_cast<unsigned>(64 - std::countr_zero(stripe_count_)) & 63u),
        stripes_(stripe_count_, alloc_) {
    table* t = new_table(checked_groups_for(capacity));
    set_budget(t, 0);
    publish_table(t);
  }

  concurrent_table(const concurrent_table&) = delete;
  concurrent_table& operator=(const concurrent_table&) = delete;

  // No other thread may use the map any more: free every node and table, and what this map
  // retired that is still waiting for its grace period.
  ~concurrent_table() {
    table* t = table_.load(std::memory_order_acquire);
    if constexpr (!inline_storage) for_each_node_of(t, [this](node* n) { free_node(n); });
    free_table(t);
    epoch_domain::global().drain(this);
  }

  [[nodiscard]] size_type stripe_count() const noexcept { return stripe_count_; }
  [[nodiscard]] Hash hash_function() const { return hash_; }
  [[nodiscard]] KeyEqual key_eq() const { return eq_; }
  [[nodiscard]] Allocator get_allocator() const { return alloc_; }

  // ---- readers: no lock (except values of the locked_in_place policy) ---------------------

  // f(const Key&, const T&) on the entry of key, if present; returns whether it was.
  // always_inline: every lookup goes through here (see the facade's contains_impl).
  template <class K, class F>
  [[gnu::always_inline]] bool read(const K& key, F&& f) const {
    const std::size_t h = hash_(key);
    if constexpr (inline_storage) {
      Key k{};
      T v{};
      {
        auto pin = epoch_domain::global().pin();
        if (!lookup_inline(table_.load(std::memory_order_acquire), key, h, &k, &v)) return false;
      }
      f(std::as_const(k), std::as_const(v));  // on copies, unpinned
      return true;
    } else if constexpr (policy == value_policy::locked_in_place) {
      const stripe_lock lock(*this, stripe_for(h));
      auto pin = epoch_domain::global().pin();
      node* n = lookup(table_.load(std::memory_order_acquire), key, h);
      if (n == nullptr) return false;
      f(n->key, std::as_const(n->value));
      return true;
    } else {
      auto pin = epoch_domain::global().pin();
      node* n = lookup(table_.load(std::memory_order_acquire), key, h);
      if (n == nullptr) return false;
      with_value(n, [&](const T& v) { f(n->key, v); });
      return true;
    }
  }

  template <class K>
  [[nodiscard, gnu::always_inline]] bool contains(const K& key) const {
    const std::size_t h = hash_(key);
    auto pin = epoch_domain::global().pin();
    if constexpr (inline_storage) {
      return lookup_inline(table_.load(std::memory_order_acquire), key, h, nullptr, nullptr);
    } else {
      return lookup(table_.load(std::memory_order_acquire), key, h) != nullptr;
    }
  }

  // Looks up [first, last), calling f(index, const T&) for each key found; returns how many
  // were found. Batches of 16, software-pipelined over two batches so that each batch's
  // prefetches have the next batch's work to hide behind: match the tags of batch b (its
  // home groups were prefetched) and prefetch each one's first candidate (the slot, or the
  // node it points to); hash batch b+1 and prefetch its home groups; then look batch b up.
  template <class It, class F>
  std::size_t visit_bulk(It first, It last, F& f) const {
    constexpr std::size_t batch = 16;
    struct pending {
      It key;
      std::size_t hash;
    };
    std::size_t found = 0, index = 0;
    auto pin = epoch_domain::global().pin();
    const table* t = table_.load(std::memory_order_acquire);
    pending keys[2][batch];
    std::size_t count[2] = {0, 0};
    auto hash_and_prefetch = [&](unsigned b) {
      std::size_t n = 0;
      for (; n < batch && first != last; ++n, ++first) {
        keys[b][n] = pending{first, hash_(*first)};
        prefetch(t->group_at(t->home_group(keys[b][n].hash)).ctrl.words());
      }
      count[b] = n;
    };
    unsigned cur = 0;
    hash_and_prefetch(cur);
    while (count[cur] != 0) {
      for (std::size_t i = 0; i < count[cur]; ++i) {
        // Only a prefetch address: relaxed (the lookup below loads what it reads properly).
        const group_ref g = t->group_at(t->home_group(keys[cur][i].hash));
        const bit_mask m = g.ctrl.load_relaxed().match(tag_of(keys[cur][i].hash));
        if (!m.any()) continue;
        if constexpr (inline_storage) {
          prefetch(&g.slots[m.lowest()]);
        } else {
          prefetch(g.slots[m.lowest()].load(std::memory_order_relaxed));
        }
      }
      hash_and_prefetch(cur ^ 1u);
      for (std::size_t i = 0; i < count[cur]; ++i, ++index) {
        if (visit_one(t, *keys[cur][i].key, keys[cur][i].hash, index, f)) ++found;
      }
      cur ^= 1u;
    }
    return found;
  }

 private:
  // visit_bulk's lookup of one key in t (pinned by the caller): f(index, const T&) if found.
  template <class K, class F>
  bool visit_one(const table* t, const K& key, std::size_t h, std::size_t index, F& f) const {
    if constexpr (inline_storage) {
      T v{};
      if (!lookup_inline(t, key, h, nullptr, &v)) return false;
      f(index, std::as_const(v));
      return true;
    } else if constexpr (policy == value_policy::locked_in_place) {
      return read(key, [&](const Key&, const T& v) { f(index, v); });
    } else {
      node* n = lookup(t, key, h);
      if (n == nullptr) return false;
      with_value(n, [&](const T& v) { f(index, v); });
      return true;
    }
  }

 public:
  // f(const Key&, const T&) on every entry; if f returns bool, false stops. Weakly
  // consistent (see the top of this file: entries present for the whole walk are seen
  // exactly once).
  template <class F>
  void for_each(F& f) const {
    if constexpr (inline_storage) {
      for_each_inline(f);
    } else {
      for_each_nodes(f);
    }
  }

 private:
  template <class F>
  void for_each_nodes(F& f) const {
    // Each stripe's birth count at the start: entries born later are skipped, so a key
    // erased and inserted again during the walk is not seen twice (Go's Range promise: no
    // key visited more than once). acquire pairs with the release in insert_absent: an entry
    // counted here is one whose erasure, if any, the walk will also see.
    const std::unique_ptr<std::uint64_t[]> born_before =
        std::make_unique<std::uint64_t[]>(stripe_count_);
    for (std::size_t i = 0; i < stripe_count_; ++i)
      born_before[i] = stripes_[i].births.load(std::memory_order_acquire);
    auto pin = epoch_domain::global().pin();
    const table* t = table_.load(std::memory_order_acquire);
    for (std::size_t gi = 0; gi < t->group_count; ++gi) {
      const group_ref g = t->group_at(gi);
      for (unsigned i : g.ctrl.load().match_full()) {
        node* n = load_node(g.slots[i]);
        if (n == nullptr || n->birth >= born_before[stripe_index(n->hash)]) continue;
        bool go_on = true;
        if constexpr (policy == value_policy::locked_in_place) {
          const stripe_lock lock(*this, stripe_for(n->hash));
          // Under the lock the node cannot be erased; check it is still the slot's entry.
          if (load_node(g.slots[i]) != n) continue;
          go_on = invoke_continue(f, n->key, std::as_const(n->value));
        } else {
          with_value(n, [&](const T& v) { go_on = invoke_continue(f, n->key, v); });
        }
        if (!go_on) return;
      }
    }
  }

 public:
  // Exact: holds every stripe lock while it adds the counts.
  [[nodiscard]] size_type size() const {
    const all_stripes_lock all(*this);
    return live_locked();
  }

  // The stripes, the current table and one node per entry, as the allocator was asked for
  // them (retired tables and nodes still waiting for their grace period are not counted).
  [[nodiscard]] size_type allocated_bytes() const {
    const size_type fixed = stripe_count_ * sizeof(stripe) + table_bytes();
    if constexpr (inline_storage) {
      return fixed;
    } else {
      return fixed + size() * sizeof(node);
    }
  }
  [[nodiscard]] size_type table_bytes() const {
    auto pin = epoch_domain::global().pin();
    return table_bytes_of(table_.load(std::memory_order_acquire));
  }

  // Counts of the rebuilds so far (growth, rebuilds at the same size, reserve), of their
  // chunks (see rehash_locked), and of the chunks that threads waiting for a stripe lock did.
  // Relaxed: exact once the map is quiet.
  [[nodiscard]] rehash_statistics rehash_stats() const noexcept {
    return rehash_statistics{rehashes_.load(std::memory_order_relaxed),
                             rehash_chunks_.load(std::memory_order_relaxed),
                             helped_chunks_.load(std::memory_order_relaxed)};
  }

  // ---- writers: under the key's stripe lock -----------------------------------------------

  // Where a writer found its key: the slot holding key's node, or n == nullptr if absent.
  struct position {
    group_ref g;
    unsigned slot = 0;
    node* n = nullptr;
    std::size_t hash = 0;
    stripe* s = nullptr;
    // Inline slots, key absent: a tombstone that held this same key, if the search met one
    // (claim_and_store reuses it; see there).
    group_ref tomb;  // !tomb.ctrl.valid(): none
    unsigned tomb_slot = 0;
  };

  // Runs f(position&) under key's stripe lock, with the current table searched for key;
  // returns f's result. With may_insert, f may call insert_absent on an absent key and that
  // insert needs no growth: write() makes sure this stripe holds a unit of the empty-slot
  // budget first, growing the table (with no lock held) and starting over if it must.
  template <class K, class F>
  decltype(auto) write(const K& key, bool may_insert, F&& f) {
    const std::size_t h = hash_(key);
    stripe& s = stripe_for(h);
    prefetch_home_group(h);
    for (;;) {
      table* out_of_budget = nullptr;
      {
        const stripe_lock lock(*this, s);
        // Nodes: find_position reads nodes of other stripes' keys, which their writers may
        // retire meanwhile. Inline slots: it reads only the table, which cannot be replaced,
        // let alone freed, while this stripe's lock is held: no pin.
        [[maybe_unused]] const write_pin pin(epoch_domain::global());
        // relaxed: a resize changes table_ only while holding every stripe lock, ours too,
        // and our lock acquisition synchronises with its unlock.
        table* t = table_.load(std::memory_order_relaxed);
        position p = find_position(t, key, h, may_insert);
        p.s = &s;
        if (p.n != nullptr || !may_insert || s.budget != 0 || refill_budget(s)) return f(p);
        out_of_budget = t;
      }
      grow(out_of_budget);  // with no lock held; then start over
    }
  }

  // Inserts a node for a key that write() found absent (with may_insert). Strong guarantee:
  // if the node's construction throws, nothing changed.
  template <class KK, class... Args>
  node* insert_absent(position& p, KK&& key, Args&&... args) {
    if constexpr (inline_storage) {
      // Both built before anything changes: if T's construction throws, nothing did.
      const T value(std::forward<Args>(args)...);
      const Key k(std::forward<KK>(key));
      claim_and_store(table_.load(std::memory_order_relaxed), p, k, value);
      p.s->size.store(p.s->size.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return p.n;
    } else {
      return insert_absent_node(p, std::forward<KK>(key), std::forward<Args>(args)...);
    }
  }

 private:
  template <class KK, class... Args>
  node* insert_absent_node(position& p, KK&& key, Args&&... args) {
    const std::uint64_t birth = p.s->births.load(std::memory_order_relaxed);
    node* n = make_node(p.hash, birth, std::forward<KK>(key), std::forward<Args>(args)...);
    claim_and_publish(table_.load(std::memory_order_relaxed), *p.s, n);
    p.s->size.store(p.s->size.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    // release: pairs with for_each's acquire (see there).
    p.s->births.store(birth + 1, std::memory_order_release);
    p.n = n;
    return n;
  }

 public:
  // Replaces p's value with v: in place (atomic_inline, locked_in_place) or by swapping in a
  // new node (copy_on_write).
  template <class V>
  void assign(position& p, V&& v) {
    if constexpr (inline_storage) {
      store_value_inline(p, static_cast<T>(std::forward<V>(v)));
    } else if constexpr (policy == value_policy::atomic_inline) {
      // release: pairs with the readers' acquire load in with_value.
      p.n->value.store(static_cast<T>(std::forward<V>(v)), std::memory_order_release);
    } else if constexpr (policy == value_policy::locked_in_place) {
      p.n->value = std::forward<V>(v);
    } else {
      replace_node(p, make_node(p.hash, p.n->birth, p.n->key, std::forward<V>(v)));
    }
  }

  // Applies f(T&) to p's value as one update.
  template <class F>
  void update(position& p, F& f) {
    if constexpr (inline_storage) {
      // f runs on a copy (it may be slow, or throw: then nothing changed); the result is
      // stored with one atomic store, so no reader sees a torn value. Writers of this key
      // are excluded by the stripe lock.
      T v = p.n->value.load(std::memory_order_relaxed);
      f(v);
      store_value_inline(p, v);
    } else if constexpr (policy == value_policy::atomic_inline) {
      // Writers of this key are excluded by the stripe lock, so load-modify-store is atomic
      // with respect to them; readers see the old or the new value.
      T v = p.n->value.load(std::memory_order_relaxed);
      f(v);
      p.n->value.store(v, std::memory_order_release);
    } else if constexpr (policy == value_policy::locked_in_place) {
      f(p.n->value);
    } else {
      node* fresh = make_node(p.hash, p.n->birth, p.n->key, std::as_const(p.n->value));
      try {
        f(fresh->value);
      } catch (...) {
        free_node(fresh);
        throw;
      }
      replace_node(p, fresh);
    }
  }

  // A copy of p's value.
  T copy_value(const position& p) const {
    if constexpr (policy == value_policy::atomic_inline) {
      return p.n->value.load(std::memory_order_relaxed);
    } else {
      return p.n->value;
    }
  }

  // Takes p's value out for extract: a move where no reader can see it (locked_in_place:
  // readers take the stripe lock), else a copy (readers may still read the retired node).
  T take_value(position& p) {
    if constexpr (policy == value_policy::locked_in_place) {
      return std::move(p.n->value);
    } else {
      return copy_value(p);
    }
  }

  // Erases p's entry: null slot, then tombstone (invariant (1)), then retire the node. In
  // that order: once the byte says "deleted", a writer of another stripe may claim the slot
  // and store its own node there, which a later store of null would wipe out. (A reader
  // that sees the tag and a null slot skips it, as for a busy slot.)
  void erase(position& p) {
    if constexpr (inline_storage) {
      // Only the control byte changes (to a tombstone, which only this key may take again): the
      // key and value stay, so a reader that saw the tag before reads them whole. An atomic
      // add on the word, since writers of other stripes may change its other bytes.
      p.g.ctrl.move(p.slot, tag_of(p.hash), ctrl_deleted);
      p.s->size.store(p.s->size.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
      p.n = nullptr;
    } else {
      erase_node(p);
    }
  }

 private:
  void erase_node(position& p) {
    // relaxed: the null publishes nothing (a reader that loads it skips the slot), and the
    // release change of the byte just after it orders it before the tombstone: a writer of
    // another stripe that claims the slot (group_ctrl::set, acquire) reads that change, so
    // the null happens before its store of its own node and cannot wipe it out.
    p.g.slots[p.slot].store(nullptr, std::memory_order_relaxed);
    p.g.ctrl.move(p.slot, tag_of(p.hash), ctrl_deleted);
    retire_node(p.n);
    p.s->size.store(p.s->size.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    p.n = nullptr;
  }

 public:
  // Erases every entry for which pred(const Key&, const T&) holds, each under its stripe's
  // lock in turn; returns how many.
  template <class P>
  size_type erase_if(P& pred) {
    size_type erased = 0;
    auto pin = epoch_domain::global().pin();
    const table* t = table_.load(std::memory_order_acquire);
    if constexpr (inline_storage) {
      for (std::size_t gi = 0; gi < t->group_count; ++gi) {
        Key keys[group_slots];
        T values[group_slots];
        const unsigned n = snapshot_group(t->group_at(gi), keys, values);
        for (unsigned j = 0; j < n; ++j) {
          erased += write(keys[j], false, [&](position& p) -> size_type {
            if (p.n == nullptr) return 0;  // erased meanwhile
            const Key k = p.n->key.load(std::memory_order_relaxed);
            const T v = p.n->value.load(std::memory_order_relaxed);
            if (!static_cast<bool>(pred(std::as_const(k), std::as_const(v)))) return 0;
            erase(p);
            return 1;
          });
        }
      }
      return erased;
    } else {
      for (std::size_t gi = 0; gi < t->group_count; ++gi) {
        for (unsigned i = 0; i < group_slots; ++i) {
          node* n = load_node(t->group_at(gi).slots[i]);
          if (n == nullptr) continue;
          // Through the common write path, which finds the key in the current table.
          erased += write(n->key, false, [&](position& p) -> size_type {
            if (p.n == nullptr) return 0;  // erased meanwhile
            bool hit = false;
            with_value(p.n, [&](const T& v) { hit = static_cast<bool>(pred(p.n->key, v)); });
            if (!hit) return 0;
            erase(p);
            return 1;
          });
        }
      }
      return erased;
    }
  }

  // Empties the map: a fresh table of the same capacity is published; the old one and its
  // nodes are retired. Holds every stripe lock meanwhile.
  void clear() {
    all_stripes_lock all(*this);
    table* old = table_.load(std::memory_order_relaxed);
    table* fresh = new_table(old->group_count);
    for (std::size_t i = 0; i < stripe_count_; ++i) {
      stripes_[i].size.store(0, std::memory_order_relaxed);
      stripes_[i].budget = 0;
    }
    set_budget(fresh, 0);
    publish_table(fresh);
    if constexpr (!inline_storage) for_each_node_of(old, [this](node* n) { retire_node(n); });
    retire_table(old);
  }

  // Whether growth adds half the groups (else it doubles them; see cmap::growth_policy).
  // relaxed: one flag, read by grow() whenever it next runs; it orders nothing else.
  void set_grow_by_half(bool on) noexcept { grow_by_half_.store(on, std::memory_order_relaxed); }
  [[nodiscard]] bool grows_by_half() const noexcept {
    return grow_by_half_.load(std::memory_order_relaxed);
  }

  // Room for n entries in all without growth.
  void reserve(size_type n) {
    const size_type groups = checked_groups_for(n);
    all_stripes_lock all(*this);
    table* t = table_.load(std::memory_order_relaxed);
    if (groups > t->group_count) rehash_locked(t, groups);
  }

  // Rebuilds the table with room for max(n, size()) entries, whether that is smaller, the
  // same or larger, and without tombstones; then frees the old table once no reader can be
  // in it (rehash(n), shrink_to_fit()).
  void rebuild_for(size_type n) {
    {
      all_stripes_lock all(*this);
      const size_type groups = checked_groups_for(std::max(n, live_locked()));
      rehash_locked(table_.load(std::memory_order_relaxed), groups);
    }
    epoch_domain::global().collect_now();
  }

  // How full the table is, read under every stripe lock (so exact at that moment).
  struct occupancy {
    size_type size = 0;        // entries
    size_type slots = 0;       // slots of the table
    size_type room = 0;        // entries it takes before the next rebuild (size included)
    size_type tombstones = 0;  // erased slots not reclaimed until the next rebuild
  };
  [[nodiscard]] occupancy occupancy_now() const {
    const all_stripes_lock all(*this);
    const table* t = table_.load(std::memory_order_relaxed);
    occupancy o;
    o.size = live_locked();
    o.slots = t->capacity();
    // Budget not yet spent (invariant (2)) is empty slots still to claim: in the pool, or
    // handed to a stripe. The slots it does not cover were claimed, and those not holding an
    // entry are tombstones (no slot is busy while every stripe lock is held).
    size_type unclaimed =
        static_cast<size_type>(std::max<std::ptrdiff_t>(0, pool_.load(std::memory_order_relaxed)));
    for (std::size_t i = 0; i < stripe_count_; ++i) unclaimed += stripes_[i].budget;
    o.room = o.size + unclaimed;
    o.tombstones = max_load(o.slots) - unclaimed - o.size;
    return o;
  }

  // How far each entry's lookup travels (groups visited, its home group counting 1), into
  // tally: O(size), one hash per inline entry (nodes keep theirs), under every stripe lock,
  // so no entry moves meanwhile (map_stats::longest_probe).
  void tally_probes(probe_tally& tally) const {
    const all_stripes_lock all(*this);
    const table* t = table_.load(std::memory_order_relaxed);
    for (std::size_t gi = 0; gi < t->group_count; ++gi) {
      const group_ref g = t->group_at(gi);
      for (unsigned i : g.ctrl.load().match_full()) {
        std::size_t h;
        if constexpr (inline_storage) {
          h = hash_(g.slots[i].key.load(std::memory_order_relaxed));
        } else {
          h = g.slots[i].load(std::memory_order_relaxed)->hash;
        }
        std::size_t length = 1;
        for (probe_sequence seq(h, t); seq.group() != gi; seq.next()) ++length;
        tally.add(length);
      }
    }
  }

 private:
  // The entries of all stripes; the caller holds every stripe lock.
  [[nodiscard]] size_type live_locked() const noexcept {
    size_type total = 0;
    for (std::size_t i = 0; i < stripe_count_; ++i)
      total += stripes_[i].size.load(std::memory_order_relaxed);
    return total;
  }

  // ---- sizing ---------------------------------------------------------------------------
  // The most groups a table may have: its bytes must fit in a ptrdiff_t.
  static constexpr size_type max_groups =
      static_cast<size_type>(PTRDIFF_MAX) / sizeof(group_block) / 2;
  // The fewest groups (at least 1) whose max_load holds n entries: any count will do.
  static size_type groups_holding(size_type n) noexcept {
    // max_load(c) = c - c/8 is at least 7c/8, and 7 * 15g / 8 >= n for g >= 8n / 105: at
    // most one group too many (no overflow: callers keep n below 2^59).
    static_assert(group_slots == 15, "the estimate below assumes 15-slot groups");
    size_type groups = (n * 8 + 104) / 105;
    while (groups > 1 && max_load((groups - 1) * group_slots) >= n) --groups;
    while (max_load(groups * group_slots) < n) ++groups;
    return groups == 0 ? 1 : groups;
  }
  // The group count for the constructor's capacity and reserve(n): room for n entries plus
  // the budget stripes may be holding unused when the shared pool runs dry (invariant (2):
  // then the table grows, whatever the stripes still hold), so that filling the map to n
  // never grows it. A stripe takes a chunk only for an insert, so n inserts leave chunks in
  // at most n stripes. Exact otherwise: any group count will do.
  // Out of line: called only by the constructor and reserve.
  [[gnu::noinline]] size_type checked_groups_for(size_type n) const {
    if (n > max_load(max_groups * group_slots) / 2) throw_too_large("a table of", n, "entries");
    // The chunk grows with the table, so a larger table may strand more: a few rounds reach
    // the fixed point. No overflow: n is below 2^58, and stranded is at most 65536 stripes
    // * 32.
    size_type groups = groups_holding(n);
    for (;;) {
      const size_type stranded = (n < stripe_count_ ? n : stripe_count_) *
                                 budget_chunk_for(max_load(groups * group_slots), stripe_count_);
      const size_type needed = groups_holding(n + stranded);
      if (needed <= groups) return groups;
      groups = needed;
    }
  }
  // Out of line and cold: the throw's string building stays out of grow() and the
  // constructor.
  [[noreturn, gnu::noinline, gnu::cold]] static void throw_too_large(const char* what, size_type n,
                                                                     const char* unit) {
    throw std::length_error(std::string("cmap: ") + what + " " + std::to_string(n) + " " + unit +
                            " exceeds the largest possible table");
  }
  // The group count a full table of `groups` groups grows to: 2x, or with by_half 1.5x (at
  // least one more); see cmap::growth_policy.
  static size_type grown_group_count(size_type groups, bool by_half) {
    const size_type more = by_half ? groups / 2 + (groups < 2 ? 1 : 0) : groups;
    if (more > max_groups - groups) throw_too_large("growth past", groups, "groups");
    return groups + more;
  }

  // ---- tables and nodes -----------------------------------------------------------------
  // A table is allocated through the allocator in cache lines: the header in the first,
  // the groups from the second on.
  struct alignas(cache_line_size) table_line {
    std::byte bytes[cache_line_size];
  };
  using line_alloc = typename std::allocator_traits<Allocator>::template rebind_alloc<table_line>;
  using line_traits = std::allocator_traits<line_alloc>;
  static_assert(sizeof(table) <= cache_line_size);
  static_assert(sizeof(group_block) >= group_bytes);
  static_assert(cache_line_size % alignof(group_block) == 0);

  // Lines of a table of `groups` groups.
  static constexpr size_type table_lines(size_type groups) noexcept {
    return 1 + (groups * sizeof(group_block) + cache_line_size - 1) / cache_line_size;
  }

  // A table of `groups` empty groups.
  table* new_table(size_type groups) {
    table* t = allocate_table(groups);
    construct_groups(t, 0, groups);
    return t;
  }
  // A table's memory and header; its groups are not constructed yet (construct_groups).
  table* allocate_table(size_type groups) {
    line_alloc a(alloc_);
    table_line* lines = line_traits::allocate(a, table_lines(groups));
    std::byte* const base = reinterpret_cast<std::byte*>(std::to_address(lines));
    // Before the first write to the groups, so that a large table's pages fault in huge.
    advise_huge_pages(base, table_lines(groups) * cache_line_size);
    auto* blocks = reinterpret_cast<group_block*>(base + cache_line_size);
    return ::new (static_cast<void*>(base)) table{groups, blocks};
  }
  // Constructs groups [first, last) of t, empty. Plain storage for trivially destructible
  // atomics: constructed directly, nothing can throw. The first write to a fresh page
  // faults it in (and the kernel zeroes it), which is most of a large table's cost: so a
  // cooperative rehash constructs the groups in chunks, on every helping thread.
  static void construct_groups(table* t, size_type first, size_type last) noexcept {
    for (size_type i = first; i < last; ++i) {
      // Node pointers start null. Inline slots are read only once a tag publishes them, but
      // are still constructed (zeroed) so that every atomic the table holds is an object.
      group_block* g = ::new (static_cast<void*>(t->groups + i)) group_block();
      group_ctrl(g->ctrl).init();
    }
  }
  void free_table(table* t) noexcept {
    line_alloc a(alloc_);
    line_traits::deallocate(a, reinterpret_cast<table_line*>(t), table_lines(t->group_count));
  }
  static size_type table_bytes_of(const table* t) noexcept {
    return table_lines(t->group_count) * cache_line_size;
  }
  // Epoch deleters: context is the concurrent_table, alive until it has drained its retired
  // memory (its destructor).
  static void delete_table(void* p, void* context) noexcept {
    static_cast<concurrent_table*>(context)->free_table(static_cast<table*>(p));
  }
  void retire_table(table* t) { epoch_domain::global().retire(t, &delete_table, this, this); }

  template <class KK, class... Args>
  node* make_node(std::size_t h, std::uint64_t birth, KK&& key, Args&&... args) {
    node_alloc a(alloc_);
    node* n = node_traits::allocate(a, 1);
    try {
      node_traits::construct(a, n, h, birth, std::forward<KK>(key), std::forward<Args>(args)...);
    } catch (...) {
      node_traits::deallocate(a, n, 1);
      throw;
    }
    return n;
  }
  void free_node(node* n) noexcept {
    node_alloc a(alloc_);
    node_traits::destroy(a, n);
    node_traits::deallocate(a, n, 1);
  }
  static void delete_node(void* p, void* context) noexcept {
    static_cast<concurrent_table*>(context)->free_node(static_cast<node*>(p));
  }
  void retire_node(node* n) { epoch_domain::global().retire(n, &delete_node, this, this); }

  // Swaps fresh into p's slot (same key, same tag) and retires the old node.
  void replace_node(position& p, node* fresh) {
    // release: fresh's construction is visible to a reader that loads it (acquire).
    p.g.slots[p.slot].store(fresh, std::memory_order_release);
    retire_node(p.n);
    p.n = fresh;
  }

  // Calls f(const T&) with n's value (not for locked_in_place: its callers lock first).
  template <class F>
  static void with_value(node* n, F&& f) {
    if constexpr (policy == value_policy::atomic_inline) {
      const T v = n->value.load(std::memory_order_acquire);
      f(v);
    } else {
      f(std::as_const(n->value));
    }
  }

  // f(node*) for each node in groups [first, last) of t (all of them by default).
  template <class F>
  static void for_each_node_of(table* t, F&& f, size_type first = 0,
                               size_type last = ~size_type{0}) {
    last = std::min(last, t->group_count);
    for (size_type gi = first; gi < last; ++gi) {
      const group_ref g = t->group_at(gi);
      for (unsigned i = 0; i < group_slots; ++i) {
        if (node* n = g.slots[i].load(std::memory_order_relaxed)) f(n);
      }
    }
  }

  // The epoch pin a writer takes (see write()): none for inline slots.
  struct no_pin {
    explicit no_pin(epoch_domain&) noexcept {}
  };
  using write_pin = std::conditional_t<inline_storage, no_pin, epoch_domain::guard>;

  // A slot's node pointer (node storage). acquire: pairs with the release store that
  // published the node (claim_and_publish, replace_node).
  static node* load_node(const std::atomic<node*>& slot) noexcept {
    return slot.load(std::memory_order_acquire);
  }

  // Reader side: looks key up; on a hit copies the stored key and value to *key_out and
  // *value_out (either may be null). No lock, no retry, nothing to wait for: the control
  // bytes are loaded with acquire, so a tag comes with the key and value stored before it
  // (claim_and_store); a tagged slot's key never changes while the table lives (slots are
  // never given to another key), so key and value read one after the other belong together; and
  // the value is one atomic, which updates replace whole.
  template <class K>
  [[gnu::always_inline]] bool lookup_inline(const table* t, const K& key, std::size_t h,
                                            Key* key_out, T* value_out) const {
    const ctrl_t tag = tag_of(h);
    for (probe_sequence seq(h, t);; seq.next()) {
      const group_ref g = t->group_at(seq.group());
      const ctrl_snapshot c = g.ctrl.load();
      for (unsigned i : c.match(tag)) {
        const Key k = g.slots[i].key.load(std::memory_order_relaxed);
        if (eq_(k, key)) {
          // acquire: pairs with the release store of an update (store_value_inline), so a
          // value that is a pointer carries what was written before it.
          const T v = g.slots[i].value.load(std::memory_order_acquire);
          if (!g.ctrl.still_tagged(i, tag)) continue;  // erased meanwhile (see there)
          if (key_out != nullptr) *key_out = k;
          if (value_out != nullptr) *value_out = v;
          return true;
        }
      }
      if (!c.overflowed(h)) return false;  // invariant (1)
    }
  }

  // Copies the entries of g into keys/values; returns how many. Each key comes with a value
  // it had during the call (see lookup_inline); an entry erased meanwhile may be included.
  static unsigned snapshot_group(group_ref g, Key* keys, T* values) noexcept {
    unsigned n = 0;
    const ctrl_snapshot c = g.ctrl.load();
    for (unsigned i : c.match_full()) {
      keys[n] = g.slots[i].key.load(std::memory_order_relaxed);
      values[n] = g.slots[i].value.load(std::memory_order_acquire);  // as in lookup_inline
      if (g.ctrl.still_tagged(i, c.byte(i))) ++n;                    // as in lookup_inline
    }
    return n;
  }

  // for_each over inline slots: group by group, on copies (f runs with nothing held). An entry
  // present for the whole walk is in the same slot all along (entries move only when the table
  // is replaced, and the walk keeps the table it started with), so it is seen exactly once; and
  // a key has only one slot in the table (invariant (3)), so no key is seen twice, even one
  // erased and inserted again during the walk (no birth stamp needed, unlike nodes).
  template <class F>
  void for_each_inline(F& f) const {
    auto pin = epoch_domain::global().pin();
    const table* t = table_.load(std::memory_order_acquire);
    Key keys[group_slots];
    T values[group_slots];
    for (std::size_t gi = 0; gi < t->group_count; ++gi) {
      const unsigned n = snapshot_group(t->group_at(gi), keys, values);
      for (unsigned j = 0; j < n; ++j) {
        if (!invoke_continue(f, std::as_const(keys[j]), std::as_const(values[j]))) return;
      }
    }
  }

  // Puts (key, value) into p's probe sequence in t and points p at it: into the tombstone
  // that held the same key if find_position met one, else into the first empty slot:
  // claim it (empty -> busy, a CAS: writers of other stripes may race for it), store key
  // and value (no reader looks at a busy slot), publish with the tag (release). A tombstone
  // is never given to another key: a reader holding an old control snapshot may still read
  // its key and value, so the key must stay until the table is rebuilt, which grow() does
  // (at the same size when mostly tombstones) once the budget runs out. As
  // claim_and_publish: the caller holds the stripe lock and a unit of its budget.
  void claim_and_store(table* t, position& p, const Key& key, const T& value) {
    if (p.tomb.ctrl.valid()) {
      // The tombstone of this same key: its key field already holds key, so only the value
      // changes, and a reader that still holds an old snapshot of the tag reads this key
      // with a value it had (see lookup_inline's re-check). No budget: no empty slot used.
      // Only this stripe reuses this key's tombstones, so the byte is still deleted.
      const group_ref g = p.tomb;
      const unsigned i = p.tomb_slot;
      g.ctrl.move(i, ctrl_deleted, ctrl_busy);
      // release: a reader whose acquire load reads this value then sees the control byte
      // busy or later, never the tag from before the erase (still_tagged relies on it).
      g.slots[i].value.store(value, std::memory_order_release);
      g.ctrl.move(i, ctrl_busy, tag_of(p.hash));  // release: publishes the value
      p.g = g;
      p.slot = i;
      p.n = &g.slots[i];
      return;
    }
    for (probe_sequence seq(p.hash, t);; seq.next()) {
      const group_ref g = t->group_at(seq.group());
      for (;;) {
        const bit_mask empty = g.ctrl.load().match_empty();
        if (!empty.any()) {  // no empty slot left: next group
          g.ctrl.mark_overflow(p.hash);
          break;
        }
        const unsigned i = empty.lowest();
        if (!g.ctrl.set(i, ctrl_empty, ctrl_busy)) continue;  // taken meanwhile: look again
        g.slots[i].key.store(key, std::memory_order_relaxed);
        g.slots[i].value.store(value, std::memory_order_relaxed);
        g.ctrl.move(i, ctrl_busy, tag_of(p.hash));  // release: publishes key and value
        --p.s->budget;
        p.g = g;
        p.slot = i;
        p.n = &g.slots[i];
        return;
      }
    }
  }

  // Stores p's value (assign, update): one atomic store; the slot keeps its key. Writers of
  // this key are excluded by the stripe lock; a reader that matched the key reads the old
  // value or the new one, each the key's value at some instant of its read. release: pairs
  // with the readers' acquire load of the value (lookup_inline, snapshot_group), so a value
  // that is a pointer carries what was written before it.
  static void store_value_inline(position& p, const T& v) noexcept {
    p.n->value.store(v, std::memory_order_release);
  }

  // ---- probing --------------------------------------------------------------------------
  template <class K>
  [[gnu::always_inline]] node* lookup(const table* t, const K& key, std::size_t h) const {
    const ctrl_t tag = tag_of(h);
    for (probe_sequence seq(h, t);; seq.next()) {
      const group_ref g = t->group_at(seq.group());
      const ctrl_snapshot v = g.ctrl.load();
      for (unsigned i : v.match(tag)) {
        node* n = load_node(g.slots[i]);
        if (n != nullptr && n->hash == h && eq_(n->key, key)) return n;
      }
      if (!v.overflowed(h)) return nullptr;  // invariant (1)
    }
  }

  // For writers, under key's stripe lock. Only this stripe puts key into a slot or takes it
  // out, so a slot that shows key holds it (a tag read with acquire comes with the key stored
  // before it, see claim_and_store), and other stripes' concurrent changes to the group concern
  // other keys.
  template <class K>
  [[gnu::always_inline]] position find_position(table* t, const K& key, std::size_t h,
                                                bool want_tomb = false) const {
    const ctrl_t tag = tag_of(h);
    group_ref tomb;
    unsigned tomb_slot = 0;
    for (probe_sequence seq(h, t);; seq.next()) {
      const group_ref g = t->group_at(seq.group());
      const ctrl_snapshot v = g.ctrl.load();
      if constexpr (inline_storage) {
        for (unsigned i : v.match(tag)) {
          if (eq_(g.slots[i].key.load(std::memory_order_relaxed), key))
            return position{g, i, &g.slots[i], h, nullptr, group_ref{}, 0};
        }
        // A tombstone's key stays (slots are reused only for the key they held), so it can
        // be compared; only this stripe's writers reuse it.
        if (want_tomb && !tomb.ctrl.valid()) {
          for (unsigned i : v.match_deleted()) {
            if (eq_(g.slots[i].key.load(std::memory_order_relaxed), key)) {
              tomb = g;
              tomb_slot = i;
              break;
            }
          }
        }
      } else {
        for (unsigned i : v.match(tag)) {
          node* n = load_node(g.slots[i]);
          if (n != nullptr && n->hash == h && eq_(n->key, key))
            return position{g, i, n, h, nullptr, group_ref{}, 0};
        }
      }
      if (!v.overflowed(h)) {  // invariant (1)
        if constexpr (inline_storage) {
          // An insert will most likely claim this group's first empty slot: start fetching
          // its line for writing now. Otherwise the claiming CAS (claim_and_store), which
          // drains the store buffer, waits for that line's miss.
          const bit_mask empty = v.match_empty();
          if (want_tomb && !tomb.ctrl.valid() && empty.any())
            prefetch_for_write(&g.slots[empty.lowest()]);
        }
        return position{group_ref{}, 0, nullptr, h, nullptr, tomb, tomb_slot};
      }
    }
  }

  // Puts n into the first free slot of its probe sequence in t and publishes it. The caller
  // holds n's stripe lock and at least one unit of that stripe's budget (write() saw to
  // it), so an empty slot can always be claimed (invariant (2)).
  void claim_and_publish(table* t, stripe& s, node* n) {
    const ctrl_t tag = tag_of(n->hash);
    for (probe_sequence seq(n->hash, t);; seq.next()) {
      const group_ref g = t->group_at(seq.group());
      for (;;) {
        const ctrl_snapshot v = g.ctrl.load();
        const bit_mask deleted = v.match_deleted();
        const bit_mask empty = v.match_empty();
        if (!deleted.any() && !empty.any()) {  // full: next group
          g.ctrl.mark_overflow(n->hash);
          break;
        }
        // Prefer a tombstone (costs no budget); else an empty slot (costs one unit).
        const bool take_deleted = deleted.any();
        const unsigned i = take_deleted ? deleted.lowest() : empty.lowest();
        if (!g.ctrl.set(i, take_deleted ? ctrl_deleted : ctrl_empty, ctrl_busy)) continue;
        if (!take_deleted) --s.budget;
        // release, although the tag's change below publishes it too: a reader whose control
        // snapshot is older (a tag of the slot's previous entry) may load this pointer
        // without seeing that change, and must still see the node built.
        g.slots[i].store(n, std::memory_order_release);
        g.ctrl.move(i, ctrl_busy, tag);
        return;
      }
    }
  }

  // ---- budget and growth ----------------------------------------------------------------
  // The budget of a table t holding `live` entries (every stripe's own budget is 0): the
  // pool holds all of it, and a stripe takes at most 1/8 of its fair share at a time, so
  // the budgets stranded in stripes when the pool runs out stay small next to the table.
  // Under every stripe lock (or in the constructor).
  void set_budget(const table* t, size_type live) noexcept {
    const size_type total = max_load(t->capacity());
    budget_chunk_ = budget_chunk_for(total, stripe_count_);
    pool_.store(static_cast<std::ptrdiff_t>(total - live), std::memory_order_relaxed);
  }
  // Units a stripe takes from the pool at a time in a table whose max_load is total: 1/8 of
  // its fair share, 1 to max_budget_chunk.
  static size_type budget_chunk_for(size_type total, size_type stripes) noexcept {
    const size_type share = total / (stripes * 8);
    return share < 1 ? 1 : share > max_budget_chunk ? max_budget_chunk : share;
  }

  // Takes up to budget_chunk_ units from the shared pool into s; false if the pool is empty.
  bool refill_budget(stripe& s) {
    std::ptrdiff_t avail = pool_.load(std::memory_order_relaxed);
    while (avail > 0) {
      const std::ptrdiff_t chunk = static_cast<std::ptrdiff_t>(budget_chunk_);
      const std::ptrdiff_t take = avail < chunk ? avail : chunk;
      if (pool_.compare_exchange_weak(avail, avail - take, std::memory_order_relaxed)) {
        s.budget += static_cast<std::size_t>(take);
        return true;
      }
    }
    return false;
  }

  // One stripe's lock (lock_stripe: helping a rehash while it waits), held for the scope,
  // with the map marked as entered by this thread (reentrancy.hpp).
  class stripe_lock {
   public:
    stripe_lock(const concurrent_table& t, stripe& s) : not_reentered_(&t), stripe_(s) {
      t.lock_stripe(s);
    }
    ~stripe_lock() { stripe_.lock.unlock(); }
    stripe_lock(const stripe_lock&) = delete;
    stripe_lock& operator=(const stripe_lock&) = delete;

   private:
    reentrancy_guard not_reentered_;
    stripe& stripe_;
  };

  // Every stripe lock, in index order (the only order in which more than one is held).
  class all_stripes_lock {
   public:
    explicit all_stripes_lock(const concurrent_table& t) : table_(t), not_reentered_(&t) {
      for (std::size_t i = 0; i < t.stripe_count_; ++i) t.lock_stripe(t.stripes_[i]);
    }
    ~all_stripes_lock() {
      for (std::size_t i = table_.stripe_count_; i-- > 0;) table_.stripes_[i].lock.unlock();
    }
    all_stripes_lock(const all_stripes_lock&) = delete;
    all_stripes_lock& operator=(const all_stripes_lock&) = delete;

   private:
    const concurrent_table& table_;
    reentrancy_guard not_reentered_;
  };

  // Grows (or rebuilds) the table a writer found out of budget, unless someone else did.
  [[gnu::noinline, gnu::cold]] void grow(table* seen) {
    if (grow_locked(seen)) {
      // The old table was retired: free it (and whatever else is due) now if no reader can
      // still be in it, rather than after the next 128 retires of this thread, which a
      // map filled from empty may never reach. So the next growth can reuse its memory
      // instead of faulting in (and having the kernel zero) as much again.
      epoch_domain::global().collect_now();
    }
  }
  // grow()'s part under every stripe lock; true if it replaced the table.
  bool grow_locked(table* seen) {
    all_stripes_lock all(*this);
    table* t = table_.load(std::memory_order_relaxed);
    if (t != seen || pool_.load(std::memory_order_relaxed) > 0) return false;  // done meanwhile
    size_type live = 0, stranded = 0;
    for (std::size_t i = 0; i < stripe_count_; ++i) {
      live += stripes_[i].size.load(std::memory_order_relaxed);
      stranded += stripes_[i].budget;
    }
    // Slots not empty: the budget not left in a stripe was spent on them (invariant (2));
    // those not holding a live entry are tombstones (or busy). Mostly tombstones: rebuild at
    // the same size; else grow (growth_policy). (Budget still held by stripes is not a
    // tombstone: counting it as one made small tables rebuild at the same size again and
    // again.)
    const size_type taken = max_load(t->capacity()) - stranded;
    rehash_locked(
        t, live * 2 <= taken
               ? t->group_count
               : grown_group_count(t->group_count, grow_by_half_.load(std::memory_order_relaxed)));
    return true;
  }

  // ---- cooperative rehash ---------------------------------------------------------------
  // Builds a table of `groups` groups holding old's entries and publishes it. Every stripe
  // lock is held, so old is frozen; readers keep reading it meanwhile. The work is cut into
  // chunks (rehash_work) that the writers waiting for a stripe lock share with this thread
  // (cooperative_rehash.hpp: the chunk hand-out, and its ordering argument). The new table is
  // published by publish_table's release store once every chunk is done.
  //
  // Strong guarantee: if hash_ throws (inline slots rehash the keys), the remaining chunks
  // are skipped, the new table is freed and the exception rethrown here; the map is as
  // before.
  void rehash_locked(table* old, size_type groups) {
    const resize_scope observed(this, old->capacity(), groups * group_slots);
    rehash_work work{this, old, allocate_table(groups)};  // may throw bad_alloc: no change
    typename cooperative_rehash<rehash_work>::result done;
    try {
      done = rehash_.run(work, chunks_of(groups), chunks_of(old->group_count));
    } catch (...) {
      free_table(work.fresh);
      throw;
    }
    // Statistics of the rebuilds that went through; written under every stripe lock,
    // relaxed (rehash_stats()).
    const auto add = [](std::atomic<size_type>& counter, size_type n) {
      counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    };
    add(rehashes_, 1);
    add(rehash_chunks_, done.chunks);
    add(helped_chunks_, done.helped);
    publish_rehashed(old, work.fresh, work.live.load(std::memory_order_relaxed));
  }

  // Groups of the old table per move chunk (and of the new table per construct chunk): 512
  // u64 -> u64 groups are 128 KiB, tens of microseconds of work.
  static constexpr size_type rehash_chunk_groups = 512;
  static constexpr size_type chunks_of(size_type groups) noexcept {
    return (groups + rehash_chunk_groups - 1) / rehash_chunk_groups;
  }

  // One rebuild's chunks, for cooperative_rehash: constructing the new table's groups, and
  // moving the old table's entries into it, rehash_chunk_groups groups at a time.
  struct rehash_work {
    const concurrent_table* self;
    table* old;
    table* fresh;
    // Entries moved. relaxed adds: the chunks' release `done` orders them for the owner.
    std::atomic<size_type> live{0};

    void construct(std::size_t chunk) noexcept {
      const size_type first = chunk * rehash_chunk_groups;
      construct_groups(fresh, first, std::min(fresh->group_count, first + rehash_chunk_groups));
    }
    template <bool Shared>
    void move(std::size_t chunk) {
      self->template move_chunk<Shared>(*this, chunk * rehash_chunk_groups);
    }
  };

  // Takes s's lock. While it waits, helps the rehash in progress, if any: that rehash holds
  // every stripe lock, s's too.
  void lock_stripe(stripe& s) const {
    if (!s.lock.try_lock()) lock_stripe_contended(s);
  }
  // Out of line and cold, as is grow(): kept out of write(), whose hot path compilers
  // otherwise inline less of (the probe itself may be left out of line).
  [[gnu::noinline]] void lock_stripe_contended(stripe& s) const {
    const lock_wait_scope observed(&s.lock, probe_lock_kind::table_stripe);
    backoff wait;
    while (!s.lock.try_lock()) {
      if (rehash_.help()) {
        wait.reset();
      } else {
        wait.wait();
      }
    }
  }

  // Moves the entries of old groups [first, first + rehash_chunk_groups) into w.fresh.
  // Shared: other threads fill w.fresh at the same time (see place_in_fresh).
  template <bool Shared>
  void move_chunk(rehash_work& w, size_type first) const {
    const size_type last = std::min(w.old->group_count, first + rehash_chunk_groups);
    size_type moved = 0;
    if constexpr (inline_storage) {
      for (size_type gi = first; gi < last; ++gi) {
        const group_ref og = w.old->group_at(gi);
        for (unsigned i : og.ctrl.load_relaxed().match_full()) {
          const Key k = og.slots[i].key.load(std::memory_order_relaxed);
          const T v = og.slots[i].value.load(std::memory_order_relaxed);
          const std::size_t h = hash_(k);  // may throw
          place_in_fresh<Shared>(w.fresh, h, [&](group_ref g, unsigned j) {
            g.slots[j].key.store(k, std::memory_order_relaxed);
            g.slots[j].value.store(v, std::memory_order_relaxed);
          });
          ++moved;
        }
      }
    } else {
      for_each_node_of(
          w.old,
          [&](node* n) {
            place_in_fresh<Shared>(w.fresh, n->hash, [n](group_ref g, unsigned j) {
              g.slots[j].store(n, std::memory_order_relaxed);
            });
            ++moved;
          },
          first, last);
    }
    w.live.fetch_add(moved, std::memory_order_relaxed);
  }

  // Stores an entry of hash h into the first empty slot of its probe sequence in a table
  // not yet published, so no reader sees it and a slot goes from empty straight to its tag
  // (no busy state); store(group, slot) writes the slot. Shared: other helpers fill the
  // table too, so the slot is claimed with a CAS of its control byte (group_ctrl::set's acq_rel is
  // more than this needs: the helpers' `done` and publish_table order the table, but on x86
  // a CAS costs the same at any order, and one claiming routine is simpler); else with
  // plain stores.
  template <bool Shared, class Store>
  static void place_in_fresh(table* fresh, std::size_t h, Store&& store) {
    const ctrl_t tag = tag_of(h);
    for (probe_sequence seq(h, fresh);; seq.next()) {
      const group_ref g = fresh->group_at(seq.group());
      for (bit_mask empty = g.ctrl.load_relaxed().match_empty(); empty.any();
           empty = g.ctrl.load_relaxed().match_empty()) {
        const unsigned i = empty.lowest();
        if constexpr (Shared) {
          if (!g.ctrl.set(i, ctrl_empty, tag)) continue;  // taken meanwhile: look again
        } else {
          g.ctrl.set_private(i, tag);
        }
        store(g, i);
        return;
      }
      g.ctrl.mark_overflow(h);  // full: on to the next group
    }
  }

  void publish_rehashed(table* old, table* fresh, size_type live) {
    for (std::size_t i = 0; i < stripe_count_; ++i) stripes_[i].budget = 0;
    set_budget(fresh, live);
    publish_table(fresh);
    retire_table(old);
  }

  // Makes t the current table (release: its contents are visible to a reader that loads the
  // pointer), and its address the one that prefetch_home_group guesses from.
  void publish_table(table* t) noexcept {
    hint_groups_.store(reinterpret_cast<std::uintptr_t>(t->groups), std::memory_order_relaxed);
    hint_group_count_.store(t->group_count, std::memory_order_relaxed);
    table_.store(t, std::memory_order_release);
  }

  // Asks for the lines of h's home group, for writing, before a writer takes its stripe
  // lock: the lock's exchange, and the atomics that claim and publish a slot, each wait for
  // the writer's earlier stores, so misses taken after the lock cannot overlap; a prefetch
  // issued before it can. The address is computed from hint_groups_/hint_group_count_, read
  // unpinned and possibly from different tables, as integers: it may point anywhere, and a
  // prefetch of any address is harmless (it never faults, and nothing is read from it).
  void prefetch_home_group(std::size_t h) const noexcept {
    const std::uintptr_t g =
        hint_groups_.load(std::memory_order_relaxed) +
        scaled_probe_sequence::home_group(h, hint_group_count_.load(std::memory_order_relaxed)) *
            sizeof(group_block);
    if constexpr (sizeof(group_block) % cache_line_size == 0) {
      // Groups of whole lines start on a line (new_table): exactly these lines, unrolled.
      constexpr std::size_t lines = sizeof(group_block) / cache_line_size;
      [&]<std::size_t... L>(std::index_sequence<L...>) {
        (prefetch_for_write(reinterpret_cast<const void*>(g + L * cache_line_size)), ...);
      }
      (std::make_index_sequence<lines>{});
    } else {
      // Every line the group touches (such a group may start inside a line).
      for (std::uintptr_t line = g & ~std::uintptr_t{cache_line_size - 1};
           line < g + sizeof(group_block); line += cache_line_size) {
        prefetch_for_write(reinterpret_cast<const void*>(line));
      }
    }
  }

  std::size_t stripe_index(std::size_t h) const noexcept {
    return static_cast<std::size_t>(static_cast<std::uint64_t>(h) >> stripe_shift_) &
           (stripe_count_ - 1);
  }
  stripe& stripe_for(std::size_t h) const noexcept { return stripes_[stripe_index(h)]; }

  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] KeyEqual eq_;
  [[no_unique_address]] Allocator alloc_;
  const size_type stripe_count_;
  const unsigned stripe_shift_;
  // Mutable: a const caller that waits for a stripe lock (size(), the all-stripes lock)
  // takes it like any writer.
  mutable allocated_array<stripe, Allocator> stripes_;
  alignas(cache_line_size) std::atomic<table*> table_{nullptr};
  std::atomic<std::uintptr_t> hint_groups_{0};  // see prefetch_home_group
  std::atomic<std::size_t> hint_group_count_{0};
  // Empty-slot budget not yet handed to a stripe (invariant (2)); touched only when a
  // stripe's own budget runs out.
  alignas(cache_line_size) std::atomic<std::ptrdiff_t> pool_{0};
  // Units a stripe takes from the pool at a time (set_budget): written under every stripe
  // lock, read under one.
  size_type budget_chunk_ = 1;
  // How grow() sizes the next table (set_grow_by_half).
  std::atomic<bool> grow_by_half_{false};
  // The rebuild in progress, shared with the writers it holds up (rehash_locked,
  // lock_stripe_contended). Const callers that wait for a stripe lock (size(), the
  // all-stripes lock) help too: its help() is const.
  alignas(cache_line_size) cooperative_rehash<rehash_work> rehash_;
  // rehash_stats(): rebuilds that went through (not those a throwing hash undid).
  std::atomic<size_type> rehashes_{0};
  std::atomic<size_type> rehash_chunks_{0};
  std::atomic<size_type> helped_chunks_{0};
};

}  // namespace cmap::detail
