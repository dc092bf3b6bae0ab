// art_tree, the single-threaded adaptive radix tree: every node type reached and shrunk back
// (with the hysteresis), path compression with prefixes longer than the inline bytes (splits
// and merges that need the leaf's bytes), keys with 00 and FF bytes, ordered walks (ascending,
// descending, from a lower bound, stopped early), and a randomized comparison against
// std::map over key_traits encodings; memory returns to zero, and a counting allocator sees
// every block given back.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmap/detail/art_tree.hpp>
#include <cmap/key_traits.hpp>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "counting_allocator.hpp"

namespace {

using u64 = std::uint64_t;
using tree = cmap::detail::art_tree<u64>;

std::string enc_u64(u64 v) {
  std::string s;
  cmap::key_traits<u64>::encode(v, s);
  return s;
}
std::string enc_str(std::string_view v) {
  std::string s;
  cmap::key_traits<std::string>::encode(v, s);
  return s;
}
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (const int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// Frees what this thread retired (erased leaves, replaced nodes): with no other thread
// pinned, two epoch advances make all of it safe to free.
void settle() { cmap::detail::epoch_domain::global().collect_now(); }

// The tree's contents in ascending (or descending) walk order.
template <class Tree>
std::vector<std::pair<std::string, u64>> contents(const Tree& t, bool ascending = true) {
  std::vector<std::pair<std::string, u64>> out;
  auto f = [&](std::string_view k, const u64& v) { out.emplace_back(std::string(k), v); };
  if (ascending) {
    t.for_each(f);
  } else {
    t.for_each_descending(f);
  }
  return out;
}
std::vector<std::pair<std::string, u64>> contents(const std::map<std::string, u64>& m) {
  return {m.begin(), m.end()};
}

TEST(ArtTree, EmptyTree) {
  tree t;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.find(enc_u64(1)));
  EXPECT_FALSE(t.erase(enc_u64(1)));
  EXPECT_FALSE(t.lower_bound(""));
  EXPECT_TRUE(contents(t).empty());
  EXPECT_EQ(t.allocated_bytes(), 0u);
}

TEST(ArtTree, InsertKeepsValueInsertOrAssignReplaces) {
  tree t;
  EXPECT_TRUE(t.insert(enc_u64(7), 70));
  EXPECT_FALSE(t.insert(enc_u64(7), 71));
  ASSERT_TRUE(t.find(enc_u64(7)));
  EXPECT_EQ(*t.find(enc_u64(7)), 70u);
  EXPECT_FALSE(t.insert_or_assign(enc_u64(7), 72));
  EXPECT_EQ(*t.find(enc_u64(7)), 72u);
  EXPECT_TRUE(t.insert_or_assign(enc_u64(8), 80));
  EXPECT_EQ(*t.find(enc_u64(8)), 80u);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_FALSE(t.try_emplace(enc_u64(8), 81));
  EXPECT_EQ(*t.find(enc_u64(8)), 80u);
}

// The kind of the single inner node in a tree of k keys that differ in one byte.
std::string root_kind(const tree& t) {
  const auto c = t.count_nodes();
  const std::size_t inner = c.node4 + c.node16 + c.node48 + c.node256;
  if (inner == 0) return c.leaves == 0 ? "empty" : "leaf";
  if (inner != 1) return "several";
  return c.node4 != 0 ? "node4" : c.node16 != 0 ? "node16" : c.node48 != 0 ? "node48" : "node256";
}

// Keys "ab" + b + "xyz": one node with prefix "ab" branching on b, every child a leaf.
std::string child_key(int b) { return "ab" + bytes({b}) + "xyz"; }

TEST(ArtTree, EveryNodeTypeGrowsAndShrinksWithHysteresis) {
  tree t;
  std::vector<int> order(256);
  for (int i = 0; i < 256; ++i) order[i] = (i * 97) % 256;  // not in byte order
  auto expected_growing = [](std::size_t n) -> std::string {
    if (n == 1) return "leaf";
    if (n <= 4) return "node4";
    if (n <= 16) return "node16";
    if (n <= 48) return "node48";
    return "node256";
  };
  std::size_t bytes_at_48 = 0;
  for (std::size_t n = 1; n <= 256; ++n) {
    ASSERT_TRUE(t.insert(child_key(order[n - 1]), n));
    ASSERT_EQ(root_kind(t), expected_growing(n)) << n << " children";
    if (n == 48) bytes_at_48 = t.allocated_bytes();
  }
  EXPECT_GT(t.allocated_bytes(), bytes_at_48);
  for (int b = 0; b < 256; ++b) {
    ASSERT_TRUE(t.find(child_key(b))) << b;
  }
  const auto all = contents(t);
  ASSERT_EQ(all.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(all[b].first, child_key(b));

  // Shrinking: node256 down to 38, node48 to 13, node16 to 4, node4 to 2, then a leaf.
  auto expected_shrinking = [](std::size_t n) -> std::string {
    if (n == 0) return "empty";
    if (n == 1) return "leaf";
    if (n <= 3) return "node4";
    if (n <= 12) return "node16";
    if (n <= 37) return "node48";
    return "node256";
  };
  for (std::size_t n = 256; n-- > 0;) {
    const int gone = order[n];
    ASSERT_TRUE(t.erase(child_key(gone)));
    ASSERT_FALSE(t.erase(child_key(gone)));
    ASSERT_EQ(root_kind(t), expected_shrinking(n)) << n << " children";
    ASSERT_FALSE(t.find(child_key(gone)));
    if (n > 0) {
      ASSERT_TRUE(t.find(child_key(order[0])));
    }
    if (n == 12) {
      // Hysteresis: growing back from a shrunk node16 keeps it until it is full.
      for (std::size_t m = 12; m < 16; ++m) {
        ASSERT_TRUE(t.insert(child_key(order[m]), m + 1));
        ASSERT_EQ(root_kind(t), "node16") << m + 1 << " children";
      }
      ASSERT_TRUE(t.insert(child_key(order[16]), 17));
      ASSERT_EQ(root_kind(t), "node48");
      for (std::size_t m = 17; m-- > 13;) {
        ASSERT_TRUE(t.erase(child_key(order[m])));
        ASSERT_EQ(root_kind(t), "node48") << m << " children";
      }
      ASSERT_TRUE(t.erase(child_key(order[12])));
      ASSERT_EQ(root_kind(t), "node16");
    }
  }
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.allocated_bytes(), 0u);
}

TEST(ArtTree, NodeSizesShowInAllocatedBytes) {
  tree t;
  for (int b = 0; b < 4; ++b) t.insert(child_key(b), 0);
  const std::size_t with_node4 = t.allocated_bytes();
  t.insert(child_key(4), 0);
  const std::size_t with_node16 = t.allocated_bytes();
  // One more leaf (16 + 6 key bytes -> 24) and the node4 (64) replaced by a node16 (168).
  if constexpr (sizeof(void*) == 8) {
    EXPECT_EQ(with_node16 - with_node4, 24u + 168u - 64u);
  }
}

// Keys sharing a long prefix: splits inside and past the 8 inline bytes, merges on erase.
TEST(ArtTree, LongSharedPrefixes) {
  tree t;
  const std::string shared(100, 'x');
  std::set<std::string> keys;
  auto add = [&](const std::string& k) {
    ASSERT_TRUE(t.insert(k, keys.size())) << k.size();
    keys.insert(k);
  };
  add(shared + "a");
  add(shared + "b");  // one node4 with a 100-byte prefix
  {
    const auto c = t.count_nodes();
    EXPECT_EQ(c.node4, 1u);
    EXPECT_EQ(c.leaves, 2u);
  }
  // A key equal to the inline bytes but differing at byte 50: find must reject it at the leaf.
  std::string far = shared;
  far[50] = 'y';
  EXPECT_FALSE(t.find(far + "a"));
  EXPECT_FALSE(t.erase(far + "a"));
  // Split the prefix past the inline bytes, at the boundary, and inside.
  for (const std::size_t at : {50u, 9u, 8u, 7u, 3u, 0u, 99u}) {
    std::string k = shared;
    k[at] = static_cast<char>(at % 2 == 0 ? 'w' : 'z');  // below and above 'x'
    add(k + "q");
  }
  for (const auto& k : keys) {
    ASSERT_TRUE(t.find(k)) << k;
  }
  std::vector<std::string> walked;
  t.for_each([&](std::string_view k, u64) { walked.emplace_back(k); });
  EXPECT_EQ(walked, std::vector<std::string>(keys.begin(), keys.end()));

  // lower_bound at keys that leave the prefix past the inline bytes, both ways.
  std::string low = shared;
  low[60] = 'a';  // below every key under the 100-byte prefix
  auto e = t.lower_bound(low);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->first, *keys.lower_bound(low));
  std::string high = shared;
  high[60] = 'z';
  e = t.lower_bound(high);
  ASSERT_EQ(static_cast<bool>(e), keys.lower_bound(high) != keys.end());
  if (e) {
    EXPECT_EQ(e->first, *keys.lower_bound(high));
  }

