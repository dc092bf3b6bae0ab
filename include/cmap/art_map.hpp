#pragma once
// cmap::art_map: a concurrent ordered map. Besides the single-key calls every cmap map has,
// it answers in key order: every key between a and b, every key that starts with "uid:100",
// the first key after k, forwards or backwards, while other threads write.
//
// It is an adaptive radix tree (detail/art_tree.hpp; Leis et al., ICDE 2013) over the keys'
// binary-comparable encodings (cmap::key_traits, <cmap/key_traits.hpp>), made concurrent with
// optimistic lock coupling (Leis et al., DaMoN 2016): a version word per node, readers that
// validate and restart instead of locking, writers that lock only the nodes they change.
//
// Choose it when keys must come out in order (range and prefix scans, the smallest or largest
// key, the key after k), where one would otherwise put a std::map or absl::btree_map behind a
// std::shared_mutex (every writer excludes every reader), or use tbb::concurrent_map (a skip
// list without concurrent erase). Keys whose bytes share prefixes (user ids such as "uid:10086",
// URLs, paths, composite keys) are stored once per shared prefix.
// Consider instead: concurrent_hash_map when no call needs order: a hash lookup touches one or
// two cache lines where the tree visits a node per branching byte (3 or 4 for random u64
// keys). snapshot_map when a reader needs one consistent view of many keys at once: a scan
// here sees each key as it is when the scan reaches it, not one moment's map.
//
// Keys and order. Key must have a key_traits encoding (integers, enums, floating point,
// std::string, byte vectors, and std::pair / std::tuple of those; a user's type by
// specialising cmap::key_traits). The map's order is the encoded byte order, which for every
// ready encoding is std::less<Key>'s. Lookups and erases also take any type the encoding
// accepts (a std::string_view or a literal for a std::string key): the map's lookup is always
// transparent, since the encoding, not a hash, decides equality.
//
// Guarantees
//  - Single-key calls are linearizable. Writers of one key are serialised by the lock of the
//    tree node that holds its leaf; writers of keys in different nodes do not wait for each
//    other.
//  - Lookups (find, contains, const visit) and scans take no lock and write no shared memory
//    beyond the calling thread's epoch record; they restart when a writer changed a node
//    they read.
//  - Scans (for_each, for_each_reverse, for_each_from, for_range, for_prefix, their reverse
//    forms; first, last, lower_bound, upper_bound): keys come in strictly ascending
//    (descending) order, each at most once; a key present for the whole scan is seen; a key
//    inserted or erased during the scan may or may not be, and a value is the one the key
//    has when the scan reaches it. The callback runs with no lock held (it may call any
//    method of the map, writes included) but with the epoch pinned, which holds back the
//    reclamation of memory that writers free meanwhile: keep callbacks short on a map that is
//    being written.
//  - Values: a trivially copyable value of at most 8 bytes (integers, pointers, double) is
//    kept in the leaf as an atomic and updated in place. Any other value is immutable once
//    stored: an update builds a new leaf holding a copy of the key and the new value, and
//    readers still inside the old one read it whole until they leave. So T must be
//    copy-constructible (mutable visit and upsert run f on a copy, and store the copy).
//    Mutable visit and upsert run f with the key's node locked: f must not call into this
//    map (it would wait for itself; debug builds report it).
//  - Happens-before: a write that has returned happens before any read that observes it.
//  - Exceptions: a throwing allocation, key encoding, T constructor or callback leaves the
//    map unchanged and every lock released. A key that is not prefix-free against a stored
//    one (possible only with a user's encoding that breaks the contract) throws
//    std::invalid_argument.
//  - size() is exact when no write is in flight; during writes it adds up per-thread counts
//    one after another, so it may be off by the writes in flight. stats() and
//    allocated_bytes() likewise.
//
// Costs (n keys of k encoded bytes): a lookup visits at most one node per branching byte
// (log256 n for random keys, at most k + 1) and compares the key once, at the leaf. A write
// is a lookup plus, for an absent key, one leaf allocation (16 bytes + k, rounded to 8; 8 + k
// where the encoding has a fixed size) and sometimes a node (64 to 2072 bytes); an update of
// a value that is not atomic allocates a leaf. Scans: O(nodes visited), one leaf per key.
// Memory: about 24 bytes per key for dense u64 keys, 40 for random ones, 49 for "uid:N"
// strings (docs/journal/art-map.md). A lookup encodes its key
// first (for strings, into a std::string: an allocation beyond 15 bytes).
//
// Allocator: every node and leaf comes from it (rebound); the epoch domain frees replaced
// nodes later on whichever thread collects them, so it must be usable from any thread.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "detail/art_tree.hpp"
#include "detail/callback.hpp"
#include "detail/common_surface.hpp"
#include "detail/reentrancy.hpp"
#include "key_traits.hpp"
#include "map_stats.hpp"

