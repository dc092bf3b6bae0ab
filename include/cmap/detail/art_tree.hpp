#pragma once
// art_tree<T, Allocator>: a concurrent adaptive radix tree (Leis, Kemper, Neumann, "The
// Adaptive Radix Tree: ARTful Indexing for Main-Memory Databases", ICDE 2013) synchronised by
// optimistic lock coupling (Leis, Scheibner, Kemper, Neumann, "The ART of Practical
// Synchronization", DaMoN 2016), mapping encoded keys (byte strings, as cmap::key_traits
// writes them) to values of type T. The engine of cmap::art_map.
//
// Keys. A key is a std::string_view of bytes compared as unsigned bytes. No stored key may be
// a proper prefix of another (key_traits' encodings are prefix-free): a key ends at a leaf,
// never inside an inner node. An insert throws std::invalid_argument where it finds a key
// that breaks this; lookups, erases and scans accept any bytes (a query that is a prefix of a
// stored key simply finds nothing, and a scan bound may be any byte string).
//
// Shape. An inner node branches on one byte of the key; the byte it branches on is the one
// after the node's compressed prefix. A child is either another inner node or a leaf. Three
// rules keep the tree small (the paper's):
//   adaptive nodes     an inner node has 4, 16, 48 or 256 child slots, the smallest that holds
//                      its children (with hysteresis on the way down, below);
//   path compression   the bytes that every key below a node shares, between the byte its
//                      parent branched on and the byte it branches on, are stored in the node
//                      as its prefix, not as a chain of one-child nodes;
//   lazy expansion     a key alone below a branch is a leaf hung there directly; the leaf
//                      holds the whole key, so the bytes past the branch need no nodes.
// So every inner node has at least two children, and the root slot holds nothing, a leaf (one
// key), or an inner node.
//
// Node layouts (x86-64, 8-byte pointers; every node is allocated as a whole number of
// 8-byte blocks, or alignof(T)-byte blocks where T is more aligned):
//   header (24 bytes, every inner node)
//     lock           8 bytes  the optimistic_lock (version word)
//     type           1 byte   node4, node16, node48 or node256; fixed for the node's life
//     (unused)       1 byte
//     count          2 bytes  children present (up to 256)
//     prefix_size    4 bytes  the length of the compressed prefix, in full
//     prefix         8 bytes  its first min(prefix_size, 8) bytes
//   node4    header, keys[4] (sorted), 4 unused, children[4]          64 bytes
//   node16   header, keys[16] (sorted), children[16]                 168 bytes
//   node48   header, index[256] (0 = none, else slot + 1), children[48]  664 bytes
//   node256  header, children[256] (empty = 0)                      2072 bytes
//   leaf     key_size (4 bytes; absent where the tree's keys have a fixed size), then the
//            value (at its alignment), then the key's bytes; rounded up to the block: for an
//            8-byte value 16 + key size, or 8 + key size with fixed-size keys (16 bytes for a
//            u64 key).
//
// A child is a tagged pointer (node_ref): bit 0 set means a leaf, clear an inner node, and
// a null pointer an empty slot. The tag rather than a type field in the child, because the
// parent then knows what it is about to reach before it loads the child: a reader read-locks
// an inner node but must not try to lock a leaf, which has no lock (and no header).
//
// Synchronisation: optimistic lock coupling. Every inner node carries an optimistic_lock
// (detail/optimistic_lock.hpp: a version word with lock and obsolete bits), and the root slot
// is guarded by one more, root_lock_, which plays the root's parent. Every field a reader
// reads is an optimistic_field (a relaxed atomic).
//   A reader takes no lock and writes nothing shared. At each node it takes the version,
//   checks the parent's version again (coupling: the node is still the parent's child, so
//   the depth it was reached at is still its depth), reads the fields it needs, and validates
//   the node's version before it follows a child pointer. A failed validation restarts the
//   operation from the root.
//   A writer descends the same way, then upgrades to write locks only on the nodes it changes,
//   always ancestors before descendants: the node holding the slot it changes, plus that
//   node's parent when the node itself is replaced (grown, shrunk, merged) or split. An
//   upgrade is one CAS from the version read, so it also validates; it never waits, and a
//   failed one releases what the writer holds and restarts. The one wait under a held lock
//   is a merge's lock on the surviving child, a descendant: the order is kept.
//   A node that leaves the tree (replaced by a larger or smaller copy, or merged away) is
//   unlocked as obsolete, so every reader still holding its version restarts, and retired
//   through the epoch domain (detail/epoch.hpp); so are replaced and erased leaves. Every
//   operation pins the epoch for its whole length, so whatever a reader reached stays
//   readable until it unpins, though not necessarily current.
//   Happens-before: a writer stores a new node's or leaf's contents before the store that
//   links it and the release unlock after it; a reader acquires that version before it
//   validates the slot it read the link from, so it sees the contents.
//
// Values. A value of a trivially copyable type that std::atomic handles without a lock (at
// most 8 bytes: integers, pointers, doubles, small structs) lives in the leaf as a
// std::atomic<T>: readers load it, writers store it in place under the lock of the node that
// holds the leaf, with release and acquire (a reader that sees a stored value sees what the
// writer did before the write). Any other value is immutable once its leaf is published: a
// write that changes it builds a new leaf (copying the key and the new value), swings the
// slot to it under the same lock, and retires the old leaf; a reader may go on reading the
// old one, whole and unchanged, until it unpins. So readers of any T take no lock, at the
// cost of one allocation per update of a value that is not atomic.
//
// Writers of one key are serialised by the lock of the node holding its leaf (the root lock
// when the root is the leaf): inserts, updates and erases of one key are linearizable, and a
// lookup takes effect at its last validation (or, for an atomic value, at its load).
//
// Prefixes: the hybrid scheme of the paper. Up to 8 prefix bytes are kept in the node and
// compared on the way down; the rest are counted, not stored. Lookups and erases skip the
// bytes past the 8th and let the final comparison against the leaf's whole key reject a key
// that differed there. Inserts, which must know exactly where a key leaves a prefix to split
// it, and scans, which must know in which direction it leaves, read the bytes past the 8th
// from a leaf below the node (every leaf below a node has the node's full prefix at the same
// depth), reached by a validated descent.
//
// Growth and hysteresis. A node grows to the next size when a child is added to a full one
// (the 5th, 17th, 49th child). It shrinks when erases leave it at or below a threshold under
// the smaller size's capacity: node256 -> node48 at 37 children, node48 -> node16 at 12,
// node16 -> node4 at 3, and a node4 left with one child is merged into that child (its prefix,
// the branch byte and the child's prefix become the child's prefix) or replaced by it if it
// is a leaf. Shrinking at exactly the capacity (48, 16, 4) would let one key inserted and
// erased at the boundary copy the node on every operation; with the gap, between two resizes
// of a node at least 2, 5 or 12 inserts or erases land on it. A shrink that fails to allocate
// leaves the larger node in place (it is still valid), so erase never throws.
//
// Scans walk the tree depth first, validating each node's version after reading each child
// slot; a failed validation restarts the scan from the root, bounded by the last key it
// delivered (exclusive). So keys come in strictly ascending (descending) order, each at most
// once, and a key present for the whole scan is delivered; a key inserted or erased during it
// may or may not be.
//
// Costs, for a key of k bytes: a lookup, insert or erase visits at most k + 1 nodes (each
// branch consumes at least one byte) and compares the whole key once, at the leaf; in practice
// the height is the number of branching bytes, about log256(n) for random keys. Finding a
// child is O(1) in node48 and node256 and a scan of at most 16 keys in node4/node16. A resize
// copies at most 48 children. Restarts under contention repeat the descent. size() and
// allocated_bytes() add up 16 striped counters (detail/striped_counter.hpp). Scans and
// count_nodes() recurse once per level (stack depth at most the key length in levels).
//
// Exceptions: a write allocates (and constructs the value) before it changes anything, so if
// T's constructor or the allocator throws the tree is unchanged and every lock released.
// Erases do not throw (T's destructor must not); a scan's callback may throw, and the scan
// then ends holding nothing.

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "backoff.hpp"
#include "cache_line.hpp"
#include "epoch.hpp"
#include "optimistic_lock.hpp"
#include "striped_counter.hpp"

