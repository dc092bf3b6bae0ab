#pragma once

// cmap::checked_map — std::unordered_map with Go's fail-fast check for concurrent use.
//
// What it is. A drop-in replacement for std::unordered_map (same members, same iterator and
// node-handle rules, same exception guarantees) for a map that is meant to be used by one
// thread at a time. Every call checks, for a nanosecond or so, whether another thread is inside
// the map at the same moment, and on misuse fails fast with Go's words, the two operations
// and the two thread numbers (see cmap::this_thread_number()):
//
// clang-format off
//   cmap: fatal error: concurrent map writes (insert on thread 3 while erase on thread 2 was in progress)
//   cmap: fatal error: concurrent map read and map write (find on thread 4 while operator[] on thread 2 was in progress)
//   cmap: fatal error: concurrent map iteration and map write (iteration on thread 5 while clear on thread 2 was in progress)
//   cmap: fatal error: concurrent map read and map write (insert on thread 2 ran during find on thread 4)
// clang-format on
//
// When to use it. In place of std::unordered_map wherever sharing by mistake is possible
// (debug and test builds, or production where a crash with a message beats silent damage),
// and to find the missing lock before choosing one of cmap's concurrent maps. When not to:
// as a concurrent map (it has no locks: it only reports), or where the last few percent of
// single-thread speed matter.
//
// What it detects. Two threads inside the map at once where at least one writes: write/write,
// read/write and iteration/write, including a read or write that starts and ends while the
// other is inside. Many concurrent readers are allowed, as with std::unordered_map, and never
// report. Correctly synchronised use (an external mutex, a map built by one thread and handed
// to another by join, a queue or a mutex) never reports.
//
// What it cannot detect. It is a probabilistic detector, like Go's, not ThreadSanitizer: it
// sees a race only when the two calls overlap in time (the first overlap is caught almost
// always; accesses that are unsynchronised but never overlap are not seen). It does not see
// accesses through references and iterators outside a call: writing through the T& from
// operator[] or at(), or dereferencing an iterator, is unchecked. The check runs at entry and
// exit, so two writers that overlap may have damaged the table before the report. Use TSan to
// prove the absence of races; use checked_map to catch them in every build. In TSan builds the
// checker uses relaxed atomics only, so it adds no synchronisation that could hide a race from
// TSan.
//
// What it does on misuse: a violation_policy per map. Default: print the message to stderr and
// std::abort(). throw_error(): throw cmap::concurrent_access_error (a std::logic_error carrying
// a cmap::access_violation). call(handler): call the handler; if it returns, the operation
// proceeds and the map's state is as undefined as after any data race.
//
// Cost. One 8-byte state word per map (with the policy, the map is 32 bytes bigger than
// std::unordered_map; iterators carry a pointer to the word). A read is two plain loads of that
// word around the std::unordered_map call, a write a load and a store at entry and at exit; no
// atomic read-modify-write, no allocation, no shared-line write on reads (on x86 all of them
// compile to plain moves; on Arm a write adds one dmb). iterator++ loads the word once; end(),
// dereference and comparison are free. In instructions (g++ -O3, x86-64): a lookup adds 7-11,
// a write 16-18 (the thread number is one TLS load; in a shared library, a __tls_get_addr call
// more), iterator++ 3. In time, against std::unordered_map with the same hash: 1.00-1.07x in a
// map of 1k entries; in a map of 1M, 1.01-1.08x for writes, 1.04-1.27x for lookups and
// 1.3-1.4x for operator[], where each call waits on cache misses and the added instructions
// let fewer calls overlap (bench/checked_map_bench.cpp; docs/journal/checked-map-cost.md).
//
// Copies and moves. A copy or move construction takes the source's policy; assignment and swap
// exchange the contents only, each map keeps its own policy and check state. The destructor
// checks as a write. In calls that cannot throw (destructor, noexcept move and swap) the
// throwing policy, and a handler that throws, act as abort.
//
// Not provided: local (bucket) iterators.

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "access_violation.hpp"
#include "detail/access_checker.hpp"
#include "hash.hpp"

namespace cmap {

// Hash: cmap::hash<Key>, seeded per map as cmap's other maps are (<cmap/hash.hpp>), rather than
// std::unordered_map's unseeded std::hash, whose collisions anyone can compute: a map that
// holds keys from outside should not be floodable by default. Name std::hash<Key> to get
// std::unordered_map's exact behaviour.
template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
class checked_map {
  using map_type = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;
  using op = detail::map_operation;
  using reporting = detail::reporting;
  using checker_type = detail::access_checker<violation_policy, access_violation>;
  template <reporting R = reporting::may_throw>
  using write_scope = detail::write_scope<checker_type, R>;
  static constexpr bool transparent = requires {
    typename Hash::is_transparent;
    typename KeyEqual::is_transparent;
  };

