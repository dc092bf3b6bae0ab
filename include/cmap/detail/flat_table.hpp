#pragma once
// flat_table: the unsynchronised open-addressing hash table under locked_map and
// sharded_map (and the map a with_read_lock / with_write_lock callback is handed).
//
// Layout
// ------
// Capacity is a power-of-two number of groups of 16 slots. Two arrays:
//   ctrl_[capacity]   one control byte per slot (empty, deleted, or the key's 7-bit tag;
//                     see group.hpp), read 16 at a time
//   slots_[capacity]  the entries, {Key key; T value;}, constructed only where ctrl is full
// An empty table owns no memory: ctrl_ points at a shared, read-only group of empty bytes,
// so lookups need no "is it allocated" branch.
//
// Hash bits
// ---------
//   bits 0..6    the tag stored in the control byte (group.hpp: tag_of)
//   bits 7..     the home group: (hash >> 7) & group_mask_
// Only the low 7 + log2(groups) bits are used. sharded_map picks shards from the top bits,
// so that the shard choice and the position inside a shard are independent.
//
// Probing
// -------
// Triangular over groups: home, home+1, home+3, home+6, ... (mod the group count). With a
// power-of-two group count this visits every group exactly once.
//
// Invariants
// ----------
// (1) growth_left_ = max_load(capacity) - size_ - tombstones. Inserting into an empty slot
//     needs growth_left_ > 0; so at least 1/8 of the slots are always empty, and every probe
//     ends at a group holding an empty slot.
// (2) A lookup stops at the first group that holds an empty slot. This is sound because an
//     insert takes the first free (empty or deleted) slot on its probe sequence: a key lies
//     beyond group G only if G had no free slot when the key went in. A group that has been
//     full never holds an empty slot again before the next rehash, because erase (3) writes
//     "empty" only into a group that still has one.
// (3) erase marks the slot empty if its group still holds an empty slot, else deleted (a
//     tombstone). Tombstones are dropped by the next rehash; when growth_left_ runs out and
//     at least half of the load is tombstones, the table is rebuilt at the same size instead
//     of doubling, so erase-heavy use does not grow the table forever.
//
// Exceptions
// ----------
// Hash, KeyEqual, the allocator and the entries' constructors may throw; each single-key
// call then leaves the table unchanged (strong guarantee). Rehashing moves entries only if
// both Key and T are nothrow-move-constructible (else it copies them, so that a throwing
// copy leaves the old table intact), and hashes every key before it moves any when the
// hash may throw. (A move-only entry whose move may throw has no copy to fall back on: then
// a throw during rehash leaves the old table valid, but the entries moved before the throw
// are left in their moved-from state.)

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "callback.hpp"
#include "group.hpp"
#include "huge_pages.hpp"
#include "observation.hpp"
#include "probe_tally.hpp"

namespace cmap::detail {

template <class Key, class T>
struct table_entry {
  Key key;
  T value;

  template <class K, class... Args>
  explicit table_entry(K&& k, Args&&... args)
      : key(std::forward<K>(k)), value(std::forward<Args>(args)...) {}
};

// Shared by every empty table; never written.
alignas(group_width) inline ctrl_t empty_group_ctrl[group_width] = {
    ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty,
    ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty, ctrl_empty};

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
class flat_table {
  using entry = table_entry<Key, T>;
  using entry_alloc = typename std::allocator_traits<Allocator>::template rebind_alloc<entry>;
  using entry_traits = std::allocator_traits<entry_alloc>;
  using ctrl_alloc = typename std::allocator_traits<Allocator>::template rebind_alloc<ctrl_t>;
  using ctrl_traits = std::allocator_traits<ctrl_alloc>;

  // Rehash moves entries only when neither move can throw; otherwise it copies them (when it
  // can), so that a throw half-way leaves the old table whole.
  static constexpr bool rehash_moves =
      (std::is_nothrow_move_constructible_v<Key> && std::is_nothrow_move_constructible_v<T>) ||
      !(std::is_copy_constructible_v<Key> && std::is_copy_constructible_v<T>);

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 public:
  using key_type = Key;
  using mapped_type = T;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using size_type = std::size_t;

  explicit flat_table(const Hash& hash = Hash(), const KeyEqual& eq = KeyEqual(),
                      const Allocator& alloc = Allocator())
      : hash_(hash), eq_(eq), alloc_(alloc) {}

