#pragma once
// champ: the persistent hash trie behind snapshot_map (a CHAMP: "compressed hash-array
// mapped prefix tree", Steindorfer and Vinju, OOPSLA 2015).
//
// Layout
// ------
// A node covers 5 bits of the key's hash (32 positions) and holds two bitmaps: `datamap`
// (position i holds an entry inline) and `nodemap` (position i holds a child node). One
// allocation holds the header, then the child pointers, then the entries, both packed in
// position order (index = popcount of the bitmap below the position's bit). Level d uses
// hash bits [5d, 5d + 5); once all 64 bits are used (depth 13) keys with equal hashes share
// a *collision node*: a plain array of entries searched linearly.
//
// Persistence
// -----------
// A published node is never changed again (except its reference count). A write copies the
// nodes on the path from the root to the changed position (O(log32 n) nodes) and shares
// every other node with the previous version. Each node counts its references (parents
// and roots: the map's current root, snapshots, a transient's root); when the count drops
// to zero the node destroys its entries and releases its children.
//   - The count is incremented only by a holder of a reference, or by a reader pinned on
//     the epoch that found the node as the map's root while the map still held its own
//     reference (relaxed: the holder's reference keeps the node alive meanwhile).
//   - Decrement is acq_rel: the thread that frees a node sees every other holder's use
//     of it (their decrements release, the last one acquires).
//
// Transients (the batch editor)
// -----------------------------
// A transient carries an `edit` id, unique per transient. Nodes it creates carry that id
// and are referenced only from the transient's own tree, never visible to a reader, so it
// changes them in place: a child pointer swapped, a value assigned. Changing the *set of
// entries* of a node still builds a new node (the entries' key is const, so they cannot be
// shifted in place); the replaced node, being the transient's own, is freed at once, and its
// children's references move to the new node (no count changes: a node with 30 children
// would otherwise cost 60 locked read-modify-writes on 30 cold lines per insert). When
// the transient is published its ids are never used again, so its nodes become immutable.
// A transient that is dropped (its batch threw) releases its root: its own nodes are freed,
// the shared ones lose the references the copies had taken.
//
// Invariants
// ----------
// (1) Canonical form below the root: a node other than the root never holds a single entry
//     and no child (erase moves such an entry up into the parent), so equal contents give
//     equal depth and erase keeps the trie shallow. A collision node holds >= 2 entries.
// (2) Entries are constructed before child pointers are set: a node whose construction
//     throws destroys what it built, frees itself and leaves every count as it was.
// (3) Operations are told whether the key is present (the caller looks first), so a write
//     that changes nothing allocates nothing.
// (4) Every step that may throw (a copy of an entry, an allocation) comes before the first
//     change to the tree's contents, so a throwing write leaves the contents as they were
//     (nodes on its path may already have been copied into the transient, with the same
//     contents): an erase that must move an entry up (1) builds the node that receives it
//     before it removes anything.
//
// Costs: lookup: one node per 5 hash bits (about log32 n: 4 levels at 1M entries), each a
// popcount and one or two cache lines. Single-key write: about log32 n node copies of at
// most 32 entries + 32 pointers each. Memory: a 32-byte header per node, entries inline.
// The allocator may be stateful: each holder of a version keeps a copy (see node_allocator),
// and it must be usable from any thread, since nodes are freed on whichever thread drops the
// last reference (a snapshot's owner, or the epoch collector).

#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cache_line.hpp"
#include "probe_tally.hpp"

namespace cmap::detail {

template <class Key, class T, class Hash, class KeyEqual, class Allocator>
class champ {
 public:
  using value_type = std::pair<const Key, T>;

  static constexpr unsigned bits_per_level = 5;
  static constexpr unsigned hash_bits = std::numeric_limits<std::size_t>::digits;
  // 13 bitmap levels (64 bits) and one collision level; a walk's stack never needs more.
  static constexpr unsigned max_depth = (hash_bits + bits_per_level - 1) / bits_per_level + 1;