 public:
  using key_type = Key;
  using mapped_type = T;
  using value_type = std::pair<const Key, T>;
  using size_type = typename map_type::size_type;
  using difference_type = typename map_type::difference_type;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using reference = value_type&;
  using const_reference = const value_type&;
  using pointer = typename map_type::pointer;
  using const_pointer = typename map_type::const_pointer;
  using iterator = detail::checked_iterator<typename map_type::iterator, checker_type>;
  using const_iterator = detail::checked_iterator<typename map_type::const_iterator, checker_type>;
  using node_type = typename map_type::node_type;
  struct insert_return_type {
    iterator position;
    bool inserted;
    node_type node;
  };

  // ---- construction ------------------------------------------------------------------------
  // The std::unordered_map constructors. Those reading another checked_map check it as a
  // read; those moving from one check it as a write.

  checked_map() = default;
  explicit checked_map(size_type n, const hasher& hf = hasher(), const key_equal& eq = key_equal(),
                       const allocator_type& a = allocator_type())
      : map_(n, hf, eq, a) {}
  checked_map(size_type n, const allocator_type& a) : map_(n, a) {}
  checked_map(size_type n, const hasher& hf, const allocator_type& a) : map_(n, hf, a) {}
  explicit checked_map(const allocator_type& a) : map_(a) {}

  template <class InputIt>
  checked_map(InputIt first, InputIt last, size_type n = 0, const hasher& hf = hasher(),
              const key_equal& eq = key_equal(), const allocator_type& a = allocator_type())
      : map_(first, last, n, hf, eq, a) {}
  template <class InputIt>
  checked_map(InputIt first, InputIt last, size_type n, const allocator_type& a)
      : map_(first, last, n, a) {}
  template <class InputIt>
  checked_map(InputIt first, InputIt last, size_type n, const hasher& hf, const allocator_type& a)
      : map_(first, last, n, hf, a) {}

  checked_map(std::initializer_list<value_type> il, size_type n = 0, const hasher& hf = hasher(),
              const key_equal& eq = key_equal(), const allocator_type& a = allocator_type())
      : map_(il, n, hf, eq, a) {}
  checked_map(std::initializer_list<value_type> il, size_type n, const allocator_type& a)
      : map_(il, n, a) {}
  checked_map(std::initializer_list<value_type> il, size_type n, const hasher& hf,
              const allocator_type& a)
      : map_(il, n, hf, a) {}

  checked_map(const checked_map& other) : checker_(other.checker_), map_(other.copy_contents()) {}
  checked_map(const checked_map& other, const std::type_identity_t<Allocator>& a)
      : checker_(other.checker_), map_(other.copy_contents(a)) {}
  checked_map(checked_map&& other) noexcept(std::is_nothrow_move_constructible_v<map_type>)
      : checker_(other.checker_), map_(other.take_contents()) {}
  checked_map(checked_map&& other, const std::type_identity_t<Allocator>& a)
      : checker_(other.checker_), map_(other.take_contents(a)) {}

  /// With a violation policy: any std::unordered_map constructor's arguments after it.
  template <class... Args>
  requires std::is_constructible_v<map_type, Args...>
  explicit checked_map(violation_policy policy, Args&&... args)
      : checker_(std::move(policy)), map_(std::forward<Args>(args)...) {}
  checked_map(violation_policy policy, std::initializer_list<value_type> il)
      : checker_(std::move(policy)), map_(il) {}

  /// Checks as a write: destroying a map another thread is using is reported.
  ~checked_map() {
    checker_.template enter_write<reporting::nothrow>(op::destroy);
    detail::forget_checked_map(&checker_);  // named for cmap::metrics: it leaves the registry
  }