namespace cmap::detail {

// Whether art_tree keeps a T in its leaf as a std::atomic<T> written in place.
template <class T, bool = std::is_trivially_copyable_v<T>>
inline constexpr bool art_atomic_value = false;
template <class T>
inline constexpr bool art_atomic_value<T, true> =
    sizeof(T) <= 8 && std::atomic<T>::is_always_lock_free && std::is_copy_constructible_v<T>;

// What a write does to the value of a key it finds present.
enum class art_verdict : std::uint8_t { keep, assign, erase };

// Where a scan starts: at the first key (none), at the first key >= bound (inclusive) or
// > bound (exclusive); descending scans mirror it (<=, <).
enum class art_bound : std::uint8_t { none, inclusive, exclusive };

// KeySize: 0 for keys of any length; otherwise every key the tree stores has exactly that
// many bytes (a fixed-size key encoding), and leaves do not store the length.
template <class T, class Allocator = std::allocator<std::byte>, std::size_t KeySize = 0>
class art_tree {
 public:
  using value_type = T;
  using size_type = std::size_t;

  // Prefix bytes kept inside a node (see "Prefixes" above).
  static constexpr std::size_t inline_prefix = 8;
  // Whether values are atomics written in place (see "Values" above).
  static constexpr bool atomic_values = art_atomic_value<T>;

  // How many of each node the tree holds, for tests and memory reports.
  struct node_counts {
    std::size_t node4 = 0, node16 = 0, node48 = 0, node256 = 0, leaves = 0;
    // The most nodes from the root slot to a leaf, the leaf counting 1, and their sum over
    // the leaves: the lookup path lengths.
    std::size_t longest_path = 0, total_path = 0;
  };

  art_tree() = default;
  explicit art_tree(const Allocator& alloc) : alloc_(alloc) {}
  art_tree(const art_tree&) = delete;
  art_tree& operator=(const art_tree&) = delete;
  ~art_tree() {
    // No reader can be inside any more (that would be a use after destruction), so what this
    // tree retired needs no grace period, and the live nodes are freed directly.
    epoch_domain::global().drain(this);
    release(root_.load());
  }

  [[nodiscard]] Allocator get_allocator() const { return Allocator(alloc_); }

  // ---- lookups ------------------------------------------------------------------------------

  // f(const T&) on the value under key, while the epoch is pinned; false if absent.
  template <class F>
  bool visit(std::string_view key, F&& f) const {
    auto pin = epoch_domain::global().pin();
    const leaf* l = find_leaf(key);
    if (l == nullptr) return false;
    with_value(*l, f);
    return true;
  }

  [[nodiscard]] bool contains(std::string_view key) const {
    auto pin = epoch_domain::global().pin();
    return find_leaf(key) != nullptr;
  }

  // A copy of the value under key.
  [[nodiscard]] std::optional<T> find(std::string_view key) const
      requires std::is_copy_constructible_v<T> {
    std::optional<T> out;
    visit(key, [&out](const T& v) { out.emplace(v); });
    return out;
  }

  // ---- writes -------------------------------------------------------------------------------

  // The general write. Op describes what happens to key:
  //   static constexpr bool inserts, erases     whether it may insert an absent key / erase a
  //                                             present one (the locks it needs differ)
  //   bool on_absent()                          key is absent: whether to insert it. Called
  //                                             with the locks of the insertion held.
  //   T value()                                 the value to insert or assign (a prvalue)
  //   art_verdict on_present(const T& current)  key is present, with its lock held: keep,
  //                                             assign value(), or erase it
  // Each of on_absent and on_present is called at most once per write, and only once the
  // write can no longer restart: it holds every lock it needs.
  template <class Op>
  void write(std::string_view key, Op& op) {
    if (key.size() > std::numeric_limits<std::uint32_t>::max()) {
      throw std::length_error("cmap::detail::art_tree: key too long");
    }
    if constexpr (KeySize != 0) {
      if (Op::inserts && key.size() != KeySize) {
        throw std::invalid_argument(
            "cmap::detail::art_tree: a key of another length than the tree's fixed key size");
      }
    }
    auto pin = epoch_domain::global().pin();
    backoff b;
    while (!try_write(key, op)) b.wait();
  }

  // Inserts key with T(args...) unless present; true if inserted. Throws std::invalid_argument
  // if key is a proper prefix of a stored key or the other way round, std::length_error for
  // a key of 2^32 bytes or more, or what the allocator or T throws; the tree is then unchanged.
  template <class... Args>
  bool try_emplace(std::string_view key, Args&&... args) {
    emplace_op<Args...> o{std::forward_as_tuple(std::forward<Args>(args)...)};
    write(key, o);
    return o.inserted;
  }
  bool insert(std::string_view key, const T& value) { return try_emplace(key, value); }
  bool insert(std::string_view key, T&& value) { return try_emplace(key, std::move(value)); }

  // Inserts (key, value), or assigns value to the present key's value. True if it inserted.
  bool insert_or_assign(std::string_view key, T value) {
    assign_op o{value};
    write(key, o);
    return o.inserted;
  }

  // Removes key; true if it was present. Never throws.
  bool erase(std::string_view key) noexcept {
    erase_op o;
    // Cannot throw: a key longer than 2^32 bytes is not stored, and erase allocates nothing
    // (a shrink that cannot allocate is skipped).
    if (key.size() > std::numeric_limits<std::uint32_t>::max()) return false;
    auto pin = epoch_domain::global().pin();
    backoff b;
    while (!try_write(key, o)) b.wait();
    return o.erased;
  }

  // Removes every key. Linearizable: it locks the root slot, then every node below it
  // (ancestors first, waiting for writers inside), unlinks the whole tree and retires it.
  void clear() {
    auto pin = epoch_domain::global().pin();
    while (!root_lock_.write_lock_or_restart()) {
    }  // the root lock is never obsolete
    const node_ref old = root_.load();
    lock_subtree(old);
    root_.store(node_ref{});
    root_lock_.write_unlock();
    retire_subtree(old);
  }

  // Entries: exact when every write happened before the call; while writes run, the sum of
  // per-thread counts read one after another (never negative).
  [[nodiscard]] size_type size() const noexcept {
    return static_cast<size_type>(std::max<std::int64_t>(0, counters_.sum(size_counter)));
  }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }

  // Bytes obtained from the allocator for the nodes and leaves in the tree (not those retired
  // and waiting for readers to leave).
  [[nodiscard]] std::size_t allocated_bytes() const noexcept {
    return static_cast<std::size_t>(std::max<std::int64_t>(0, counters_.sum(bytes_counter)));
  }

  // Counts the nodes by kind and the path lengths; O(nodes). Exact while no writer runs;
  // during writes each node is counted as one version of it shows, and a node replaced
  // during the count may be missed with its subtree.
  [[nodiscard]] node_counts count_nodes() const {
    auto pin = epoch_domain::global().pin();
    node_counts c;
    for (;;) {
      const optional_version v = root_lock_.read_lock_or_restart();
      if (!v) continue;
      const node_ref r = root_.load();
      if (!root_lock_.check_or_restart(*v)) continue;
      count(r, 1, c);
      return c;
    }
  }

  // ---- scans --------------------------------------------------------------------------------

  // Calls f(std::string_view key, const T& value) for the keys from bound on (see art_bound),
  // in ascending order of their bytes (Ascending) or descending, until f returns false
  // (f may also return nothing). Returns false if f stopped it. f runs with the epoch pinned
  // and no lock held: it may call into the tree.
  template <bool Ascending, class F>
  bool scan(std::string_view bound, art_bound kind, F&& f) const {
    auto pin = epoch_domain::global().pin();
    scan_state<F> s{f, bound, kind, nullptr};
    backoff b;
    for (;;) {
      const optional_version rv = root_lock_.read_lock_or_restart();
      if (rv) {
        const node_ref r = root_.load();
        if (root_lock_.check_or_restart(*rv)) {
          const step st = scan_ref<Ascending>(r, root_lock_, *rv, 0, s, s.kind != art_bound::none);
          if (st == step::go_on) return true;
          if (st == step::stopped) return false;
        }
      }
      // Restart from the root, after the last key delivered (its leaf is readable: pinned).
      if (s.last != nullptr) {
        s.bound = s.last->key();
        s.kind = art_bound::exclusive;
      }
      b.wait();
    }
  }