  struct node {
    std::atomic<std::uint32_t> refs{1};
    std::uint32_t datamap = 0;
    std::uint32_t nodemap = 0;
    std::uint32_t collision_count = 0;  // entries of a collision node; 0 for bitmap nodes
    std::uint64_t edit = 0;             // the transient that created it (see above)
    std::size_t size = 0;               // a root's entry count (the version's size)
    bool collision = false;
  };

 private:
  static constexpr std::size_t block_align = alignof(node) > alignof(value_type)
                                                 ? alignof(node)
                                                 : alignof(value_type);
  struct alignas(block_align) block {
    unsigned char bytes[block_align];
  };

 public:
  // Nodes are allocated as runs of blocks (header, child pointers, entries). Every function
  // that allocates or frees takes the allocator: a stateful one travels with each holder of
  // a version (the map, a snapshot, a transient's editor), since whichever drops the last
  // reference frees the nodes.
  using node_allocator = typename std::allocator_traits<Allocator>::template rebind_alloc<block>;

 private:
  using block_traits = std::allocator_traits<node_allocator>;

 public:
  // ---- shape ------------------------------------------------------------------------------
  [[nodiscard]] static std::uint32_t entry_count(const node* n) noexcept {
    return n->collision ? n->collision_count
                        : static_cast<std::uint32_t>(std::popcount(n->datamap));
  }
  [[nodiscard]] static std::uint32_t child_count(const node* n) noexcept {
    return static_cast<std::uint32_t>(std::popcount(n->nodemap));
  }
  [[nodiscard]] static std::uint32_t bit_at(std::size_t h, unsigned shift) noexcept {
    return std::uint32_t{1} << ((h >> shift) & 31u);
  }
  [[nodiscard]] static std::uint32_t index_of(std::uint32_t map, std::uint32_t bit) noexcept {
    return static_cast<std::uint32_t>(std::popcount(map & (bit - 1)));
  }
  [[nodiscard]] static node* const* children(const node* n) noexcept {
    return reinterpret_cast<node* const*>(reinterpret_cast<const unsigned char*>(n) +
                                          children_offset);
  }
  [[nodiscard]] static node** children(node* n) noexcept {
    return reinterpret_cast<node**>(reinterpret_cast<unsigned char*>(n) + children_offset);
  }
  [[nodiscard]] static const value_type* entries(const node* n) noexcept {
    return std::launder(reinterpret_cast<const value_type*>(
        reinterpret_cast<const unsigned char*>(n) + entries_offset(child_count(n))));
  }
  [[nodiscard]] static value_type* entries(node* n) noexcept {
    return std::launder(reinterpret_cast<value_type*>(reinterpret_cast<unsigned char*>(n) +
                                                      entries_offset(child_count(n))));
  }
  // Bytes asked of the allocator for n.
  [[nodiscard]] static std::size_t node_bytes(const node* n) noexcept {
    return blocks_for(child_count(n), entry_count(n)) * sizeof(block);
  }

  // ---- lifetime ---------------------------------------------------------------------------
  // A new empty root (no entries, no children).
  static node* make_empty(std::uint64_t edit, node_allocator& a) {
    node* n = allocate(0, 0, a);
    n->edit = edit;
    return n;
  }

  // Takes one more reference; the caller holds one, or is pinned and found n as a root
  // that the map still references (see "Persistence").
  static void acquire(const node* n) noexcept {
    const_cast<node*>(n)->refs.fetch_add(1, std::memory_order_relaxed);
  }

