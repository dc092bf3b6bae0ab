// champ, the persistent hash trie behind snapshot_map, driven directly through its editor:
// inserts, erases and in-place edits of a transient's own nodes; persistence (a published
// version never changes); reference counts (every node freed with its last root, none
// before); the canonical form of invariant (1) after erasing down, and equal trees for equal
// contents; collision nodes at depth 13; writes whose copies or allocations throw
// (invariant (2)); walk.
//
// Most steps end with check(), which audits the whole structure: every node's reference
// count equals the references that exist to it, the arena's live blocks and bytes are
// exactly those of the reachable nodes, every entry sits where its hash puts it, collision
// nodes appear at depth 13 only, and no node below a root is empty or a lone entry.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmap/detail/champ.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include "arena_allocator.hpp"

namespace {

using u64 = std::uint64_t;

// A key that carries its own 64-bit hash, so that a test picks hashes exactly: keys with the
// same `hash` and different `id` collide on all 64 bits.
struct key {
  u64 hash;
  u64 id;
  bool operator==(const key&) const = default;
  bool operator<(const key& o) const { return std::tie(hash, id) < std::tie(o.hash, o.id); }
};
// gtest names a key by its id in failure messages.
void PrintTo(const key& k, std::ostream* os) { *os << "key " << k.id; }

struct key_hash {
  std::size_t operator()(const key& k) const noexcept { return k.hash; }
};

u64 mix(u64 x) {  // splitmix64's finaliser: well spread hashes for ordinary keys
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
key plain(u64 id) { return key{mix(id), id}; }

// What a tree holds: key -> value.
using model = std::map<key, u64>;

struct copy_failure {};

// A value that counts its live instances (every entry a node held must be destroyed with
// it) and whose copy can be told to throw: after `copies_left` more successful copies, each
// copy throws until the count is reset to -1.
struct tracked {
  static inline long live = 0;
  static inline long copies_left = -1;

  explicit tracked(u64 x) : v(x) { ++live; }
  tracked(const tracked& o) : v(o.v) {
    if (copies_left == 0) throw copy_failure();
    if (copies_left > 0) --copies_left;
    ++live;
  }
  tracked& operator=(const tracked&) = default;
  ~tracked() { --live; }
  bool operator==(const tracked& o) const { return v == o.v; }

  u64 v;
};

// Copies fail as told for one scope only: the audits after it copy values too.
class failing_copies {
 public:
  explicit failing_copies(long after) { tracked::copies_left = after; }
  ~failing_copies() { tracked::copies_left = -1; }
  failing_copies(const failing_copies&) = delete;
  failing_copies& operator=(const failing_copies&) = delete;
};

class Champ : public ::testing::Test {
 protected:
  using value_type = std::pair<const key, tracked>;
  using trie = cmap::detail::champ<key, tracked, key_hash, std::equal_to<key>,
                                   cmap_test::arena_allocator<value_type>>;
  using node = trie::node;
  using editor = trie::editor;

  void SetUp() override {
    tracked::live = 0;
    tracked::copies_left = -1;
  }
  void TearDown() override {
    // Every test releases all it holds: nothing may outlive the roots.
    EXPECT_EQ(mem.live_blocks.load(), 0);
    EXPECT_EQ(mem.live_bytes.load(), 0);
    EXPECT_EQ(tracked::live, 0);
  }

  // An editor under an edit id never used before (as snapshot_map hands them out).
  editor new_editor() { return editor(hash, eq, alloc, ++last_edit); }
  node* empty_tree(const editor& e) { return trie::make_empty(e.edit(), alloc); }
  // A transient's start from a published version: one more reference to its root.
  static node* share(node* published) {
    trie::acquire(published);
    return published;
  }
  void release(node* root) { trie::release(root, alloc); }

  void insert(editor& e, node*& root, const key& k, u64 v) {
    ASSERT_EQ(trie::find(root, k, hash(k), eq), nullptr) << "insert_absent needs an absent key";
    const tracked value(v);
    auto make = [&](value_type* p) { std::construct_at(p, k, value); };
    e.insert_absent(root, hash(k), make);
  }
  void erase(editor& e, node*& root, const key& k) {
    ASSERT_NE(trie::find(root, k, hash(k), eq), nullptr) << "erase_present needs a present key";
    e.erase_present(root, k, hash(k));
  }
  const tracked* find(const node* root, const key& k) const {
    const value_type* e = trie::find(root, k, hash(k), eq);
    return e == nullptr ? nullptr : &e->second;
  }

  // The entries walk() shows (a key shown twice is a failure).
  model contents(const node* root) const {
    model out;
    auto each = [&](const value_type& e) {
      EXPECT_TRUE(out.emplace(e.first, e.second.v).second)
          << "key " << e.first.id << " shown twice by walk()";
      return true;
    };
    EXPECT_TRUE(trie::walk(root, each));
    return out;
  }
  // Every key of m found with its value, through find().
  ::testing::AssertionResult finds_all(const node* root, const model& m) const {
    for (const auto& [k, v] : m) {
      const tracked* got = find(root, k);
      if (got == nullptr) return ::testing::AssertionFailure() << "key " << k.id << " not found";
      if (got->v != v)
        return ::testing::AssertionFailure() << "key " << k.id << ": " << got->v << " != " << v;
    }
    return ::testing::AssertionSuccess();
  }

  // Audits the trees of `roots` (each root counted as one held reference) against the
  // arena, which must hold nothing else.
  ::testing::AssertionResult check(const std::vector<const node*>& roots) const {
    audit a;
    for (const node* r : roots) {
      ++a.refs_to[r];
      visit(r, 0, 0, true, a);
    }
    for (const auto& [n, expected] : a.refs_to) {
      const auto refs = n->refs.load(std::memory_order_relaxed);
      if (refs != static_cast<std::uint32_t>(expected))
        a.fail() << "a node at depth " << a.depth[n] << " counts " << refs << " references, "
                 << expected << " exist";
    }
    if (mem.live_blocks.load() != static_cast<long>(a.refs_to.size()))
      a.fail() << mem.live_blocks.load() << " live blocks, " << a.refs_to.size()
               << " reachable nodes";
    if (mem.live_bytes.load() != static_cast<long>(a.bytes))
      a.fail() << mem.live_bytes.load() << " live bytes, " << a.bytes << " in reachable nodes";
    if (a.problems.empty()) return ::testing::AssertionSuccess();
    auto out = ::testing::AssertionFailure();
    for (std::size_t i = 0; i < a.problems.size() && i < 5; ++i)
      out << "\n  " << a.problems[i].str();
    return out << "\n  (" << a.problems.size() << " problems)";
  }

  // Node count and shape (bitmaps and collision counts, depth first) of one tree: equal for
  // trees in the same canonical form, however they were built.
  static std::size_t node_count(const node* n) {
    std::size_t total = 1;
    for (std::uint32_t i = 0; i < trie::child_count(n); ++i)
      total += node_count(trie::children(n)[i]);
    return total;
  }
  static void shape(const node* n, std::vector<u64>& out) {
    out.push_back((u64{n->datamap} << 32) | n->nodemap);
    out.push_back(n->collision ? n->collision_count : 0xffffffff);
    for (std::uint32_t i = 0; i < trie::child_count(n); ++i) shape(trie::children(n)[i], out);
  }
  static std::vector<u64> shape(const node* n) {
    std::vector<u64> out;
    shape(n, out);
    return out;
  }
  // Everything a version consists of: its nodes (by address), their bitmaps and edit ids,
  // and their entries. A published version must keep it whatever later transients do.
  static void fingerprint(const node* n, std::vector<u64>& out) {
    out.push_back(reinterpret_cast<std::uintptr_t>(n));
    out.push_back((u64{n->datamap} << 32) | n->nodemap);
    out.push_back(n->collision_count);
    out.push_back(n->edit);
    const value_type* es = trie::entries(n);
    for (std::uint32_t i = 0; i < trie::entry_count(n); ++i) {
      out.push_back(es[i].first.hash);
      out.push_back(es[i].first.id);
      out.push_back(es[i].second.v);
    }
    for (std::uint32_t i = 0; i < trie::child_count(n); ++i) fingerprint(trie::children(n)[i], out);
  }
  static std::vector<u64> fingerprint(const node* n) {
    std::vector<u64> out;
    fingerprint(n, out);
    return out;
  }
  // The nodes from the root down to the one holding k's entry.
  std::vector<const node*> path(const node* n, const key& k) const {
    const std::size_t h = hash(k);
    std::vector<const node*> out{n};
    for (unsigned shift = 0; !n->collision; shift += trie::bits_per_level) {
      const std::uint32_t bit = trie::bit_at(h, shift);
      if ((n->datamap & bit) != 0) break;
      n = trie::children(n)[trie::index_of(n->nodemap, bit)];
      out.push_back(n);
    }
    return out;
  }
  std::size_t path_length(const node* n, const key& k) const { return path(n, k).size(); }

  // A tree of `keys` (values id * 3), built under its own edit id and then left alone:
  // published, as far as later editors are concerned.
  node* build(const std::vector<key>& keys) {
    editor e = new_editor();
    node* root = empty_tree(e);
    for (const key& k : keys) insert(e, root, k, k.id * 3);
    return root;
  }

  cmap_test::arena mem{1};
  trie::node_allocator alloc{mem};
  key_hash hash;
  std::equal_to<key> eq;
  u64 last_edit = 0;

 private:
  struct audit {
    std::map<const node*, long> refs_to;  // references that exist: parents' and roots'
    std::map<const node*, unsigned> depth;
    std::size_t bytes = 0;
    std::vector<std::ostringstream> problems;
    std::ostringstream& fail() { return problems.emplace_back(); }
  };

  // Checks n (reached at `shift`, whose hashes all have the low `shift` bits `prefix`) and,
  // on its first visit, its subtree; counts the references its children receive.
  void visit(const node* n, unsigned shift, u64 prefix, bool is_root, audit& a) const {
    if (!a.depth.emplace(n, shift / trie::bits_per_level).second) return;  // shared, seen
    a.bytes += trie::node_bytes(n);
    const unsigned d = shift / trie::bits_per_level;
    const std::uint32_t ne = trie::entry_count(n), nc = trie::child_count(n);
    const value_type* es = trie::entries(n);
    if (shift >= trie::hash_bits) {
      if (!n->collision) a.fail() << "a bitmap node at depth " << d;
      if (ne < 2) a.fail() << "a collision node with " << ne << " entries";
      if (n->datamap != 0 || n->nodemap != 0) a.fail() << "a collision node with bitmaps";
      for (std::uint32_t i = 0; i < ne; ++i) {
        if (hash(es[i].first) != prefix) a.fail() << "key " << es[i].first.id << " misplaced";
        for (std::uint32_t j = 0; j < i; ++j)
          if (es[j].first == es[i].first) a.fail() << "key " << es[i].first.id << " twice";
      }
      return;
    }
    if (n->collision) a.fail() << "a collision node at depth " << d;
    if ((n->datamap & n->nodemap) != 0) a.fail() << "a position with an entry and a child";
    if (!is_root && nc == 0 && ne <= 1)
      a.fail() << "invariant (1): a node below the root at depth " << d << " with " << ne
               << " entries and no child";
    const u64 low = shift == 0 ? 0 : (~u64{0} >> (trie::hash_bits - shift));
    std::uint32_t ei = 0, ci = 0;
    for (unsigned pos = 0; pos < 32; ++pos) {
      const std::uint32_t bit = std::uint32_t{1} << pos;
      if ((n->datamap & bit) != 0) {
        const u64 h = hash(es[ei].first);
        if ((h & low) != prefix || ((h >> shift) & 31) != pos)
          a.fail() << "key " << es[ei].first.id << " at depth " << d << ", position " << pos
                   << ": not where its hash puts it";
        ++ei;
      } else if ((n->nodemap & bit) != 0) {
        const node* c = trie::children(n)[ci++];
        ++a.refs_to[c];
        visit(c, shift + trie::bits_per_level, prefix | (u64{pos} << shift), false, a);
      }
    }
  }
};

// Keys that give the trie every shape: ordinary ones, a group colliding on all 64 bits
// (a collision node at depth 13), two keys that differ from that group only in the top hash
// bits (they part from it at depth 12, the last bitmap level), and three that share their
// low 30 bits (a chain of single-child nodes down to depth 6).
std::vector<key> varied_keys(u64 ordinary) {
  std::vector<key> keys;
  for (u64 i = 0; i < ordinary; ++i) keys.push_back(plain(i));
  const u64 same = mix(1000001), low30 = mix(1000002);
  for (u64 i = 0; i < 4; ++i) keys.push_back(key{same, 2000000 + i});
  keys.push_back(key{same ^ (u64{1} << 63), 2000010});
  keys.push_back(key{same ^ (u64{1} << 61), 2000011});
  for (u64 i = 1; i <= 3; ++i) keys.push_back(key{low30 ^ (i << 30), 2000020 + i});
  return keys;
}

// Equal contents, or the first few differences.
::testing::AssertionResult same_contents(const model& got, const model& want) {
  if (got == want) return ::testing::AssertionSuccess();
  auto out = ::testing::AssertionFailure();
  int shown = 0;
  for (const auto& [k, v] : want) {
    const auto it = got.find(k);
    if (it == got.end()) {
      out << "\n  key " << k.id << " missing";
    } else if (it->second != v) {
      out << "\n  key " << k.id << ": " << it->second << " instead of " << v;
    } else {
      continue;
    }
    if (++shown == 5) break;
  }
  for (const auto& [k, v] : got) {
    if (shown < 5 && want.count(k) == 0) {
      out << "\n  key " << k.id << " should not be there";
      ++shown;
    }
  }
  return out;
}

model model_of(const std::vector<key>& keys) {
  model m;
  for (const key& k : keys) m.emplace(k, k.id * 3);
  return m;
}

TEST_F(Champ, InsertFindAndEraseThroughAnEditor) {
  editor e = new_editor();
  node* root = empty_tree(e);
  ASSERT_TRUE(check({root}));
  EXPECT_EQ(find(root, plain(1)), nullptr);

  std::vector<key> keys = varied_keys(3000);
  std::shuffle(keys.begin(), keys.end(), std::mt19937_64(7));
  model m;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    insert(e, root, keys[i], keys[i].id * 3);
    m.emplace(keys[i], keys[i].id * 3);
    if (i % 250 == 0) {
      ASSERT_TRUE(check({root})) << "after " << i + 1 << " inserts";
    }
  }
  ASSERT_TRUE(check({root}));
  EXPECT_TRUE(same_contents(contents(root), m));
  EXPECT_TRUE(finds_all(root, m));
  // Absent keys: an unused id, a new id in the collision group, a hash never used.
  EXPECT_EQ(find(root, plain(5000)), nullptr);
  EXPECT_EQ(find(root, key{mix(1000001), 1}), nullptr);
  EXPECT_EQ(find(root, key{plain(5).hash, 6}), nullptr);

  // find_present hands out the entry; its value changes in place.
  for (std::size_t i = 0; i < keys.size(); i += 3) {
    trie::value_type* entry = e.find_present(root, keys[i], hash(keys[i]));
    ASSERT_EQ(entry->first, keys[i]);
    entry->second = tracked(keys[i].id + 1);
    m[keys[i]] = keys[i].id + 1;
  }
  ASSERT_TRUE(check({root}));
  EXPECT_TRUE(finds_all(root, m));

  std::shuffle(keys.begin(), keys.end(), std::mt19937_64(8));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    erase(e, root, keys[i]);
    m.erase(keys[i]);
    EXPECT_EQ(find(root, keys[i]), nullptr);
    if (i % 250 == 0) {
      ASSERT_TRUE(check({root})) << "after " << i + 1 << " erases";
    }
  }
  // Erased down to nothing: the root alone, empty.
  ASSERT_TRUE(check({root}));
  EXPECT_EQ(trie::entry_count(root), 0u);
  EXPECT_EQ(trie::child_count(root), 0u);
  EXPECT_EQ(trie::tree_bytes(root), trie::node_bytes(root));
  release(root);
}