  // Erase in an order that merges nodes back (prefix + byte + prefix).
  for (const auto& k : std::vector<std::string>(keys.begin(), keys.end())) {
    if (k == shared + "a") continue;
    ASSERT_TRUE(t.erase(k));
    keys.erase(k);
    for (const auto& left : keys) ASSERT_TRUE(t.find(left)) << "after erasing " << k;
    std::vector<std::string> now;
    t.for_each([&](std::string_view key, u64) { now.emplace_back(key); });
    ASSERT_EQ(now, std::vector<std::string>(keys.begin(), keys.end()));
  }
  // One key left: the root is its leaf, and a key differing at byte 50 is still absent.
  EXPECT_EQ(root_kind(t), "leaf");
  EXPECT_FALSE(t.find(far + "a"));
  // Re-grow across a prefix built by merges: a split at byte 40 needs the leaf's bytes.
  std::string k40 = shared;
  k40[40] = 'a';
  add(k40);
  add(shared + "b");
  EXPECT_TRUE(t.find(k40));
  EXPECT_TRUE(t.find(shared + "a"));
  EXPECT_TRUE(t.find(shared + "b"));
  EXPECT_EQ(t.size(), 3u);
}

// A node whose 30-byte prefix has distinct bytes, split at each offset in turn: the part
// after the split must keep its own bytes (inline ones shifted, later ones from the leaf).
TEST(ArtTree, SplitsAtEveryPrefixOffset) {
  const std::string stem = "0123456789ABCDEFGHIJKLMNOPQRST";
  for (std::size_t at = 0; at < stem.size(); ++at) {
    SCOPED_TRACE("split at " + std::to_string(at));
    tree t;
    std::set<std::string> keys{stem + "a", stem + "b"};
    std::string other = stem;
    other[at] = '~';
    keys.insert(other);
    for (const auto& k : keys) ASSERT_TRUE(t.insert(k, k.size()));
    // A second split below the first, past the inline bytes of the shortened prefix.
    if (at + 12 < stem.size()) {
      std::string deeper = stem;
      deeper[at + 12] = '!';
      keys.insert(deeper);
      ASSERT_TRUE(t.insert(deeper, 0));
    }
    for (const auto& k : keys) ASSERT_TRUE(t.find(k)) << k;
    std::vector<std::string> got;
    t.for_each([&](std::string_view k, u64) { got.emplace_back(k); });
    EXPECT_EQ(got, std::vector<std::string>(keys.begin(), keys.end()));
    for (const auto& k : keys) {
      const auto e = t.lower_bound(k);
      ASSERT_TRUE(e);
      EXPECT_EQ(e->first, k);
    }
  }
}