namespace cmap {

namespace detail {

// The Hash and KeyEqual of art_map's common surface: the map has neither (the encoding decides
// equality and order), and its lookups are transparent.
struct art_encoded_lookup {
  using is_transparent = void;
};

}  // namespace detail

template <class Key, class T, class Traits = key_traits<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
requires(std::copy_constructible<Key> && std::copy_constructible<T> &&
         requires(const Key& k, std::string& out, std::string_view in) {
           Traits::encode(k, out);
           { Traits::decode(in) } -> std::convertible_to<Key>;
         }) class art_map
    : public detail::common_surface<art_map<Key, T, Traits, Allocator>, Key, T,
                                    detail::art_encoded_lookup, detail::art_encoded_lookup,
                                    Allocator> {
  using surface = detail::common_surface<art_map, Key, T, detail::art_encoded_lookup,
                                         detail::art_encoded_lookup, Allocator>;
  friend surface;
  friend detail::lookup_surface<art_map, Key, T, detail::art_encoded_lookup,
                                detail::art_encoded_lookup>;
  static constexpr detail::probe_map_kind probe_kind() noexcept {
    return detail::probe_map_kind::art_map;
  }
  // The length of every encoded key where the encoding has a fixed size (then leaves do not
  // store it), else 0.
  static constexpr std::size_t fixed_key_size = [] {
    if constexpr (requires { Traits::fixed_size; }) {
      return std::size_t{Traits::fixed_size};
    } else {
      return std::size_t{0};
    }
  }();
  using tree_type = detail::art_tree<T, Allocator, fixed_key_size>;

 public:
  using typename surface::allocator_type;
  using typename surface::key_type;
  using typename surface::mapped_type;
  using typename surface::size_type;
  using typename surface::value_type;
  using traits_type = Traits;
  // The key and a copy of its value, as first(), last(), lower_bound() and upper_bound()
  // return them.
  using entry = std::pair<Key, T>;

  // ---- construction --------------------------------------------------------------------------
  // n: the entries to make room for. A tree grows node by node and has nothing to reserve;
  // n is only checked against max_size() (std::length_error beyond it), as for every map.
  art_map() = default;
  explicit art_map(const allocator_type& alloc) : tree_(alloc) {}
  explicit art_map(size_type n, const allocator_type& alloc = allocator_type()) : tree_(alloc) {
    reserve(n);
  }
  template <std::input_iterator It>
  art_map(It first, It last, size_type n = 0, const allocator_type& alloc = allocator_type())
      : art_map(n, alloc) {
    this->insert(first, last);
  }
  art_map(std::initializer_list<value_type> init, size_type n = 0,
          const allocator_type& alloc = allocator_type())
      : art_map(init.begin(), init.end(), n, alloc) {}

  art_map(const art_map&) = delete;
  art_map& operator=(const art_map&) = delete;
  ~art_map() = default;

  // ---- whole map -----------------------------------------------------------------------------
  // Entries (see the header: exact when no write is in flight).
  [[nodiscard]] size_type size() const noexcept { return tree_.size(); }
  [[nodiscard]] static constexpr size_type max_size() noexcept {
    return std::numeric_limits<std::ptrdiff_t>::max() / 32;
  }

  // Removes every entry, atomically: it waits for the writers inside the tree and locks every
  // node, so no write is lost half-way and no reader sees part of it.
  void clear() { tree_.clear(); }

  // Erases every entry for which pred(const Key&, const T&) holds; returns how many. Entry by
  // entry, in key order: each erase is atomic and checks pred again against the value the
  // entry has then (so pred may be called twice for an entry, and an entry whose value
  // changed meanwhile so that pred no longer holds stays). Entries inserted during the call
  // may or may not be visited. pred runs with no lock held.
  template <class P>
  size_type erase_if(P&& pred) {
    size_type erased = 0;
    tree_.for_each([&](std::string_view bytes, const T& value) {
      const Key key = Traits::decode(bytes);
      if (pred(std::as_const(key), value)) {
        erase_when_op<P&> op{pred, key};
        tree_.write(bytes, op);
        erased += op.erased ? 1 : 0;
      }
    });
    return erased;
  }

  // f(const Key&, const T&) on each entry in ascending key order; if f returns bool, false
  // stops the walk (Go: Range). See the header for what a scan sees.
  template <class F>
  void for_each(F&& f) const {
    scan<true>({}, detail::art_bound::none, f, nullptr, nullptr);
  }

  // Nothing to reserve in a tree; throws std::length_error beyond max_size() as the other
  // maps do.
  void reserve(size_type n) const {
    if (n > max_size()) throw std::length_error("cmap::art_map: too many entries");
  }
  void rehash(size_type n) const { reserve(n); }
  void shrink_to_fit() const noexcept {}

  // The bytes the map holds from its allocator: every node and leaf in the tree (not those
  // replaced and waiting for readers to leave).
  [[nodiscard]] size_type allocated_bytes() const noexcept { return tree_.allocated_bytes(); }

  // size, capacity (= size), allocated_bytes, and the lookup path lengths in nodes (a leaf
  // counting 1) as longest_probe / mean_probe; a tree has no slots, tombstones or rebuilds.
  // O(nodes).
  [[nodiscard]] map_stats stats() const {
    const auto c = tree_.count_nodes();
    map_stats s;
    s.size = c.leaves;
    s.capacity = c.leaves;
    s.allocated_bytes = allocated_bytes();
    s.longest_probe = c.longest_path;
    s.mean_probe = c.leaves != 0 ? static_cast<double>(c.total_path) / static_cast<double>(c.leaves)
                                 : 0.0;
    return s;
  }

  [[nodiscard]] allocator_type get_allocator() const { return allocator_type(tree_.get_allocator()); }

  // ---- ordered calls -------------------------------------------------------------------------
  // Each scan calls f(const Key&, const T&) in key order until f returns false (f may also
  // return nothing) and returns false if f stopped it. Bounds may be of any type the
  // encoding takes (a std::string_view for a std::string key).

  // Descending: every entry, largest key first.
  template <class F>
  bool for_each_reverse(F&& f) const {
    return scan<false>({}, detail::art_bound::none, f, nullptr, nullptr);
  }

  // Keys >= from, ascending.
  template <class K, class F>
  bool for_each_from(const K& from, F&& f) const {
    const encoded e(from);
    return scan<true>(e.view(), detail::art_bound::inclusive, f, nullptr, nullptr);
  }
  // Keys <= from, descending.
  template <class K, class F>
  bool for_each_reverse_from(const K& from, F&& f) const {
    const encoded e(from);
    return scan<false>(e.view(), detail::art_bound::inclusive, f, nullptr, nullptr);
  }

  // Keys in [lo, hi), ascending.
  template <class K1, class K2, class F>
  bool for_range(const K1& lo, const K2& hi, F&& f) const {
    const encoded l(lo), h(hi);
    if (!(l.view() < h.view())) return true;
    const std::string_view end = h.view();
    return scan<true>(l.view(), detail::art_bound::inclusive, f, &end, nullptr);
  }
  // Keys in [lo, hi), descending (largest first).
  template <class K1, class K2, class F>
  bool for_range_reverse(const K1& lo, const K2& hi, F&& f) const {
    const encoded l(lo), h(hi);
    if (!(l.view() < h.view())) return true;
    const std::string_view begin = l.view();
    return scan<false>(h.view(), detail::art_bound::exclusive, f, &begin, nullptr);
  }

  // Keys that start with prefix, ascending: for a std::string key, the strings that start with
  // the characters of prefix (a std::string_view); for byte-vector keys, the vectors that
  // start with those bytes.
  template <class P, class F>
  requires requires(const P& p, std::string& out) { Traits::encode_prefix(p, out); }
  bool for_prefix(const P& prefix, F&& f) const {
    std::string p;
    Traits::encode_prefix(prefix, p);
    return scan<true>(p, detail::art_bound::inclusive, f, nullptr, &p);
  }
  // The same, descending.
  template <class P, class F>
  requires requires(const P& p, std::string& out) { Traits::encode_prefix(p, out); }
  bool for_prefix_reverse(const P& prefix, F&& f) const {
    std::string p;
    Traits::encode_prefix(prefix, p);
    // Every key with the prefix sorts below the prefix's successor: the prefix with its
    // trailing FF bytes dropped and its last byte incremented (none if all bytes are FF).
    std::string after = p;
    while (!after.empty() && static_cast<unsigned char>(after.back()) == 0xff) after.pop_back();
    if (after.empty()) return scan<false>({}, detail::art_bound::none, f, nullptr, &p);
    after.back() = static_cast<char>(static_cast<unsigned char>(after.back()) + 1);
    return scan<false>(after, detail::art_bound::exclusive, f, nullptr, &p);
  }

  // The smallest and the largest key, with a copy of its value.
  [[nodiscard]] std::optional<entry> first() const { return decoded(tree_.first()); }
  [[nodiscard]] std::optional<entry> last() const { return decoded(tree_.last()); }
  // The first key >= k (lower_bound) or > k (upper_bound), as std::map's members find it.
  template <class K = Key>
  [[nodiscard]] std::optional<entry> lower_bound(const K& k) const {
    const encoded e(k);
    return decoded(tree_.lower_bound(e.view(), false));
  }
  template <class K = Key>
  [[nodiscard]] std::optional<entry> upper_bound(const K& k) const {
    const encoded e(k);
    return decoded(tree_.lower_bound(e.view(), true));
  }

 private:
  // The encoding of a lookup key of any type the traits take.
  class encoded {
   public:
    template <class K>
    explicit encoded(const K& key) {
      if constexpr (requires { Traits::fixed_size; } && std::is_convertible_v<const K&, Key>) {
        Traits::encode_fixed(static_cast<Key>(key), fixed_.data());
        size_ = Traits::fixed_size;
      } else {
        Traits::encode(key, bytes_);
      }
    }
    [[nodiscard]] std::string_view view() const noexcept {
      if constexpr (requires { Traits::fixed_size; }) {
        if (size_ != 0) return {fixed_.data(), size_};
      }
      return bytes_;
    }

   private:
    static constexpr std::size_t fixed_capacity = std::max<std::size_t>(fixed_key_size, 1);
    std::array<char, fixed_capacity> fixed_{};
    std::size_t size_ = 0;
    std::string bytes_;
  };

  static std::optional<entry> decoded(std::optional<std::pair<std::string, T>>&& e) {
    if (!e) return std::nullopt;
    return entry(Traits::decode(e->first), std::move(e->second));
  }

  // The tree's scan, with the keys decoded for f, stopped at `end` (exclusive: at or past it
  // ascending, before it descending) or once keys no longer start with `prefix`.
  template <bool Asc, class F>
  bool scan(std::string_view bound, detail::art_bound kind, F& f, const std::string_view* end,
            const std::string* prefix) const {
    bool stopped_by_f = false;
    tree_.template scan<Asc>(bound, kind, [&](std::string_view bytes, const T& value) {
      if (end != nullptr && (Asc ? bytes >= *end : bytes < *end)) return false;
      if (prefix != nullptr && bytes.substr(0, prefix->size()) != *prefix) return false;
      const Key key = Traits::decode(bytes);
      if (!detail::invoke_continue(f, std::as_const(key), value)) {
        stopped_by_f = true;
        return false;
      }
      return true;
    });
    return !stopped_by_f;
  }

  // ---- the common surface's single-key calls --------------------------------------------------
  template <class K>
  std::optional<T> find_impl(const K& key) const {
    const encoded e(key);
    std::optional<T> out;
    {
      detail::reentrancy_guard g(this);
      tree_.visit(e.view(), [&out](const T& v) { out.emplace(v); });
    }
    return out;
  }
  template <class K>
  bool contains_impl(const K& key) const {
    const encoded e(key);
    detail::reentrancy_guard g(this);
    return tree_.contains(e.view());
  }
  // f runs with no lock held (the leaf is kept readable by the epoch pin), so it may call
  // into the map: the re-entrancy check covers the lookup only.
  template <class K, class F>
  bool visit_impl(const K& key, F& f) const {
    const encoded e(key);
    { detail::reentrancy_guard g(this); }
    return tree_.visit(e.view(), f);
  }

  // Ops for art_tree::write (see its comment). Each that runs user code under the key's lock
  // holds a reentrancy guard over the whole write.
  // insert_or_assign and exchange: store v; keep the old value for exchange.
  struct store_op {
    static constexpr bool inserts = true, erases = false;
    T& v;
    std::optional<T> previous{};
    bool keep_previous = false;
    bool inserted = false;
    bool on_absent() { return inserted = true; }
    T value() { return std::move(v); }
    detail::art_verdict on_present(const T& current) {
      if (keep_previous) previous.emplace(current);
      return detail::art_verdict::assign;
    }
  };
  // find_or_insert: the value now under the key.
  struct find_or_insert_op {
    static constexpr bool inserts = true, erases = false;
    T& v;
    std::optional<T> current{};
    bool inserted = false;
    bool on_absent() {
      current.emplace(v);
      return inserted = true;
    }
    T value() { return std::move(v); }
    detail::art_verdict on_present(const T& c) {
      current.emplace(c);
      return detail::art_verdict::keep;
    }
  };
  // Mutable visit (Inserts = false) and upsert: f on a copy of the value, stored back.
  template <bool Inserts, class F, class... Args>
  struct update_op {
    static constexpr bool inserts = Inserts, erases = false;
    F& f;
    std::tuple<Args&&...> args;
    std::optional<T> updated{};
    bool found = false;
    bool on_absent() { return Inserts; }
    T value() {
      if (updated) return std::move(*updated);
      if constexpr (Inserts) {
        return std::apply([](auto&&... a) { return T(std::forward<decltype(a)>(a)...); },
                          std::move(args));
      } else {
        std::terminate();  // a visit inserts nothing: value() follows on_present
      }
    }
    detail::art_verdict on_present(const T& current) {
      found = true;
      updated.emplace(current);
      f(*updated);
      return detail::art_verdict::assign;
    }
  };
  struct compare_exchange_op {
    static constexpr bool inserts = false, erases = false;
    const T& expected;
    T& desired;
    bool exchanged = false;
    bool on_absent() { return false; }
    T value() { return std::move(desired); }
    detail::art_verdict on_present(const T& current) {
      if (!(current == expected)) return detail::art_verdict::keep;
      exchanged = true;
      return detail::art_verdict::assign;
    }
  };
  // erase, extract (Extract), compare_erase (Compare, against *expected).
  template <bool Extract, bool Compare = false>
  struct erase_op {
    static constexpr bool inserts = false, erases = true;
    const T* expected = nullptr;
    std::optional<T> extracted{};
    bool erased = false;
    bool on_absent() { return false; }
    [[noreturn]] T value() { std::terminate(); }  // nothing is inserted or assigned
    detail::art_verdict on_present(const T& current) {
      if constexpr (Compare) {
        if (!(current == *expected)) return detail::art_verdict::keep;
      }
      if constexpr (Extract) extracted.emplace(current);
      erased = true;
      return detail::art_verdict::erase;
    }
  };
  // erase_if's erase: only if pred still holds for the current value.
  template <class P>
  struct erase_when_op {
    static constexpr bool inserts = false, erases = true;
    P pred;
    const Key& key;
    bool erased = false;
    bool on_absent() { return false; }
    [[noreturn]] T value() { std::terminate(); }
    detail::art_verdict on_present(const T& current) {
      if (!pred(key, current)) return detail::art_verdict::keep;
      erased = true;
      return detail::art_verdict::erase;
    }
  };

  template <class K, class Op>
  void write(const K& key, Op& op) {
    const encoded e(key);
    detail::reentrancy_guard g(this);
    tree_.write(e.view(), op);
  }

  template <class KK, class... Args>
  bool emplace_impl(KK&& key, Args&&... args) {
    typename tree_type::template emplace_op<Args...> op{
        std::forward_as_tuple(std::forward<Args>(args)...)};
    write(key, op);
    return op.inserted;
  }
  template <class KK>
  bool insert_or_assign_impl(KK&& key, T&& value) {
    store_op op{value};
    write(key, op);
    return op.inserted;
  }
  template <class KK>
  std::pair<T, bool> find_or_insert_impl(KK&& key, T&& value) {
    find_or_insert_op op{value};
    write(key, op);
    return {std::move(*op.current), op.inserted};
  }
  template <class K, class F>
  bool visit_mut_impl(const K& key, F& f) {
    update_op<false, F> op{f, {}};
    write(key, op);
    return op.found;
  }
  template <class KK, class F, class... Args>
  bool upsert_impl(KK&& key, F& f, Args&&... args) {
    update_op<true, F, Args...> op{f, std::forward_as_tuple(std::forward<Args>(args)...)};
    write(key, op);
    return !op.found;
  }
  template <class KK>
  std::optional<T> exchange_impl(KK&& key, T&& value) {
    store_op op{value};
    op.keep_previous = true;
    write(key, op);
    return std::move(op.previous);
  }
  template <class K>
  bool compare_exchange_impl(const K& key, const T& expected, T& desired) {
    compare_exchange_op op{expected, desired};
    write(key, op);
    return op.exchanged;
  }
  template <class K>
  bool erase_impl(const K& key) {
    erase_op<false> op;
    write(key, op);
    return op.erased;
  }
  template <class K>
  std::optional<T> extract_impl(const K& key) {
    erase_op<true> op;
    write(key, op);
    return std::move(op.extracted);
  }
  template <class K>
  bool compare_erase_impl(const K& key, const T& expected) {
    erase_op<false, true> op;
    op.expected = &expected;
    write(key, op);
    return op.erased;
  }

  tree_type tree_;
};

}  // namespace cmap