  template <class F>
  bool for_each(F&& f) const {
    return scan<true>({}, art_bound::none, f);
  }
  template <class F>
  bool for_each_descending(F&& f) const {
    return scan<false>({}, art_bound::none, f);
  }
  template <class F>
  bool for_each_from(std::string_view lower, F&& f) const {
    return scan<true>(lower, art_bound::inclusive, f);
  }

  // The first key >= lower (> lower if exclusive) and a copy of its value.
  [[nodiscard]] std::optional<std::pair<std::string, T>> lower_bound(
      std::string_view lower, bool exclusive = false) const
      requires std::is_copy_constructible_v<T> {
    return first_of<true>(lower, exclusive ? art_bound::exclusive : art_bound::inclusive);
  }
  // The last key <= upper (< upper if exclusive) and a copy of its value.
  [[nodiscard]] std::optional<std::pair<std::string, T>> upper_bound_descending(
      std::string_view upper, bool exclusive = false) const
      requires std::is_copy_constructible_v<T> {
    return first_of<false>(upper, exclusive ? art_bound::exclusive : art_bound::inclusive);
  }
  [[nodiscard]] std::optional<std::pair<std::string, T>> first() const
      requires std::is_copy_constructible_v<T> {
    return first_of<true>({}, art_bound::none);
  }
  [[nodiscard]] std::optional<std::pair<std::string, T>> last() const
      requires std::is_copy_constructible_v<T> {
    return first_of<false>({}, art_bound::none);
  }

  // The writes above, as Ops for write() (public: the map builds on emplace_op too).
  template <class... Args>
  struct emplace_op {
    static constexpr bool inserts = true, erases = false;
    std::tuple<Args&&...> args;
    bool inserted = false;
    bool on_absent() { return inserted = true; }
    T value() {
      return std::apply([](auto&&... a) { return T(std::forward<decltype(a)>(a)...); },
                        std::move(args));
    }
    art_verdict on_present(const T&) { return art_verdict::keep; }
  };
  struct assign_op {
    static constexpr bool inserts = true, erases = false;
    T& v;
    bool inserted = false;
    bool on_absent() { return inserted = true; }
    T value() { return std::move(v); }
    art_verdict on_present(const T&) { return art_verdict::assign; }
  };
  struct erase_op {
    static constexpr bool inserts = false, erases = true;
    bool erased = false;
    bool on_absent() { return false; }
    [[noreturn]] T value() { std::terminate(); }  // never called: nothing inserted or assigned
    art_verdict on_present(const T&) {
      erased = true;
      return art_verdict::erase;
    }
  };

 private:
  using version = optimistic_lock::version_type;
  using optional_version = std::optional<version>;
  enum class node_type : std::uint8_t { node4, node16, node48, node256 };
  enum class step : std::uint8_t { go_on, stopped, restart };
  enum counter_index : std::size_t { size_counter, bytes_counter };
  using prefix_bytes = std::array<unsigned char, inline_prefix>;

  struct leaf;
  struct inner_node;

  // A child slot: an inner node, a leaf (bit 0 set) or nothing (null). An inner node's
  // reference also carries its type, in bits 1 and 2 (blocks are 8-byte aligned), so that a
  // lookup knows which lines of the node it will need before the node's header arrives. The
  // tags are added by pointer arithmetic inside the node's or leaf's own allocation and
  // removed the same way, so no pointer is ever rebuilt from an integer; only the tests of
  // the low bits read the address.
  struct node_ref {
    std::byte* ptr = nullptr;

    static node_ref of(leaf* l) noexcept { return {reinterpret_cast<std::byte*>(l) + 1}; }
    static node_ref of(inner_node* n) noexcept {
      return {reinterpret_cast<std::byte*>(n) + type_tag(n->type)};
    }
    [[nodiscard]] bool empty() const noexcept { return ptr == nullptr; }
    [[nodiscard]] bool is_leaf() const noexcept { return (bits() & 1u) != 0; }
    [[nodiscard]] leaf* as_leaf() const noexcept { return reinterpret_cast<leaf*>(ptr - 1); }
    // Of an inner node's reference only.
    [[nodiscard]] node_type type() const noexcept {
      return static_cast<node_type>((bits() >> 1) & 3u);
    }
    [[nodiscard]] inner_node* as_node() const noexcept {
      return reinterpret_cast<inner_node*>(ptr - type_tag(type()));
    }

   private:
    static std::size_t type_tag(node_type t) noexcept {
      return std::size_t{2} * static_cast<unsigned>(t);
    }
    [[nodiscard]] std::uintptr_t bits() const noexcept {
      return reinterpret_cast<std::uintptr_t>(ptr);
    }
  };
  using slot_type = optimistic_field<node_ref>;

  // The value in a leaf: an atomic written in place, or a T fixed at construction.
  struct atomic_cell {
    std::atomic<T> v;
    template <class Init>
    atomic_cell(std::in_place_t, Init& init) : v(init()) {}
    // acquire / release: a reader that loads a stored value sees what the writer did before
    // storing it (the map's happens-before promise).
    [[nodiscard]] T load() const noexcept { return v.load(std::memory_order_acquire); }
    void store(T x) noexcept { v.store(x, std::memory_order_release); }
  };
  struct fixed_cell {
    T v;
    // init() returns the value as a prvalue, so it is constructed here, once, not moved in.
    template <class Init>
    fixed_cell(std::in_place_t, Init& init) : v(init()) {}
  };
  using value_cell = std::conditional_t<atomic_values, atomic_cell, fixed_cell>;

  // A leaf's key length: stored where keys vary, a constant where they do not.
  struct stored_key_size {
    std::uint32_t key_size;
    explicit stored_key_size(std::uint32_t size) noexcept : key_size(size) {}
    [[nodiscard]] std::uint32_t size() const noexcept { return key_size; }
  };
  struct fixed_key_size {
    explicit fixed_key_size(std::uint32_t) noexcept {}
    [[nodiscard]] static constexpr std::uint32_t size() noexcept { return KeySize; }
  };
  using leaf_key_size = std::conditional_t<KeySize == 0, stored_key_size, fixed_key_size>;

  struct leaf : leaf_key_size {
    value_cell value;

    template <class Init>
    leaf(std::uint32_t size, Init& init) : leaf_key_size(size), value(std::in_place, init) {}
    // The key's bytes follow the leaf in its allocation; immutable once published.
    [[nodiscard]] char* key_bytes() noexcept { return reinterpret_cast<char*>(this + 1); }
    [[nodiscard]] std::string_view key() const noexcept {
      return {reinterpret_cast<const char*>(this + 1), this->size()};
    }
  };

  struct inner_node {
    optimistic_lock lock;
    const node_type type;
    std::uint8_t unused = 0;
    optimistic_field<std::uint16_t> count{0};
    optimistic_field<std::uint32_t> prefix_size{0};
    // The inline prefix bytes, held in an integer: an atomic of a byte array is not lock-free
    // on every compiler (clang calls the generic library routine for it).
    optimistic_field<std::uint64_t> prefix_word{};

    explicit inner_node(node_type t) noexcept : type(t) {}
    [[nodiscard]] prefix_bytes prefix() const noexcept {
      return std::bit_cast<prefix_bytes>(prefix_word.load());
    }
    void set_prefix_bytes(const prefix_bytes& p) noexcept {
      prefix_word.store(std::bit_cast<std::uint64_t>(p));
    }
  };
  // node4 and node16: the children's bytes sorted, found by a linear search.
  template <std::size_t Capacity, node_type Kind>
  struct sorted_node : inner_node {
    static constexpr node_type kind = Kind;
    static constexpr std::size_t capacity = Capacity;
    std::array<optimistic_field<std::uint8_t>, Capacity> keys{};
    std::array<slot_type, Capacity> children{};
    sorted_node() noexcept : inner_node(kind) {}
  };
  using node4 = sorted_node<4, node_type::node4>;
  using node16 = sorted_node<16, node_type::node16>;
  struct node48 : inner_node {
    static constexpr node_type kind = node_type::node48;
    static constexpr std::size_t capacity = 48;
    // index[b] == 0: no child for byte b; otherwise children[index[b] - 1] is it. The
    // children are kept packed in [0, count), so a new child takes slot count.
    std::array<optimistic_field<std::uint8_t>, 256> index{};
    std::array<slot_type, 48> children{};
    node48() noexcept : inner_node(kind) {}
  };
  struct node256 : inner_node {
    static constexpr node_type kind = node_type::node256;
    static constexpr std::size_t capacity = 256;
    std::array<slot_type, 256> children{};
    node256() noexcept : inner_node(kind) {}
  };