// Nodes made by the editor are its own: it changes them without copying, and the node an
// insert replaces is freed at once (check() counts the live blocks). After renew(), the
// nodes made so far are shared like a published version's, so the next change copies the
// key's path, exactly, and leaves the remembered tree as it was.
TEST_F(Champ, AnEditorChangesItsOwnNodesInPlaceUntilRenewed) {
  editor e = new_editor();
  node* root = empty_tree(e);
  const std::vector<key> keys = varied_keys(2000);
  for (const key& k : keys) insert(e, root, k, k.id * 3);
  ASSERT_TRUE(check({root}));

  for (const key& k : {keys[17], keys[1500], keys[2001], keys.back()}) {
    const long allocations = mem.allocations.load();
    const node* before = root;
    trie::value_type* first = e.find_present(root, k, hash(k));
    first->second = tracked(1);
    trie::value_type* again = e.find_present(root, k, hash(k));
    EXPECT_EQ(first, again) << "key " << k.id;
    EXPECT_EQ(root, before) << "key " << k.id;
    EXPECT_EQ(mem.allocations.load(), allocations) << "an own node copied, key " << k.id;
    EXPECT_EQ(find(root, k)->v, 1u);
  }

  // A savepoint, as snapshot_map's: keep the tree as it is, carry on under a new id.
  node* saved = share(root);
  const std::vector<u64> saved_print = fingerprint(saved);
  e.renew(++last_edit);
  bool first_change = true;
  for (const key& k : {keys[3], keys[2002], keys[2005], keys.back()}) {
    const long allocations = mem.allocations.load();
    const std::vector<const node*> on_path = path(root, k);
    const auto shared = static_cast<std::size_t>(std::count_if(
        on_path.begin(), on_path.end(), [&](const node* n) { return n->edit != e.edit(); }));
    if (first_change) {
      EXPECT_EQ(shared, on_path.size()) << "nothing is the editor's after renew";
    }
    first_change = false;
    e.find_present(root, k, hash(k))->second = tracked(2);
    EXPECT_EQ(static_cast<std::size_t>(mem.allocations.load() - allocations), shared)
        << "key " << k.id << ": the copies are the path's nodes not yet copied, no more";
    for (const node* n : path(root, k)) EXPECT_EQ(n->edit, e.edit()) << "key " << k.id;
  }
  EXPECT_EQ(fingerprint(saved), saved_print);
  EXPECT_EQ(find(saved, keys[3])->v, keys[3].id * 3);
  EXPECT_EQ(find(root, keys[3])->v, 2u);
  ASSERT_TRUE(check({saved, root}));

  // Back to the savepoint: dropping the newer tree frees exactly the copies it made.
  release(std::exchange(root, saved));
  ASSERT_TRUE(check({root}));
  EXPECT_EQ(fingerprint(root), saved_print);
  release(root);
}

