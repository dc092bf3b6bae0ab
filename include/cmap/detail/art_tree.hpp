#pragma once
// art_tree<T, Allocator>: the single-threaded core of an adaptive radix tree (Leis, Kemper,
// Neumann, "The Adaptive Radix Tree: ARTful Indexing for Main-Memory Databases", ICDE 2013),
// mapping encoded keys (byte strings, as cmap::key_traits writes them) to values of type T.
//
// Keys. A key is a std::string_view of bytes compared as unsigned bytes. No stored key may be
// a proper prefix of another (key_traits' encodings are prefix-free): a key ends at a leaf,
// never inside an inner node. insert throws std::invalid_argument where it finds a key that
// breaks this; find, erase and the walks accept any bytes (a query that is a prefix of a
// stored key simply finds nothing, and a lower bound may be any byte string).
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
// So every inner node has at least two children, and the root is empty, a leaf (one key), or
// an inner node.
//
// Node layouts (x86-64, 8-byte pointers; every node is allocated as a whole number of
// 8-byte blocks, or alignof(T)-byte blocks where T is more aligned):
//   header (16 bytes, every inner node)
//     type           1 byte   node4, node16, node48 or node256
//     (unused)       1 byte
//     count          2 bytes  children present (up to 256)
//     prefix_size    4 bytes  the length of the compressed prefix, in full
//     prefix         8 bytes  its first min(prefix_size, 8) bytes
//   node4    header, keys[4] (sorted), 4 unused, children[4]          56 bytes
//   node16   header, keys[16] (sorted), children[16]                 160 bytes
//   node48   header, index[256] (0 = none, else slot + 1), children[48]  656 bytes
//   node256  header, children[256] (empty = 0)                      2064 bytes
//   leaf     key_size (4 bytes), then T (at its alignment), then the key's bytes; rounded
//            up to the block: 16 + key size for T = std::uint64_t, so 24 bytes for a u64 key.
// The concurrent tree will add an 8-byte optimistic_lock to the header.
//
// A child is a tagged pointer (node_ref): bit 0 set means a leaf, clear an inner node, and
// a null pointer an empty slot. The tag rather than a type field in the child, because the
// parent then knows what it is about to reach before it loads the child: a lookup that meets
// a leaf goes straight to the key comparison, and under optimistic lock coupling a reader
// must know whether the child is an inner node (which it read-locks) or a leaf (which has no
// lock) before touching it. It also spares leaves the node header. Blocks are at least
// 8-byte aligned, so bit 0 of a real pointer is always clear.
//
// Prefixes: the hybrid scheme of the paper. Up to 8 prefix bytes are kept in the node and
// compared on the way down (pessimistic); the rest are counted, not stored. find and erase skip
// the bytes past the 8th (optimistic) and let the final comparison against the leaf's whole
// key reject a key that differed there. insert, which must know exactly where a key leaves a
// prefix to split it, and the ordered walks, which must know in which direction it leaves,
// read the bytes past the 8th from a leaf below the node (the leftmost: every leaf below a
// node has the node's full prefix at the same depth). Eight bytes because the header then
// stays 16 bytes and a u64 key (8 bytes) never needs the leaf.
//
// Growth and hysteresis. A node grows to the next size when a child is added to a full one
// (the 5th, 17th, 49th child). It shrinks when erases leave it at or below a threshold under
// the smaller size's capacity: node256 -> node48 at 37 children, node48 -> node16 at 12,
// node16 -> node4 at 3, and a node4 left with one child is merged into that child (its prefix,
// the branch byte and the child's prefix become the child's prefix) or replaced by it if it
// is a leaf. Shrinking at exactly the capacity (48, 16, 4) would let one key inserted and
// erased at the boundary copy the node on every operation; with the gap, between two resizes
// of a node at least 2, 5 or 12 inserts or erases land on it, so the copies cost a bounded
// amount per operation. A shrink that fails to allocate leaves the larger node in place (it is
// still a valid node), so erase never throws.
//
// Concurrency: none. This is the tree of one thread; every member needs external
// synchronisation as std::map's do. The concurrent map will wrap these node layouts with
// optimistic_lock (detail/optimistic_lock.hpp) and reclaim nodes through the epoch domain;
// nothing here reads or writes atomically.
//
// Costs, for a key of k bytes: find, insert and erase visit at most k + 1 nodes (each branch
// consumes at least one byte) and compare the whole key once, at the leaf; in practice the
// height is the number of branching bytes, about log256(n) for random keys. Finding a child
// is O(1) in node48 and node256 and a scan of at most 16 keys in node4/node16. A resize copies
// at most 48 children. insert's split of a prefix longer than 8 bytes, and the walks at such a
// node, also descend to the node's leftmost leaf. Ordered walks are O(nodes visited) and
// recurse once per level (stack depth at most the key length in levels). Memory: the node
// sizes above plus one leaf per key; allocated_bytes() counts all of it.
//
// Exceptions: insert allocates before it changes anything, so if T's constructor or the
// allocator throws the tree is unchanged. erase, clear and the destructor do not throw (T's
// destructor must not). A walk's callback may throw; a walk changes no node (only the values
// its callback writes).

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