  static_assert(sizeof(void*) != 8 ||
                    (sizeof(inner_node) == 24 && sizeof(node4) == 64 && sizeof(node16) == 168 &&
                     sizeof(node48) == 664 && sizeof(node256) == 2072),
                "the layouts in the header's comment");

  // Shrink thresholds (see "Growth and hysteresis").
  static constexpr std::size_t shrink16_at = 3;
  static constexpr std::size_t shrink48_at = 12;
  static constexpr std::size_t shrink256_at = 37;

  // The allocation unit: every node and leaf is a whole number of blocks, aligned for the
  // node_ref tag bit and for T.
  static constexpr std::size_t block_align =
      std::max({std::size_t{8}, alignof(std::uintptr_t), alignof(leaf)});
  struct alignas(block_align) block {
    std::byte bytes[block_align];
  };
  using block_allocator = typename std::allocator_traits<Allocator>::template rebind_alloc<block>;
  using block_traits = std::allocator_traits<block_allocator>;

  static constexpr std::size_t blocks_for(std::size_t bytes) noexcept {
    return (bytes + sizeof(block) - 1) / sizeof(block);
  }

  // ---- allocation ---------------------------------------------------------------------------

  void* allocate(std::size_t bytes) {
    const std::size_t n = blocks_for(bytes);
    block* b = block_traits::allocate(alloc_, n);
    counters_.add(bytes_counter, static_cast<std::int64_t>(n * sizeof(block)));
    return b;
  }
  // Gives memory back; `counted` is false for memory already taken off allocated_bytes()
  // when it was retired.
  void deallocate(void* p, std::size_t bytes, bool counted = true) noexcept {
    const std::size_t n = blocks_for(bytes);
    block_traits::deallocate(alloc_, static_cast<block*>(p), n);
    if (counted) counters_.add(bytes_counter, -static_cast<std::int64_t>(n * sizeof(block)));
  }

  template <class Op>
  leaf* make_leaf(std::string_view key, Op& op) {
    const std::size_t bytes = sizeof(leaf) + key.size();
    void* p = allocate(bytes);
    leaf* l;
    try {
      auto init = [&op]() -> T { return op.value(); };
      l = ::new (p) leaf(static_cast<std::uint32_t>(key.size()), init);
    } catch (...) {
      deallocate(p, bytes);
      throw;
    }
    if (!key.empty()) std::memcpy(l->key_bytes(), key.data(), key.size());
    return l;
  }
  static std::size_t leaf_bytes(const leaf& l) noexcept { return sizeof(leaf) + l.size(); }
  void destroy_leaf(leaf* l, bool counted = true) noexcept {
    const std::size_t bytes = leaf_bytes(*l);
    l->~leaf();
    deallocate(l, bytes, counted);
  }

  template <class Node>
  Node* make_node() {
    return ::new (allocate(sizeof(Node))) Node();
  }
  template <class Node>
  void free_typed(Node* n, bool counted) noexcept {
    static_assert(std::is_trivially_destructible_v<optimistic_field<node_ref>>);
    n->~Node();
    deallocate(n, sizeof(Node), counted);
  }
  void free_node(inner_node& n, bool counted = true) noexcept {
    visit_type(n, [&](auto& typed) { free_typed(&typed, counted); });
  }
  static std::size_t node_bytes(inner_node& n) noexcept {
    return visit_type(n, [](auto& t) { return sizeof(t); });
  }

  // Retired objects leave allocated_bytes() now, and go back to the allocator once no reader
  // can hold them (the epoch domain calls these on some thread later, or drain() does).
  static void delete_retired_leaf(void* p, void* tree) noexcept {
    static_cast<art_tree*>(tree)->destroy_leaf(static_cast<leaf*>(p), false);
  }
  static void delete_retired_node(void* p, void* tree) noexcept {
    static_cast<art_tree*>(tree)->free_node(*static_cast<inner_node*>(p), false);
  }
  void retire_leaf(leaf* l) {
    counters_.add(bytes_counter,
                  -static_cast<std::int64_t>(blocks_for(leaf_bytes(*l)) * sizeof(block)));
    epoch_domain::global().retire(l, &delete_retired_leaf, this, this);
  }
  void retire_node(inner_node* n) {
    counters_.add(bytes_counter,
                  -static_cast<std::int64_t>(blocks_for(node_bytes(*n)) * sizeof(block)));
    epoch_domain::global().retire(n, &delete_retired_node, this, this);
  }

  // Frees a leaf or node that was never published, if the write that made it throws.
  struct unpublished {
    art_tree& tree;
    leaf* l = nullptr;
    inner_node* n = nullptr;
    explicit unpublished(art_tree& t) noexcept : tree(t) {}
    unpublished(const unpublished&) = delete;
    unpublished& operator=(const unpublished&) = delete;
    ~unpublished() {
      if (n != nullptr) tree.free_node(*n);
      if (l != nullptr) tree.destroy_leaf(l);
    }
    void publish() noexcept { l = nullptr, n = nullptr; }
  };

  // Releases a write lock at scope exit: plainly, or as obsolete once obsolete() was called.
  class write_guard {
   public:
    explicit write_guard(optimistic_lock* l) noexcept : lock_(l) {}
    write_guard(const write_guard&) = delete;
    write_guard& operator=(const write_guard&) = delete;
    ~write_guard() {
      if (lock_ == nullptr) return;
      if (obsolete_) {
        lock_->write_unlock_obsolete();
      } else {
        lock_->write_unlock();
      }
    }
    void obsolete() noexcept { obsolete_ = true; }

   private:
    optimistic_lock* lock_;
    bool obsolete_ = false;
  };

  // ---- node access (fields read optimistically; stores only under the node's write lock or
  // ---- before the node is published) ---------------------------------------------------------

  // Calls f with n as its real type.
  template <class N, class F>
  static decltype(auto) visit_type(N& n, F&& f) {
    using base = std::conditional_t<std::is_const_v<N>, const inner_node, inner_node>;
    base& b = n;
    switch (b.type) {
      case node_type::node4:
        return f(static_cast<std::conditional_t<std::is_const_v<N>, const node4, node4>&>(b));
      case node_type::node16:
        return f(static_cast<std::conditional_t<std::is_const_v<N>, const node16, node16>&>(b));
      case node_type::node48:
        return f(static_cast<std::conditional_t<std::is_const_v<N>, const node48, node48>&>(b));
      case node_type::node256:
        break;
    }
    return f(static_cast<std::conditional_t<std::is_const_v<N>, const node256, node256>&>(b));
  }

  static unsigned char byte(std::string_view s, std::size_t i) noexcept {
    return static_cast<unsigned char>(s[i]);
  }

  [[noreturn]] static void throw_not_prefix_free() {
    throw std::invalid_argument(
        "cmap::detail::art_tree: a key is a proper prefix of another (keys must be "
        "prefix-free)");
  }

  static void set_prefix(inner_node& n, const char* bytes, std::size_t size) noexcept {
    prefix_bytes p{};
    if (size != 0) std::memcpy(p.data(), bytes, std::min(size, inline_prefix));
    n.set_prefix_bytes(p);
    n.prefix_size.store(static_cast<std::uint32_t>(size));
  }

