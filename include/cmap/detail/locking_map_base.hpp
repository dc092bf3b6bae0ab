#pragma once
// locking_map_base: the common surface (docs/api.md) implemented once
// for every map made of "reader-writer lock + flat_table" shards (the overload set itself is
// detail/common_surface.hpp; this file supplies its *_impl hooks and the whole-map calls).
// locked_map has one shard, sharded_map many; each facade only says how a hash picks a
// shard (CRTP, so locked_map pays nothing for the choice).
//
// Locking: a call on one key hashes the key (outside any lock), picks the key's shard, and
// holds that shard's lock for the call: shared for find, contains and const visit;
// exclusive for every call that may change the shard. Calls over all entries (for_each,
// erase_if, clear, reserve) take one shard at a time. size() holds every shard's shared lock
// at once (in index order, so it cannot deadlock with another size()), so that it returns a
// value the size really had. Every lock is held by an RAII guard, so a throwing hash,
// equality, constructor or callback releases it.
//
// Callbacks (visit, upsert, for_each, erase_if) run under the shard's lock: they must not
// call into the same map (the lock is not recursive: a re-entrant call deadlocks). Debug
// builds report such a call instead (detail/reentrancy.hpp).
//
// It names public vocabulary, cmap::map_stats (a leaf header), the one kind of public header
// a detail file may include.
//
// Requirements on the derived class D:
//   shard_type& D::shard_for(std::size_t hash)  (and const)
//   std::size_t D::shard_count() const
//   shard_type& D::shard_at(std::size_t i)      (and const)
//   std::size_t D::shards_bytes() const         bytes of a shard array it allocated, or 0

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <utility>

#include "../map_stats.hpp"
#include "cache_line.hpp"
#include "callback.hpp"
#include "common_surface.hpp"
#include "flat_table.hpp"
#include "reentrancy.hpp"
#include "rw_lock.hpp"

namespace cmap::detail {

// One lock and the table it guards, alone on its cache lines so that neighbouring shards'
// locks do not share a line.
template <class Table>
struct alignas(cache_line_size) locked_shard {
  mutable rw_lock lock;
  Table table;