  /// Copy, move and list assignment: a write to *this (and a read of, or a write to, the
  /// source). The policy of *this is kept.
  checked_map& operator=(const checked_map& other) {
    if (this != &other) {
      write_scope<> scope(checker_, op::assign);
      other.checker_.read(op::copy, [&] { map_ = other.map_; });
      scope.finish();
    }
    return *this;
  }
  checked_map& operator=(checked_map&& other) noexcept(
      std::is_nothrow_move_assignable_v<map_type>) {
    if (this != &other) {
      constexpr auto r =
          std::is_nothrow_move_assignable_v<map_type> ? reporting::nothrow : reporting::may_throw;
      write_scope<r> mine(checker_, op::assign);
      write_scope<r> theirs(other.checker_, op::move);
      map_ = std::move(other.map_);
      theirs.finish();
      mine.finish();
    }
    return *this;
  }
  checked_map& operator=(std::initializer_list<value_type> il) {
    checker_.write(op::assign, [&] { map_ = il; });
    return *this;
  }

  /// The policy applied when this map detects a violation.
  violation_policy get_violation_policy() const {
    return checker_.read(op::get_policy, [&] { return checker_.policy(); });
  }
  /// Replaces the policy; a write (do it before sharing the map).
  void set_violation_policy(violation_policy policy) {
    checker_.write(op::set_policy, [&] { checker_.set_policy(std::move(policy)); });
  }

  allocator_type get_allocator() const {
    return checker_.read(op::get_allocator, [&] { return map_.get_allocator(); });
  }

  // ---- iterators ---------------------------------------------------------------------------
  // begin() checks as a read and ++ as "iteration"; end() reads nothing and is not checked.

  iterator begin() {
    return wrap(checker_.read(op::begin, [&] { return map_.begin(); }));
  }
  const_iterator begin() const { return cbegin(); }
  const_iterator cbegin() const {
    return wrap(checker_.read(op::begin, [&] { return map_.cbegin(); }));
  }
  iterator end() noexcept { return wrap(map_.end()); }
  const_iterator end() const noexcept { return cend(); }
  const_iterator cend() const noexcept { return wrap(map_.cend()); }

  // ---- capacity ----------------------------------------------------------------------------

  [[nodiscard]] bool empty() const {
    return checker_.read(op::empty, [&] { return map_.empty(); });
  }
  size_type size() const {
    return checker_.read(op::size, [&] { return map_.size(); });
  }
  size_type max_size() const noexcept { return map_.max_size(); }

  // ---- modifiers (each a write) ------------------------------------------------------------
  // The single-entry insert, insert_or_assign, emplace, try_emplace, erase and operator[] are
  // forced inline, as find is below: compilers otherwise call them out of line, which costs
  // more than the check.

  void clear() {
    checker_.write(op::clear, [&] { map_.clear(); });
  }

  CMAP_DETAIL_INLINE std::pair<iterator, bool> insert(const value_type& v) {
    return wrap(checker_.write(op::insert, [&] { return map_.insert(v); }));
  }
  CMAP_DETAIL_INLINE std::pair<iterator, bool> insert(value_type&& v) {
    return wrap(checker_.write(op::insert, [&] { return map_.insert(std::move(v)); }));
  }
  template <class P>
  requires std::is_constructible_v<value_type, P&&> CMAP_DETAIL_INLINE std::pair<iterator, bool>
  insert(P&& v) {
    return wrap(checker_.write(op::insert, [&] { return map_.insert(std::forward<P>(v)); }));
  }
  iterator insert(const_iterator hint, const value_type& v) {
    return wrap(checker_.write(op::insert, [&] { return map_.insert(hint.base(), v); }));
  }
  iterator insert(const_iterator hint, value_type&& v) {
    return wrap(checker_.write(op::insert, [&] { return map_.insert(hint.base(), std::move(v)); }));
  }
  template <class P>
  requires std::is_constructible_v<value_type, P&&> iterator insert(const_iterator hint, P&& v) {
    return wrap(
        checker_.write(op::insert, [&] { return map_.insert(hint.base(), std::forward<P>(v)); }));
  }
  /// Iterators of another checked_map are checked as they advance (reads of that map).
  template <class InputIt>
  void insert(InputIt first, InputIt last) {
    checker_.write(op::insert, [&] { map_.insert(first, last); });
  }
  void insert(std::initializer_list<value_type> il) {
    checker_.write(op::insert, [&] { map_.insert(il); });
  }
  insert_return_type insert(node_type&& nh) {
    auto r = checker_.write(op::insert, [&] { return map_.insert(std::move(nh)); });
    return {wrap(r.position), r.inserted, std::move(r.node)};
  }
  iterator insert(const_iterator hint, node_type&& nh) {
    return wrap(
        checker_.write(op::insert, [&] { return map_.insert(hint.base(), std::move(nh)); }));
  }

