// What only snapshot_map has: snapshots (isolation, iterators, O(1) cost), update() batches
// (own changes seen, atomic to readers, nothing published when f throws), structural
// sharing (a write allocates only its path), collisions, canonical shape after erase, and
// memory (old versions freed when their last snapshot goes, everything at destruction).
// The common surface is tested in common_surface_test.cpp (snapshot_family).

#include <gtest/gtest.h>

#include <atomic>
#include <cmap/detail/epoch.hpp>
#include <cmap/snapshot_map.hpp>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "counting_allocator.hpp"

namespace {

using u64 = std::uint64_t;

using cmap_test::alloc_stats;
using cmap_test::counting_allocator;

using counted_map = cmap::snapshot_map<u64, u64, cmap::hash<u64>, std::equal_to<u64>,
                                       counting_allocator<std::pair<const u64, u64>>>;

// Frees what this thread retired and is past its grace period (single-threaded tests: all
// of it).
void collect() {
  auto& d = cmap::detail::epoch_domain::global();
  d.collect_now();
  d.collect_now();
}

struct reset_stats {
  reset_stats() {
    collect();
    alloc_stats::live_bytes = 0;
    alloc_stats::allocations = 0;
    alloc_stats::live_blocks = 0;
  }
};

TEST(SnapshotMap, SnapshotIsIsolatedFromLaterWrites) {
  cmap::snapshot_map<u64, u64> m;
  for (u64 k = 0; k < 5000; ++k) m.insert(k, k * 3);
  const auto s = m.snapshot();
  auto it = s.begin();  // taken before the writes, used after them
  for (u64 k = 0; k < 5000; k += 2) m.erase(k);
  for (u64 k = 1; k < 5000; k += 2) m.insert_or_assign(k, 0);
  for (u64 k = 5000; k < 20000; ++k) m.insert(k, k);
  m.update([](auto& t) {
    for (u64 k = 20000; k < 21000; ++k) t.insert(k, k);
  });
  EXPECT_EQ(m.size(), 2500u + 15000u + 1000u);

  EXPECT_EQ(s.size(), 5000u);
  std::set<u64> seen;
  for (; it != s.end(); ++it) {
    EXPECT_EQ(it->second, it->first * 3);
    EXPECT_TRUE(seen.insert(it->first).second) << it->first;
  }
  EXPECT_EQ(seen.size(), 5000u);
  EXPECT_EQ(*seen.rbegin(), 4999u);
  for (u64 k = 0; k < 5000; ++k) ASSERT_EQ(s.find(k), std::optional<u64>(k * 3)) << k;
  EXPECT_FALSE(s.contains(5000));
  EXPECT_EQ(std::distance(s.begin(), s.end()), 5000);

  // A snapshot taken now sees the new version.
  const auto now = m.snapshot();
  EXPECT_EQ(now.size(), m.size());
  EXPECT_FALSE(now.contains(0));
  EXPECT_EQ(now.find(1), std::optional<u64>(0));
}

TEST(SnapshotMap, SnapshotIteratorIsAForwardIterator) {
  using snap = cmap::snapshot_map<u64, u64>::snapshot_type;
  static_assert(std::forward_iterator<snap::const_iterator>);
  cmap::snapshot_map<u64, u64> m;
  const auto empty = m.snapshot();
  EXPECT_TRUE(empty.begin() == empty.end());
  m.insert(7, 8);
  const auto one = m.snapshot();
  auto it = one.begin();
  EXPECT_EQ(it->first, 7u);
  EXPECT_EQ((it++)->second, 8u);
  EXPECT_TRUE(it == one.end());
}

TEST(SnapshotMap, SnapshotsOutliveTheMapAndCopy) {
  std::optional<cmap::snapshot_map<std::string, int>::snapshot_type> kept;
  {
    cmap::snapshot_map<std::string, int> m;
    m.insert(std::string(40, 'a'), 1);
    m.insert("b", 2);
    kept.emplace(m.snapshot());
    m.clear();
    EXPECT_TRUE(m.empty());
  }
  auto copy = *kept;
  kept.reset();
  EXPECT_EQ(copy.size(), 2u);
  EXPECT_EQ(copy.find(std::string(40, 'a')), std::optional<int>(1));
  int sum = 0;
  copy.for_each([&](const std::string&, int v) { sum += v; });
  EXPECT_EQ(sum, 3);
}

TEST(SnapshotMap, HeterogeneousLookupInSnapshotsAndTransients) {
  cmap::snapshot_map<std::string, int, cmap::hash<std::string>, std::equal_to<>> m;
  m.insert("key", 1);
  const auto s = m.snapshot();
  EXPECT_EQ(s.find(std::string_view("key")), std::optional<int>(1));
  EXPECT_TRUE(s.contains("key"));
  m.update([](auto& t) {
    EXPECT_TRUE(t.contains(std::string_view("key")));
    EXPECT_TRUE(t.erase(std::string_view("key")));
    EXPECT_FALSE(t.contains("key"));
  });
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(s.contains("key"));
}

// The batch editor and the snapshot take a key of another type only when the hash and the
// equality are both transparent, as the map does.
template <class View>
concept looks_up_string_views = requires(const View& v, std::string_view k) {
  v.find(k);
}
|| requires(const View& v, std::string_view k) { v.contains(k); }
|| requires(const View& v, std::string_view k) {
  v.visit(k, [](const int&) {});
};
template <class Editor>
concept edits_string_views = requires(Editor& t, std::string_view k) {
  t.visit(k, [](int&) {});
}
|| requires(Editor& t, std::string_view k, int v) { t.compare_exchange(k, v, v); }
|| requires(Editor& t, std::string_view k) { t.erase(k); }
|| requires(Editor& t, std::string_view k) { t.extract(k); }
|| requires(Editor& t, std::string_view k, int v) { t.compare_erase(k, v); };

TEST(SnapshotMap, TransientsAndSnapshotsTakeOtherKeyTypesOnlyWhenTransparent) {
  using transparent =
      cmap::snapshot_map<std::string, int, cmap::hash<std::string>, std::equal_to<>>;
  using opaque =
      cmap::snapshot_map<std::string, int, cmap::hash<std::string>, std::equal_to<std::string>>;
  static_assert(looks_up_string_views<typename transparent::snapshot_type>);
  static_assert(looks_up_string_views<typename transparent::transient>);
  static_assert(edits_string_views<typename transparent::transient>);
  static_assert(!looks_up_string_views<typename opaque::snapshot_type>);
  static_assert(!looks_up_string_views<typename opaque::transient>);
  static_assert(!edits_string_views<typename opaque::transient>);
  SUCCEED();
}

TEST(SnapshotMap, TransientSavepointRollsBackOrCommitsPartOfABatch) {
  using map_t = cmap::snapshot_map<u64, u64>;
  map_t m;
  for (u64 k = 0; k < 2000; ++k) m.insert(k, k);
  const auto before = m.snapshot();
  m.update([](map_t::transient& t) {
    t.insert(5000, 1);  // before any savepoint: kept
    {
      map_t::transient::savepoint sp(t);
      for (u64 k = 0; k < 1000; ++k) t.erase(k);
      t.insert_or_assign(1500, 0);
      t.insert(6000, 6);
      EXPECT_EQ(t.size(), 2000u - 1000 + 2);
    }  // not committed: the batch is back as it was at the savepoint
    EXPECT_EQ(t.size(), 2001u);
    EXPECT_TRUE(t.contains(0));
    EXPECT_EQ(t.find(1500), std::optional<u64>(1500));
    EXPECT_FALSE(t.contains(6000));
    map_t::transient::savepoint kept(t);
    t.erase(1);
    t.insert_or_assign(2, 22);
    kept.commit();
    {
      map_t::transient::savepoint inner(t);  // nested, rolled back
      t.clear();
    }
    EXPECT_EQ(t.size(), 2000u);
  });
  EXPECT_EQ(m.size(), 2000u);
  EXPECT_TRUE(m.contains(5000));
  EXPECT_FALSE(m.contains(1));
  EXPECT_EQ(m.find(2), std::optional<u64>(22));
  EXPECT_EQ(m.find(1500), std::optional<u64>(1500));
  EXPECT_FALSE(m.contains(6000));
  std::size_t walked = 0;
  m.for_each([&](const u64&, const u64&) { ++walked; });
  EXPECT_EQ(walked, 2000u);
  // The version the batch started from is untouched.
  EXPECT_EQ(before.size(), 2000u);
  for (u64 k = 0; k < 2000; ++k) ASSERT_EQ(before.find(k), std::optional<u64>(k)) << k;
}

TEST(SnapshotMap, UpdateSeesItsOwnChangesAndReturnsFsResult) {
  cmap::snapshot_map<u64, u64> m;
  m.insert(1, 10);
  const auto before = m.snapshot();
  const u64 r = m.update([&](auto& t) {
    EXPECT_TRUE(t.insert(2, 20));
    EXPECT_EQ(t.find(2), std::optional<u64>(20));
    EXPECT_FALSE(t.insert_or_assign(2, 21));
    EXPECT_TRUE(t.upsert(
        3, [](u64& v) { ++v; }, 30));
    EXPECT_FALSE(t.upsert(
        3, [](u64& v) { ++v; }, 30));
    EXPECT_EQ(t.find(3), std::optional<u64>(31));
    EXPECT_EQ(t.exchange(1, 11), std::optional<u64>(10));
    EXPECT_TRUE(t.compare_exchange(1, 11, 12));
    EXPECT_TRUE(t.visit(1, [](u64& v) { v += 1; }));
    EXPECT_EQ(t.extract(2), std::optional<u64>(21));
    EXPECT_EQ(t.find_or_insert(4, 40), std::make_pair(u64{40}, true));
    EXPECT_EQ(t.size(), 3u);
    // The map itself still shows the published version while the batch runs.
    EXPECT_EQ(m.size(), 1u);
    EXPECT_FALSE(m.contains(3));
    return t.size();
  });
  EXPECT_EQ(r, 3u);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.find(1), std::optional<u64>(13));
  EXPECT_EQ(m.find(3), std::optional<u64>(31));
  EXPECT_EQ(m.find(4), std::optional<u64>(40));
  EXPECT_FALSE(m.contains(2));
  EXPECT_EQ(before.size(), 1u);
  EXPECT_EQ(before.find(1), std::optional<u64>(10));
}