// Merging a node4 into a child whose own prefix is long: the merged prefix keeps the right
// inline bytes, and a later split inside it still finds the right bytes.
TEST(ArtTree, MergedPrefixesSplitCorrectly) {
  tree t;
  const std::string a = "p" + std::string(20, 'm');
  // A root node4 branching at byte 0 ('A', 'p'); under 'p' a node4 with 20 m's of prefix.
  t.insert("A", 1);
  t.insert(a + "1", 2);
  t.insert(a + "2", 3);
  ASSERT_TRUE(t.erase("A"));  // root merges with the node under 'p': prefix "p" + 20 m's
  EXPECT_EQ(t.count_nodes().node4, 1u);
  std::string mid = a;
  mid[15] = 'n';
  t.insert(mid + "3", 4);
  std::string early = a;
  early[2] = 'a';
  t.insert(early + "4", 5);
  EXPECT_EQ(*t.find(a + "1"), 2u);
  EXPECT_EQ(*t.find(a + "2"), 3u);
  EXPECT_EQ(*t.find(mid + "3"), 4u);
  EXPECT_EQ(*t.find(early + "4"), 5u);
  const std::vector<std::string> expect{early + "4", a + "1", a + "2", mid + "3"};
  std::vector<std::string> got;
  t.for_each([&](std::string_view k, u64) { got.emplace_back(k); });
  EXPECT_EQ(got, expect);
}