TEST_F(Champ, APublishedVersionNeverChanges) {
  std::vector<key> keys = varied_keys(2000);
  node* v1 = build(keys);
  const model m1 = model_of(keys);
  const std::vector<u64> v1_print = fingerprint(v1);
  const std::size_t v1_bytes = trie::tree_bytes(v1);

  // A transient from v1: erase some keys, insert others, change values in place.
  editor e = new_editor();
  node* v2 = share(v1);
  model m2 = m1;
  std::mt19937_64 rng(11);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (std::size_t i = 0; i < 400; ++i) {
    erase(e, v2, keys[i]);
    m2.erase(keys[i]);
  }
  for (std::size_t i = 400; i < 800; ++i) {
    e.find_present(v2, keys[i], hash(keys[i]))->second = tracked(7);
    m2[keys[i]] = 7;
  }
  for (u64 id = 10000; id < 10400; ++id) {
    insert(e, v2, plain(id), id);
    m2.emplace(plain(id), id);
  }
  insert(e, v2, key{mix(1000001), 2000099}, 5);  // into the collision node
  m2.emplace(key{mix(1000001), 2000099}, 5);

  EXPECT_EQ(fingerprint(v1), v1_print) << "the published version was changed";
  EXPECT_TRUE(same_contents(contents(v1), m1));
  EXPECT_TRUE(finds_all(v1, m1));
  EXPECT_TRUE(same_contents(contents(v2), m2));
  EXPECT_TRUE(finds_all(v2, m2));
  ASSERT_TRUE(check({v1, v2}));
  // The versions share what the transient did not touch.
  EXPECT_LT(mem.live_bytes.load(), static_cast<long>(v1_bytes + trie::tree_bytes(v2)));

  // Dropping v1 frees what only it used; v2 is whole.
  release(v1);
  ASSERT_TRUE(check({v2}));
  EXPECT_EQ(mem.live_bytes.load(), static_cast<long>(trie::tree_bytes(v2)));
  EXPECT_TRUE(same_contents(contents(v2), m2));
  release(v2);
}