struct boom : std::runtime_error {
  boom() : std::runtime_error("boom") {}
};

TEST(SnapshotMap, ThrowingBatchPublishesNothingAndLeaksNothing) {
  reset_stats reset;
  {
    counted_map m;
    for (u64 k = 0; k < 2000; ++k) m.insert(k, k);
    collect();
    const long live = alloc_stats::live_bytes;
    const auto bytes = m.allocated_bytes();
    EXPECT_EQ(live, static_cast<long>(bytes));
    EXPECT_THROW(m.update([](auto& t) {
      for (u64 k = 0; k < 2000; k += 2) t.erase(k);
      for (u64 k = 2000; k < 3000; ++k) t.insert(k, k);
      t.insert_or_assign(1, 999);
      throw boom();
    }),
                 boom);
    EXPECT_EQ(m.size(), 2000u);
    for (u64 k = 0; k < 3000; ++k)
      ASSERT_EQ(m.find(k), k < 2000 ? std::optional<u64>(k) : std::nullopt);
    EXPECT_EQ(m.allocated_bytes(), bytes);
    // The batch's own nodes were freed at once (nothing was published, nothing retired).
    EXPECT_EQ(alloc_stats::live_bytes, live);

    // A throwing mutable visit or upsert callback publishes nothing either.
    EXPECT_THROW(m.visit(5,
                         [](u64& v) {
                           v = 555;
                           throw boom();
                         }),
                 boom);
    EXPECT_EQ(m.find(5), std::optional<u64>(5));
    EXPECT_EQ(alloc_stats::live_bytes, live);
  }
  collect();
  EXPECT_EQ(alloc_stats::live_bytes, 0);
}