TEST(ArtTree, ZeroAndFfBytesAndEmptyStrings) {
  tree t;
  const std::vector<std::string> plain{"",     std::string(1, '\0'),     std::string(2, '\0'),
                                       "\xff", std::string("\0\xff", 2), "\xff\xff",
                                       "a",    std::string("a\0", 2),    "a\xff"};
  std::map<std::string, u64> model;
  for (std::size_t i = 0; i < plain.size(); ++i) {
    const std::string k = enc_str(plain[i]);
    ASSERT_TRUE(t.insert(k, i));
    model.emplace(k, i);
  }
  EXPECT_EQ(enc_str(""), std::string(2, '\0'));
  ASSERT_TRUE(t.find(enc_str("")));
  EXPECT_EQ(*t.find(enc_str("")), 0u);
  EXPECT_EQ(contents(t), contents(model));
  // Fixed-width keys made of 00 and FF bytes.
  tree f;
  std::map<std::string, u64> fm;
  for (int i = 0; i < 16; ++i) {
    std::string k;
    for (int bit = 0; bit < 4; ++bit) k.push_back((i >> bit) & 1 ? '\xff' : '\0');
    ASSERT_TRUE(f.insert(k, static_cast<u64>(i)));
    fm.emplace(k, i);
  }
  EXPECT_EQ(contents(f), contents(fm));
  EXPECT_EQ(f.lower_bound(bytes({0, 0, 0, 1}))->first, bytes({0, 0, 0, 0xff}));
  EXPECT_FALSE(f.lower_bound(bytes({0xff, 0xff, 0xff, 0xff, 0})));
  EXPECT_EQ(f.lower_bound(bytes({0xff}))->second, 1u);  // ff 00 00 00: bit 0 set
}

TEST(ArtTree, RejectsKeysThatArePrefixesOfOthers) {
  tree t;
  t.insert("abcd", 1);
  t.insert("abxy", 2);
  const std::size_t before = t.allocated_bytes();
  EXPECT_THROW(t.insert("ab", 3), std::invalid_argument);     // ends inside a node's prefix
  EXPECT_THROW(t.insert("abc", 3), std::invalid_argument);    // ends at a leaf's branch
  EXPECT_THROW(t.insert("abcde", 3), std::invalid_argument);  // extends a key
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.allocated_bytes(), before);
  EXPECT_FALSE(t.find("ab"));
  EXPECT_FALSE(t.find("abc"));
}