// A chain of versions, each a few changes from the one before, released in an order that
// is not their creation order: after each release exactly the nodes still reachable are
// live, and each counts exactly its references; after the last, nothing is.
TEST_F(Champ, ReferenceCountsFreeEachNodeWithItsLastHolder) {
  std::vector<node*> versions{build(varied_keys(1500))};
  std::vector<model> models{model_of(varied_keys(1500))};
  for (u64 v = 1; v < 6; ++v) {
    editor e = new_editor();
    node* root = share(versions.back());
    model m = models.back();
    for (u64 i = 0; i < 50; ++i) {
      const key gone = plain(v * 100 + i);
      erase(e, root, gone);
      m.erase(gone);
      insert(e, root, plain(100000 * v + i), i);
      m.emplace(plain(100000 * v + i), i);
    }
    versions.push_back(root);
    models.push_back(std::move(m));
  }
  ASSERT_TRUE(
      check({versions[0], versions[1], versions[2], versions[3], versions[4], versions[5]}));

  const std::size_t order[] = {2, 0, 5, 3, 1, 4};
  std::set<std::size_t> held{0, 1, 2, 3, 4, 5};
  for (const std::size_t gone : order) {
    release(versions[gone]);
    held.erase(gone);
    std::vector<const node*> roots;
    for (const std::size_t h : held) {
      EXPECT_TRUE(same_contents(contents(versions[h]), models[h])) << "version " << h;
      roots.push_back(versions[h]);
    }
    ASSERT_TRUE(check(roots)) << "after releasing version " << gone;
  }
  EXPECT_EQ(tracked::live, 0);
}