namespace cmap::detail {

template <class T, class Allocator = std::allocator<std::byte>>
class art_tree {
 public:
  using value_type = T;
  using size_type = std::size_t;

  // Prefix bytes kept inside a node (see "Prefixes" above).
  static constexpr std::size_t inline_prefix = 8;

  // What lower_bound finds: a stored key and its value, or nothing (value == nullptr).
  template <class V>
  struct basic_entry {
    std::string_view key;
    V* value = nullptr;
    explicit operator bool() const noexcept { return value != nullptr; }
  };
  using entry = basic_entry<T>;
  using const_entry = basic_entry<const T>;

  // How many of each node the tree holds, for tests and memory reports.
  struct node_counts {
    std::size_t node4 = 0, node16 = 0, node48 = 0, node256 = 0, leaves = 0;
  };

  art_tree() = default;
  explicit art_tree(const Allocator& alloc) : alloc_(alloc) {}
  art_tree(const art_tree&) = delete;
  art_tree& operator=(const art_tree&) = delete;
  ~art_tree() { clear(); }

  // The value stored under key, or nullptr.
  [[nodiscard]] T* find(std::string_view key) noexcept {
    leaf* l = find_leaf(key);
    return l != nullptr ? &l->value : nullptr;
  }
  [[nodiscard]] const T* find(std::string_view key) const noexcept {
    const leaf* l = const_cast<art_tree*>(this)->find_leaf(key);
    return l != nullptr ? &l->value : nullptr;
  }

  // Inserts key with a value constructed from args, unless key is present. Returns the
  // stored value and whether it was inserted; args are not used when it was not. Throws
  // std::invalid_argument if key is a proper prefix of a stored key or the other way round,
  // std::length_error if key is 2^32 bytes or longer, or what the allocator or T throws;
  // the tree is unchanged when it throws.
  template <class... Args>
  std::pair<T*, bool> try_emplace(std::string_view key, Args&&... args) {
    if (key.size() > std::numeric_limits<std::uint32_t>::max()) {
      throw std::length_error("cmap::detail::art_tree: key too long");
    }
    node_ref* slot = &root_;
    std::size_t depth = 0;
    for (;;) {
      const node_ref ref = *slot;
      if (ref.empty()) {  // only the root of an empty tree
        *slot = node_ref::of(make_leaf(key, std::forward<Args>(args)...));
        ++size_;
        return {&slot->as_leaf()->value, true};
      }
      if (ref.is_leaf()) {
        leaf* old = ref.as_leaf();
        const std::string_view old_key = old->key();
        if (old_key == key) return {&old->value, false};
        // Lazy expansion ends here: the two keys share bytes [depth, i) and part at i.
        std::size_t i = depth;
        const std::size_t common = std::min(old_key.size(), key.size());
        while (i < common && old_key[i] == key[i]) ++i;
        if (i == common) throw_not_prefix_free();
        leaf* l = make_leaf(key, std::forward<Args>(args)...);
        node4* n;
        try {
          n = make_node<node4>();
        } catch (...) {
          destroy_leaf(l);
          throw;
        }
        set_prefix(*n, key.data() + depth, i - depth);
        add_child(*n, byte(old_key, i), ref);
        add_child(*n, byte(key, i), node_ref::of(l));
        *slot = node_ref::of(n);
        ++size_;
        return {&l->value, true};
      }
      inner_node* n = ref.as_node();
      const std::size_t p = prefix_mismatch(*n, key, depth);
      if (p < n->prefix_size) {
        // The key leaves the prefix at byte p: a new node4 takes the shared part [0, p) and
        // branches on byte p; n keeps the part after it.
        if (depth + p >= key.size()) throw_not_prefix_free();
        const leaf* below = n->prefix_size > inline_prefix ? leftmost_leaf(*n) : nullptr;
        auto prefix_byte = [&](std::size_t j) -> unsigned char {
          return j < inline_prefix ? n->prefix[j] : byte(below->key(), depth + j);
        };
        leaf* l = make_leaf(key, std::forward<Args>(args)...);
        node4* top;
        try {
          top = make_node<node4>();
        } catch (...) {
          destroy_leaf(l);
          throw;
        }
        set_prefix(*top, key.data() + depth, p);
        const unsigned char branch = prefix_byte(p);
        const std::size_t rest = n->prefix_size - (p + 1);
        std::array<unsigned char, inline_prefix> kept{};
        for (std::size_t j = 0; j < std::min(rest, inline_prefix); ++j) {
          kept[j] = prefix_byte(p + 1 + j);
        }
        n->prefix = kept;
        n->prefix_size = static_cast<std::uint32_t>(rest);
        add_child(*top, branch, ref);
        add_child(*top, byte(key, depth + p), node_ref::of(l));
        *slot = node_ref::of(top);
        ++size_;
        return {&l->value, true};
      }
      depth += n->prefix_size;
      if (depth >= key.size()) throw_not_prefix_free();
      const unsigned char b = byte(key, depth);
      if (node_ref* child = find_child(*n, b)) {
        slot = child;
        ++depth;
        continue;
      }
      leaf* l = make_leaf(key, std::forward<Args>(args)...);
      if (is_full(*n)) {
        try {
          n = grow(*slot, *n);
        } catch (...) {
          destroy_leaf(l);
          throw;
        }
      }
      add_child(*n, b, node_ref::of(l));
      ++size_;
      return {&l->value, true};
    }
  }