  template <class M>
  CMAP_DETAIL_INLINE std::pair<iterator, bool> insert_or_assign(const key_type& k, M&& obj) {
    return wrap(checker_.write(op::insert_or_assign,
                               [&] { return map_.insert_or_assign(k, std::forward<M>(obj)); }));
  }
  template <class M>
  CMAP_DETAIL_INLINE std::pair<iterator, bool> insert_or_assign(key_type&& k, M&& obj) {
    return wrap(checker_.write(op::insert_or_assign, [&] {
      return map_.insert_or_assign(std::move(k), std::forward<M>(obj));
    }));
  }
  template <class M>
  iterator insert_or_assign(const_iterator hint, const key_type& k, M&& obj) {
    return wrap(checker_.write(op::insert_or_assign, [&] {
      return map_.insert_or_assign(hint.base(), k, std::forward<M>(obj));
    }));
  }
  template <class M>
  iterator insert_or_assign(const_iterator hint, key_type&& k, M&& obj) {
    return wrap(checker_.write(op::insert_or_assign, [&] {
      return map_.insert_or_assign(hint.base(), std::move(k), std::forward<M>(obj));
    }));
  }

  template <class... Args>
  CMAP_DETAIL_INLINE std::pair<iterator, bool> emplace(Args&&... args) {
    return wrap(
        checker_.write(op::emplace, [&] { return map_.emplace(std::forward<Args>(args)...); }));
  }
  template <class... Args>
  iterator emplace_hint(const_iterator hint, Args&&... args) {
    return wrap(checker_.write(op::emplace_hint, [&] {
      return map_.emplace_hint(hint.base(), std::forward<Args>(args)...);
    }));
  }

  template <class... Args>
  CMAP_DETAIL_INLINE std::pair<iterator, bool> try_emplace(const key_type& k, Args&&... args) {
    return wrap(checker_.write(op::try_emplace,
                               [&] { return map_.try_emplace(k, std::forward<Args>(args)...); }));
  }
  template <class... Args>
  CMAP_DETAIL_INLINE std::pair<iterator, bool> try_emplace(key_type&& k, Args&&... args) {
    return wrap(checker_.write(op::try_emplace, [&] {
      return map_.try_emplace(std::move(k), std::forward<Args>(args)...);
    }));
  }
  template <class... Args>
  iterator try_emplace(const_iterator hint, const key_type& k, Args&&... args) {
    return wrap(checker_.write(op::try_emplace, [&] {
      return map_.try_emplace(hint.base(), k, std::forward<Args>(args)...);
    }));
  }
  template <class... Args>
  iterator try_emplace(const_iterator hint, key_type&& k, Args&&... args) {
    return wrap(checker_.write(op::try_emplace, [&] {
      return map_.try_emplace(hint.base(), std::move(k), std::forward<Args>(args)...);
    }));
  }

  CMAP_DETAIL_INLINE iterator erase(iterator pos) {
    return wrap(checker_.write(op::erase, [&] { return map_.erase(pos.base()); }));
  }
  CMAP_DETAIL_INLINE iterator erase(const_iterator pos) {
    return wrap(checker_.write(op::erase, [&] { return map_.erase(pos.base()); }));
  }
  iterator erase(const_iterator first, const_iterator last) {
    return wrap(checker_.write(op::erase, [&] { return map_.erase(first.base(), last.base()); }));
  }
  CMAP_DETAIL_INLINE size_type erase(const key_type& k) {
    return checker_.write(op::erase, [&] { return map_.erase(k); });
  }

  node_type extract(const_iterator pos) {
    return checker_.write(op::extract, [&] { return map_.extract(pos.base()); });
  }
  node_type extract(const key_type& k) {
    return checker_.write(op::extract, [&] { return map_.extract(k); });
  }

  /// Moves the entries whose keys are not in *this from source: a write to both maps.
  template <class H2, class E2>
  void merge(checked_map<Key, T, H2, E2, Allocator>& source) {
    if (static_cast<const void*>(&source) == static_cast<const void*>(this)) {
      checker_.write(op::merge, [] {});
      return;
    }
    write_scope<> theirs(source.checker_, op::merge);
    checker_.write(op::merge, [&] { map_.merge(source.map_); });
    theirs.finish();
  }
  template <class H2, class E2>
  void merge(checked_map<Key, T, H2, E2, Allocator>&& source) {
    merge(source);
  }
  /// Merging from an unchecked std map checks *this only.
  template <class H2, class E2>
  void merge(std::unordered_map<Key, T, H2, E2, Allocator>& source) {
    checker_.write(op::merge, [&] { map_.merge(source); });
  }
  template <class H2, class E2>
  void merge(std::unordered_map<Key, T, H2, E2, Allocator>&& source) {
    merge(source);
  }
  template <class H2, class E2>
  void merge(std::unordered_multimap<Key, T, H2, E2, Allocator>& source) {
    checker_.write(op::merge, [&] { map_.merge(source); });
  }
  template <class H2, class E2>
  void merge(std::unordered_multimap<Key, T, H2, E2, Allocator>&& source) {
    merge(source);
  }