// Equal contents give one tree, however they were reached: invariant (1) is kept by every
// erase, so erasing down lands on the tree a fresh build of the survivors makes.
TEST_F(Champ, ErasingKeepsTheCanonicalForm) {
  std::vector<key> keys = varied_keys(1200);
  std::mt19937_64 rng(3);
  std::shuffle(keys.begin(), keys.end(), rng);
  node* root = build(keys);
  editor e = new_editor();
  model m = model_of(keys);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    erase(e, root, keys[i]);
    m.erase(keys[i]);
    ASSERT_TRUE(check({root})) << "after " << i + 1 << " erases";
    if (i % 97 == 0 || i + 12 >= keys.size()) {
      std::vector<key> rest(keys.begin() + static_cast<std::ptrdiff_t>(i) + 1, keys.end());
      std::shuffle(rest.begin(), rest.end(), rng);
      node* fresh = build(rest);
      EXPECT_EQ(shape(root), shape(fresh)) << "after " << i + 1 << " erases";
      EXPECT_EQ(node_count(root), node_count(fresh));
      EXPECT_EQ(trie::tree_bytes(root), trie::tree_bytes(fresh));
      EXPECT_TRUE(same_contents(contents(root), m));
      release(fresh);
    }
  }
  EXPECT_EQ(node_count(root), 1u);
  release(root);
}