  template <class... Args>
  explicit locked_shard(Args&&... args) : table(std::forward<Args>(args)...) {}
};

template <class Derived, class Key, class T, class Hash, class KeyEqual, class Allocator>
class locking_map_base
    : public common_surface<locking_map_base<Derived, Key, T, Hash, KeyEqual, Allocator>, Key, T,
                            Hash, KeyEqual, Allocator> {
  friend lookup_surface<locking_map_base, Key, T, Hash, KeyEqual>;
  friend common_surface<locking_map_base, Key, T, Hash, KeyEqual, Allocator>;
  static constexpr probe_map_kind probe_kind() noexcept { return Derived::probe_kind(); }

 public:
  using size_type = std::size_t;
  // The unsynchronised table inside each shard.
  using table_type = flat_table<Key, T, Hash, KeyEqual, Allocator>;
  using shard_type = locked_shard<table_type>;

  // ---- whole map ---------------------------------------------------------------------------
  // Erases every entry for which pred(const Key&, const T&) holds, one shard at a time under
  // its exclusive lock; returns how many were erased.
  template <class P>
  size_type erase_if(P&& pred) {
    size_type erased = 0;
    each_shard_exclusive([&](table_type& t) { erased += t.erase_if(pred); });
    return erased;
  }

  // f(const Key&, const T&) on each entry, one shard at a time under its shared lock; if f
  // returns bool, false stops the walk (Go: Range). Weakly consistent: an entry present for
  // the whole walk is seen exactly once; entries inserted or erased during it in shards not
  // yet (or already) walked may or may not be seen.
  template <class F>
  void for_each(F&& f) const {
    for (size_type i = 0; i < derived().shard_count(); ++i) {
      const shard_type& s = derived().shard_at(i);
      const reentrancy_guard not_reentered(&derived());
      std::shared_lock guard(s.lock);
      if (!s.table.for_each(f)) return;
    }
  }

  // Exact: holds every shard's shared lock at once.
  [[nodiscard]] size_type size() const {
    size_type total = 0;
    with_every_shard_shared([&](const table_type& t) { total += t.size(); });
    return total;
  }

  // Erases every entry, one shard at a time (Go: Clear). Keeps the capacity (shrink_to_fit()
  // gives it back).
  void clear() {
    each_shard_exclusive([](table_type& t) { t.clear(); });
  }

  // Room for n entries in all, spread evenly (with a margin for uneven hashing) over the
  // shards. Throws std::length_error if n is beyond any table.
  void reserve(size_type n) {
    const size_type per_shard = share_of(n);
    each_shard_exclusive([&](table_type& t) { t.reserve(per_shard); });
  }

  // Rebuilds each shard's table, one at a time under its exclusive lock, with room for its
  // share of n entries or for what it holds, whichever is more: smaller or larger, without
  // tombstones (a shard left empty frees its table). shrink_to_fit(): rehash(0).
  void rehash(size_type n) {
    const size_type per_shard = n == 0 ? 0 : share_of(n);
    each_shard_exclusive([&](table_type& t) { t.rehash_for(per_shard); });
  }
  void shrink_to_fit() { rehash(0); }

  // Size, room before the next rehash, slots, load, tombstones, rehashes, bytes and probe
  // lengths, summed over the shards while every shard's shared lock is held (as size()): one
  // moment. O(size): every key is hashed again for the probe lengths.
  [[nodiscard]] map_stats stats() const {
    map_stats st;
    st.allocated_bytes = derived().shards_bytes();
    probe_tally probes;
    with_every_shard_shared([&](const table_type& t) {
      st.size += t.size();
      st.capacity += t.room();
      st.slots += t.capacity();
      st.tombstones += t.tombstones();
      st.resizes += t.resizes();
      st.allocated_bytes += t.allocated_bytes();
      t.tally_probes(probes);
    });
    probes.write_to(st);
    st.load_factor =
        st.slots == 0 ? 0.0 : static_cast<double>(st.size) / static_cast<double>(st.slots);
    return st;
  }

  // Bytes asked of the allocator: the shards' array, if the map allocated one, and each
  // shard's table (summed shard by shard).
  [[nodiscard]] size_type allocated_bytes() const {
    size_type total = derived().shards_bytes();
    for (size_type i = 0; i < derived().shard_count(); ++i) {
      const shard_type& s = derived().shard_at(i);
      const reentrancy_guard not_reentered(&derived());
      std::shared_lock guard(s.lock);
      total += s.table.allocated_bytes();
    }
    return total;
  }

  [[nodiscard]] Hash hash_function() const { return hash_; }
  [[nodiscard]] KeyEqual key_eq() const { return derived().shard_at(0).table.key_eq(); }
  [[nodiscard]] Allocator get_allocator() const {
    return derived().shard_at(0).table.get_allocator();
  }

 protected:
  explicit locking_map_base(const Hash& hash) : hash_(hash) {}
  ~locking_map_base() = default;

  // f(const table_type&, hash) under the key's shard's shared lock.
  template <class K, class F>
  decltype(auto) with_key_shared(const K& key, F&& f) const {
    const std::size_t hash = hash_(key);
    const shard_type& s = derived().shard_for(hash);
    const reentrancy_guard not_reentered(&derived());
    std::shared_lock guard(s.lock);
    return f(std::as_const(s.table), hash);
  }

  // f(table_type&, hash) under the key's shard's exclusive lock.
  template <class K, class F>
  decltype(auto) with_key_exclusive(const K& key, F&& f) {
    const std::size_t hash = hash_(key);
    shard_type& s = derived().shard_for(hash);
    const reentrancy_guard not_reentered(&derived());
    std::unique_lock guard(s.lock);
    return f(s.table, hash);
  }

 private:
  Derived& derived() noexcept { return static_cast<Derived&>(*this); }
  const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

  // f(table_type&) on each shard in turn, under its exclusive lock.
  template <class F>
  void each_shard_exclusive(F&& f) {
    for (size_type i = 0; i < derived().shard_count(); ++i) {
      shard_type& s = derived().shard_at(i);
      const reentrancy_guard not_reentered(&derived());
      std::unique_lock guard(s.lock);
      f(s.table);
    }
  }

  // f(const table_type&) on each shard while every shard's shared lock is held: taken in
  // index order (as every caller does, so two of them cannot deadlock), released after.
  // f must not throw.
  template <class F>
  void with_every_shard_shared(F&& f) const {
    const reentrancy_guard not_reentered(&derived());
    const size_type n = derived().shard_count();
    for (size_type i = 0; i < n; ++i) derived().shard_at(i).lock.lock_shared();
    for (size_type i = 0; i < n; ++i) f(std::as_const(derived().shard_at(i).table));
    for (size_type i = 0; i < n; ++i) derived().shard_at(i).lock.unlock_shared();
  }

  // A shard's part of n entries, with a margin for uneven hashing where there are several.
  size_type share_of(size_type n) const noexcept {
    const size_type shards = derived().shard_count();
    size_type per_shard = n / shards + (n % shards != 0 ? 1 : 0);
    // The margin saturates rather than wrap: a huge n must still reach the table's
    // length_error.
    if (shards > 1) {
      const size_type margin = per_shard / 8 + 8;
      per_shard = per_shard > SIZE_MAX - margin ? SIZE_MAX : per_shard + margin;
    }
    return per_shard;
  }

  template <class K>
  std::optional<T> find_impl(const K& key) const {
    return with_key_shared(key, [&](const table_type& t, std::size_t h) -> std::optional<T> {
      if (const T* v = t.find_hashed(key, h)) return *v;
      return std::nullopt;
    });
  }

  template <class K>
  bool contains_impl(const K& key) const {
    return with_key_shared(
        key, [&](const table_type& t, std::size_t h) { return t.find_hashed(key, h) != nullptr; });
  }

  template <class K, class F>
  bool visit_impl(const K& key, F& f) const {
    return with_key_shared(key, [&](const table_type& t, std::size_t h) {
      const T* v = t.find_hashed(key, h);
      if (v == nullptr) return false;
      f(*v);
      return true;
    });
  }

  template <class K, class F>
  bool visit_mut_impl(const K& key, F& f) {
    return with_key_exclusive(key, [&](table_type& t, std::size_t h) {
      T* v = t.find_hashed(key, h);
      if (v == nullptr) return false;
      f(*v);
      return true;
    });
  }

  // KK is Key or const Key&: the key is hashed before it is moved into the table.
  template <class KK, class... Args>
  bool emplace_impl(KK&& key, Args&&... args) {
    return with_key_exclusive(key, [&](table_type& t, std::size_t h) {
      return t.try_emplace_hashed(h, std::forward<KK>(key), std::forward<Args>(args)...).second;
    });
  }

  template <class KK>
  bool insert_or_assign_impl(KK&& key, T&& value) {
    return with_key_exclusive(key, [&](table_type& t, std::size_t h) {
      return t.insert_or_assign_hashed(h, std::forward<KK>(key), std::move(value));
    });
  }

  template <class KK>
  std::pair<T, bool> find_or_insert_impl(KK&& key, T&& value) {
    return with_key_exclusive(key, [&](table_type& t, std::size_t h) {
      if (const T* v = t.find_hashed(key, h)) return std::pair<T, bool>(*v, false);
      // The copy returned is made before the insert: if it throws, nothing changed.
      std::pair<T, bool> out(value, true);
      t.try_emplace_hashed(h, std::forward<KK>(key), std::move(value));
      return out;
    });
  }

  template <class KK, class F, class... Args>
  bool upsert_impl(KK&& key, F& f, Args&&... args) {
    return with_key_exclusive(key, [&](table_type& t, std::size_t h) {
      // try_emplace consumes args only if it inserts.
      auto [v, inserted] =
          t.try_emplace_hashed(h, std::forward<KK>(key), std::forward<Args>(args)...);
      if (!inserted) f(*v);
      return inserted;
    });
  }

  template <class KK>
  std::optional<T> exchange_impl(KK&& key, T&& value) {
    return with_key_exclusive(key, [&](table_type& t, std::size_t h) -> std::optional<T> {
      // value is moved from only if try_emplace inserts it.
      auto [v, inserted] = t.try_emplace_hashed(h, std::forward<KK>(key), std::move(value));
      if (inserted) return std::nullopt;
      // NOLINTNEXTLINE(bugprone-use-after-move): not moved from when the key was present.
      return std::exchange(*v, std::move(value));
    });
  }

  template <class K>
  bool compare_exchange_impl(const K& key, const T& expected, T& desired) {
    return with_key_exclusive(key, [&](table_type& t, std::size_t h) {
      T* v = t.find_hashed(key, h);
      if (v == nullptr || !(*v == expected)) return false;
      *v = std::move(desired);
      return true;
    });
  }

  template <class K>
  bool erase_impl(const K& key) {
    return with_key_exclusive(key,
                              [&](table_type& t, std::size_t h) { return t.erase_hashed(key, h); });
  }

  template <class K>
  std::optional<T> extract_impl(const K& key) {
    return with_key_exclusive(key, [&](table_type& t, std::size_t h) {
      std::optional<T> out;
      // If moving the value out throws, the entry stays.
      t.erase_hashed_if(key, h, [&](T& v) {
        out.emplace(std::move(v));
        return true;
      });
      return out;
    });
  }

  template <class K>
  bool compare_erase_impl(const K& key, const T& expected) {
    return with_key_exclusive(key, [&](table_type& t, std::size_t h) {
      return t.erase_hashed_if(key, h, [&](const T& v) { return v == expected; });
    });
  }

  [[no_unique_address]] Hash hash_;
};

}  // namespace cmap::detail
