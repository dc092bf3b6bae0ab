#pragma once
// cmap::snapshot_map: a concurrent map whose every version is an immutable value. Readers
// never block; snapshot() hands out a consistent view of the whole map in O(1).
//
// It is the "atomic.Value holding an immutable map" pattern without that pattern's O(n)
// copy per write: the map is a persistent hash trie (detail/champ.hpp) whose root is
// published atomically, so a write copies only the O(log32 n) nodes on its key's path and
// shares the rest with the previous version.
//
// Choose it when readers need a consistent view of many keys at once (a configuration, a
// routing table, a catalogue that is read as a whole), when long walks must neither block
// writers nor see them half-way, or when writes come in batches that must appear all at
// once (update()).
// Consider instead: concurrent_hash_map for plain key-value traffic, especially
// write-heavy or with large values: it updates in place and its lookups touch fewer
// cache lines; writers of snapshot_map are serialised (one at a time), and every write
// allocates its path (about log32 n nodes, each copying up to 32 entries). Values must be
// copyable (versions share them; a move-only value could not be handed to two versions).
//
// Guarantees
//  - Every call is linearizable; a whole update() batch is one atomic step.
//  - Readers (find, contains, const visit, size, snapshot, for_each) take no lock: they pin
//    an epoch (detail/epoch.hpp; a store to the caller's own record), load the root
//    (acquire) and walk immutable nodes. A reader sees one version, before or after any
//    write, never part of one.
//  - Writers are serialised by one mutex, held while the write builds its new version;
//    each publishes its new root with a release store. No update is ever lost.
//  - snapshot(): O(1) (a pin, a load, a reference count increment; no allocation). The
//    snapshot, and the iterators into it, stay valid and unchanged however the map changes,
//    and even after the map is destroyed; the memory of a version is freed when the map has
//    moved on and its last snapshot is gone.
//  - for_each walks one snapshot: it sees exactly the entries of one version, each once,
//    and holds no lock and no epoch pin while f runs, so f may call any method of the map,
//    writes included (they do not show in the walk).
//  - update(f): f gets a transient, which offers the single-key calls of the common
//    surface and sees its own earlier changes; when f returns, the batch is published at
//    once. If f throws, nothing is published. f must not write to the map itself (that
//    would take the writer lock it already holds; debug builds report it), but may read it
//    (it sees the published version, not the batch).
//  - Mutable visit(k, f) and upsert run f on a copy of the entry under the writer lock; if f
//    throws, nothing is published. Their callbacks, like erase_if's predicate, must not
//    write to the map (debug builds report it).
//  - Exceptions: a throwing hash, equality, constructor, allocation or callback leaves the
//    map unchanged and its lock released (strong guarantee, batches included).
//  - size() is exact: it is stored with each version.
//
// Costs (n entries): find/contains: a hash, an epoch pin, about log32 n nodes (4 at 1M),
// one or two cache lines each. Single-key write: the writer lock, about log32 n node
// allocations and the copy of their entries (up to 32 each), and the retire of the old root.
// A batch copies each node at most once. snapshot(): O(1). allocated_bytes(): O(nodes).
// Memory: entries inline in nodes, plus a 32-byte header and a pointer per child per node.
//
// Allocator: every node comes from it, and it may be stateful (get_allocator() returns it);
// a snapshot keeps a copy, since nodes are freed on whichever thread drops the last
// reference, so the allocator must be usable from any thread (and its copies must free what
// the original allocated, as the standard requires of allocators).

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/callback.hpp"
#include "detail/champ.hpp"
#include "detail/common_surface.hpp"
#include "detail/epoch.hpp"
#include "detail/map_constructors.hpp"
#include "detail/reentrancy.hpp"
#include "hash.hpp"
#include "map_stats.hpp"