TEST_F(Champ, EqualContentsBuiltInDifferentOrdersGiveEqualTrees) {
  std::vector<key> keys = varied_keys(800);
  // Extra keys that deepen the tree where they go: each shares the low 45 bits of a kept
  // key's hash (a chain of single-child nodes down to depth 9), or all 64 (a collision node).
  std::vector<key> extra;
  for (u64 i = 0; i < 40; ++i) {
    extra.push_back(key{keys[i].hash ^ (u64{1} << 45), 3000000 + i});
    extra.push_back(key{keys[i + 100].hash, 3000100 + i});
  }
  std::mt19937_64 rng(5);
  std::shuffle(keys.begin(), keys.end(), rng);
  node* a = build(keys);

  std::vector<key> all = keys;
  all.insert(all.end(), extra.begin(), extra.end());
  std::shuffle(all.begin(), all.end(), rng);
  node* b = build(all);
  editor e = new_editor();
  std::shuffle(extra.begin(), extra.end(), rng);
  for (const key& k : extra) erase(e, b, k);

  ASSERT_TRUE(check({a, b}));
  EXPECT_TRUE(same_contents(contents(a), contents(b)));
  EXPECT_EQ(shape(a), shape(b));
  EXPECT_EQ(node_count(a), node_count(b));
  EXPECT_EQ(trie::tree_bytes(a), trie::tree_bytes(b));
  release(a);
  release(b);
}