  // Inserts (key, value) unless key is present; returns whether it did. A present key keeps
  // its value. Throws as try_emplace.
  bool insert(std::string_view key, const T& value) { return try_emplace(key, value).second; }
  bool insert(std::string_view key, T&& value) { return try_emplace(key, std::move(value)).second; }

  // Inserts (key, value), or assigns value to the present key's value. Returns true if it
  // inserted. Throws as try_emplace, or what T's assignment throws.
  template <class V>
  bool insert_or_assign(std::string_view key, V&& value) {
    auto [stored, inserted] = try_emplace(key, std::forward<V>(value));
    // try_emplace leaves value untouched when the key is present.
    if (!inserted) *stored = std::forward<V>(value);  // NOLINT(bugprone-use-after-move)
    return inserted;
  }

  // Removes key; returns whether it was present. Never throws.
  bool erase(std::string_view key) noexcept {
    if (root_.empty()) return false;
    if (root_.is_leaf()) {
      if (root_.as_leaf()->key() != key) return false;
      destroy_leaf(root_.as_leaf());
      root_ = node_ref{};
      --size_;
      return true;
    }
    node_ref* slot = &root_;
    std::size_t depth = 0;
    for (;;) {
      inner_node* n = slot->as_node();
      if (!inline_prefix_matches(*n, key, depth)) return false;
      depth += n->prefix_size;
      const unsigned char b = byte(key, depth);
      node_ref* child = find_child(*n, b);
      if (child == nullptr) return false;
      if (!child->is_leaf()) {
        slot = child;
        ++depth;
        continue;
      }
      leaf* l = child->as_leaf();
      if (l->key() != key) return false;
      destroy_leaf(l);
      remove_child(*n, b);
      --size_;
      shrink_if_sparse(*slot, *n);
      return true;
    }
  }

  // Removes every key and frees every node. Never throws.
  void clear() noexcept {
    release(root_);
    root_ = node_ref{};
    size_ = 0;
  }

  [[nodiscard]] size_type size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  // Bytes obtained from the allocator and not yet returned: every node and leaf.
  [[nodiscard]] std::size_t allocated_bytes() const noexcept { return allocated_bytes_; }

  // Counts the nodes by kind; O(nodes).
  [[nodiscard]] node_counts count_nodes() const noexcept {
    node_counts c;
    count(root_, c);
    return c;
  }

