#pragma once
// common_surface: the public overload set of the common surface (docs/api.md), written once
// for every map. It only forwards: each call's meaning is documented here, and how a map
// carries it out (what it locks, what a reader may observe) is documented in the map's own
// header. Every map adds the calls over the whole map (for_each, erase_if, size, clear,
// reserve) itself, since their consistency differs from map to map.
//
// Why a CRTP front: every single-key call comes in up to four overloads (const Key& or
// Key&& for calls that may insert, const Key& or a transparent K for calls that only look
// up), and the overloads are the same for every map. Writing them once keeps the maps'
// surfaces identical, so that one can replace another by changing a type name.
//
// Two layers: lookup_surface (find, contains, const visit) for read-only views such as
// snapshot_map's snapshots, and common_surface, which adds the writes, for the maps and for
// snapshot_map's batch editor. An Impl befriends the layers it derives from.
//
// Requirements on Impl (the class that derives from one of them):
//   find_impl(const K&) const -> std::optional<T>
//   contains_impl(const K&) const -> bool
//   visit_impl(const K&, F&) const -> bool              f(const T&)
// and, for common_surface:
//   visit_mut_impl(const K&, F&) -> bool                f(T&), atomic w.r.t. other writers
//   emplace_impl(KK&&, Args&&...) -> bool               KK may also be a transparent K
//                                                       that Key can be built from
//   insert_or_assign_impl(KK&&, T&&) -> bool
//   find_or_insert_impl(KK&&, T&&) -> std::pair<T, bool>
//   upsert_impl(KK&&, F&, Args&&...) -> bool
//   exchange_impl(KK&&, T&&) -> std::optional<T>
//   compare_exchange_impl(const K&, const T&, T&) -> bool
//   erase_impl(const K&) -> bool
//   extract_impl(const K&) -> std::optional<T>
//   compare_erase_impl(const K&, const T&) -> bool
//   size() const
// and optionally insert_range_impl(It, It) -> size_type (a map that inserts a range in one
// step; else insert(first, last) inserts entry by entry), where K is Key or a transparent
// lookup type, and KK is const Key& or Key (an Impl hashes the key before it moves it into
// the map).
//
// Calls that copy T out (find, find_or_insert, insert from const T&) exist only when T is
// copy-constructible; the rest also serve move-only values such as std::unique_ptr.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "callback.hpp"
#include "map_metrics.hpp"
#include "probes.hpp"

// The calls below hand their map's call to observed() as a lambda; forced inline, so that
// with nobody observing the map's call is inlined where it was before (otherwise GCC keeps
// the lambda's body, the whole lookup, out of line: about 30 more instructions per call).
#if defined(__GNUC__)
#define CMAP_DETAIL_INLINE_LAMBDA __attribute__((always_inline))
#else
#define CMAP_DETAIL_INLINE_LAMBDA
#endif

namespace cmap::detail {

template <class Impl, class Key, class T, class Hash, class KeyEqual>
class lookup_surface {
  static constexpr bool copyable = std::is_copy_constructible_v<T>;