namespace cmap {
namespace detail {

// snapshot_map's body (see the top of this file); the class below adds the constructors.
template <class Key, class T, class Hash, class KeyEqual, class Allocator>
requires(std::copy_constructible<Key>&& std::copy_constructible<T>) class snapshot_map_core
    : public common_surface<snapshot_map_core<Key, T, Hash, KeyEqual, Allocator>, Key, T, Hash,
                            KeyEqual, Allocator> {
  using trie = champ<Key, T, Hash, KeyEqual, Allocator>;
  using node = typename trie::node;
  using node_allocator = typename trie::node_allocator;
  friend lookup_surface<snapshot_map_core, Key, T, Hash, KeyEqual>;
  friend common_surface<snapshot_map_core, Key, T, Hash, KeyEqual, Allocator>;
  static constexpr probe_map_kind probe_kind() noexcept { return probe_map_kind::snapshot_map; }

 public:
  using value_type = std::pair<const Key, T>;
  using size_type = std::size_t;
  using options_type = no_options;

  class snapshot_type;
  class transient;

  // The constructors are detail/map_constructors.hpp's. A trie has nothing to reserve:
  // capacity is only checked against max_size().
  snapshot_map_core(size_type capacity, const Hash& hash, const KeyEqual& eq,
                    const Allocator& alloc, no_options)
      : hash_(hash),
        eq_(eq),
        alloc_((check_size(capacity), node_allocator(alloc))),
        root_(trie::make_empty(0, alloc_)) {}

  // Not copyable or movable: other threads may be inside at any time. Copy a snapshot.
  snapshot_map_core(const snapshot_map_core&) = delete;
  snapshot_map_core& operator=(const snapshot_map_core&) = delete;

  // No reader or writer may still be inside. Snapshots may outlive the map.
  ~snapshot_map_core() {
    domain().drain(this);  // the versions this map retired: no reader can be inside any more
    trie::release(root_.load(std::memory_order_relaxed), alloc_);
  }

  // ---- snapshots ----------------------------------------------------------------------
  // An immutable view of the map as it is now: O(1), no allocation.
  [[nodiscard]] snapshot_type snapshot() const {
    auto pin = domain().pin();
    // acquire: pairs with the release store in publish(); the node is fully built.
    node* r = root_.load(std::memory_order_acquire);
    // The map's reference keeps r alive while we are pinned (it is released only through
    // the epoch), so the count is at least 1 here.
    trie::acquire(r);
    return snapshot_type(r, hash_, eq_, alloc_);
  }

  // Applies f(transient&) as one batch, published atomically when f returns; returns what
  // f returns. If f throws, nothing is published and the exception propagates.
  template <class F>
  decltype(auto) update(F&& f) {
    return write([&](transient& t) -> decltype(auto) { return std::invoke(f, t); });
  }

  // The single-key calls (find, contains, visit, insert, emplace, insert_or_assign,
  // find_or_insert, upsert, exchange, compare_exchange, erase, extract, compare_erase) come
  // from detail/common_surface.hpp. Here: lookups take no lock and write no shared memory
  // (const visit's f runs with the epoch pinned: a long f delays the reclamation of old
  // versions); every write takes the writer lock and publishes one new version (a write
  // that changes nothing publishes none). Mutable visit and upsert run f on a new copy of
  // the entry. find_or_insert answers a present key without the lock.

  // Erases every entry with pred(const Key&, const T&), as one version; returns how many.
  // pred runs under the writer lock.
  template <class P>
  size_type erase_if(P&& pred) {
    return write([&](transient& t) { return t.erase_if(pred); });
  }

  // ---- whole map ------------------------------------------------------------------------
  // f(const Key&, const T&) on each entry of one version (a snapshot taken now); false from
  // f stops. No lock or pin is held while f runs: f may call any method of this map.
  template <class F>
  void for_each(F&& f) const {
    snapshot().for_each(f);
  }

  // The entry count of the current version: exact.
  [[nodiscard]] size_type size() const {
    auto pin = domain().pin();
    return root_.load(std::memory_order_acquire)->size;  // pairs with publish()
  }
  // Publishes an empty version (snapshots keep theirs).
  void clear() {
    write([](transient& t) { t.clear(); });
  }
  // Nothing to reserve in a trie; throws std::length_error beyond max_size() as the other
  // maps do.
  void reserve(size_type n) { check_size(n); }
  [[nodiscard]] static constexpr size_type max_size() noexcept {
    return static_cast<size_type>(PTRDIFF_MAX) / sizeof(value_type);
  }
  // Bytes of the current version's nodes, as asked of the allocator (not counting older
  // versions kept by snapshots or waiting for their grace period). O(nodes).
  [[nodiscard]] size_type allocated_bytes() const {
    auto pin = domain().pin();
    return trie::tree_bytes(root_.load(std::memory_order_acquire));  // pairs with publish()
  }

  // A trie frees each node as the last version holding it goes, so it has no spare room to
  // give back: rehash and shrink_to_fit only check n against max_size(), as reserve does.
  void rehash(size_type n) { reserve(n); }
  void shrink_to_fit() noexcept {}
  // The current version's size, node bytes and probe lengths (trie depths; O(nodes)); a
  // trie has no slots, tombstones or rebuilds, and its capacity is its size.
  [[nodiscard]] map_stats stats() const {
    map_stats st;
    auto pin = domain().pin();
    const node* r = root_.load(std::memory_order_acquire);  // pairs with publish()
    st.size = r->size;
    st.capacity = r->size;
    st.allocated_bytes = trie::tree_bytes(r);
    detail::probe_tally probes;
    trie::tally_probes(r, probes);
    probes.write_to(st);
    return st;
  }

  [[nodiscard]] Hash hash_function() const { return hash_; }
  [[nodiscard]] KeyEqual key_eq() const { return eq_; }
  [[nodiscard]] Allocator get_allocator() const { return Allocator(alloc_); }

  // ---- the view ---------------------------------------------------------------------------
  // One immutable version. Cheap to copy (a reference count); thread-safe to share.
  // find, contains and const visit come from detail/common_surface.hpp (lookup_surface).
  class snapshot_type : public detail::lookup_surface<snapshot_type, Key, T, Hash, KeyEqual> {
    friend detail::lookup_surface<snapshot_type, Key, T, Hash, KeyEqual>;
    static constexpr detail::probe_map_kind probe_kind() noexcept {
      return detail::probe_map_kind::snapshot_map;
    }

   public:
    class const_iterator;
    using iterator = const_iterator;

    snapshot_type(const snapshot_type& o) noexcept
        : root_(o.root_), hash_(o.hash_), eq_(o.eq_), alloc_(o.alloc_) {
      trie::acquire(root_);
    }
    snapshot_type(snapshot_type&& o) noexcept
        : root_(std::exchange(o.root_, nullptr)), hash_(o.hash_), eq_(o.eq_), alloc_(o.alloc_) {}
    snapshot_type& operator=(snapshot_type o) noexcept {
      using std::swap;
      swap(root_, o.root_);
      swap(hash_, o.hash_);
      swap(eq_, o.eq_);
      swap(alloc_, o.alloc_);
      return *this;
    }
    ~snapshot_type() {
      if (root_ != nullptr) trie::release(root_, alloc_);
    }

    // f(const Key&, const T&) on each entry; false from f stops.
    template <class F>
    void for_each(F&& f) const {
      auto each = [&](const value_type& e) {
        return detail::invoke_continue(f, e.first, e.second);
      };
      trie::walk(root_, each);
    }
    [[nodiscard]] size_type size() const noexcept { return root_->size; }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }

    [[nodiscard]] const_iterator begin() const { return const_iterator(root_); }
    [[nodiscard]] const_iterator end() const noexcept { return const_iterator(); }

    // A forward iterator over the entries (std::pair<const Key, T>), in trie order.
    class const_iterator {
     public:
      using iterator_category = std::forward_iterator_tag;
      using value_type = snapshot_map_core::value_type;
      using difference_type = std::ptrdiff_t;
      using pointer = const value_type*;
      using reference = const value_type&;

      const_iterator() noexcept = default;
      reference operator*() const noexcept { return trie::entries(stack_[depth_ - 1].n)[entry_]; }
      pointer operator->() const noexcept { return &**this; }
      const_iterator& operator++() noexcept {
        ++entry_;
        settle();
        return *this;
      }
      const_iterator operator++(int) noexcept {
        const_iterator old = *this;
        ++*this;
        return old;
      }
      friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
        if (a.depth_ != b.depth_) return false;
        return a.depth_ == 0 ||
               (a.stack_[a.depth_ - 1].n == b.stack_[b.depth_ - 1].n && a.entry_ == b.entry_);
      }

     private:
      friend class snapshot_type;
      struct frame {
        const node* n;
        std::uint32_t next_child;
      };
      explicit const_iterator(const node* root) noexcept {
        stack_[0] = frame{root, 0};
        depth_ = 1;
        settle();
      }
      // Moves to the first entry at or after the current position (depth first: a node's
      // entries, then its children's), or to the end (depth 0).
      void settle() noexcept {
        while (depth_ > 0) {
          frame& f = stack_[depth_ - 1];
          if (entry_ < trie::entry_count(f.n)) return;
          if (f.next_child < trie::child_count(f.n)) {
            const node* c = trie::children(f.n)[f.next_child++];
            stack_[depth_++] = frame{c, 0};
            entry_ = 0;
            continue;
          }
          --depth_;
          entry_ = ~std::uint32_t{0};  // the parent's entries were already seen
        }
      }
      frame stack_[trie::max_depth] = {};
      unsigned depth_ = 0;
      std::uint32_t entry_ = 0;
    };