TEST(SnapshotMap, BatchIsAtomicToConcurrentReaders) {
  // The writer sets keys 0..63 to the same round number in one batch per round; readers
  // must never see two different rounds in one snapshot, nor a round going backwards.
  cmap::snapshot_map<u64, u64> m;
  m.update([](auto& t) {
    for (u64 k = 0; k < 64; ++k) t.insert(k, 0);
  });
  constexpr u64 min_rounds = 2000;
  constexpr long min_checks_while_writing = 100;
  std::atomic<bool> done{false};
  std::atomic<int> reading{0};
  std::atomic<long> torn{0}, backwards{0}, checks{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      u64 last = 0;
      reading.fetch_add(1);
      while (!done.load(std::memory_order_acquire)) {
        const auto s = m.snapshot();
        const u64 round = *s.find(0);
        long differing = 0;
        s.for_each([&](const u64&, const u64& v) { differing += v != round ? 1 : 0; });
        if (differing != 0 || s.size() != 64) torn.fetch_add(1);
        if (round < last) backwards.fetch_add(1);
        last = round;
        // Single-key reads on the map see whole rounds too: key 63 is at least key 0's
        // round when read after it (both come from versions published in order).
        const u64 first = *m.find(0), later = *m.find(63);
        if (later < first) torn.fetch_add(1);
        checks.fetch_add(1);
      }
    });
  }
  // The rounds must race with the readers: wait until both read, then write at least
  // min_rounds rounds and on until they have checked min_checks_while_writing snapshots
  // meanwhile (on 2 shared cores, a reader may not run at all during a burst of 2000 rounds,
  // a few milliseconds).
  while (reading.load() < 2) std::this_thread::yield();
  const long checks_before = checks.load();
  u64 round = 0;
  while (round < min_rounds || checks.load() < checks_before + min_checks_while_writing) {
    ++round;
    m.update([&](auto& t) {
      for (u64 k = 0; k < 64; ++k) t.insert_or_assign(k, round);
    });
  }
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_GE(checks.load(), checks_before + min_checks_while_writing);
  m.for_each([&](const u64&, const u64& v) { EXPECT_EQ(v, round); });
}