  flat_table(const flat_table& other)
      : hash_(other.hash_),
        eq_(other.eq_),
        alloc_(entry_traits::select_on_container_copy_construction(other.alloc_)) {
    reserve(other.size_);
    other.for_each([this](const Key& k, const T& v) { try_emplace(k, v); });
  }

  flat_table(flat_table&& other) noexcept
      : ctrl_(std::exchange(other.ctrl_, empty_group_ctrl)),
        slots_(std::exchange(other.slots_, nullptr)),
        group_mask_(std::exchange(other.group_mask_, 0)),
        size_(std::exchange(other.size_, 0)),
        growth_left_(std::exchange(other.growth_left_, 0)),
        resizes_(std::exchange(other.resizes_, 0)),
        hash_(std::move(other.hash_)),
        eq_(std::move(other.eq_)),
        alloc_(std::move(other.alloc_)) {}

  flat_table& operator=(flat_table other) noexcept {
    swap(other);
    return *this;
  }

  ~flat_table() { release(); }

  void swap(flat_table& other) noexcept {
    using std::swap;
    swap(ctrl_, other.ctrl_);
    swap(slots_, other.slots_);
    swap(group_mask_, other.group_mask_);
    swap(size_, other.size_);
    swap(growth_left_, other.growth_left_);
    swap(resizes_, other.resizes_);
    swap(hash_, other.hash_);
    swap(eq_, other.eq_);
    swap(alloc_, other.alloc_);
  }

  // ---- observers -------------------------------------------------------------------------
  [[nodiscard]] size_type size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  // Number of slots (0 before the first insert).
  [[nodiscard]] size_type capacity() const noexcept {
    return slots_ == nullptr ? 0 : (group_mask_ + 1) * group_width;
  }
  [[nodiscard]] hasher hash_function() const { return hash_; }
  [[nodiscard]] key_equal key_eq() const { return eq_; }
  [[nodiscard]] allocator_type get_allocator() const { return allocator_type(alloc_); }
  // Bytes owned by the table (both arrays); 0 when empty.
  [[nodiscard]] size_type allocated_bytes() const noexcept {
    return capacity() * (sizeof(entry) + sizeof(ctrl_t));
  }
  // Entries the table takes before it next rehashes (size() included).
  [[nodiscard]] size_type room() const noexcept { return size_ + growth_left_; }
  // Erased slots not reclaimed until the next rehash (invariant (1)).
  [[nodiscard]] size_type tombstones() const noexcept {
    return slots_ == nullptr ? 0 : max_load(capacity()) - size_ - growth_left_;
  }
  // Rehashes of a table that had its arrays (growth, rebuilds at the same size, reserve,
  // rehash_for; not the first allocation).
  [[nodiscard]] size_type resizes() const noexcept { return resizes_; }

  // ---- lookup ----------------------------------------------------------------------------
  // Pointers returned stay valid until the next insert (which may rehash) or the erase of
  // that entry.
  template <class K>
  [[nodiscard]] T* find(const K& key) {
    return find_hashed(key, hash_(key));
  }
  template <class K>
  [[nodiscard]] const T* find(const K& key) const {
    return find_hashed(key, hash_(key));
  }
  template <class K>
  [[nodiscard]] bool contains(const K& key) const {
    return find(key) != nullptr;
  }

  template <class K>
  [[nodiscard]] T* find_hashed(const K& key, std::size_t hash) {
    const std::size_t i = index_of(key, hash);
    return i == npos ? nullptr : &slots_[i].value;
  }
  template <class K>
  [[nodiscard]] const T* find_hashed(const K& key, std::size_t hash) const {
    const std::size_t i = index_of(key, hash);
    return i == npos ? nullptr : &slots_[i].value;
  }

  // ---- insertion -------------------------------------------------------------------------
  // Constructs T(args...) under key if the key is absent. Returns the value in the table and
  // whether it was inserted.
  template <class K, class... Args>
  std::pair<T*, bool> try_emplace(K&& key, Args&&... args) {
    const std::size_t hash = hash_(std::as_const(key));
    return try_emplace_hashed(hash, std::forward<K>(key), std::forward<Args>(args)...);
  }