   private:
    friend class snapshot_map_core;
    snapshot_type(node* root, const Hash& hash, const KeyEqual& eq,
                  const node_allocator& alloc) noexcept
        : root_(root), hash_(hash), eq_(eq), alloc_(alloc) {}
    template <class K>
    const value_type* lookup(const K& key) const {
      return trie::find(root_, key, hash_(key), eq_);
    }
    template <class K>
    std::optional<T> find_impl(const K& key) const {
      if (const value_type* e = lookup(key)) return e->second;
      return std::nullopt;
    }
    template <class K>
    bool contains_impl(const K& key) const {
      return lookup(key) != nullptr;
    }
    template <class K, class F>
    bool visit_impl(const K& key, F& f) const {
      const value_type* e = lookup(key);
      if (e == nullptr) return false;
      f(e->second);
      return true;
    }

    node* root_;
    [[no_unique_address]] Hash hash_;
    [[no_unique_address]] KeyEqual eq_;
    // The version's nodes are freed with it if this snapshot holds the last reference.
    [[no_unique_address]] node_allocator alloc_;
  };

  // ---- the batch editor ---------------------------------------------------------------
  // Handed to update()'s f: the single-key calls of the common surface on the batch, which
  // sees its own changes. Lives only during f; no other thread sees it.
  class transient : public common_surface<transient, Key, T, Hash, KeyEqual, Allocator> {
    friend lookup_surface<transient, Key, T, Hash, KeyEqual>;
    friend common_surface<transient, Key, T, Hash, KeyEqual, Allocator>;
    static constexpr probe_map_kind probe_kind() noexcept { return probe_map_kind::snapshot_map; }
    const snapshot_map_core* surface_owner() const noexcept { return &map_; }