  // Calls f(std::string_view key, T& value) for every key in ascending order of its bytes.
  // If f returns something convertible to bool, false stops the walk. Returns false if f
  // stopped it. f must not insert into or erase from the tree.
  template <class F>
  bool for_each(F&& f) {
    return walk<true>(root_, f);
  }
  template <class F>
  bool for_each(F&& f) const {
    return const_cast<art_tree*>(this)->walk<true>(root_, const_caller<F>{f});
  }

  // The same, in descending order.
  template <class F>
  bool for_each_descending(F&& f) {
    return walk<false>(root_, f);
  }
  template <class F>
  bool for_each_descending(F&& f) const {
    return const_cast<art_tree*>(this)->walk<false>(root_, const_caller<F>{f});
  }

  // The same, ascending, for the keys >= lower only (lower may be any bytes).
  template <class F>
  bool for_each_from(std::string_view lower, F&& f) {
    return walk_from(root_, 0, lower, f);
  }
  template <class F>
  bool for_each_from(std::string_view lower, F&& f) const {
    return const_cast<art_tree*>(this)->walk_from(root_, 0, lower, const_caller<F>{f});
  }

  // The first key >= lower and its value, or an empty entry.
  [[nodiscard]] entry lower_bound(std::string_view lower) noexcept {
    entry found;
    walk_from(root_, 0, lower, [&](std::string_view k, T& v) {
      found = entry{k, &v};
      return false;
    });
    return found;
  }
  [[nodiscard]] const_entry lower_bound(std::string_view lower) const noexcept {
    const entry e = const_cast<art_tree*>(this)->lower_bound(lower);
    return const_entry{e.key, e.value};
  }

 private:
  enum class node_type : std::uint8_t { node4, node16, node48, node256 };

  struct leaf;
  struct inner_node;

  // A child slot: an inner node, a leaf (bit 0 set) or nothing (null). The tag is added by
  // pointer arithmetic, one byte into the leaf's own allocation, and removed the same way, so
  // no pointer is ever rebuilt from an integer; only the test of bit 0 reads the address.
  struct node_ref {
    std::byte* ptr = nullptr;

    static node_ref of(leaf* l) noexcept { return {reinterpret_cast<std::byte*>(l) + 1}; }
    static node_ref of(inner_node* n) noexcept { return {reinterpret_cast<std::byte*>(n)}; }
    [[nodiscard]] bool empty() const noexcept { return ptr == nullptr; }
    [[nodiscard]] bool is_leaf() const noexcept {
      return (reinterpret_cast<std::uintptr_t>(ptr) & 1u) != 0;
    }
    [[nodiscard]] leaf* as_leaf() const noexcept { return reinterpret_cast<leaf*>(ptr - 1); }
    [[nodiscard]] inner_node* as_node() const noexcept {
      return reinterpret_cast<inner_node*>(ptr);
    }
  };

  struct leaf {
    std::uint32_t key_size;
    T value;

    template <class... Args>
    explicit leaf(std::uint32_t size, Args&&... args)
        : key_size(size), value(std::forward<Args>(args)...) {}
    // The key's bytes follow the leaf in its allocation.
    [[nodiscard]] char* key_bytes() noexcept { return reinterpret_cast<char*>(this + 1); }
    [[nodiscard]] std::string_view key() const noexcept {
      return {reinterpret_cast<const char*>(this + 1), key_size};
    }
  };

  struct inner_node {
    node_type type;
    std::uint8_t unused = 0;
    std::uint16_t count = 0;
    std::uint32_t prefix_size = 0;
    std::array<unsigned char, inline_prefix> prefix{};

    explicit inner_node(node_type t) noexcept : type(t) {}
  };
  struct node4 : inner_node {
    static constexpr node_type kind = node_type::node4;
    static constexpr std::size_t capacity = 4;
    std::array<unsigned char, 4> keys{};
    std::array<node_ref, 4> children{};
    node4() noexcept : inner_node(kind) {}
  };
  struct node16 : inner_node {
    static constexpr node_type kind = node_type::node16;
    static constexpr std::size_t capacity = 16;
    std::array<unsigned char, 16> keys{};
    std::array<node_ref, 16> children{};
    node16() noexcept : inner_node(kind) {}
  };
  struct node48 : inner_node {
    static constexpr node_type kind = node_type::node48;
    static constexpr std::size_t capacity = 48;
    // index[b] == 0: no child for byte b; otherwise children[index[b] - 1] is it. The
    // children are kept packed in [0, count), so a new child takes slot count.
    std::array<std::uint8_t, 256> index{};
    std::array<node_ref, 48> children{};
    node48() noexcept : inner_node(kind) {}
  };
  struct node256 : inner_node {
    static constexpr node_type kind = node_type::node256;
    static constexpr std::size_t capacity = 256;
    std::array<node_ref, 256> children{};
    node256() noexcept : inner_node(kind) {}
  };