  // Drops one reference; the last one destroys the entries and releases the children.
  static void release(node* n, node_allocator& a) noexcept {
    // acq_rel: pairs with the other holders' release decrements (see "Persistence").
    if (n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    prefetch_children(n);
    node** cs = children(n);
    for (std::uint32_t i = 0, nc = child_count(n); i < nc; ++i) release(cs[i], a);
    free_shell(n, a);
  }

  // Copying or freeing a node changes every child's count: each is a locked read-modify-write
  // that waits for its line before the next can start, so the misses would not overlap.
  // Asking for all the lines first lets them arrive together.
  static void prefetch_children(const node* n) noexcept {
    node* const* cs = children(n);
    for (std::uint32_t i = 0, nc = child_count(n); i < nc; ++i) prefetch(cs[i]);
  }

  // Frees n, the last reference to it dropped, without releasing its children: their
  // references were handed to another node.
  static void free_shell(node* n, node_allocator& a) noexcept {
    const std::uint32_t ne = entry_count(n), nc = child_count(n);
    value_type* es = entries(n);
    for (std::uint32_t i = 0; i < ne; ++i) std::destroy_at(es + i);
    deallocate(n, nc, ne, a);
  }

  // ---- lookup (any version; the caller keeps it alive) ----------------------------------
  template <class K>
  [[nodiscard]] static const value_type* find(const node* n, const K& key, std::size_t h,
                                              const KeyEqual& eq) {
    for (unsigned shift = 0;; shift += bits_per_level) {
      if (n->collision) {
        const value_type* es = entries(n);
        for (std::uint32_t i = 0; i < n->collision_count; ++i) {
          if (eq(es[i].first, key)) return es + i;
        }
        return nullptr;
      }
      const std::uint32_t bit = bit_at(h, shift);
      if ((n->datamap & bit) != 0) {
        const value_type* e = entries(n) + index_of(n->datamap, bit);
        return eq(e->first, key) ? e : nullptr;
      }
      if ((n->nodemap & bit) == 0) return nullptr;
      n = children(n)[index_of(n->nodemap, bit)];
    }
  }

  // f(const value_type&) on every entry of the subtree, depth first; false from f stops.
  // Returns false if stopped.
  template <class F>
  static bool walk(const node* n, F& f) {
    const value_type* es = entries(n);
    for (std::uint32_t i = 0, ne = entry_count(n); i < ne; ++i) {
      if (!f(es[i])) return false;
    }
    node* const* cs = children(n);
    for (std::uint32_t i = 0, nc = child_count(n); i < nc; ++i) {
      if (!walk(cs[i], f)) return false;
    }
    return true;
  }

  // Node bytes of one version.
  // How far each entry's lookup travels, into tally: the nodes from the root (the root
  // counting 1), plus, in a collision node, the entries scanned before it.
  static void tally_probes(const node* n, probe_tally& tally, std::size_t depth = 1) noexcept {
    for (std::uint32_t i = 0, ne = entry_count(n); i < ne; ++i)
      tally.add(n->collision ? depth + i : depth);
    node* const* cs = children(n);
    for (std::uint32_t i = 0, nc = child_count(n); i < nc; ++i)
      tally_probes(cs[i], tally, depth + 1);
  }

  [[nodiscard]] static std::size_t tree_bytes(const node* n) noexcept {
    std::size_t total = node_bytes(n);
    node* const* cs = children(n);
    for (std::uint32_t i = 0, nc = child_count(n); i < nc; ++i) total += tree_bytes(cs[i]);
    return total;
  }

  // ---- editing (a transient's tree; see "Transients") ----------------------------------
  // `slot` is the transient's root or a child pointer inside one of its own nodes. Every
  // function either completes or throws leaving the tree valid and every count balanced.
  class editor {
   public:
    editor(const Hash& hash, const KeyEqual& eq, node_allocator& alloc, std::uint64_t edit) noexcept
        : hash_(hash), eq_(eq), alloc_(alloc), edit_(edit) {}

    [[nodiscard]] std::uint64_t edit() const noexcept { return edit_; }
    // Continues under a new (never used) edit id: the nodes made so far become shared like
    // published ones, so the next change to each copies it (a transient's savepoint).
    void renew(std::uint64_t edit) noexcept { edit_ = edit; }

    // Makes *slot the transient's own (copying it if shared) and returns it.
    node* own(node*& slot) {
      node* n = slot;
      if (n->edit == edit_) return n;
      prefetch_children(n);
      const std::uint32_t ne = entry_count(n), nc = child_count(n);
      const value_type* src = entries(n);
      node* const* kids = children(n);
      node* c = build(
          n->collision, n->datamap, n->nodemap, ne, nc,
          [&](std::uint32_t i, value_type* p) { std::construct_at(p, src[i]); },
          [&](std::uint32_t i) { return share(kids[i]); });
      replace(slot, c);
      return c;
    }

    // The entry for key, which must be present, in a node of the transient's own (the path
    // is copied as needed), so that its value may be changed in place.
    template <class K>
    value_type* find_present(node*& root, const K& key, std::size_t h) {
      node** slot = &root;
      for (unsigned shift = 0;; shift += bits_per_level) {
        node* n = own(*slot);
        value_type* es = entries(n);
        if (n->collision) {
          for (std::uint32_t i = 0;; ++i) {
            if (eq_(es[i].first, key)) return es + i;
          }
        }
        const std::uint32_t bit = bit_at(h, shift);
        if ((n->datamap & bit) != 0) return es + index_of(n->datamap, bit);
        slot = children(n) + index_of(n->nodemap, bit);
      }
    }

    // Inserts an entry for a key known to be absent; make(value_type*) constructs it (once).
    template <class Make>
    void insert_absent(node*& slot, std::size_t h, Make& make, unsigned shift = 0) {
      node* n = slot;
      if (n->collision) {
        const std::uint32_t ne = n->collision_count;
        const value_type* src = entries(n);
        node* c = build(
            true, 0, 0, ne + 1, 0,
            [&](std::uint32_t i, value_type* p) {
              if (i < ne) {
                std::construct_at(p, src[i]);
              } else {
                make(p);
              }
            },
            no_children);
        replace(slot, c);
        return;
      }
      const std::uint32_t bit = bit_at(h, shift);
      if ((n->nodemap & bit) != 0) {
        node* o = own(slot);
        insert_absent(children(o)[index_of(o->nodemap, bit)], h, make, shift + bits_per_level);
        return;
      }
      if ((n->datamap & bit) != 0) {
        // The position holds another key: both move down into a new subtree.
        const std::uint32_t di = index_of(n->datamap, bit);
        const value_type& other = entries(n)[di];
        const std::size_t other_hash = hash_(other.first);
        node* sub = make_pair(other, other_hash, h, make, shift + bits_per_level);
        node* c;
        try {
          c = entry_to_child(n, bit, sub);
        } catch (...) {
          release(sub, alloc_);
          throw;
        }
        replace(slot, c);
        return;
      }
      const std::uint32_t dm = n->datamap | bit;
      const std::uint32_t at = index_of(dm, bit);
      const value_type* src = entries(n);
      node* const* kids = children(n);
      prefetch_children(n);
      node* c = build(
          false, dm, n->nodemap, entry_count(n) + 1, child_count(n),
          [&](std::uint32_t i, value_type* p) {
            if (i < at) {
              std::construct_at(p, src[i]);
            } else if (i == at) {
              make(p);
            } else {
              std::construct_at(p, src[i - 1]);
            }
          },
          [&](std::uint32_t i) { return take(n, kids[i]); });
      replace(slot, c);
    }

    // Erases the entry for a key known to be present.
    template <class K>
    void erase_present(node*& slot, const K& key, std::size_t h, unsigned shift = 0) {
      node* n = slot;
      if (n->collision) {
        const value_type* src = entries(n);
        std::uint32_t gone = 0;
        while (!eq_(src[gone].first, key)) ++gone;
        node* c = build(
            true, 0, 0, n->collision_count - 1, 0,
            [&](std::uint32_t i, value_type* p) {
              std::construct_at(p, src[i < gone ? i : i + 1]);
            },
            no_children);
        replace(slot, c);
        return;
      }
      const std::uint32_t bit = bit_at(h, shift);
      if ((n->datamap & bit) != 0) {
        const std::uint32_t gone = index_of(n->datamap, bit);
        const value_type* src = entries(n);
        node* const* kids = children(n);
        prefetch_children(n);
        node* c = build(
            false, n->datamap & ~bit, n->nodemap, entry_count(n) - 1, child_count(n),
            [&](std::uint32_t i, value_type* p) {
              std::construct_at(p, src[i < gone ? i : i + 1]);
            },
            [&](std::uint32_t i) { return take(n, kids[i]); });
        replace(slot, c);
        return;
      }
      node* o = own(slot);
      node*& child_slot = children(o)[index_of(o->nodemap, bit)];
      node* child = child_slot;
      if (const value_type* survivor = lone_survivor(child, key)) {
        // Invariant (1): erasing key leaves the child's subtree a single entry, which moves
        // up into this node in its place. Built before anything changes, so that if the
        // copy throws the tree is as it was. o is ours (own above), so c takes its other
        // children, and the child's reference (its whole chain) is dropped here.
        node* c = child_to_entry(o, bit, *survivor);
        replace(slot, c);
        release(child, alloc_);
        return;
      }
      erase_present(child_slot, key, h, shift + bits_per_level);
    }

   private:
    // The entry that erasing key from the subtree n would leave alone there, if that is all
    // the subtree would hold: n is a chain of nodes with no entry and one child, ending in a
    // node that holds key and one other entry and no child (invariant (1) rules out any
    // other shape of two entries). Else null.
    template <class K>
    const value_type* lone_survivor(const node* n, const K& key) const {
      while (!n->collision && entry_count(n) == 0 && child_count(n) == 1) n = children(n)[0];
      if (child_count(n) != 0 || entry_count(n) != 2) return nullptr;
      const value_type* es = entries(n);
      return eq_(es[0].first, key) ? es + 1 : es;
    }

    static node* share(node* n) noexcept {
      acquire(n);
      return n;
    }
    static node* no_children(std::uint32_t) noexcept { return nullptr; }

    // The reference to `child` of `from` that a rebuilt copy of `from` takes. A node of
    // this transient is freed as soon as its copy replaces it (replace, below), so its
    // references move to the copy: no count changes, and no child line touched. A shared
    // node keeps its references, so the copy takes new ones.
    node* take(const node* from, node* child) const noexcept {
      return from->edit == edit_ ? child : share(child);
    }

    // Puts c, a rebuilt copy of slot's node, where slot was and drops slot's old node: a
    // node of this transient (referenced only from slot) is freed without releasing its
    // children, whose references c took (take, above); a shared node loses one reference.
    void replace(node*& slot, node* c) const noexcept {
      node* old = slot;
      slot = c;
      if (old->edit == edit_) {
        assert(old->refs.load(std::memory_order_relaxed) == 1);
        free_shell(old, alloc_);
      } else {
        release(old, alloc_);
      }
    }

    // A subtree holding `other` (copied) and the new entry (make), from level `shift` down.
    template <class Make>
    node* make_pair(const value_type& other, std::size_t other_hash, std::size_t h, Make& make,
                    unsigned shift) {
      if (shift >= hash_bits) {
        return build(
            true, 0, 0, 2, 0,
            [&](std::uint32_t i, value_type* p) {
              if (i == 0) {
                std::construct_at(p, other);
              } else {
                make(p);
              }
            },
            no_children);
      }
      const std::uint32_t b_other = bit_at(other_hash, shift), b_new = bit_at(h, shift);
      if (b_other != b_new) {
        const bool other_first = b_other < b_new;
        return build(
            false, b_other | b_new, 0, 2, 0,
            [&](std::uint32_t i, value_type* p) {
              if ((i == 0) == other_first) {
                std::construct_at(p, other);
              } else {
                make(p);
              }
            },
            no_children);
      }
      node* sub = make_pair(other, other_hash, h, make, shift + bits_per_level);
      try {
        return build(
            false, 0, b_new, 0, 1, [](std::uint32_t, value_type*) {},
            [&](std::uint32_t) { return sub; });
      } catch (...) {
        release(sub, alloc_);
        throw;
      }
    }

    // n with its entry at `bit` replaced by the child `sub` (whose reference it adopts).
    node* entry_to_child(const node* n, std::uint32_t bit, node* sub) {
      prefetch_children(n);
      const std::uint32_t gone = index_of(n->datamap, bit);
      const std::uint32_t nm = n->nodemap | bit;
      const std::uint32_t at = index_of(nm, bit);
      const value_type* src = entries(n);
      node* const* kids = children(n);
      return build(
          false, n->datamap & ~bit, nm, entry_count(n) - 1, child_count(n) + 1,
          [&](std::uint32_t i, value_type* p) { std::construct_at(p, src[i < gone ? i : i + 1]); },
          [&](std::uint32_t i) {
            if (i == at) return sub;
            return take(n, kids[i < at ? i : i - 1]);
          });
    }

    // n with its child at `bit` replaced by a copy of entry e (the result takes n's other
    // children only).
    node* child_to_entry(const node* n, std::uint32_t bit, const value_type& e) {
      prefetch_children(n);
      const std::uint32_t gone = index_of(n->nodemap, bit);
      const std::uint32_t dm = n->datamap | bit;
      const std::uint32_t at = index_of(dm, bit);
      const value_type* src = entries(n);
      node* const* kids = children(n);
      return build(
          false, dm, n->nodemap & ~bit, entry_count(n) + 1, child_count(n) - 1,
          [&](std::uint32_t i, value_type* p) {
            if (i < at) {
              std::construct_at(p, src[i]);
            } else if (i == at) {
              std::construct_at(p, e);
            } else {
              std::construct_at(p, src[i - 1]);
            }
          },
          [&](std::uint32_t i) { return take(n, kids[i < gone ? i : i + 1]); });
    }

    // A new node of this transient: entries from make_entry(i, where) (may throw; then
    // nothing is left behind), then children from child_at(i) (must not throw; it returns
    // a pointer whose reference the node takes over).
    template <class MakeEntry, class ChildAt>
    node* build(bool collision, std::uint32_t datamap, std::uint32_t nodemap, std::uint32_t ne,
                std::uint32_t nc, MakeEntry&& make_entry, ChildAt&& child_at) {
      node* n = allocate(nc, ne, alloc_);
      n->datamap = datamap;
      n->nodemap = nodemap;
      n->collision = collision;
      n->collision_count = collision ? ne : 0;
      n->edit = edit_;
      value_type* es = entries(n);
      std::uint32_t built = 0;
      try {
        for (; built < ne; ++built) make_entry(built, es + built);
      } catch (...) {
        while (built > 0) std::destroy_at(es + --built);
        deallocate(n, nc, ne, alloc_);
        throw;
      }
      node** cs = children(n);
      for (std::uint32_t i = 0; i < nc; ++i) cs[i] = child_at(i);
      return n;
    }

    const Hash& hash_;
    const KeyEqual& eq_;
    node_allocator& alloc_;
    std::uint64_t edit_;
  };

 private:
  static constexpr std::size_t align_up(std::size_t x, std::size_t a) noexcept {
    return (x + a - 1) / a * a;
  }
  static constexpr std::size_t children_offset = align_up(sizeof(node), alignof(node*));
  static constexpr std::size_t entries_offset(std::uint32_t nc) noexcept {
    return align_up(children_offset + nc * sizeof(node*), alignof(value_type));
  }
  static constexpr std::size_t blocks_for(std::uint32_t nc, std::uint32_t ne) noexcept {
    return (entries_offset(nc) + ne * sizeof(value_type) + sizeof(block) - 1) / sizeof(block);
  }

  // A node header (refs = 1, empty maps) with room for nc children and ne entries.
  static node* allocate(std::uint32_t nc, std::uint32_t ne, node_allocator& a) {
    block* b = block_traits::allocate(a, blocks_for(nc, ne));
    return ::new (static_cast<void*>(b)) node();
  }
  static void deallocate(node* n, std::uint32_t nc, std::uint32_t ne, node_allocator& a) noexcept {
    std::destroy_at(n);
    block_traits::deallocate(a, reinterpret_cast<block*>(n), blocks_for(nc, ne));
  }
};

}  // namespace cmap::detail