  /// Exchanges the contents (not the policies): a write to both maps.
  void swap(checked_map& other) noexcept(std::is_nothrow_swappable_v<map_type>) {
    constexpr auto r =
        std::is_nothrow_swappable_v<map_type> ? reporting::nothrow : reporting::may_throw;
    if (this == &other) {
      write_scope<r> mine(checker_, op::swap);
      mine.finish();
      return;
    }
    write_scope<r> mine(checker_, op::swap);
    write_scope<r> theirs(other.checker_, op::swap);
    map_.swap(other.map_);
    theirs.finish();
    mine.finish();
  }

  // ---- lookup (each a read) ----------------------------------------------------------------
  // The template overloads take any K when Hash and KeyEqual are both transparent.
  // find, count and contains are forced inline: the check adds a few instructions, enough to
  // tip clang into calling them out of line where it inlines std::unordered_map's, which
  // would cost more than the check itself.

  CMAP_DETAIL_INLINE iterator find(const key_type& k) {
    return wrap(checker_.read(op::find, [&] { return map_.find(k); }));
  }
  CMAP_DETAIL_INLINE const_iterator find(const key_type& k) const {
    return wrap(checker_.read(op::find, [&] { return map_.find(k); }));
  }
  template <class K>
  requires transparent CMAP_DETAIL_INLINE iterator find(const K& k) {
    return wrap(checker_.read(op::find, [&] { return map_.find(k); }));
  }
  template <class K>
  requires transparent CMAP_DETAIL_INLINE const_iterator find(const K& k)
  const {
    return wrap(checker_.read(op::find, [&] { return map_.find(k); }));
  }

  CMAP_DETAIL_INLINE size_type count(const key_type& k) const {
    return checker_.read(op::count, [&] { return map_.count(k); });
  }
  template <class K>
  requires transparent CMAP_DETAIL_INLINE size_type count(const K& k)
  const {
    return checker_.read(op::count, [&] { return map_.count(k); });
  }

  CMAP_DETAIL_INLINE bool contains(const key_type& k) const {
    return checker_.read(op::contains, [&] { return map_.contains(k); });
  }
  template <class K>
  requires transparent CMAP_DETAIL_INLINE bool contains(const K& k) const {
    return checker_.read(op::contains, [&] { return map_.contains(k); });
  }

  std::pair<iterator, iterator> equal_range(const key_type& k) {
    return wrap(checker_.read(op::equal_range, [&] { return map_.equal_range(k); }));
  }
  std::pair<const_iterator, const_iterator> equal_range(const key_type& k) const {
    return wrap(checker_.read(op::equal_range, [&] { return map_.equal_range(k); }));
  }
  template <class K>
  requires transparent std::pair<iterator, iterator> equal_range(const K& k) {
    return wrap(checker_.read(op::equal_range, [&] { return map_.equal_range(k); }));
  }
  template <class K>
  requires transparent std::pair<const_iterator, const_iterator> equal_range(const K& k)
  const {
    return wrap(checker_.read(op::equal_range, [&] { return map_.equal_range(k); }));
  }

  /// A write (it may insert). Writing through the returned reference afterwards is unchecked.
  CMAP_DETAIL_INLINE T& operator[](const key_type& k) {
    return checker_.write(op::subscript, [&]() -> T& { return map_[k]; });
  }
  CMAP_DETAIL_INLINE T& operator[](key_type&& k) {
    return checker_.write(op::subscript, [&]() -> T& { return map_[std::move(k)]; });
  }
  /// A read; throws std::out_of_range if k is absent.
  T& at(const key_type& k) {
    return checker_.read(op::at, [&]() -> T& { return map_.at(k); });
  }
  const T& at(const key_type& k) const {
    return checker_.read(op::at, [&]() -> const T& { return map_.at(k); });
  }

  // ---- buckets and hash policy -------------------------------------------------------------