  static_assert(sizeof(void*) != 8 ||
                    (sizeof(inner_node) == 16 && sizeof(node4) == 56 && sizeof(node16) == 160 &&
                     sizeof(node48) == 656 && sizeof(node256) == 2064),
                "the layouts in the header's comment");

  // Shrink thresholds (see "Growth and hysteresis").
  static constexpr std::size_t shrink16_at = 3;
  static constexpr std::size_t shrink48_at = 12;
  static constexpr std::size_t shrink256_at = 37;

  // The allocation unit: every node and leaf is a whole number of blocks, aligned for the
  // node_ref tag bit and for T.
  static constexpr std::size_t block_align = std::max(alignof(std::uintptr_t), alignof(leaf));
  struct alignas(block_align) block {
    std::byte bytes[block_align];
  };
  using block_allocator = typename std::allocator_traits<Allocator>::template rebind_alloc<block>;
  using block_traits = std::allocator_traits<block_allocator>;

  static constexpr std::size_t blocks_for(std::size_t bytes) noexcept {
    return (bytes + sizeof(block) - 1) / sizeof(block);
  }

  void* allocate(std::size_t bytes) {
    const std::size_t n = blocks_for(bytes);
    block* b = block_traits::allocate(alloc_, n);
    allocated_bytes_ += n * sizeof(block);
    return b;
  }
  void deallocate(void* p, std::size_t bytes) noexcept {
    const std::size_t n = blocks_for(bytes);
    block_traits::deallocate(alloc_, static_cast<block*>(p), n);
    allocated_bytes_ -= n * sizeof(block);
  }

  template <class... Args>
  leaf* make_leaf(std::string_view key, Args&&... args) {
    const std::size_t bytes = sizeof(leaf) + key.size();
    void* p = allocate(bytes);
    leaf* l;
    try {
      l = ::new (p) leaf(static_cast<std::uint32_t>(key.size()), std::forward<Args>(args)...);
    } catch (...) {
      deallocate(p, bytes);
      throw;
    }
    if (!key.empty()) std::memcpy(l->key_bytes(), key.data(), key.size());
    return l;
  }
  void destroy_leaf(leaf* l) noexcept {
    const std::size_t bytes = sizeof(leaf) + l->key_size;
    l->~leaf();
    deallocate(l, bytes);
  }

  template <class Node>
  Node* make_node() {
    return ::new (allocate(sizeof(Node))) Node();
  }
  template <class Node>
  void free_node(Node* n) noexcept {
    deallocate(n, sizeof(Node));  // trivially destructible
  }
  void free_node(inner_node& n) noexcept {
    visit_type(n, [&](auto& typed) { free_node(&typed); });
  }

  // Calls f with n as its real type.
  template <class F>
  static decltype(auto) visit_type(inner_node& n, F&& f) {
    switch (n.type) {
      case node_type::node4:
        return f(static_cast<node4&>(n));
      case node_type::node16:
        return f(static_cast<node16&>(n));
      case node_type::node48:
        return f(static_cast<node48&>(n));
      case node_type::node256:
        break;
    }
    return f(static_cast<node256&>(n));
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
    n.prefix_size = static_cast<std::uint32_t>(size);
    n.prefix = {};
    if (size != 0) std::memcpy(n.prefix.data(), bytes, std::min(size, inline_prefix));
  }

  // Whether key matches n's inline prefix bytes at depth and goes on past the whole prefix
  // (so that there is a byte to branch on). The bytes past the inline ones are not checked:
  // the caller compares the whole key at the leaf.
  static bool inline_prefix_matches(const inner_node& n, std::string_view key,
                                    std::size_t depth) noexcept {
    if (depth + n.prefix_size >= key.size()) return false;
    const std::size_t stored = std::min<std::size_t>(n.prefix_size, inline_prefix);
    return stored == 0 || std::memcmp(n.prefix.data(), key.data() + depth, stored) == 0;
  }