TEST(ArtTree, WalksStopEarlyAndRunBothWays) {
  tree t;
  std::map<std::string, u64> m;
  for (u64 i = 0; i < 1000; i += 3) {
    t.insert(enc_u64(i * 77), i);
    m.emplace(enc_u64(i * 77), i);
  }
  int calls = 0;
  EXPECT_FALSE(t.for_each([&](std::string_view, const u64&) { return ++calls < 3; }));
  EXPECT_EQ(calls, 3);
  calls = 0;
  EXPECT_TRUE(t.for_each([&](std::string_view, const u64&) { ++calls; }));
  EXPECT_EQ(calls, static_cast<int>(m.size()));
  auto desc = contents(t, false);
  auto asc = contents(m);
  std::reverse(asc.begin(), asc.end());
  EXPECT_EQ(desc, asc);
  // for_each_from, stopped after 5.
  std::vector<std::string> got;
  t.for_each_from(enc_u64(500 * 77 + 1), [&](std::string_view k, u64) {
    got.emplace_back(k);
    return got.size() < 5;
  });
  std::vector<std::string> want;
  for (auto it = m.lower_bound(enc_u64(500 * 77 + 1)); it != m.end() && want.size() < 5; ++it) {
    want.push_back(it->first);
  }
  EXPECT_EQ(got, want);
}

// The randomized comparison with std::map. Kind 0: u64 keys (dense low values and random
// ones); kind 1: "uid:NNN" strings through key_traits<std::string>; kind 2: strings of one
// of four 20-byte stems of distinct bytes, cut at a random length and followed by a few bytes
// of {a, b, 00, FF}, so that prefixes longer than the inline bytes are split at every offset.
std::string random_key(std::mt19937_64& rng, int kind, int phase) {
  if (kind == 2) {
    static const std::string stems[4] = {"ABCDEFGHIJKLMNOPQRST", "ABCDEFGHIJKLMNOPqrst",
                                         "ABCDEfghijklmnopqrst", "abcdefghijklmnopqrst"};
    std::string s = stems[rng() % 4].substr(0, 20 - rng() % (phase % 2 == 0 ? 4 : 20));
    const char tail[4] = {'a', 'b', '\0', '\xff'};
    for (std::size_t n = rng() % 4; n > 0; --n) s.push_back(tail[rng() % 4]);
    return enc_str(s);
  }
  if (kind == 0) {
    const u64 r = rng();
    switch (phase % 3) {
      case 0:
        return enc_u64(r % 600);  // one dense region: node256s
      case 1:
        return enc_u64((r % 64) << (8 * (r % 8)));  // sparse, long shared runs of zeros
      default:
        return enc_u64(r % 4 == 0 ? r : r % 5000);
    }
  }
  return enc_str("uid:" + std::to_string(rng() % (phase % 2 == 0 ? 900 : 90000)));
}

// A lower bound: mostly a key of the domain, sometimes arbitrary bytes.
std::string random_bound(std::mt19937_64& rng, int kind, int phase) {
  if (rng() % 4 != 0) return random_key(rng, kind, phase);
  std::string s;
  const std::size_t n = rng() % 10;
  const char* alphabet = kind == 0 ? "\x00\x01\x02\xff" : "uid:0123456789\x00\xff";
  const std::size_t an = kind == 0 ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[rng() % an]);
  return s;
}