// Keys whose hashes are equal in all 64 bits share a collision node at depth 13, reached
// through a chain of single-child nodes; a key differing only in the top hash bits parts
// from them at depth 12. Erasing them down moves the last one back up to the root.
TEST_F(Champ, KeysWithEqualHashesShareACollisionNodeAtDepth13) {
  const u64 h = mix(42);
  editor e = new_editor();
  node* root = empty_tree(e);
  insert(e, root, key{h, 1}, 10);
  insert(e, root, key{h, 2}, 20);
  ASSERT_TRUE(check({root}));
  EXPECT_EQ(node_count(root), 14u);  // the root, 12 single-child nodes, the collision node
  EXPECT_EQ(path_length(root, key{h, 1}), 14u);
  for (u64 id = 3; id <= 7; ++id) insert(e, root, key{h, id}, id * 10);
  ASSERT_TRUE(check({root}));
  EXPECT_EQ(node_count(root), 14u);
  for (u64 id = 1; id <= 7; ++id) {
    ASSERT_NE(find(root, key{h, id}), nullptr) << id;
    EXPECT_EQ(find(root, key{h, id})->v, id * 10);
  }
  EXPECT_EQ(find(root, key{h, 8}), nullptr);  // same hash, no such key

  // Hash bits 60..63 are depth 12's: a key differing from them only in bit 63 is a
  // neighbour there; one differing only in bit 0 parts at the root.
  const key top{h ^ (u64{1} << 63), 100}, bottom{h ^ 1, 101};
  insert(e, root, top, 1000);
  insert(e, root, bottom, 1010);
  ASSERT_TRUE(check({root}));
  EXPECT_EQ(path_length(root, top), 13u);
  EXPECT_EQ(path_length(root, bottom), 1u);
  EXPECT_EQ(find(root, top)->v, 1000u);

  // A later version changes a value inside the collision node; the earlier one keeps it.
  editor later = new_editor();
  node* next = share(root);
  later.find_present(next, key{h, 4}, h)->second = tracked(44);
  EXPECT_EQ(find(next, key{h, 4})->v, 44u);
  EXPECT_EQ(find(root, key{h, 4})->v, 40u);
  ASSERT_TRUE(check({root, next}));
  release(root);
  root = next;

  for (u64 id = 7; id >= 2; --id) {
    erase(later, root, key{h, id});
    ASSERT_TRUE(check({root})) << "after erasing " << id;
    EXPECT_EQ(find(root, key{h, id}), nullptr);
  }
  // One colliding key left: it moved up beside `top`, at depth 12.
  EXPECT_EQ(path_length(root, key{h, 1}), 13u);
  EXPECT_EQ(node_count(root), 13u);
  erase(later, root, top);
  ASSERT_TRUE(check({root}));
  // Two keys left, parted at the root: no other node.
  EXPECT_EQ(node_count(root), 1u);
  EXPECT_TRUE(same_contents(contents(root), (model{{key{h, 1}, 10}, {bottom, 1010}})));
  release(root);
}

// Invariant (2), and the strong guarantee the batch editor builds on: a write whose copy
// of an entry, or allocation of a node, throws at any point of the key's path leaves the
// transient's tree valid (check(): every count balanced, canonical form), with the contents
// it had, and the published version untouched. snapshot_map's transient counts its size by
// the calls that returned (its erase decrements the size after erase_present), so an erase
// that throws must not have erased anything either.
class ChampFailures : public Champ {
 protected:
  // Runs write(editor, root) on a fresh transient of `published` that already owns some
  // nodes of its own and has erased `erased_first`, with the write's n-th copy (or
  // allocation) failing, n = 0, 1, 2, ... until it completes; then the tree must hold
  // `after`. Returns how many times it threw.
  template <class Write>
  int fail_at_every_point(node* published, bool allocations, model after, Write write,
                          const std::vector<key>& erased_first = {}) {
    const std::vector<u64> published_print = fingerprint(published);
    editor e = new_editor();
    node* root = share(published);
    model before = contents(published);
    for (u64 id = 5000; id < 5020; ++id) {
      insert(e, root, plain(id), id);
      before.emplace(plain(id), id);
      after.emplace(plain(id), id);
    }
    for (const key& k : erased_first) {
      erase(e, root, k);
      before.erase(k);
    }
    int throws = 0;
    for (long n = 0;; ++n) {
      bool threw = false;
      {
        const failing_copies copies(allocations ? -1 : n);
        if (allocations) mem.fail_after(n);
        try {
          write(e, root);
        } catch (const copy_failure&) {
          threw = true;
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        mem.never_fail();
      }
      if (!threw) break;
      ++throws;
      const ::testing::AssertionResult valid = check({published, root});
      const model now = contents(root);
      EXPECT_TRUE(valid) << "after failure " << n;
      EXPECT_TRUE(same_contents(now, before)) << "after failure " << n;
      EXPECT_EQ(fingerprint(published), published_print) << "after failure " << n;
      if (!valid || now != before) {
        release(root);
        return throws;
      }
    }
    EXPECT_TRUE(check({published, root}));
    EXPECT_TRUE(same_contents(contents(root), after));
    EXPECT_EQ(fingerprint(published), published_print);
    release(root);
    return throws;
  }
};

TEST_F(ChampFailures, AnInsertThatThrowsLeavesTheTreeValidAndUnchanged) {
  const std::vector<key> base = varied_keys(300);
  node* v1 = build(base);
  const u64 same = mix(1000001);
  const key candidates[] = {
      plain(6000),                                     // a free position of some node
      key{same, 2000050},                              // into the collision node
      key{same ^ (u64{1} << 62), 2000051},             // beside it at depth 12
      key{plain(3).hash, 2000052},                     // with plain(3): a new collision node
      key{plain(4).hash ^ (u64{1} << 47), 2000053},    // parts from plain(4) at depth 9
      key{plain(5001).hash ^ (u64{1} << 9), 2000054},  // beside an own node's entry
  };
  for (const key& k : candidates) {
    for (const bool allocations : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "inserting key " << k.id << " with "
                                        << (allocations ? "allocations" : "copies") << " failing");
      model after = model_of(base);
      after.emplace(k, 77);
      const int throws = fail_at_every_point(
          v1, allocations, after, [&](editor& e, node*& root) { insert(e, root, k, 77); });
      EXPECT_GT(throws, 0) << "nothing failed: the case tests nothing";
    }
  }
  release(v1);
}