TEST(SnapshotMap, ConcurrentWritersLoseNothing) {
  cmap::snapshot_map<u64, u64> m;
  constexpr u64 per_thread = 3000;
  std::vector<std::thread> writers;
  for (u64 w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (u64 i = 0; i < per_thread; ++i) {
        m.insert(w * per_thread + i, i);
        m.upsert(
            ~u64{0}, [](u64& v) { ++v; }, u64{1});  // one shared counter
      }
    });
  }
  std::thread reader([&] {
    std::size_t last = 0;
    for (int i = 0; i < 200; ++i) {
      const auto s = m.snapshot();
      EXPECT_GE(s.size(), last);
      last = s.size();
      std::size_t n = 0;
      for ([[maybe_unused]] const auto& e : s) ++n;
      EXPECT_EQ(n, s.size());
    }
  });
  for (auto& t : writers) t.join();
  reader.join();
  EXPECT_EQ(m.size(), 4 * per_thread + 1);
  EXPECT_EQ(m.find(~u64{0}), std::optional<u64>(4 * per_thread));
}

TEST(SnapshotMap, SingleKeyWriteAllocatesOnlyItsPath) {
  reset_stats reset;
  {
    // A fixed seed: the bound below holds for these keys under it, while under some random
    // seeds one of the 100 paths meets a pair of keys sharing 30 low hash bits (7 nodes).
    counted_map m(0, counted_map::hasher(0));
    constexpr u64 n = 100000;
    m.update([](auto& t) {
      for (u64 k = 0; k < n; ++k) t.insert(k, k);
    });
    const long total_blocks = alloc_stats::live_blocks;  // one allocation per node
    ASSERT_GT(total_blocks, 3000);                       // about n / 20 nodes
    for (u64 k = 0; k < 100; ++k) {
      const long before = alloc_stats::allocations;
      m.insert_or_assign(k * 997, 0);
      const long path = alloc_stats::allocations - before;
      // log32(100000) is about 3.3: the path has at most 5 nodes (plus, rarely, one more
      // level where two keys share a prefix).
      EXPECT_GE(path, 2) << k;
      EXPECT_LE(path, 6) << k;
    }
    const long before = alloc_stats::allocations;
    m.insert(n + 1, 1);
    EXPECT_LE(alloc_stats::allocations - before, 7);
    // Writes that change nothing allocate nothing.
    const long unchanged = alloc_stats::allocations;
    EXPECT_FALSE(m.insert(1, 5));
    EXPECT_FALSE(m.erase(n + 100));
    EXPECT_FALSE(m.compare_exchange(1, 12345, 0));
    EXPECT_EQ(alloc_stats::allocations, unchanged);
  }
}