   public:
    transient(const transient&) = delete;
    transient& operator=(const transient&) = delete;
    ~transient() {
      if (root_ != nullptr) trie::release(root_, map_.alloc_);  // null once published
    }

    // The single-key calls come from detail/common_surface.hpp; they see the batch as it
    // is, this batch's earlier changes included.

    // Erases every entry with pred(const Key&, const T&); returns how many.
    template <class P>
    size_type erase_if(P&& pred) {
      std::vector<Key> doomed;
      auto collect = [&](const value_type& e) {
        if (pred(e.first, e.second)) doomed.push_back(e.first);
        return true;
      };
      trie::walk(root_, collect);
      for (const Key& k : doomed) erase_found(k, map_.hash_(k));
      return doomed.size();
    }

    // f(const Key&, const T&) on each entry of the batch as it is now; f must not change
    // the transient. false from f stops.
    template <class F>
    void for_each(F&& f) const {
      auto each = [&](const value_type& e) {
        return detail::invoke_continue(f, e.first, e.second);
      };
      trie::walk(root_, each);
    }

    [[nodiscard]] size_type size() const noexcept { return size_; }

    // All or nothing for a part of a batch: a savepoint remembers the batch as it is, and
    // unless commit() is called its destructor puts the batch back as it was then (when a
    // call in between threw, say). O(1); the cost is that the next change to each node
    // made before the savepoint copies that node once more (the remembered tree must stay
    // intact), as a write of a fresh batch would. Savepoints nest in LIFO order.
    class savepoint {
     public:
      explicit savepoint(transient& t) : t_(t), root_(t.root_), size_(t.size_) {
        trie::acquire(root_);
        // Under the writer lock (the transient lives only inside write()).
        t.editor_.renew(++t.map_.last_edit_);
      }
      savepoint(const savepoint&) = delete;
      savepoint& operator=(const savepoint&) = delete;
      ~savepoint() {
        if (root_ == nullptr) return;  // committed
        trie::release(std::exchange(t_.root_, root_), t_.map_.alloc_);
        t_.size_ = size_;
      }
      // Keeps what was done since the savepoint.
      void commit() noexcept { trie::release(std::exchange(root_, nullptr), t_.map_.alloc_); }