  template <class K, class... Args>
  std::pair<T*, bool> try_emplace_hashed(std::size_t hash, K&& key, Args&&... args) {
    if (const std::size_t i = index_of(key, hash); i != npos) return {&slots_[i].value, false};
    return {&emplace_new(hash, std::forward<K>(key), std::forward<Args>(args)...), true};
  }

  // Inserts or assigns; true if inserted.
  template <class K, class V>
  bool insert_or_assign(K&& key, V&& value) {
    const std::size_t hash = hash_(std::as_const(key));
    return insert_or_assign_hashed(hash, std::forward<K>(key), std::forward<V>(value));
  }

  template <class K, class V>
  bool insert_or_assign_hashed(std::size_t hash, K&& key, V&& value) {
    if (const std::size_t i = index_of(key, hash); i != npos) {
      slots_[i].value = std::forward<V>(value);
      return false;
    }
    emplace_new(hash, std::forward<K>(key), std::forward<V>(value));
    return true;
  }

  // ---- erasure ---------------------------------------------------------------------------
  template <class K>
  bool erase(const K& key) {
    return erase_hashed(key, hash_(key));
  }

  template <class K>
  bool erase_hashed(const K& key, std::size_t hash) {
    const std::size_t i = index_of(key, hash);
    if (i == npos) return false;
    erase_at(i);
    return true;
  }

  // Erases the entry under key if pred(T&) says so (pred sees the entry only if present);
  // returns whether it erased. The building block of extract and compare_erase.
  template <class K, class P>
  bool erase_hashed_if(const K& key, std::size_t hash, P&& pred) {
    const std::size_t i = index_of(key, hash);
    if (i == npos || !pred(slots_[i].value)) return false;
    erase_at(i);
    return true;
  }

  // Erases every entry for which pred(const Key&, const T&) holds; returns how many.
  template <class P>
  size_type erase_if(P&& pred) {
    size_type erased = 0;
    for_each_index([&](std::size_t i) {
      if (pred(std::as_const(slots_[i].key), std::as_const(slots_[i].value))) {
        erase_at(i);
        ++erased;
      }
      return true;
    });
    return erased;
  }

  // Destroys every entry; keeps the capacity.
  void clear() noexcept {
    if (slots_ == nullptr) return;
    destroy_entries();
    reset_ctrl(ctrl_, capacity());
    size_ = 0;
    growth_left_ = max_load(capacity());
  }

  // ---- iteration -------------------------------------------------------------------------
  // f(const Key&, T&) on every entry; if f returns bool, false stops the walk. Returns
  // false if the walk was stopped. f must not insert or erase.
  template <class F>
  bool for_each(F&& f) {
    return for_each_index([&](std::size_t i) {
      return invoke_continue(f, std::as_const(slots_[i].key), slots_[i].value);
    });
  }
  template <class F>
  bool for_each(F&& f) const {
    return for_each_index([&](std::size_t i) {
      return invoke_continue(f, std::as_const(slots_[i].key), std::as_const(slots_[i].value));
    });
  }

  // How far each entry's lookup travels (groups visited, its home group counting 1), into
  // tally: O(size), one hash per entry (map_stats::longest_probe).
  void tally_probes(probe_tally& tally) const {
    for_each_index([&](std::size_t i) {
      const size_type slot_group = i / group_width;
      size_type length = 1;
      for (probe_seq p = probe(hash_(slots_[i].key)); p.group != slot_group; p.next()) ++length;
      tally.add(length);
      return true;
    });
  }

  // ---- capacity --------------------------------------------------------------------------
  // Room for n entries in all without rehashing (growth_left_ counts tombstones out, so a
  // table rich in them is rebuilt here, at the same size if that is enough). Throws
  // std::length_error if n is beyond any table.
  void reserve(size_type n) {
    const size_type groups = groups_for(n);
    if (groups > group_count() || n > size_ + growth_left_) {
      rehash(groups > group_count() ? groups : group_count());
    }
  }

  // Rebuilds the table with room for max(n, size()) entries, smaller or larger, without
  // tombstones; an empty table with n = 0 frees its arrays. Strong guarantee.
  void rehash_for(size_type n) {
    if (n < size_) n = size_;
    if (n == 0) {
      if (slots_ != nullptr) ++resizes_;
      release();
      return;
    }
    rehash(groups_for(n));
  }