  // The slot of n's child for byte b, or nullptr. Optimistic: validate before using what the
  // slot holds.
  template <class N>
  static auto* find_slot(N& n, unsigned char b) noexcept {
    using slot_ptr = std::conditional_t<std::is_const_v<N>, const slot_type*, slot_type*>;
    return visit_type(n, [b](auto& t) -> slot_ptr {
      using NT = std::remove_cvref_t<decltype(t)>;
      if constexpr (std::is_same_v<NT, node4> || std::is_same_v<NT, node16>) {
        const std::size_t c = std::min<std::size_t>(t.count.load(), NT::capacity);
        for (std::size_t i = 0; i < c; ++i) {
          if (t.keys[i].load() == b) return &t.children[i];
        }
        return nullptr;
      } else if constexpr (std::is_same_v<NT, node48>) {
        const std::uint8_t i = t.index[b].load();
        return i != 0 && i <= NT::capacity ? &t.children[i - 1u] : nullptr;
      } else {
        return &t.children[b];
      }
    });
  }
  static node_ref child_at(const inner_node& n, unsigned char b) noexcept {
    const slot_type* s = find_slot(n, b);
    return s != nullptr ? s->load() : node_ref{};
  }

  static bool is_full(const inner_node& n) noexcept {
    return visit_type(n, [](auto& t) { return t.count.load() == t.capacity; });
  }

  // Calls f(byte, node_ref) for each of n's children with byte >= from (ascending) or
  // <= from (descending), in that order, until f returns false; returns false if it did.
  // Optimistic: f validates before it follows what it is given. With Prefetch, the children
  // up to prefetch_ahead places past the one f is given are prefetched: a scan's next leaves
  // are separate allocations, each a cache miss, and asking for several at once overlaps
  // those misses instead of paying them one after another.
  template <bool Ascending, bool Prefetch = false, class F>
  static bool visit_children(const inner_node& n, unsigned from, F&& f) {
    return visit_type(n, [&](auto& t) -> bool {
      using NT = std::remove_cvref_t<decltype(t)>;
      if constexpr (std::is_same_v<NT, node4> || std::is_same_v<NT, node16>) {
        const std::size_t c = std::min<std::size_t>(t.count.load(), NT::capacity);
        auto at = [&](std::size_t k) { return Ascending ? k : c - 1u - k; };
        std::size_t k = 0;
        while (k < c && (Ascending ? t.keys[at(k)].load() < from : t.keys[at(k)].load() > from)) {
          ++k;
        }
        if constexpr (Prefetch) {
          for (std::size_t j = k; j < std::min(c, k + prefetch_ahead); ++j) {
            prefetch(t.children[at(j)].load());
          }
        }
        for (; k < c; ++k) {
          if constexpr (Prefetch) {
            if (k + prefetch_ahead < c) prefetch(t.children[at(k + prefetch_ahead)].load());
          }
          const node_ref r = t.children[at(k)].load();
          if (!r.empty() && !f(t.keys[at(k)].load(), r)) return false;
        }
      } else if constexpr (std::is_same_v<NT, node48> && Prefetch) {
        // The children in visiting order first (the index is read once, as one loop), so the
        // prefetches can run ahead by children, not by index bytes. Only for a scan: a visit
        // that stops at the first child (first_child) must not read the whole index first.
        std::array<std::pair<unsigned char, node_ref>, NT::capacity> in_order;
        std::size_t c = 0;
        for (unsigned k = Ascending ? from : 255u - from; k < 256 && c < NT::capacity; ++k) {
          const unsigned b = Ascending ? k : 255u - k;
          const node_ref r = child48(t, b);
          if (!r.empty()) in_order[c++] = {static_cast<unsigned char>(b), r};
        }
        for (std::size_t j = 0; j < std::min(c, prefetch_ahead); ++j) prefetch(in_order[j].second);
        for (std::size_t k = 0; k < c; ++k) {
          if (k + prefetch_ahead < c) prefetch(in_order[k + prefetch_ahead].second);
          if (!f(in_order[k].first, in_order[k].second)) return false;
        }
      } else {
        for (unsigned k = Ascending ? from : 255u - from; k < 256; ++k) {
          const unsigned b = Ascending ? k : 255u - k;
          node_ref r;
          if constexpr (std::is_same_v<NT, node48>) {
            r = child48(t, b);
          } else {
            if constexpr (Prefetch) {
              // By slot, not by child: a node256 is at least 37/256 full.
              const unsigned a = k + 2 * prefetch_ahead;
              if (a < 256) prefetch(t.children[Ascending ? a : 255u - a].load());
            }
            r = t.children[b].load();
          }
          if (!r.empty() && !f(static_cast<unsigned char>(b), r)) return false;
        }
      }
      return true;
    });
  }

  // node48's child for byte b, or an empty reference (optimistic, as every read here).
  static node_ref child48(const node48& t, unsigned b) noexcept {
    const std::uint8_t i = t.index[b].load();
    return i == 0 || i > node48::capacity ? node_ref{} : t.children[i - 1u].load();
  }

  // How many children ahead a scan prefetches: enough misses in flight to cover one's
  // latency with the work of delivering the keys before it.
  static constexpr std::size_t prefetch_ahead = 8;

  // Asks for the first line of what r points to (a leaf: its key size, value and usually its
  // key; a node: its header). One line each: a second one per leaf measured slower, the
  // misses in flight being the limit. The tagged address itself: the tag is under 8 bytes
  // into an 8-byte-aligned allocation, so it names the same line, and untagging it (a branch
  // on leaf or node, then the type bits) measured about 20% slower on scans out of cache.
  static void prefetch(node_ref r) noexcept {
    if (!r.empty()) detail::prefetch(r.ptr);
  }

  static node_ref first_child(const inner_node& n) noexcept {
    node_ref first{};
    visit_children<true>(n, 0, [&first](unsigned char, node_ref r) {
      first = r;
      return false;
    });
    return first;
  }

  // Adds child under byte b, which n does not have; n is not full. Under n's lock.
  static void add_child(inner_node& n, unsigned char b, node_ref child) noexcept {
    visit_type(n, [b, child](auto& t) {
      using N = std::remove_cvref_t<decltype(t)>;
      const std::size_t c = t.count.load();
      assert(c < N::capacity);
      if constexpr (std::is_same_v<N, node4> || std::is_same_v<N, node16>) {
        // Keep the keys sorted. A reader overlapping the shift may see a key twice or miss
        // one; its validation then fails.
        std::size_t i = c;
        for (; i > 0 && t.keys[i - 1].load() > b; --i) {
          t.keys[i].store(t.keys[i - 1].load());
          t.children[i].store(t.children[i - 1].load());
        }
        t.keys[i].store(b);
        t.children[i].store(child);
      } else if constexpr (std::is_same_v<N, node48>) {
        t.children[c].store(child);
        t.index[b].store(static_cast<std::uint8_t>(c + 1u));
      } else {
        t.children[b].store(child);
      }
      t.count.store(static_cast<std::uint16_t>(c + 1u));
    });
  }

  // Removes n's child under byte b, which n has. Under n's lock.
  static void remove_child(inner_node& n, unsigned char b) noexcept {
    visit_type(n, [b](auto& t) {
      using N = std::remove_cvref_t<decltype(t)>;
      const std::size_t c = t.count.load();
      if constexpr (std::is_same_v<N, node4> || std::is_same_v<N, node16>) {
        std::size_t i = 0;
        while (t.keys[i].load() != b) ++i;
        for (; i + 1 < c; ++i) {
          t.keys[i].store(t.keys[i + 1].load());
          t.children[i].store(t.children[i + 1].load());
        }
        t.keys[c - 1u].store(0);
        t.children[c - 1u].store(node_ref{});
      } else if constexpr (std::is_same_v<N, node48>) {
        // Keep the children packed: the last one moves into the freed slot.
        const std::size_t freed = t.index[b].load() - 1u;
        const std::size_t last = c - 1u;
        if (freed != last) {
          for (auto& i : t.index) {
            if (i.load() == last + 1u) {
              i.store(static_cast<std::uint8_t>(freed + 1u));
              break;
            }
          }
          t.children[freed].store(t.children[last].load());
        }
        t.children[last].store(node_ref{});
        t.index[b].store(0);
      } else {
        t.children[b].store(node_ref{});
      }
      t.count.store(static_cast<std::uint16_t>(c - 1u));
    });
  }

  // A new node of type To with n's prefix and children. n is locked (or unpublished).
  template <class To>
  To* copy_into(const inner_node& n) {
    To* to = make_node<To>();
    to->prefix_size.store(n.prefix_size.load());
    to->set_prefix_bytes(n.prefix());
    visit_children<true>(n, 0, [to](unsigned char b, node_ref c) {
      add_child(*to, b, c);
      return true;
    });
    return to;
  }