  size_type bucket_count() const {
    return checker_.read(op::bucket_count, [&] { return map_.bucket_count(); });
  }
  size_type max_bucket_count() const {
    return checker_.read(op::max_bucket_count, [&] { return map_.max_bucket_count(); });
  }
  size_type bucket_size(size_type n) const {
    return checker_.read(op::bucket_size, [&] { return map_.bucket_size(n); });
  }
  size_type bucket(const key_type& k) const {
    return checker_.read(op::bucket, [&] { return map_.bucket(k); });
  }
  float load_factor() const {
    return checker_.read(op::load_factor, [&] { return map_.load_factor(); });
  }
  float max_load_factor() const {
    return checker_.read(op::max_load_factor, [&] { return map_.max_load_factor(); });
  }
  /// A write (it may rehash).
  void max_load_factor(float z) {
    checker_.write(op::max_load_factor, [&] { map_.max_load_factor(z); });
  }
  void rehash(size_type n) {
    checker_.write(op::rehash, [&] { map_.rehash(n); });
  }
  void reserve(size_type n) {
    checker_.write(op::reserve, [&] { map_.reserve(n); });
  }

  hasher hash_function() const {
    return checker_.read(op::hash_function, [&] { return map_.hash_function(); });
  }
  key_equal key_eq() const {
    return checker_.read(op::key_eq, [&] { return map_.key_eq(); });
  }

  /// A read of both maps.
  friend bool operator==(const checked_map& a, const checked_map& b) {
    return a.checker_.read(op::compare, [&] {
      return b.checker_.read(op::compare, [&] { return a.map_ == b.map_; });
    });
  }

  template <class K2, class T2, class H2, class E2, class A2, class Pred>
  friend typename checked_map<K2, T2, H2, E2, A2>::size_type erase_if(
      checked_map<K2, T2, H2, E2, A2>& m, Pred pred);

 private:
  template <class, class, class, class, class>
  friend class checked_map;

  iterator wrap(typename map_type::iterator it) noexcept { return iterator(it, &checker_); }
  const_iterator wrap(typename map_type::const_iterator it) const noexcept {
    return const_iterator(it, &checker_);
  }
  template <class It>
  auto wrap(std::pair<It, It> r) noexcept {
    return std::pair{wrap(r.first), wrap(r.second)};
  }
  template <class It>
  auto wrap(std::pair<It, It> r) const noexcept {
    return std::pair{wrap(r.first), wrap(r.second)};
  }
  template <class It>
  std::pair<iterator, bool> wrap(std::pair<It, bool> r) noexcept {
    return {wrap(r.first), r.second};
  }

  template <class... A>
  map_type copy_contents(const A&... a) const {
    return checker_.read(op::copy, [&] { return map_type(map_, a...); });
  }
  template <class... A>
  map_type take_contents(const A&... a) noexcept(sizeof...(A) == 0 &&
                                                 std::is_nothrow_move_constructible_v<map_type>) {
    constexpr auto r = sizeof...(A) == 0 && std::is_nothrow_move_constructible_v<map_type>
                           ? reporting::nothrow
                           : reporting::may_throw;
    write_scope<r> scope(checker_, op::move);
    map_type m(std::move(map_), a...);
    scope.finish();
    return m;
  }

  // The checker comes first so that its word outlives the table during destruction, and sits
  // next to the table's header (one cache line for both in most layouts).
  // First, so that the address the checker's probes report (detail/probes.hpp) is the map's.
  checker_type checker_;
  map_type map_;
};

// Deduction guides for the common forms (range, list).
template <class InputIt>
checked_map(InputIt, InputIt) -> checked_map<
    std::remove_const_t<typename std::iterator_traits<InputIt>::value_type::first_type>,
    typename std::iterator_traits<InputIt>::value_type::second_type>;
template <class Key, class T>
checked_map(std::initializer_list<std::pair<Key, T>>) -> checked_map<Key, T>;

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
void swap(checked_map<Key, T, Hash, KeyEqual, Allocator>& a,
          checked_map<Key, T, Hash, KeyEqual, Allocator>& b) noexcept(noexcept(a.swap(b))) {
  a.swap(b);
}

/// Erases every entry for which pred(entry) is true, as one write; returns how many.
template <class Key, class T, class Hash, class KeyEqual, class Allocator, class Pred>
typename checked_map<Key, T, Hash, KeyEqual, Allocator>::size_type erase_if(
    checked_map<Key, T, Hash, KeyEqual, Allocator>& m, Pred pred) {
  return m.checker_.write(detail::map_operation::erase_if,
                          [&] { return std::erase_if(m.map_, pred); });
}

}  // namespace cmap