TEST_F(ChampFailures, AnEraseThatThrowsLeavesTheTreeValidAndUnchanged) {
  const std::vector<key> base = varied_keys(300);
  node* v1 = build(base);
  const u64 same = mix(1000001), low30 = mix(1000002);
  struct erase_case {
    std::vector<key> first;  // erased beforehand, without failures
    key k;
  };
  const erase_case cases[] = {
      {{}, plain(10)},                             // an entry of a node that keeps others
      {{}, key{low30 ^ (u64{1} << 30), 2000021}},  // one of three at depth 6: two stay
      {{}, key{same, 2000000}},                    // one of a collision node's four
      // The last but one of a node below the root: the survivor moves up (invariant (1)).
      {{key{low30 ^ (u64{1} << 30), 2000021}}, key{low30 ^ (u64{2} << 30), 2000022}},
      {{key{same, 2000000}, key{same, 2000001}}, key{same, 2000002}},
  };
  for (const erase_case& c : cases) {
    for (const bool allocations : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "erasing key " << c.k.id << " with "
                                        << (allocations ? "allocations" : "copies") << " failing");
      model after = model_of(base);
      for (const key& k : c.first) after.erase(k);
      after.erase(c.k);
      const int throws = fail_at_every_point(
          v1, allocations, after, [&](editor& e, node*& root) { erase(e, root, c.k); }, c.first);
      EXPECT_GT(throws, 0) << "nothing failed: the case tests nothing";
    }
  }
  release(v1);
}

TEST_F(Champ, WalkVisitsEveryEntryOnceAndStopsWhenTold) {
  editor e = new_editor();
  node* root = empty_tree(e);
  int calls = 0;
  auto count = [&](const value_type&) { return ++calls > 0; };
  EXPECT_TRUE(trie::walk(root, count));
  EXPECT_EQ(calls, 0);
  release(root);

  const std::vector<key> keys = varied_keys(500);
  root = build(keys);
  std::map<key, int> seen;
  auto each = [&](const value_type& entry) {
    ++seen[entry.first];
    return true;
  };
  EXPECT_TRUE(trie::walk(root, each));
  ASSERT_EQ(seen.size(), keys.size());
  for (const auto& [k, times] : seen) EXPECT_EQ(times, 1) << "key " << k.id;

  // Stopped at every entry in turn, including inside the collision node and the chains.
  for (int stop_at = 1; stop_at <= static_cast<int>(keys.size()); ++stop_at) {
    calls = 0;
    auto until = [&](const value_type&) { return ++calls < stop_at; };
    EXPECT_FALSE(trie::walk(root, until)) << stop_at;
    EXPECT_EQ(calls, stop_at);
  }
  release(root);
}

}  // namespace