  // A copy of the full node n, one size larger. n is locked.
  inner_node* grown_copy(const inner_node& n) {
    return visit_type(n, [&](auto& t) -> inner_node* {
      using N = std::remove_cvref_t<decltype(t)>;
      if constexpr (std::is_same_v<N, node4>) {
        return copy_into<node16>(t);
      } else if constexpr (std::is_same_v<N, node16>) {
        return copy_into<node48>(t);
      } else if constexpr (std::is_same_v<N, node48>) {
        return copy_into<node256>(t);
      } else {
        assert(false && "a node256 is never full when a child is added");
        return nullptr;
      }
    });
  }

  // Whether removing one child from n (with `count` children) replaces n: a merge (node4
  // left with one child) or a shrink.
  static bool removal_replaces(node_type type, std::size_t count) noexcept {
    switch (type) {
      case node_type::node4:
        return count <= 2;
      case node_type::node16:
        return count - 1 <= shrink16_at;
      case node_type::node48:
        return count - 1 <= shrink48_at;
      case node_type::node256:
        break;
    }
    return count - 1 <= shrink256_at;
  }

  // A smaller copy of n (locked), which has just lost a child and is at or below its shrink
  // threshold; nullptr if the allocation fails (n then stays, still valid).
  inner_node* shrunk_copy(const inner_node& n) noexcept {
    try {
      switch (n.type) {
        case node_type::node16:
          return copy_into<node4>(n);
        case node_type::node48:
          return copy_into<node16>(n);
        case node_type::node256:
          return copy_into<node48>(n);
        case node_type::node4:
          break;
      }
    } catch (...) {
    }
    return nullptr;
  }

  // ---- lookup -------------------------------------------------------------------------------

  // Whether key matches n's inline prefix bytes at depth and goes on past the whole prefix
  // (so that there is a byte to branch on). The bytes past the inline ones are not checked:
  // the caller compares the whole key at the leaf.
  static bool inline_prefix_matches(std::uint32_t size, const prefix_bytes& p,
                                    std::string_view key, std::size_t depth) noexcept {
    if (depth + size >= key.size()) return false;
    const std::size_t stored = std::min<std::size_t>(size, inline_prefix);
    return stored == 0 || std::memcmp(p.data(), key.data() + depth, stored) == 0;
  }

  // The leaf holding key, or nullptr; the caller has pinned the epoch.
  const leaf* find_leaf(std::string_view key) const noexcept {
    for (;;) {
      bool restart = false;
      const leaf* l = find_leaf_once(key, restart);
      if (!restart) return l;
    }
  }
  const leaf* find_leaf_once(std::string_view key, bool& restart) const noexcept {
    const optimistic_lock* parent = &root_lock_;
    optional_version pv = parent->read_lock_or_restart();
    if (!pv) return restart = true, nullptr;
    node_ref r = root_.load();
    if (!parent->check_or_restart(*pv)) return restart = true, nullptr;
    std::size_t depth = 0;
    for (;;) {
      if (r.empty()) return nullptr;
      if (r.is_leaf()) {
        const leaf* l = r.as_leaf();
        return same_bytes(l->key(), key) ? l : nullptr;
      }
      const inner_node& n = *r.as_node();
      const optional_version v = n.lock.read_lock_or_restart();
      // Coupling: n is still the parent's child, at this depth.
      if (!v || !parent->check_or_restart(*pv)) return restart = true, nullptr;
      const std::uint32_t size = n.prefix_size.load();
      if (!inline_prefix_matches(size, n.prefix(), key, depth)) {
        if (!n.lock.check_or_restart(*v)) restart = true;
        return nullptr;
      }
      depth += size;
      const node_ref c = child_at(n, byte(key, depth));
      if (!n.lock.check_or_restart(*v)) return restart = true, nullptr;
      if (!c.empty() && !c.is_leaf()) prefetch_for_lookup(c, key, depth + 1);
      r = c;
      parent = &n.lock;
      pv = v;
      ++depth;
    }
  }

  // Before a lookup reads node r's header (one cache miss), asks for the line it will read
  // next, so that the two misses overlap instead of following each other: a node16's keys and
  // children (its next two lines), or, guessing that the node has no prefix (as the dense
  // upper levels have not), the index byte of a node48 or the child slot of a node256 for
  // the key's byte at depth. A wrong guess costs one useless line.
  // (node48's index and node256's children start right after the header: the layouts above.)
  static void prefetch_for_lookup(node_ref r, std::string_view key, std::size_t depth) noexcept {
    const auto* p = reinterpret_cast<const char*>(r.as_node());
    switch (r.type()) {
      case node_type::node4:
        break;
      case node_type::node16:
        detail::prefetch(p + 64);
        detail::prefetch(p + 128);
        break;
      case node_type::node48:
        if (depth < key.size()) detail::prefetch(p + sizeof(inner_node) + byte(key, depth));
        break;
      case node_type::node256:
        if (depth < key.size()) {
          detail::prefetch(p + sizeof(inner_node) + sizeof(slot_type) * byte(key, depth));
        }
        break;
    }
  }