TEST(SnapshotMap, SnapshotCostIsIndependentOfSize) {
  reset_stats reset;
  for (u64 n : {u64{10}, u64{1000}, u64{100000}}) {
    counted_map m;
    m.update([&](auto& t) {
      for (u64 k = 0; k < n; ++k) t.insert(k, k);
    });
    const long allocations = alloc_stats::allocations, live = alloc_stats::live_bytes;
    {
      std::vector<counted_map::snapshot_type> many;
      many.reserve(100);
      const long after_reserve = alloc_stats::allocations;
      for (int i = 0; i < 100; ++i) many.push_back(m.snapshot());
      EXPECT_EQ(alloc_stats::allocations, after_reserve) << n;  // snapshot() allocates nothing
      for (const auto& s : many) ASSERT_EQ(s.size(), n);
    }
    EXPECT_EQ(alloc_stats::allocations, allocations) << n;
    EXPECT_EQ(alloc_stats::live_bytes, live) << n;
  }
}

TEST(SnapshotMap, OldVersionsAreFreedWithTheirLastSnapshot) {
  reset_stats reset;
  {
    counted_map m;
    for (u64 k = 0; k < 5000; ++k) m.insert(k, k);
    collect();
    EXPECT_EQ(alloc_stats::live_bytes, static_cast<long>(m.allocated_bytes()));
    std::optional<counted_map::snapshot_type> s(m.snapshot());
    const auto s_bytes = m.allocated_bytes();
    for (u64 k = 0; k < 5000; ++k) m.insert_or_assign(k, k + 1);  // every node replaced
    collect();
    // The snapshot's version is still whole, besides the current one.
    EXPECT_EQ(alloc_stats::live_bytes, static_cast<long>(m.allocated_bytes() + s_bytes));
    EXPECT_EQ(s->find(42), std::optional<u64>(42));
    auto copy = *s;
    s.reset();
    EXPECT_EQ(alloc_stats::live_bytes, static_cast<long>(m.allocated_bytes() + s_bytes));
    { auto gone = std::move(copy); }
    EXPECT_EQ(alloc_stats::live_bytes, static_cast<long>(m.allocated_bytes()));
    // Churn at a constant size keeps memory constant once collected.
    for (u64 k = 5000; k < 50000; ++k) {
      m.insert(k, k);
      m.erase(k - 5000);
    }
    collect();
    EXPECT_EQ(alloc_stats::live_bytes, static_cast<long>(m.allocated_bytes()));
  }
  EXPECT_EQ(alloc_stats::live_bytes, 0);  // the destructor drained the retired versions
}