  // The first index j < prefix_size where key[depth + j] differs from n's full prefix or key
  // has ended, or prefix_size if the key holds the whole prefix.
  static std::size_t prefix_mismatch(inner_node& n, std::string_view key,
                                     std::size_t depth) noexcept {
    const std::size_t stored = std::min<std::size_t>(n.prefix_size, inline_prefix);
    std::size_t j = 0;
    for (; j < stored; ++j) {
      if (depth + j >= key.size() || n.prefix[j] != byte(key, depth + j)) return j;
    }
    if (n.prefix_size > inline_prefix) {
      const std::string_view full = leftmost_leaf(n)->key();
      for (; j < n.prefix_size; ++j) {
        if (depth + j >= key.size() || full[depth + j] != key[depth + j]) return j;
      }
    }
    return j;
  }

  static leaf* leftmost_leaf(inner_node& n) noexcept {
    node_ref r = first_child(n);
    while (!r.is_leaf()) r = first_child(*r.as_node());
    return r.as_leaf();
  }
  static node_ref first_child(inner_node& n) noexcept {
    return visit_type(n, [](auto& t) -> node_ref {
      using N = std::remove_cvref_t<decltype(t)>;
      if constexpr (std::is_same_v<N, node4> || std::is_same_v<N, node16>) {
        return t.children[0];
      } else if constexpr (std::is_same_v<N, node48>) {
        for (const std::uint8_t i : t.index) {
          if (i != 0) return t.children[i - 1u];
        }
        return node_ref{};
      } else {
        for (const node_ref c : t.children) {
          if (!c.empty()) return c;
        }
        return node_ref{};
      }
    });
  }

  static bool is_full(inner_node& n) noexcept {
    return visit_type(n, [](auto& t) { return t.count == t.capacity; });
  }

  // The slot of n's child for byte b, or nullptr.
  static node_ref* find_child(inner_node& n, unsigned char b) noexcept {
    return visit_type(n, [b](auto& t) -> node_ref* {
      using N = std::remove_cvref_t<decltype(t)>;
      if constexpr (std::is_same_v<N, node4> || std::is_same_v<N, node16>) {
        for (std::size_t i = 0; i < t.count; ++i) {
          if (t.keys[i] == b) return &t.children[i];
        }
        return nullptr;
      } else if constexpr (std::is_same_v<N, node48>) {
        return t.index[b] != 0 ? &t.children[t.index[b] - 1u] : nullptr;
      } else {
        return t.children[b].empty() ? nullptr : &t.children[b];
      }
    });
  }

  // Adds child under byte b, which n does not have; n is not full.
  static void add_child(inner_node& n, unsigned char b, node_ref child) noexcept {
    visit_type(n, [b, child](auto& t) {
      using N = std::remove_cvref_t<decltype(t)>;
      assert(t.count < N::capacity);
      if constexpr (std::is_same_v<N, node4> || std::is_same_v<N, node16>) {
        std::size_t i = t.count;
        for (; i > 0 && t.keys[i - 1] > b; --i) {  // keep the keys sorted
          t.keys[i] = t.keys[i - 1];
          t.children[i] = t.children[i - 1];
        }
        t.keys[i] = b;
        t.children[i] = child;
      } else if constexpr (std::is_same_v<N, node48>) {
        t.children[t.count] = child;
        t.index[b] = static_cast<std::uint8_t>(t.count + 1u);
      } else {
        t.children[b] = child;
      }
      ++t.count;
    });
  }

  // Removes n's child under byte b, which n has.
  static void remove_child(inner_node& n, unsigned char b) noexcept {
    visit_type(n, [b](auto& t) {
      using N = std::remove_cvref_t<decltype(t)>;
      if constexpr (std::is_same_v<N, node4> || std::is_same_v<N, node16>) {
        std::size_t i = 0;
        while (t.keys[i] != b) ++i;
        for (; i + 1 < t.count; ++i) {
          t.keys[i] = t.keys[i + 1];
          t.children[i] = t.children[i + 1];
        }
        t.keys[t.count - 1u] = 0;
        t.children[t.count - 1u] = node_ref{};
      } else if constexpr (std::is_same_v<N, node48>) {
        // Keep the children packed: the last one moves into the freed slot.
        const std::size_t freed = t.index[b] - 1u;
        const std::size_t last = t.count - 1u;
        if (freed != last) {
          for (auto& i : t.index) {
            if (i == last + 1u) {
              i = static_cast<std::uint8_t>(freed + 1u);
              break;
            }
          }
          t.children[freed] = t.children[last];
        }
        t.children[last] = node_ref{};
        t.index[b] = 0;
      } else {
        t.children[b] = node_ref{};
      }
      --t.count;
    });
  }