 private:
  [[nodiscard]] size_type group_count() const noexcept {
    return slots_ == nullptr ? 0 : group_mask_ + 1;
  }
  // The most groups a table may have: both arrays' bytes must fit in a ptrdiff_t.
  static constexpr size_type max_groups() noexcept {
    const size_type limit =
        static_cast<size_type>(PTRDIFF_MAX) / (sizeof(entry) + sizeof(ctrl_t)) / group_width;
    return std::bit_floor(limit);
  }
  // The smallest power-of-two group count whose max_load holds n entries; throws
  // std::length_error when no table can.
  static size_type groups_for(size_type n) {
    if (n > max_load(max_groups() * group_width)) {
      throw std::length_error("cmap: a table of " + std::to_string(n) +
                              " entries exceeds the largest possible table");
    }
    size_type groups = 1;
    while (max_load(groups * group_width) < n) groups *= 2;
    return groups;
  }

  // Walk of the probe sequence over groups (see "Probing" above).
  struct probe_seq {
    size_type group = 0;
    size_type mask = 0;
    size_type stride = 0;
    void next() noexcept {
      ++stride;
      group = (group + stride) & mask;
    }
  };
  [[nodiscard]] probe_seq probe(std::size_t hash) const noexcept {
    return probe_seq{(hash >> 7) & group_mask_, group_mask_};
  }

  template <class K>
  [[nodiscard]] std::size_t index_of(const K& key, std::size_t hash) const {
    const ctrl_t tag = tag_of(hash);
    for (probe_seq p = probe(hash);; p.next()) {
      const group g(ctrl_ + p.group * group_width);
      for (unsigned bit : g.match(tag)) {
        const std::size_t i = p.group * group_width + bit;
        if (eq_(slots_[i].key, key)) return i;
      }
      if (g.match_empty().any()) return npos;  // invariant (2)
    }
  }

  // The first free slot on hash's probe sequence (invariant (1): there is one).
  [[nodiscard]] std::size_t free_index(std::size_t hash) const noexcept {
    return free_index_in(ctrl_, probe(hash));
  }
  static std::size_t free_index_in(const ctrl_t* ctrl, probe_seq p) noexcept {
    for (;; p.next()) {
      const bit_mask free = group(ctrl + p.group * group_width).match_free();
      if (free.any()) return p.group * group_width + free.lowest();
    }
  }

  // Inserts a key known to be absent. Strong guarantee: if the rehash or the constructor
  // throws, the table's contents are unchanged.
  template <class K, class... Args>
  T& emplace_new(std::size_t hash, K&& key, Args&&... args) {
    std::size_t i = free_index(hash);
    if (ctrl_[i] == ctrl_empty && growth_left_ == 0) {
      rehash_for_one_more();
      i = free_index(hash);
    }
    entry_traits::construct(alloc_, slots_ + i, std::forward<K>(key), std::forward<Args>(args)...);
    if (ctrl_[i] == ctrl_empty) --growth_left_;
    ctrl_[i] = tag_of(hash);
    ++size_;
    return slots_[i].value;
  }

  void erase_at(std::size_t i) noexcept {
    entry_traits::destroy(alloc_, slots_ + i);
    const std::size_t group_start = i & ~(group_width - 1);
    if (group(ctrl_ + group_start).match_empty().any()) {  // invariant (3)
      ctrl_[i] = ctrl_empty;
      ++growth_left_;
    } else {
      ctrl_[i] = ctrl_deleted;
    }
    --size_;
  }

  void rehash_for_one_more() {
    const size_type groups = group_count();
    const size_type tombstones = groups == 0 ? 0 : max_load(capacity()) - size_ - growth_left_;
    // Mostly tombstones: rebuild at the same size; otherwise double.
    if (groups != 0 && tombstones >= max_load(capacity()) / 2) {
      rehash(groups);
    } else {
      rehash(groups == 0 ? 1 : groups * 2);
    }
  }

  // Calls f(index) for each full slot while f returns true; returns false if stopped.
  template <class F>
  bool for_each_index(F&& f) const {
    if (slots_ == nullptr) return true;
    for (size_type g = 0; g <= group_mask_; ++g) {
      for (unsigned bit : group(ctrl_ + g * group_width).match_full()) {
        if (!f(g * group_width + bit)) return false;
      }
    }
    return true;
  }