     private:
      transient& t_;
      node* root_;  // the batch as it was (one reference), null once committed
      size_type size_;
    };

    void clear() {
      node* fresh = trie::make_empty(editor_.edit(), map_.alloc_);
      trie::release(std::exchange(root_, fresh), map_.alloc_);
      size_ = 0;
    }

   private:
    friend class snapshot_map_core;
    // Under the writer lock: the batch starts from the published version.
    transient(snapshot_map_core& map, node* published, std::uint64_t edit) noexcept
        : map_(map),
          editor_(map.hash_, map.eq_, map.alloc_, edit),
          root_(published),
          start_(published),
          size_(published->size) {
      trie::acquire(published);
    }

    template <class KK, class... Args>
    requires std::constructible_from<Key, KK>
    bool emplace_impl(KK&& key, Args&&... args) {
      const found f = lookup(key);
      if (f.entry != nullptr) return false;
      insert_new(f.hash, std::forward<KK>(key), std::forward<Args>(args)...);
      return true;
    }

    template <class KK>
    requires std::constructible_from<Key, KK>
    bool insert_or_assign_impl(KK&& key, T value) {
      const found f = lookup(key);
      if (f.entry != nullptr) {
        mutable_entry(key, f.hash)->second = std::move(value);
        return false;
      }
      insert_new(f.hash, std::forward<KK>(key), std::move(value));
      return true;
    }

    template <class KK>
    requires std::constructible_from<Key, KK> std::pair<T, bool> find_or_insert_impl(KK&& key,
                                                                                     T value) {
      const found f = lookup(key);
      if (f.entry != nullptr) return {f.entry->second, false};
      std::pair<T, bool> out(value, true);
      insert_new(f.hash, std::forward<KK>(key), std::move(value));
      return out;
    }

    template <class KK, class F, class... Args>
    requires std::constructible_from<Key, KK>
    bool upsert_impl(KK&& key, F&& fn, Args&&... args) {
      const found f = lookup(key);
      if (f.entry != nullptr) {
        fn(mutable_entry(key, f.hash)->second);
        return false;
      }
      insert_new(f.hash, std::forward<KK>(key), std::forward<Args>(args)...);
      return true;
    }

    template <class KK>
    requires std::constructible_from<Key, KK> std::optional<T> exchange_impl(KK&& key, T value) {
      const found f = lookup(key);
      if (f.entry != nullptr) {
        T& slot = mutable_entry(key, f.hash)->second;
        std::optional<T> old(std::move(slot));
        slot = std::move(value);
        return old;
      }
      insert_new(f.hash, std::forward<KK>(key), std::move(value));
      return std::nullopt;
    }

    template <class K>
    bool compare_exchange_impl(const K& key, const T& expected, T& desired) {
      const found f = lookup(key);
      if (f.entry == nullptr || !(f.entry->second == expected)) return false;
      mutable_entry(key, f.hash)->second = std::move(desired);
      return true;
    }