TEST(ArtTree, MatchesStdMapOnRandomOperations) {
  for (const u64 seed : {1ULL, 2ULL, 3ULL, 42ULL, 20261207ULL}) {
    for (int kind = 0; kind < 3; ++kind) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", key kind " + std::to_string(kind));
      std::mt19937_64 rng(seed * 2 + static_cast<u64>(kind));
      tree t;
      std::map<std::string, u64> m;
      tree::node_counts most;  // the most of each node type seen after a phase
      for (int phase = 0; phase < 6; ++phase) {
        // Even phases insert more than they erase, odd phases erase more.
        const unsigned erase_weight = phase % 2 == 0 ? 2 : 6;
        for (int op = 0; op < 3000; ++op) {
          const std::string k = random_key(rng, kind, phase);
          const unsigned what = static_cast<unsigned>(rng() % 12);
          const u64 v = rng();
          if (what < 2) {
            const bool inserted = m.emplace(k, v).second;
            ASSERT_EQ(t.insert(k, v), inserted);
          } else if (what < 4) {
            const bool inserted = m.insert_or_assign(k, v).second;
            ASSERT_EQ(t.insert_or_assign(k, v), inserted);
          } else if (what < 4 + erase_weight) {
            ASSERT_EQ(t.erase(k), m.erase(k) == 1);
          } else if (what < 11) {
            const std::optional<u64> found = t.find(k);
            const auto it = m.find(k);
            ASSERT_EQ(found.has_value(), it != m.end());
            if (found) {
              ASSERT_EQ(*found, it->second);
            }
          } else {
            const std::string low = random_bound(rng, kind, phase);
            const auto e = t.lower_bound(low);
            const auto it = m.lower_bound(low);
            ASSERT_EQ(static_cast<bool>(e), it != m.end());
            if (e) {
              ASSERT_EQ(e->first, it->first);
              ASSERT_EQ(e->second, it->second);
            }
            std::vector<std::pair<std::string, u64>> got;
            const std::size_t limit = rng() % 20;
            t.for_each_from(low, [&](std::string_view key, u64 val) {
              if (got.size() == limit) return false;
              got.emplace_back(std::string(key), val);
              return true;
            });
            std::vector<std::pair<std::string, u64>> want;
            for (auto j = it; j != m.end() && want.size() < limit; ++j) want.emplace_back(*j);
            ASSERT_EQ(got, want);
          }
          ASSERT_EQ(t.size(), m.size());
        }
        ASSERT_EQ(contents(t), contents(m)) << "after phase " << phase;
        const auto c = t.count_nodes();
        ASSERT_EQ(c.leaves, m.size());
        most.node4 = std::max(most.node4, c.node4);
        most.node16 = std::max(most.node16, c.node16);
        most.node48 = std::max(most.node48, c.node48);
        most.node256 = std::max(most.node256, c.node256);
      }
      // The operations reached the node types they were meant to: "uid:" keys branch on
      // decimal digits (at most 10 children), u64 keys fill node256s in the dense phase,
      // kind 2 branches on at most 6 bytes.
      EXPECT_GT(most.node4, 0u);
      if (kind != 2) {
        EXPECT_GT(most.node16, 0u);
      }
      if (kind == 0) {
        EXPECT_GT(most.node48, 0u);
        EXPECT_GT(most.node256, 0u);
      }
      for (auto it = m.begin(); it != m.end();) {
        ASSERT_TRUE(t.erase(it->first));
        it = m.erase(it);
      }
      EXPECT_EQ(t.size(), 0u);
      EXPECT_EQ(t.allocated_bytes(), 0u);
      EXPECT_EQ(t.count_nodes().leaves, 0u);
    }
  }
}