  static void reset_ctrl(ctrl_t* ctrl, size_type n) noexcept {
    for (size_type i = 0; i < n; ++i) ctrl[i] = ctrl_empty;
  }

  void destroy_entries() noexcept {
    for_each_index([&](std::size_t i) {
      entry_traits::destroy(alloc_, slots_ + i);
      return true;
    });
  }

  void release() noexcept {
    if (slots_ == nullptr) return;
    destroy_entries();
    const size_type cap = capacity();
    entry_traits::deallocate(alloc_, slots_, cap);
    ctrl_alloc ca(alloc_);
    ctrl_traits::deallocate(ca, ctrl_, cap);
    ctrl_ = empty_group_ctrl;
    slots_ = nullptr;
    group_mask_ = 0;
    size_ = 0;
    growth_left_ = 0;
  }

  // Rebuilds the table with new_groups groups. Strong guarantee (see "Exceptions").
  void rehash(size_type new_groups) {
    const bool replaces = slots_ != nullptr;
    const size_type new_cap = new_groups * group_width;
    const resize_scope observed(this, capacity(), new_cap);
    ctrl_alloc ca(alloc_);
    // Owners that free the new arrays if anything below throws.
    struct arrays {
      flat_table& table;
      ctrl_alloc& ca;
      size_type cap = 0;
      ctrl_t* ctrl = nullptr;
      entry* slots = nullptr;
      bool entries_live = false;
      ~arrays() {
        if (slots != nullptr && entries_live) {
          for (size_type i = 0; i < cap; ++i)
            if (is_full(ctrl[i])) entry_traits::destroy(table.alloc_, slots + i);
        }
        if (slots != nullptr) entry_traits::deallocate(table.alloc_, slots, cap);
        if (ctrl != nullptr) ctrl_traits::deallocate(ca, ctrl, cap);
      }
    } fresh{*this, ca, new_cap};
    fresh.ctrl = ctrl_traits::allocate(ca, new_cap);
    fresh.slots = entry_traits::allocate(alloc_, new_cap);
    // Before the entries are placed (their first write): a large slot array faults in huge
    // pages (see huge_pages.hpp).
    advise_huge_pages(fresh.slots, new_cap * sizeof(entry));
    reset_ctrl(fresh.ctrl, new_cap);

    // A throwing hash must not strike after entries have been moved: hash them all first.
    std::unique_ptr<std::size_t[]> hashes;
    if constexpr (!std::is_nothrow_invocable_v<const Hash&, const Key&>) {
      hashes = std::make_unique<std::size_t[]>(size_);
      std::size_t n = 0;
      for_each_index([&](std::size_t i) {
        hashes[n++] = hash_(slots_[i].key);
        return true;
      });
    }

    const size_type new_mask = new_groups - 1;
    fresh.entries_live = true;
    std::size_t n = 0;
    for_each_index([&](std::size_t i) {
      entry& old = slots_[i];
      std::size_t hash;
      if constexpr (std::is_nothrow_invocable_v<const Hash&, const Key&>) {
        hash = hash_(old.key);
      } else {
        hash = hashes[n++];
      }
      const std::size_t j = free_index_in(fresh.ctrl, probe_seq{(hash >> 7) & new_mask, new_mask});
      if constexpr (rehash_moves) {
        entry_traits::construct(alloc_, fresh.slots + j, std::move(old.key), std::move(old.value));
      } else {
        entry_traits::construct(alloc_, fresh.slots + j, std::as_const(old.key),
                                std::as_const(old.value));
      }
      fresh.ctrl[j] = tag_of(hash);
      return true;
    });

    // Commit: nothing below throws.
    const size_type kept = size_;
    release();
    ctrl_ = std::exchange(fresh.ctrl, nullptr);
    slots_ = std::exchange(fresh.slots, nullptr);
    group_mask_ = new_mask;
    size_ = kept;
    growth_left_ = max_load(new_cap) - kept;
    if (replaces) ++resizes_;
  }

  ctrl_t* ctrl_ = empty_group_ctrl;
  entry* slots_ = nullptr;
  size_type group_mask_ = 0;  // group count - 1
  size_type size_ = 0;
  size_type growth_left_ = 0;  // invariant (1)
  size_type resizes_ = 0;
  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] KeyEqual eq_;
  [[no_unique_address]] entry_alloc alloc_;
};

}  // namespace cmap::detail