 public:
  // The lookups are always_inline (as Boost.Unordered force-inlines its find): each forwards
  // to a map's own lookup, a few dozen instructions that GCC otherwise stops inlining into a
  // large caller once they grow past its limits, which costs lookup-heavy loops several
  // percent.
  // A copy of the value under key, or nullopt (Go: Load).
  [[nodiscard, gnu::always_inline]] std::optional<T> find(const Key& key) const requires copyable {
    return observed(probe_op::find, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().find_impl(key); });
  }
  template <class K>
  requires(copyable&& transparent_lookup<Hash, KeyEqual>)
      [[nodiscard, gnu::always_inline]] std::optional<T> find(const K& key) const {
    return observed(probe_op::find, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().find_impl(key); });
  }

  [[nodiscard, gnu::always_inline]] bool contains(const Key& key) const {
    return observed(probe_op::contains, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().contains_impl(key); });
  }
  template <class K>
  requires transparent_lookup<Hash, KeyEqual>
  [[nodiscard, gnu::always_inline]] bool contains(const K& key) const {
    return observed(probe_op::contains, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().contains_impl(key); });
  }

  // f(const T&) on the value under key while the entry is protected; false if absent.
  template <class F>
  [[gnu::always_inline]] bool visit(const Key& key, F&& f) const {
    return observed(probe_op::visit, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().visit_impl(key, f); });
  }
  template <class K, class F>
  requires transparent_lookup<Hash, KeyEqual>
  [[gnu::always_inline]] bool visit(const K& key, F&& f) const {
    return observed(probe_op::visit, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().visit_impl(key, f); });
  }

 protected:
  // Runs call() as the operation op on key: with op_begin and op_end around it while a tracer
  // is attached (detail/probes.hpp), else call() behind the semaphores' not-taken branch and
  // the metrics slot's (a named map's call is counted: cmap::metrics::watch).
  template <class K, class Call>
  [[gnu::always_inline]] decltype(auto) observed(probe_op op, const K& key, Call&& call) const {
    map_metrics* const counters = counting_slot().get();
    if (op_probes_enabled()) [[unlikely]] {
      return observed_slowly(op, key, call, counters);
    }
    return counted(op, call, counters);
  }

  lookup_surface() = default;
  ~lookup_surface() = default;
  lookup_surface(const lookup_surface&) = default;
  lookup_surface& operator=(const lookup_surface&) = default;

 private:
  const Impl& impl() const noexcept { return static_cast<const Impl&>(*this); }

  // For cmap::metrics (found by argument-dependent lookup on any map): the map's slot, and
  // its kind.
  friend metrics_slot& metrics_slot_of(const lookup_surface& s) noexcept { return s.metrics_; }
  friend constexpr probe_map_kind probe_kind_of(const lookup_surface&) noexcept {
    return probe_kind();
  }

  // The call, counted if the map is named (counters not null). One inlined copy of the call
  // for named and unnamed maps alike: with a second copy for the named case, or with that copy
  // out of line, the compiler's inlining of the map's own code shifted, and maps nobody named
  // paid for it (up to 50 instructions per call at -O3; docs/journal/observability.md).
  template <class Call>
  [[gnu::always_inline]] static auto counted(probe_op op, Call& call, map_metrics* counters)
      -> decltype(call()) {
    // Lock waits and rebuilds inside the call count for this map (nothing when unnamed).
    const current_map_scope current(counters);
    decltype(call()) result = call();
    if (counters != nullptr) [[unlikely]] {
      counters->count_op(op, probe_result(result) == 1);
    }
    return result;
  }

  // While a tracer is attached: the probes around the call, counted too if the map is named.
  template <class K, class Call>
  [[gnu::noinline, gnu::cold]] auto observed_slowly(probe_op op, const K& key, Call& call,
                                                    map_metrics* counters) const
      -> decltype(call()) {
    auto counted_call = [&]() -> decltype(call()) { return counted(op, call, counters); };
    return probed_call(probe_map_address(), probe_kind(), op, probe_key_hash(key), counted_call);
  }

  // Null until the map is named; every map has one (detail/map_metrics.hpp).
  mutable metrics_slot metrics_;

  // Where a call counts: this map's slot, or, for a surface that belongs to a helper of a map
  // (a writer, a batch editor: Impl::surface_owner()), the map's.
  const metrics_slot& counting_slot() const noexcept {
    if constexpr (requires { impl().surface_owner(); }) {
      return metrics_slot_of(*impl().surface_owner());
    } else {
      return metrics_;
    }
  }

  // What op_begin and op_end name, computed only while a tracer is attached: the map's kind
  // (Impl::probe_kind() where the map names it), its address (the map's own, or its
  // Impl::surface_owner()'s), and the key's hash under the map's hasher (0 for a map without
  // one).
  static constexpr probe_map_kind probe_kind() noexcept {
    if constexpr (requires { Impl::probe_kind(); }) {
      return Impl::probe_kind();
    } else {
      return probe_map_kind::unknown;
    }
  }
  const void* probe_map_address() const noexcept {
    if constexpr (requires { impl().surface_owner(); }) {
      return static_cast<const void*>(impl().surface_owner());
    } else {
      return &impl();
    }
  }
  template <class K>
  std::uint64_t probe_key_hash(const K& key) const {
    if constexpr (requires { impl().hash_function()(key); }) {
      return static_cast<std::uint64_t>(impl().hash_function()(key));
    } else {
      return 0;
    }
  }
};

// An iterator over entries: *it is a pair (or tuple) of key and value.
template <class It>
concept entry_iterator = std::input_iterator<It> && requires(std::iter_reference_t<It> e) {
  std::get<0>(std::forward<std::iter_reference_t<It>>(e));
  std::get<1>(std::forward<std::iter_reference_t<It>>(e));
};

