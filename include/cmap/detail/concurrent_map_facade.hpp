#pragma once
// concurrent_map_facade: the class body of concurrent_hash_map and read_mostly_map: the
// common surface's hooks (detail/common_surface.hpp) and the whole-map calls, over the
// concurrent_table engine with the storage it chooses (inline slots where they fit). The
// guarantees and costs are documented in concurrent_hash_map.hpp.
//
// It names public vocabulary (cmap::growth_policy, cmap::concurrent_map_options,
// cmap::map_stats): leaf headers that include nothing else of cmap's, the one kind of public
// header a detail file may include.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "../growth_policy.hpp"
#include "../map_stats.hpp"
#include "../options.hpp"
#include "callback.hpp"
#include "common_surface.hpp"
#include "concurrent_table.hpp"

namespace cmap::detail {

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
class concurrent_map_facade
    : public common_surface<concurrent_map_facade<Key, T, Hash, KeyEqual, Allocator>, Key, T, Hash,
                            KeyEqual, Allocator> {
  friend lookup_surface<concurrent_map_facade, Key, T, Hash, KeyEqual>;
  friend common_surface<concurrent_map_facade, Key, T, Hash, KeyEqual, Allocator>;
  static constexpr probe_map_kind probe_kind() noexcept {
    return probe_map_kind::concurrent_hash_map;
  }
  using engine = concurrent_table<Key, T, Hash, KeyEqual, Allocator>;
  using position = typename engine::position;

 public:
  using size_type = std::size_t;
  using options_type = concurrent_map_options;

  // Writer stripes: 4 per hardware thread, at least 16, rounded up to a power of two.
  [[nodiscard]] static size_type default_stripe_count() noexcept {
    const unsigned hw = std::thread::hardware_concurrency();
    return std::bit_ceil(std::max<size_type>(16, static_cast<size_type>(hw == 0 ? 1 : hw) * 4));
  }

  // The constructors are detail/map_constructors.hpp's: room for `capacity` entries before
  // the first growth; options.stripes a power of two from 1 to 65536 (0:
  // default_stripe_count()), else std::invalid_argument.
  concurrent_map_facade(size_type capacity, const Hash& hash, const KeyEqual& eq,
                        const Allocator& alloc, const options_type& options)
      : table_(options.stripes == 0 ? default_stripe_count() : options.stripes, capacity, hash, eq,
               alloc) {
    set_growth_policy(options.growth);
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
  // Erases every entry: a fresh table of the same size is published (the old one is freed
  // once no reader can be in it).
  void clear() { table_.clear(); }
  // Room for n entries in all without growth (never shrinks the table).
  void reserve(size_type n) { table_.reserve(n); }
  // Rebuilds the table with room for max(n, size()) entries, smaller or larger (and without
  // tombstones), under every stripe lock, as a growth would; the old table is freed once no
  // reader can be in it. shrink_to_fit(): rehash(0), the smallest table for the entries.
  void rehash(size_type n) { table_.rebuild_for(n); }
  void shrink_to_fit() { table_.rebuild_for(0); }
  // How the table grows from now on (see cmap::growth_policy): double_size (the default,
  // fastest) or grow_by_half (about 15% less memory per entry). Any thread, any time: the
  // next growth uses it.
  void set_growth_policy(growth_policy g) noexcept {
    table_.set_grow_by_half(g == growth_policy::grow_by_half);
  }
  [[nodiscard]] growth_policy get_growth_policy() const noexcept {
    return table_.grows_by_half() ? growth_policy::grow_by_half : growth_policy::double_size;
  }
  // Bytes of the stripe locks, the slot table and one node per entry, as asked of the
  // allocator (its own overhead per allocation is not counted, nor memory still waiting for
  // its grace period).
  [[nodiscard]] size_type allocated_bytes() const { return table_.allocated_bytes(); }
  // Bytes of the slot table alone: changes only when the table grows or is rebuilt.
  [[nodiscard]] size_type table_bytes() const { return table_.table_bytes(); }

  // How many times the table was rebuilt, in how many chunks, and how many of those chunks
  // writers waiting for their stripe lock did (a rebuild holds every stripe lock, and the
  // writers it stops help with it instead of waiting idle).
  using rehash_statistics = detail::rehash_statistics;
  [[nodiscard]] rehash_statistics rehash_stats() const noexcept { return table_.rehash_stats(); }

  // Size, room before the next rebuild, slots, load, tombstones, rebuilds and bytes, read
  // under every stripe lock (as size()), so one consistent moment; then the probe lengths,
  // under every stripe lock again (O(size): inline keys are hashed again).
  [[nodiscard]] map_stats stats() const {
    const auto o = table_.occupancy_now();
    map_stats st;
    st.size = o.size;
    st.capacity = o.room;
    st.slots = o.slots;
    st.load_factor =
        o.slots == 0 ? 0.0 : static_cast<double>(o.size) / static_cast<double>(o.slots);
    st.tombstones = o.tombstones;
    st.resizes = table_.rehash_stats().rehashes;
    st.allocated_bytes = table_.allocated_bytes();
    detail::probe_tally probes;
    table_.tally_probes(probes);
    probes.write_to(st);
    return st;
  }

  [[nodiscard]] size_type stripe_count() const noexcept { return table_.stripe_count(); }
  [[nodiscard]] Hash hash_function() const { return table_.hash_function(); }
  [[nodiscard]] KeyEqual key_eq() const { return table_.key_eq(); }
  [[nodiscard]] Allocator get_allocator() const { return table_.get_allocator(); }

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
      // The copy returned is made before the insert: if it throws, nothing changed.
      std::pair<T, bool> out(value, true);
      table_.insert_absent(p, std::forward<KK>(key), std::move(value));
      return out;
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
      if constexpr (std::is_copy_constructible_v<T>) {
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

}  // namespace cmap::detail