    template <class K>
    bool erase_impl(const K& key) {
      const found f = lookup(key);
      if (f.entry == nullptr) return false;
      erase_found(key, f.hash);
      return true;
    }

    template <class K>
    std::optional<T> extract_impl(const K& key) {
      const found f = lookup(key);
      if (f.entry == nullptr) return std::nullopt;
      std::optional<T> out(f.entry->second);  // a copy: older versions keep the value
      erase_found(key, f.hash);
      return out;
    }

    template <class K>
    bool compare_erase_impl(const K& key, const T& expected) {
      const found f = lookup(key);
      if (f.entry == nullptr || !(f.entry->second == expected)) return false;
      erase_found(key, f.hash);
      return true;
    }

    struct found {
      const value_type* entry;
      std::size_t hash;
    };
    template <class K>
    found lookup(const K& key) const {
      const std::size_t h = map_.hash_(key);
      return found{trie::find(root_, key, h, map_.eq_), h};
    }
    template <class K>
    std::optional<T> find_impl(const K& key) const {
      if (const value_type* e = lookup(key).entry) return e->second;
      return std::nullopt;
    }
    template <class K>
    bool contains_impl(const K& key) const {
      return lookup(key).entry != nullptr;
    }
    template <class K, class F>
    bool visit_impl(const K& key, F& f) const {
      const value_type* e = lookup(key).entry;
      if (e == nullptr) return false;
      f(e->second);
      return true;
    }
    template <class K, class F>
    bool visit_mut_impl(const K& key, F& f) {
      const found fd = lookup(key);
      if (fd.entry == nullptr) return false;
      f(mutable_entry(key, fd.hash)->second);
      return true;
    }
    template <class K>
    value_type* mutable_entry(const K& key, std::size_t h) {
      return editor_.find_present(root_, key, h);
    }
    template <class KK, class... Args>
    void insert_new(std::size_t h, KK&& key, Args&&... args) {
      auto make = [&](value_type* p) {
        std::construct_at(p, std::piecewise_construct, std::forward_as_tuple(std::forward<KK>(key)),
                          std::forward_as_tuple(std::forward<Args>(args)...));
      };
      editor_.insert_absent(root_, h, make);
      ++size_;
    }
    template <class K>
    void erase_found(const K& key, std::size_t h) {
      editor_.erase_present(root_, key, h);
      --size_;
    }

    snapshot_map_core& map_;
    typename trie::editor editor_;
    node* root_;         // the batch's tree (one reference)
    const node* start_;  // the version it started from: unchanged batch if root_ == start_
    size_type size_;
  };

 private:
  static detail::epoch_domain& domain() noexcept { return detail::epoch_domain::global(); }

  template <class K, class F>
  bool read(const K& key, F&& f) const {
    const std::size_t h = hash_(key);
    auto pin = domain().pin();
    // acquire: pairs with the release store in publish().
    const value_type* e = trie::find(root_.load(std::memory_order_acquire), key, h, eq_);
    if (e == nullptr) return false;
    f(*e);
    return true;
  }

  static void check_size(size_type n) {
    if (n > max_size()) throw std::length_error("cmap::snapshot_map: too many entries");
  }