template <class Impl, class Key, class T, class Hash, class KeyEqual, class Allocator>
class common_surface : public lookup_surface<Impl, Key, T, Hash, KeyEqual> {
  static constexpr bool copyable = std::is_copy_constructible_v<T>;
  // A key of another type that Key can be built from, offered where lookups take it.
  template <class K>
  static constexpr bool heterogeneous_key =
      transparent_lookup<Hash, KeyEqual> && !std::is_same_v<std::remove_cvref_t<K>, Key> &&
      std::is_constructible_v<Key, K&&>;

 public:
  using key_type = Key;
  using mapped_type = T;
  using value_type = std::pair<const Key, T>;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using size_type = std::size_t;

  // ---- lookup (lookup_surface), and in-place update -------------------------------------
  using lookup_surface<Impl, Key, T, Hash, KeyEqual>::visit;

  // f(T&) on the value under key, atomically with respect to every other writer of the key;
  // false if absent.
  template <class F>
  bool visit(const Key& key, F&& f) {
    return this->observed(probe_op::visit_mut, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().visit_mut_impl(key, f); });
  }
  template <class K, class F>
  requires transparent_lookup<Hash, KeyEqual>
  bool visit(const K& key, F&& f) {
    return this->observed(probe_op::visit_mut, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().visit_mut_impl(key, f); });
  }

  // ---- insertion -----------------------------------------------------------------------------
  // Inserts {key, value} if key is absent; true if inserted.
  bool insert(const Key& key, const T& value) requires copyable { return emplace(key, value); }
  bool insert(const Key& key, T&& value) { return emplace(key, std::move(value)); }
  bool insert(Key&& key, const T& value) requires copyable {
    return emplace(std::move(key), value);
  }
  bool insert(Key&& key, T&& value) { return emplace(std::move(key), std::move(value)); }

  // Constructs T(args...) only if key is absent (as std's try_emplace); true if inserted.
  // With a transparent hash and equality, key may be of another type (a std::string_view
  // for a std::string key): the Key is then built only if the entry is inserted.
  template <class... Args>
  bool emplace(const Key& key, Args&&... args) {
    return this->observed(probe_op::emplace, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().emplace_impl(key, std::forward<Args>(args)...); });
  }
  template <class... Args>
  bool emplace(Key&& key, Args&&... args) {
    return this->observed(probe_op::emplace, key, [&]() CMAP_DETAIL_INLINE_LAMBDA {
      return impl().emplace_impl(std::move(key), std::forward<Args>(args)...);
    });
  }
  template <class K, class... Args>
  requires heterogeneous_key<K>
  bool emplace(K&& key, Args&&... args) {
    return this->observed(probe_op::emplace, key, [&]() CMAP_DETAIL_INLINE_LAMBDA {
      return impl().emplace_impl(std::forward<K>(key), std::forward<Args>(args)...);
    });
  }
  // The same as emplace (each of its overloads), under std's name for it.
  template <class K, class... Args>
  requires(std::is_convertible_v<K&&, Key> || heterogeneous_key<K>)
  bool try_emplace(K&& key, Args&&... args) {
    return emplace(std::forward<K>(key), std::forward<Args>(args)...);
  }

  // Inserts each entry of [first, last) whose key is absent (the first of equal keys wins);
  // returns how many were inserted. Entry by entry unless the map says otherwise in its
  // header (snapshot_map and serial_map insert the range as one batch): if an insert throws,
  // the entries before it stay.
  template <entry_iterator It>
  size_type insert(It first, It last) {
    if constexpr (requires { impl().insert_range_impl(first, last); }) {
      return impl().insert_range_impl(first, last);
    } else {
      size_type inserted = 0;
      for (; first != last; ++first) inserted += insert_entry(*first) ? 1 : 0;
      return inserted;
    }
  }

  // Stores value under key; true if inserted, false if it replaced a value (Go: Store).
  // Forced inline, as the lookups are: GCC at -O3 otherwise calls it out of line from a loop
  // (40 instructions per call more on concurrent_hash_map, 25 on locked_map).
  [[gnu::always_inline]] bool insert_or_assign(const Key& key, T value) {
    return this->observed(probe_op::insert_or_assign, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().insert_or_assign_impl(key, std::move(value)); });
  }
  [[gnu::always_inline]] bool insert_or_assign(Key&& key, T value) {
    return this->observed(probe_op::insert_or_assign, key, [&]() CMAP_DETAIL_INLINE_LAMBDA {
      return impl().insert_or_assign_impl(std::move(key), std::move(value));
    });
  }

  // The value now under key and whether this call inserted it (Go: LoadOrStore).
  std::pair<T, bool> find_or_insert(const Key& key, T value) requires copyable {
    return this->observed(probe_op::find_or_insert, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().find_or_insert_impl(key, std::move(value)); });
  }
  std::pair<T, bool> find_or_insert(Key&& key, T value) requires copyable {
    return this->observed(probe_op::find_or_insert, key, [&]() CMAP_DETAIL_INLINE_LAMBDA {
      return impl().find_or_insert_impl(std::move(key), std::move(value));
    });
  }

  // If key is present, f(T&) on its value (atomically with respect to other writers of the
  // key); else inserts T(args...). True if inserted.
  template <class F, class... Args>
  bool upsert(const Key& key, F&& f, Args&&... args) {
    return this->observed(probe_op::upsert, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().upsert_impl(key, f, std::forward<Args>(args)...); });
  }
  template <class F, class... Args>
  bool upsert(Key&& key, F&& f, Args&&... args) {
    return this->observed(probe_op::upsert, key, [&]() CMAP_DETAIL_INLINE_LAMBDA {
      return impl().upsert_impl(std::move(key), f, std::forward<Args>(args)...);
    });
  }

  // Stores value under key and returns the previous value, if any (Go: Swap).
  std::optional<T> exchange(const Key& key, T value) {
    return this->observed(probe_op::exchange, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().exchange_impl(key, std::move(value)); });
  }
  std::optional<T> exchange(Key&& key, T value) {
    return this->observed(probe_op::exchange, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().exchange_impl(std::move(key), std::move(value)); });
  }

  // Replaces the value under key with desired only if it equals expected (Go:
  // CompareAndSwap). False if absent or different.
  bool compare_exchange(const Key& key, const T& expected, T desired) {
    return this->observed(probe_op::compare_exchange, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().compare_exchange_impl(key, expected, desired); });
  }
  template <class K>
  requires transparent_lookup<Hash, KeyEqual>
  bool compare_exchange(const K& key, const T& expected, T desired) {
    return this->observed(probe_op::compare_exchange, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().compare_exchange_impl(key, expected, desired); });
  }

  // ---- erasure -------------------------------------------------------------------------------
  // True if key was present (Go: Delete).
  bool erase(const Key& key) {
    return this->observed(probe_op::erase, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().erase_impl(key); });
  }
  template <class K>
  requires transparent_lookup<Hash, KeyEqual>
  bool erase(const K& key) {
    return this->observed(probe_op::erase, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().erase_impl(key); });
  }

  // Erases key and returns its value, or nullopt if absent (Go: LoadAndDelete).
  std::optional<T> extract(const Key& key) {
    return this->observed(probe_op::extract, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().extract_impl(key); });
  }
  template <class K>
  requires transparent_lookup<Hash, KeyEqual> std::optional<T> extract(const K& key) {
    return this->observed(probe_op::extract, key, [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().extract_impl(key); });
  }

  // Erases key only if its value equals expected (Go: CompareAndDelete).
  bool compare_erase(const Key& key, const T& expected) {
    return this->observed(probe_op::compare_erase, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().compare_erase_impl(key, expected); });
  }
  template <class K>
  requires transparent_lookup<Hash, KeyEqual>
  bool compare_erase(const K& key, const T& expected) {
    return this->observed(probe_op::compare_erase, key,
                          [&]() CMAP_DETAIL_INLINE_LAMBDA { return impl().compare_erase_impl(key, expected); });
  }

  // ---- whole map -----------------------------------------------------------------------------
  [[nodiscard]] bool empty() const { return impl().size() == 0; }

 protected:
  common_surface() = default;
  ~common_surface() = default;
  common_surface(const common_surface&) = default;
  common_surface& operator=(const common_surface&) = default;

 private:
  Impl& impl() noexcept { return static_cast<Impl&>(*this); }
  const Impl& impl() const noexcept { return static_cast<const Impl&>(*this); }

  // emplace(key, value) of one entry of a range, moving them out of an rvalue entry.
  template <class E>
  bool insert_entry(E&& e) {
    return emplace(std::get<0>(std::forward<E>(e)), std::get<1>(std::forward<E>(e)));
  }
};

}  // namespace cmap::detail