  // a == b, without a call for the short keys most maps have.
  static bool same_bytes(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    const std::size_t n = a.size();
    if (n >= 8 && n <= 16) {
      std::uint64_t x0, x1, y0, y1;
      std::memcpy(&x0, a.data(), 8);
      std::memcpy(&y0, b.data(), 8);
      std::memcpy(&x1, a.data() + n - 8, 8);
      std::memcpy(&y1, b.data() + n - 8, 8);
      return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    return a == b;
  }

  // Some leaf below n (read-locked at nv), for n's prefix bytes past the inline ones; nullptr
  // if a version changed on the way down (restart). Every leaf below n shares n's full prefix;
  // the caller validates n again before it relies on the bytes.
  static const leaf* any_leaf(const inner_node& n, version nv) noexcept {
    node_ref r = first_child(n);
    if (!n.lock.check_or_restart(nv)) return nullptr;
    while (!r.is_leaf()) {
      if (r.empty()) return nullptr;
      const inner_node& c = *r.as_node();
      const optional_version cv = c.lock.read_lock_or_restart();
      if (!cv) return nullptr;
      const node_ref next = first_child(c);
      if (!c.lock.check_or_restart(*cv)) return nullptr;
      r = next;
    }
    return r.as_leaf();
  }

  template <class F>
  static decltype(auto) with_value(const leaf& l, F& f) {
    if constexpr (atomic_values) {
      const T v = l.value.load();
      return f(v);
    } else {
      return f(std::as_const(l.value.v));
    }
  }

  // ---- writes -------------------------------------------------------------------------------

  // One attempt at a write; false: restart.
  template <class Op>
  bool try_write(std::string_view key, Op& op) {
    // The slot examined, the lock of what holds it (the root lock or a node) and that
    // node (nullptr for the root slot); and one level up, for a write that replaces the node.
    slot_type* slot = &root_;
    optimistic_lock* owner = &root_lock_;
    inner_node* owner_node = nullptr;
    version ov = 0;
    slot_type* up_slot = nullptr;
    optimistic_lock* up = nullptr;
    version uv = 0;
    unsigned char slot_byte = 0;  // the byte under which owner_node holds slot

    if (optional_version v = owner->read_lock_or_restart()) {
      ov = *v;
    } else {
      return false;
    }
    std::size_t depth = 0;
    for (;;) {
      const node_ref ref = slot->load();
      if (!owner->check_or_restart(ov)) return false;

      if (ref.empty()) {  // only the root slot of an empty tree
        if constexpr (!Op::inserts) {
          return true;
        } else {
          if (!owner->upgrade_to_write_lock_or_restart(ov)) return false;
          write_guard g(owner);
          if (!op.on_absent()) return true;
          slot->store(node_ref::of(make_leaf(key, op)));
          counters_.add(size_counter, 1);
          return true;
        }
      }

      if (ref.is_leaf()) {
        leaf* old = ref.as_leaf();
        const std::string_view old_key = old->key();
        if (old_key == key) {
          return on_present(key, op, old, slot, owner, owner_node, ov, up_slot, up, uv,
                            slot_byte);
        }
        if constexpr (!Op::inserts) {
          return true;
        } else {
          // Lazy expansion ends here: the two keys share bytes [depth, i) and part at i.
          std::size_t i = depth;
          const std::size_t common = std::min(old_key.size(), key.size());
          while (i < common && old_key[i] == key[i]) ++i;
          if (i == common) throw_not_prefix_free();
          if (!owner->upgrade_to_write_lock_or_restart(ov)) return false;
          write_guard g(owner);
          if (!op.on_absent()) return true;
          unpublished fresh(*this);
          fresh.l = make_leaf(key, op);
          auto* n = make_node<node4>();
          fresh.n = n;
          set_prefix(*n, key.data() + depth, i - depth);
          add_child(*n, byte(old_key, i), ref);
          add_child(*n, byte(key, i), node_ref::of(fresh.l));
          slot->store(node_ref::of(static_cast<inner_node*>(n)));
          fresh.publish();
          counters_.add(size_counter, 1);
          return true;
        }
      }

      inner_node& n = *ref.as_node();
      const optional_version nvo = n.lock.read_lock_or_restart();
      if (!nvo || !owner->check_or_restart(ov)) return false;
      const version nv = *nvo;
      const std::uint32_t size = n.prefix_size.load();
      const prefix_bytes inline_bytes = n.prefix();

      // Whether key leaves n's prefix (or ends inside it), and where: an insert must know
      // exactly, reading the bytes past the inline ones from a leaf; the others compare the
      // inline bytes and leave the rest to the comparison at the leaf.
      std::size_t p = 0;
      const leaf* below = nullptr;
      bool leaves_prefix;
      if constexpr (Op::inserts) {
        if (size > inline_prefix) {
          below = any_leaf(n, nv);
          if (below == nullptr || below->key().size() <= depth + size) return false;
        }
        for (; p < size; ++p) {
          if (depth + p >= key.size()) break;
          const unsigned char pb =
              p < inline_prefix ? inline_bytes[p] : byte(below->key(), depth + p);
          if (pb != byte(key, depth + p)) break;
        }
        leaves_prefix = p < size || depth + size >= key.size();
      } else {
        leaves_prefix = !inline_prefix_matches(size, inline_bytes, key, depth);
      }
      if (!n.lock.check_or_restart(nv)) return false;

      if (leaves_prefix) {
        if constexpr (!Op::inserts) {
          return true;  // absent
        } else {
          if (depth + p >= key.size()) throw_not_prefix_free();
          // The key leaves the prefix at byte p: a new node4 takes the shared part [0, p)
          // and branches on byte p; n keeps the part after it.
          if (!owner->upgrade_to_write_lock_or_restart(ov)) return false;
          write_guard go(owner);
          if (!n.lock.upgrade_to_write_lock_or_restart(nv)) return false;
          write_guard gn(&n.lock);
          if (!op.on_absent()) return true;
          unpublished fresh(*this);
          fresh.l = make_leaf(key, op);
          auto* top = make_node<node4>();
          fresh.n = top;
          auto prefix_byte = [&](std::size_t j) -> unsigned char {
            return j < inline_prefix ? inline_bytes[j] : byte(below->key(), depth + j);
          };
          set_prefix(*top, key.data() + depth, p);
          const unsigned char branch = prefix_byte(p);
          const std::size_t rest = size - (p + 1);
          prefix_bytes kept{};
          for (std::size_t j = 0; j < std::min(rest, inline_prefix); ++j) {
            kept[j] = prefix_byte(p + 1 + j);
          }
          n.set_prefix_bytes(kept);
          n.prefix_size.store(static_cast<std::uint32_t>(rest));
          add_child(*top, branch, ref);
          add_child(*top, byte(key, depth + p), node_ref::of(fresh.l));
          slot->store(node_ref::of(static_cast<inner_node*>(top)));
          fresh.publish();
          counters_.add(size_counter, 1);
          return true;
        }
      }

      depth += size;
      const unsigned char b = byte(key, depth);
      slot_type* child_slot = find_slot(n, b);
      const node_ref child = child_slot != nullptr ? child_slot->load() : node_ref{};
      if (!n.lock.check_or_restart(nv)) return false;

      if (child.empty()) {
        if constexpr (!Op::inserts) {
          return true;
        } else if (is_full(n)) {
          // n is replaced by a larger copy: its parent's slot changes too.
          if (!owner->upgrade_to_write_lock_or_restart(ov)) return false;
          write_guard go(owner);
          if (!n.lock.upgrade_to_write_lock_or_restart(nv)) return false;
          write_guard gn(&n.lock);
          if (!op.on_absent()) return true;
          unpublished fresh(*this);
          fresh.l = make_leaf(key, op);
          inner_node* bigger = grown_copy(n);
          fresh.n = bigger;
          add_child(*bigger, b, node_ref::of(fresh.l));
          slot->store(node_ref::of(bigger));
          fresh.publish();
          gn.obsolete();
          retire_node(&n);
          counters_.add(size_counter, 1);
          return true;
        } else {
          if (!n.lock.upgrade_to_write_lock_or_restart(nv)) return false;
          write_guard gn(&n.lock);
          if (!op.on_absent()) return true;
          add_child(n, b, node_ref::of(make_leaf(key, op)));
          counters_.add(size_counter, 1);
          return true;
        }
      }

      // Down one level.
      up_slot = slot;
      up = owner;
      uv = ov;
      slot = child_slot;
      owner = &n.lock;
      owner_node = &n;
      ov = nv;
      slot_byte = b;
      ++depth;
    }
  }

  // The write's key is present, in leaf l held in slot (owned by owner / owner_node at
  // version ov; owner_node sits in up_slot, owned by up at version uv).
  template <class Op>
  bool on_present(std::string_view key, Op& op, leaf* l, slot_type* slot, optimistic_lock* owner,
                  inner_node* owner_node, version ov, slot_type* up_slot, optimistic_lock* up,
                  version uv, unsigned char slot_byte) {
    // An erase that would replace owner_node (merge or shrink) changes up's slot too, so it
    // locks up first (ancestors first). The count read here is validated by the upgrade.
    bool replaces = false;
    if constexpr (Op::erases) {
      if (owner_node != nullptr) {
        replaces = removal_replaces(owner_node->type, owner_node->count.load());
      }
    }
    std::optional<write_guard> gu;
    if (replaces) {
      if (!up->upgrade_to_write_lock_or_restart(uv)) return false;
      gu.emplace(up);
    }
    if (!owner->upgrade_to_write_lock_or_restart(ov)) return false;
    write_guard go(owner);

    // A merge's surviving sibling, if it is an inner node, takes the merged prefix: lock it
    // before anything is decided (a descendant: the lock order holds, and it cannot be
    // obsolete, since only a holder of owner's lock could unlink it).
    inner_node* sibling = nullptr;
    node_ref sibling_ref{};
    unsigned char sibling_byte = 0;
    std::optional<write_guard> gs;
    if (replaces && owner_node->type == node_type::node4) {
      visit_children<true>(*owner_node, 0, [&](unsigned char cb, node_ref c) {
        if (cb == slot_byte) return true;
        sibling_ref = c;
        sibling_byte = cb;
        return false;
      });
      if (!sibling_ref.is_leaf()) {
        sibling = sibling_ref.as_node();
        if (!sibling->lock.write_lock_or_restart()) return false;
        gs.emplace(&sibling->lock);
      }
    }

    art_verdict verdict;
    if constexpr (atomic_values) {
      verdict = op.on_present(l->value.load());
    } else {
      verdict = op.on_present(std::as_const(l->value.v));
    }
    switch (verdict) {
      case art_verdict::keep:
        return true;
      case art_verdict::assign:
        if constexpr (atomic_values) {
          l->value.store(op.value());
        } else {
          leaf* fresh = make_leaf(key, op);
          slot->store(node_ref::of(fresh));
          retire_leaf(l);
        }
        return true;
      case art_verdict::erase:
        break;
    }
    if constexpr (Op::erases) {
      counters_.add(size_counter, -1);
      if (owner_node == nullptr) {  // the root slot held the leaf
        slot->store(node_ref{});
        retire_leaf(l);
        return true;
      }
      if (!replaces) {
        remove_child(*owner_node, slot_byte);
        retire_leaf(l);
        return true;
      }
      if (owner_node->type == node_type::node4) {
        // Merge: the sibling takes owner_node's place.
        if (sibling != nullptr) {
          prefix_bytes joined{};
          const prefix_bytes mine = owner_node->prefix();
          const std::uint32_t my_size = owner_node->prefix_size.load();
          std::size_t k = std::min<std::size_t>(my_size, inline_prefix);
          std::copy_n(mine.begin(), k, joined.begin());
          if (k < inline_prefix) joined[k++] = sibling_byte;
          const prefix_bytes theirs = sibling->prefix();
          const std::uint32_t their_size = sibling->prefix_size.load();
          const std::size_t from_child = std::min<std::size_t>(their_size, inline_prefix - k);
          std::copy_n(theirs.begin(), from_child, joined.begin() + static_cast<std::ptrdiff_t>(k));
          sibling->set_prefix_bytes(joined);
          sibling->prefix_size.store(my_size + 1u + their_size);
        }
        up_slot->store(sibling_ref);
        go.obsolete();
        retire_node(owner_node);
        retire_leaf(l);
        return true;
      }
      remove_child(*owner_node, slot_byte);
      retire_leaf(l);
      if (inner_node* smaller = shrunk_copy(*owner_node)) {
        up_slot->store(node_ref::of(smaller));
        go.obsolete();
        retire_node(owner_node);
      }
      return true;
    } else {
      return true;  // an Op that never erases never says erase
    }
  }

  // ---- scans --------------------------------------------------------------------------------

  template <class F>
  struct scan_state {
    F& f;
    std::string_view bound;
    art_bound kind;
    const leaf* last;  // the last leaf delivered
  };

  // Delivers the keys below r (validated in owner's snapshot at ov, reached at depth) that
  // the bound lets through; `bounded`: r's keys agree with the bound on their first depth
  // bytes, so the bound still matters below r.
  template <bool Asc, class S>
  step scan_ref(node_ref r, const optimistic_lock& owner, version ov, std::size_t depth, S& s,
                bool bounded) const {
    if (r.empty()) return step::go_on;
    if (r.is_leaf()) {
      const leaf& l = *r.as_leaf();
      if (bounded) {
        const int c = l.key().compare(s.bound);
        if (Asc ? c < 0 : c > 0) return step::go_on;
        if (c == 0 && s.kind == art_bound::exclusive) return step::go_on;
      }
      s.last = &l;
      return deliver(l, s.f) ? step::go_on : step::stopped;
    }
    const inner_node& n = *r.as_node();
    const optional_version v = n.lock.read_lock_or_restart();
    if (!v || !owner.check_or_restart(ov)) return step::restart;
    const std::uint32_t size = n.prefix_size.load();
    const prefix_bytes inline_bytes = n.prefix();
    if (!n.lock.check_or_restart(*v)) return step::restart;

    if (bounded) {
      // Where the keys below n leave the bound: inside the prefix, the whole subtree is
      // on one side of it.
      const leaf* below = nullptr;
      if (size > inline_prefix) {
        below = any_leaf(n, *v);
        if (below == nullptr || below->key().size() <= depth + size) return step::restart;
      }
      for (std::size_t j = 0; j < size; ++j) {
        // The bound ends inside the prefix: it is a proper prefix of every key below, which
        // all come after it.
        if (depth + j >= s.bound.size()) {
          if (!Asc) return step::go_on;
          bounded = false;
          break;
        }
        const unsigned char p = j < inline_prefix ? inline_bytes[j] : byte(below->key(), depth + j);
        const unsigned char k = byte(s.bound, depth + j);
        if (p != k) {
          if ((p < k) == Asc) return step::go_on;  // the subtree is on the excluded side
          bounded = false;
          break;
        }
      }
    }
    depth += size;
    unsigned from = Asc ? 0u : 255u;
    unsigned char branch = 0;
    if (bounded) {
      if (depth >= s.bound.size()) {
        if (!Asc) return step::go_on;
        bounded = false;
      } else {
        branch = byte(s.bound, depth);
        from = branch;
      }
    }
    step result = step::go_on;
    visit_children<Asc, true>(n, from, [&](unsigned char cb, node_ref c) {
      if (!n.lock.check_or_restart(*v)) {
        result = step::restart;
        return false;
      }
      result = scan_ref<Asc>(c, n.lock, *v, depth + 1, s, bounded && cb == branch);
      return result == step::go_on;
    });
    if (result == step::go_on && !n.lock.check_or_restart(*v)) {
      // The children read after the last one delivered may have been torn: whatever was
      // delivered stands (each was validated), and the scan resumes after it.
      return step::restart;
    }
    return result;
  }

  template <class F>
  static bool deliver(const leaf& l, F& f) {
    auto call = [&](const T& v) -> bool {
      if constexpr (std::is_void_v<std::invoke_result_t<F&, std::string_view, const T&>>) {
        f(l.key(), v);
        return true;
      } else {
        return static_cast<bool>(f(l.key(), v));
      }
    };
    return with_value(l, call);
  }

  template <bool Asc>
  std::optional<std::pair<std::string, T>> first_of(std::string_view bound, art_bound kind) const {
    std::optional<std::pair<std::string, T>> out;
    scan<Asc>(bound, kind, [&out](std::string_view k, const T& v) {
      out.emplace(std::string(k), v);
      return false;
    });
    return out;
  }

  // ---- whole tree ---------------------------------------------------------------------------

  // Write-locks every inner node below r, parents before children. The caller holds the lock
  // of r's parent, so no node below can be unlinked meanwhile (and none is obsolete).
  void lock_subtree(node_ref r) noexcept {
    if (r.empty() || r.is_leaf()) return;
    inner_node& n = *r.as_node();
    while (!n.lock.write_lock_or_restart()) {
    }
    visit_children<true>(n, 0, [this](unsigned char, node_ref c) {
      lock_subtree(c);
      return true;
    });
  }

  // Retires every node and leaf below r (unlinked, and locked by lock_subtree).
  void retire_subtree(node_ref r) {
    if (r.empty()) return;
    if (r.is_leaf()) {
      counters_.add(size_counter, -1);
      retire_leaf(r.as_leaf());
      return;
    }
    inner_node& n = *r.as_node();
    visit_children<true>(n, 0, [this](unsigned char, node_ref c) {
      retire_subtree(c);
      return true;
    });
    n.lock.write_unlock_obsolete();
    retire_node(&n);
  }

  // Frees everything below r at once: only when no other thread can be inside.
  void release(node_ref r) noexcept {
    if (r.empty()) return;
    if (r.is_leaf()) {
      destroy_leaf(r.as_leaf());
      return;
    }
    inner_node& n = *r.as_node();
    visit_children<true>(n, 0, [this](unsigned char, node_ref c) {
      release(c);
      return true;
    });
    free_node(n);
  }

  static void count(node_ref r, std::size_t path, node_counts& c) {
    if (r.empty()) return;
    if (r.is_leaf()) {
      ++c.leaves;
      c.longest_path = std::max(c.longest_path, path);
      c.total_path += path;
      return;
    }
    const inner_node& n = *r.as_node();
    // The children as one version of n has them (a validated copy), so that each pointer
    // followed was published with what it points to.
    std::vector<node_ref> children;
    for (;;) {
      const optional_version v = n.lock.read_lock_or_restart();
      if (!v) return;  // unlinked meanwhile: its keys are counted where they went, or not
      children.clear();
      visit_children<true>(n, 0, [&children](unsigned char, node_ref child) {
        children.push_back(child);
        return true;
      });
      if (n.lock.check_or_restart(*v)) break;
    }
    switch (n.type) {
      case node_type::node4:
        ++c.node4;
        break;
      case node_type::node16:
        ++c.node16;
        break;
      case node_type::node48:
        ++c.node48;
        break;
      case node_type::node256:
        ++c.node256;
        break;
    }
    for (const node_ref child : children) count(child, path + 1, c);
  }

  // The root slot and its lock (the root's parent, for coupling and for writes that replace
  // the root).
  optimistic_lock root_lock_;
  slot_type root_{};
  [[no_unique_address]] block_allocator alloc_{};
  striped_counters<2> counters_;
};

}  // namespace cmap::detail