  // Calls f(byte, node_ref&) for each of n's children with byte >= from (ascending) or
  // <= from (descending), in that order, until f returns false. Returns false if it did.
  template <bool Ascending, class F>
  static bool visit_children(inner_node& n, unsigned from, F&& f) {
    return visit_type(n, [&](auto& t) -> bool {
      using N = std::remove_cvref_t<decltype(t)>;
      if constexpr (std::is_same_v<N, node4> || std::is_same_v<N, node16>) {
        for (std::size_t k = 0; k < t.count; ++k) {
          const std::size_t i = Ascending ? k : t.count - 1u - k;
          if (Ascending ? t.keys[i] < from : t.keys[i] > from) continue;
          if (!f(t.keys[i], t.children[i])) return false;
        }
      } else {
        for (unsigned k = 0; k < 256; ++k) {
          const unsigned b = Ascending ? k : 255u - k;
          if (Ascending ? b < from : b > from) continue;
          node_ref* c;
          if constexpr (std::is_same_v<N, node48>) {
            if (t.index[b] == 0) continue;
            c = &t.children[t.index[b] - 1u];
          } else {
            if (t.children[b].empty()) continue;
            c = &t.children[b];
          }
          if (!f(static_cast<unsigned char>(b), *c)) return false;
        }
      }
      return true;
    });
  }

  // Copies n's header and children into a new node of type To.
  template <class To>
  To* copy_into(inner_node& n) {
    To* to = make_node<To>();
    to->prefix_size = n.prefix_size;
    to->prefix = n.prefix;
    visit_children<true>(n, 0, [to](unsigned char b, node_ref& c) {
      add_child(*to, b, c);
      return true;
    });
    return to;
  }

  // Replaces the full node n, held in slot, by the next larger type. Returns the new node.
  inner_node* grow(node_ref& slot, inner_node& n) {
    inner_node* bigger = visit_type(n, [&](auto& t) -> inner_node* {
      using N = std::remove_cvref_t<decltype(t)>;
      if constexpr (std::is_same_v<N, node4>) {
        return copy_into<node16>(t);
      } else if constexpr (std::is_same_v<N, node16>) {
        return copy_into<node48>(t);
      } else if constexpr (std::is_same_v<N, node48>) {
        return copy_into<node256>(t);
      } else {
        assert(false && "a node256 is never full when a child is added");
        return &t;
      }
    });
    free_node(n);
    slot = node_ref::of(bigger);
    return bigger;
  }

  // After an erase from n (held in slot): a node4 with one child gives way to it, and a
  // larger node at or below its threshold is replaced by the next smaller type. If that
  // allocation fails, n stays as it is.
  void shrink_if_sparse(node_ref& slot, inner_node& n) noexcept {
    if (n.type == node_type::node4) {
      if (n.count == 1) collapse(slot, static_cast<node4&>(n));
      return;
    }
    inner_node* smaller = nullptr;
    try {
      if (n.type == node_type::node16 && n.count <= shrink16_at) {
        smaller = copy_into<node4>(n);
      } else if (n.type == node_type::node48 && n.count <= shrink48_at) {
        smaller = copy_into<node16>(n);
      } else if (n.type == node_type::node256 && n.count <= shrink256_at) {
        smaller = copy_into<node48>(n);
      }
    } catch (...) {
      return;
    }
    if (smaller == nullptr) return;
    free_node(n);
    slot = node_ref::of(smaller);
  }