TEST(ArtTree, MemoryReturnsAfterClearAndEraseAndNothingLeaks) {
  using cmap_test::alloc_stats;
  using counted = cmap::detail::art_tree<std::string, cmap_test::counting_allocator<std::byte>>;
  const long live_before = alloc_stats::live_bytes;
  const long blocks_before = alloc_stats::live_blocks;
  {
    counted t;
    for (u64 i = 0; i < 2000; ++i) {
      // Values long enough to live on the heap, so that a leaked value shows under ASan.
      t.insert(enc_u64(i * 1000003), std::string(40, static_cast<char>('a' + i % 26)));
    }
    EXPECT_GT(t.allocated_bytes(), 0u);
    settle();  // nodes replaced by larger ones as the tree grew
    EXPECT_EQ(static_cast<long>(t.allocated_bytes()), alloc_stats::live_bytes - live_before);
    t.clear();
    settle();
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.allocated_bytes(), 0u);
    EXPECT_EQ(alloc_stats::live_bytes, live_before);
    EXPECT_EQ(alloc_stats::live_blocks, blocks_before);

    for (u64 i = 0; i < 2000; ++i) t.insert(enc_str("uid:" + std::to_string(i)), "v");
    settle();
    EXPECT_EQ(static_cast<long>(t.allocated_bytes()), alloc_stats::live_bytes - live_before);
    for (u64 i = 0; i < 2000; i += 2) ASSERT_TRUE(t.erase(enc_str("uid:" + std::to_string(i))));
    settle();
    EXPECT_EQ(static_cast<long>(t.allocated_bytes()), alloc_stats::live_bytes - live_before);
    for (u64 i = 1; i < 2000; i += 2) ASSERT_TRUE(t.erase(enc_str("uid:" + std::to_string(i))));
    settle();
    EXPECT_EQ(t.allocated_bytes(), 0u);
    EXPECT_EQ(alloc_stats::live_bytes, live_before);
    EXPECT_EQ(alloc_stats::live_blocks, blocks_before);

    for (u64 i = 0; i < 500; ++i) t.insert(enc_u64(i), std::string(40, 'z'));
  }  // the destructor frees these
  EXPECT_EQ(alloc_stats::live_bytes, live_before);
  EXPECT_EQ(alloc_stats::live_blocks, blocks_before);
}

// With a fixed key size the leaves do not store the key's length: a u64 -> u64 leaf is 16
// bytes, not 24; everything else behaves the same, and a key of another length is refused.
TEST(ArtTree, FixedSizeKeysKeepNoLengthInTheLeaf) {
  using fixed = cmap::detail::art_tree<u64, std::allocator<std::byte>, 8>;
  fixed f;
  tree t;
  for (u64 i = 0; i < 64; ++i) {
    ASSERT_TRUE(f.insert(enc_u64(i * 977), i));
    ASSERT_TRUE(t.insert(enc_u64(i * 977), i));
  }
  EXPECT_EQ(f.count_nodes().leaves, 64u);
  // Same nodes, 8 bytes fewer per leaf.
  EXPECT_EQ(t.allocated_bytes() - f.allocated_bytes(), 64u * 8u);
  for (u64 i = 0; i < 64; ++i) {
    EXPECT_EQ(f.find(enc_u64(i * 977)), std::optional<u64>(i));
    EXPECT_FALSE(f.contains(enc_u64(i * 977 + 1)));
  }
  std::vector<u64> seen;
  f.for_each([&](std::string_view k, const u64& v) {
    EXPECT_EQ(k.size(), 8u);
    EXPECT_EQ(k, enc_u64(v * 977));
    seen.push_back(v);
  });
  EXPECT_EQ(seen.size(), 64u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_THROW(f.insert("short", 1), std::invalid_argument);
  EXPECT_FALSE(f.contains("short"));
  EXPECT_FALSE(f.erase("short"));
  EXPECT_EQ(f.size(), 64u);
  ASSERT_TRUE(f.erase(enc_u64(0)));
  EXPECT_EQ(f.size(), 63u);
}

// A value whose construction throws leaves the tree as it was.
struct throws_on_42 {
  u64 v;
  explicit throws_on_42(u64 x) : v(x) {
    if (x == 42) throw std::runtime_error("42");
  }
};

TEST(ArtTree, ThrowingValueLeavesTreeUnchanged) {
  cmap::detail::art_tree<throws_on_42> t;
  t.try_emplace("ab1", 1);
  t.try_emplace("ab2", 2);
  const std::size_t before = t.allocated_bytes();
  EXPECT_THROW(t.try_emplace("ab3", 42), std::runtime_error);  // new child of a node
  EXPECT_THROW(t.try_emplace("a3", 42), std::runtime_error);   // would split the prefix
  EXPECT_EQ(t.allocated_bytes(), before);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_FALSE(t.find("ab3"));
  EXPECT_EQ(t.find("ab1")->v, 1u);
}

}  // namespace