  // ---- the common surface's hooks (detail/common_surface.hpp) --------------------------
  // A range goes in as one batch: one new version, all of it or (if an insert throws)
  // nothing.
  template <class It>
  size_type insert_range_impl(It first, It last) {
    return write([&](transient& t) { return t.insert(first, last); });
  }
  template <class K>
  std::optional<T> find_impl(const K& key) const {
    std::optional<T> out;
    read(key, [&](const value_type& e) { out.emplace(e.second); });
    return out;
  }
  template <class K>
  bool contains_impl(const K& key) const {
    return read(key, [](const value_type&) {});
  }
  template <class K, class F>
  bool visit_impl(const K& key, F& f) const {
    return read(key, [&](const value_type& e) { f(e.second); });
  }
  template <class K, class F>
  bool visit_mut_impl(const K& key, F& f) {
    return write([&](transient& t) { return t.visit(key, f); });
  }
  template <class KK, class... Args>
  bool emplace_impl(KK&& key, Args&&... args) {
    return write([&](transient& t) {
      return t.emplace(std::forward<KK>(key), std::forward<Args>(args)...);
    });
  }
  template <class KK>
  bool insert_or_assign_impl(KK&& key, T&& value) {
    return write(
        [&](transient& t) { return t.insert_or_assign(std::forward<KK>(key), std::move(value)); });
  }
  template <class KK>
  std::pair<T, bool> find_or_insert_impl(KK&& key, T&& value) {
    if (auto v = find_impl(key)) return {std::move(*v), false};
    return write(
        [&](transient& t) { return t.find_or_insert(std::forward<KK>(key), std::move(value)); });
  }
  template <class KK, class F, class... Args>
  bool upsert_impl(KK&& key, F& f, Args&&... args) {
    return write([&](transient& t) {
      return t.upsert(std::forward<KK>(key), f, std::forward<Args>(args)...);
    });
  }
  template <class KK>
  std::optional<T> exchange_impl(KK&& key, T&& value) {
    return write([&](transient& t) { return t.exchange(std::forward<KK>(key), std::move(value)); });
  }
  template <class K>
  bool compare_exchange_impl(const K& key, const T& expected, T& desired) {
    return write(
        [&](transient& t) { return t.compare_exchange(key, expected, std::move(desired)); });
  }
  template <class K>
  bool erase_impl(const K& key) {
    return write([&](transient& t) { return t.erase(key); });
  }
  template <class K>
  std::optional<T> extract_impl(const K& key) {
    return write([&](transient& t) { return t.extract(key); });
  }
  template <class K>
  bool compare_erase_impl(const K& key, const T& expected) {
    return write([&](transient& t) { return t.compare_erase(key, expected); });
  }

  // Runs f on a transient of the current version under the writer lock, then publishes
  // the transient if f changed it and returned normally.
  template <class F>
  decltype(auto) write(F&& f) {
    detail::reentrancy_guard reentrancy(this);  // before the lock: report, do not deadlock
    std::lock_guard lock(writer_);
    transient t(*this, root_.load(std::memory_order_relaxed), ++last_edit_);
    if constexpr (std::is_void_v<std::invoke_result_t<F&, transient&>>) {
      f(t);
      publish(t);
    } else {
      auto result = f(t);
      publish(t);
      return result;
    }
  }

  // Under the writer lock: makes t's tree the current version, retires the old one.
  void publish(transient& t) {
    if (t.root_ == t.start_) return;  // nothing changed (the transient releases its ref)
    node* fresh = std::exchange(t.root_, nullptr);
    fresh->size = t.size_;
    node* old = root_.load(std::memory_order_relaxed);
    // release: the new version's nodes are built before a reader's acquire load finds them.
    root_.store(fresh, std::memory_order_release);
    // The map's reference to the old version is dropped once no pinned reader can be in it;
    // snapshots hold their own references.
    domain().retire(old, &release_version, this, this);
  }
  // The epoch's deleter; context is the map, alive until its destructor drains what it
  // retired.
  static void release_version(void* n, void* context) noexcept {
    trie::release(static_cast<node*>(n), static_cast<snapshot_map_core*>(context)->alloc_);
  }

  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] KeyEqual eq_;
  // Every node of the map's versions comes from it (snapshots and transients use copies or
  // this one). Declared before root_, which the constructor allocates with it.
  [[no_unique_address]] node_allocator alloc_;
  // The current version. Written only under writer_; read by anyone (acquire).
  std::atomic<node*> root_;
  // Serialises writers. Guards last_edit_.
  std::mutex writer_;
  // The edit id of the last transient (ids are never reused, see detail/champ.hpp).
  std::uint64_t last_edit_ = 0;
};

}  // namespace detail

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
requires(std::copy_constructible<Key>&& std::copy_constructible<T>) class snapshot_map
    : public detail::map_constructors<
          detail::snapshot_map_core<Key, T, Hash, KeyEqual, Allocator>> {
  using base =
      detail::map_constructors<detail::snapshot_map_core<Key, T, Hash, KeyEqual, Allocator>>;

 public:
  using base::base;
};

}  // namespace cmap