  // n has one child: it takes n's place. An inner child's prefix becomes n's prefix, the
  // byte n branched on, then its own prefix, as path compression asks.
  void collapse(node_ref& slot, node4& n) noexcept {
    const node_ref child = n.children[0];
    if (!child.is_leaf()) {
      inner_node& c = *child.as_node();
      std::array<unsigned char, inline_prefix> joined{};
      std::size_t k = std::min<std::size_t>(n.prefix_size, inline_prefix);
      std::copy_n(n.prefix.begin(), k, joined.begin());
      if (k < inline_prefix) joined[k++] = n.keys[0];
      const std::size_t from_child = std::min<std::size_t>(c.prefix_size, inline_prefix - k);
      std::copy_n(c.prefix.begin(), from_child, joined.begin() + static_cast<std::ptrdiff_t>(k));
      c.prefix = joined;
      c.prefix_size = n.prefix_size + 1u + c.prefix_size;
    }
    free_node(&n);
    slot = child;
  }

  leaf* find_leaf(std::string_view key) noexcept {
    node_ref r = root_;
    std::size_t depth = 0;
    while (!r.empty() && !r.is_leaf()) {
      inner_node& n = *r.as_node();
      if (!inline_prefix_matches(n, key, depth)) return nullptr;
      depth += n.prefix_size;
      node_ref* child = find_child(n, byte(key, depth));
      if (child == nullptr) return nullptr;
      r = *child;
      ++depth;
    }
    if (r.empty() || r.as_leaf()->key() != key) return nullptr;
    return r.as_leaf();
  }

  // Calls f and reads its result as "go on", whether f returns bool or nothing.
  template <class F>
  static bool call(F& f, leaf& l) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, std::string_view, T&>>) {
      f(l.key(), l.value);
      return true;
    } else {
      return static_cast<bool>(f(l.key(), l.value));
    }
  }
  // Gives a const walk's callback a const value.
  template <class F>
  struct const_caller {
    F& f;
    decltype(auto) operator()(std::string_view k, T& v) { return f(k, std::as_const(v)); }
  };

  template <bool Ascending, class F>
  bool walk(node_ref r, F&& f) {
    if (r.empty()) return true;
    if (r.is_leaf()) return call(f, *r.as_leaf());
    return visit_children<Ascending>(
        *r.as_node(), Ascending ? 0u : 255u,
        [&](unsigned char, node_ref& c) { return walk<Ascending>(c, f); });
  }

  // The ascending walk of the keys >= lower below r, whose keys agree with lower on their
  // first depth bytes.
  template <class F>
  bool walk_from(node_ref r, std::size_t depth, std::string_view lower, F&& f) {
    if (r.empty()) return true;
    if (r.is_leaf()) {
      leaf& l = *r.as_leaf();
      return l.key() < lower || call(f, l);
    }
    inner_node& n = *r.as_node();
    // Where the keys below n leave lower: inside the prefix, the whole subtree is above or
    // below it.
    const leaf* below = n.prefix_size > inline_prefix ? leftmost_leaf(n) : nullptr;
    for (std::size_t j = 0; j < n.prefix_size; ++j) {
      if (depth + j >= lower.size()) return walk<true>(r, f);  // lower is a prefix of them
      const unsigned char p = j < inline_prefix ? n.prefix[j] : byte(below->key(), depth + j);
      const unsigned char k = byte(lower, depth + j);
      if (p > k) return walk<true>(r, f);
      if (p < k) return true;
    }
    depth += n.prefix_size;
    if (depth >= lower.size()) return walk<true>(r, f);
    const unsigned char b = byte(lower, depth);
    return visit_children<true>(n, b, [&](unsigned char cb, node_ref& c) {
      return cb == b ? walk_from(c, depth + 1, lower, f) : walk<true>(c, f);
    });
  }

  void release(node_ref r) noexcept {
    if (r.empty()) return;
    if (r.is_leaf()) {
      destroy_leaf(r.as_leaf());
      return;
    }
    inner_node& n = *r.as_node();
    visit_children<true>(n, 0, [this](unsigned char, node_ref& c) {
      release(c);
      return true;
    });
    free_node(n);
  }

  static void count(node_ref r, node_counts& c) noexcept {
    if (r.empty()) return;
    if (r.is_leaf()) {
      ++c.leaves;
      return;
    }
    inner_node& n = *r.as_node();
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
    visit_children<true>(n, 0, [&c](unsigned char, node_ref& child) {
      count(child, c);
      return true;
    });
  }

  node_ref root_{};
  std::size_t size_ = 0;
  std::size_t allocated_bytes_ = 0;
  [[no_unique_address]] block_allocator alloc_{};
};

}  // namespace cmap::detail