// All keys hash to the same value: one collision node at the bottom of a 13-level chain.
struct constant_hash {
  std::size_t operator()(u64) const noexcept { return 0x5a5a5a5a5a5a5a5aULL; }
};
// Keys share their low 40 bits: long single-child chains before they split.
struct low_bits_equal_hash {
  std::size_t operator()(u64 k) const noexcept { return (k << 40) | 0x12345; }
};

template <class Hash>
void exercise_collisions() {
  using map_t = cmap::snapshot_map<u64, u64, Hash, std::equal_to<u64>,
                                   counting_allocator<std::pair<const u64, u64>>>;
  map_t m;
  m.insert(7, 7);
  const auto one_entry_bytes = m.allocated_bytes();
  EXPECT_TRUE(m.erase(7));
  constexpr u64 n = 300;
  for (u64 k = 0; k < n; ++k) ASSERT_TRUE(m.insert(k, k * 2));
  EXPECT_EQ(m.size(), n);
  const auto s = m.snapshot();
  for (u64 k = 0; k < n; ++k) ASSERT_EQ(m.find(k), std::optional<u64>(k * 2)) << k;
  EXPECT_FALSE(m.contains(n));
  for (u64 k = 0; k < n; k += 2) ASSERT_TRUE(m.erase(k));
  for (u64 k = 1; k < n; k += 2) ASSERT_TRUE(m.visit(k, [](u64& v) { ++v; }));
  for (u64 k = 0; k < n; ++k) {
    ASSERT_EQ(m.find(k), k % 2 ? std::optional<u64>(k * 2 + 1) : std::nullopt) << k;
  }
  EXPECT_EQ(std::distance(s.begin(), s.end()), static_cast<long>(n));
  EXPECT_EQ(s.find(4), std::optional<u64>(8));
  // Erase down to one entry: the chain collapses back into the root (canonical form).
  for (u64 k = 1; k < n; k += 2) {
    if (k != 7) {
      ASSERT_TRUE(m.erase(k));
    }
  }
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.allocated_bytes(), one_entry_bytes);
  EXPECT_EQ(m.find(7), std::optional<u64>(15));
}

TEST(SnapshotMap, FullHashCollisions) { exercise_collisions<constant_hash>(); }
TEST(SnapshotMap, LongSharedPrefixes) { exercise_collisions<low_bits_equal_hash>(); }

TEST(SnapshotMap, ForEachWalksOneVersionWhileFWrites) {
  cmap::snapshot_map<u64, u64> m;
  for (u64 k = 0; k < 1000; ++k) m.insert(k, k);
  std::size_t seen = 0;
  m.for_each([&](const u64& k, const u64& v) {
    EXPECT_EQ(k, v);
    ++seen;
    m.erase(k);  // writes do not show in the walk
    m.insert(k + 1000, 0);
  });
  EXPECT_EQ(seen, 1000u);
  EXPECT_EQ(m.size(), 1000u);
  EXPECT_FALSE(m.contains(0));
  EXPECT_TRUE(m.contains(1999));
}

TEST(SnapshotMap, MatchesAnOrderedReferenceAfterRandomBatches) {
  cmap::snapshot_map<u64, u64> m;
  std::map<u64, u64> ref;
  u64 x = 12345;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int batch = 0; batch < 200; ++batch) {
    m.update([&](auto& t) {
      for (int i = 0; i < 100; ++i) {
        const u64 k = next() % 3000;
        if (next() % 3 == 0) {
          EXPECT_EQ(t.erase(k), ref.erase(k) == 1);
        } else {
          const u64 v = next();
          EXPECT_EQ(t.insert_or_assign(k, v), !ref.contains(k));
          ref[k] = v;
        }
      }
    });
    ASSERT_EQ(m.size(), ref.size());
  }
  std::map<u64, u64> got;
  const auto s = m.snapshot();
  for (const auto& [k, v] : s) got.emplace(k, v);
  EXPECT_EQ(got, ref);
}

}  // namespace
