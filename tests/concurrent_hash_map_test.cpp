// What only concurrent_hash_map has, or promises beyond the common surface: readers that a
// writer cannot hold up, growth that readers do not notice, bulk lookup, the three value
// policies, and its stripe count.

#include <gtest/gtest.h>

#include <atomic>
#include <cmap/concurrent_hash_map.hpp>
#include <cstdint>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using u64 = std::uint64_t;
using map_t = cmap::concurrent_hash_map<u64, u64>;

// Runs `blocked_writer` on a thread that enters a mutable visit of key 1 and stays inside
// (holding the key's stripe lock) until the main thread has run `reader`; the reader must
// complete while the writer is stuck, as it would be if the OS had descheduled it.
template <class Map, class Reader>
void run_reader_against_stuck_writer(Map& m, Reader reader) {
  std::latch inside(1), release(1);
  std::thread writer([&] {
    m.visit(1, [&](auto&) {
      inside.count_down();
      release.wait();
    });
  });
  inside.wait();
  reader();  // a lock would make this wait for `release`, which comes only after it
  release.count_down();
  writer.join();
}

TEST(ConcurrentHashMap, ReadersAreNotHeldUpByAWriterInsideTheSameKey) {
  map_t m;
  for (u64 k = 0; k < 100; ++k) m.insert(k, k * 10);
  run_reader_against_stuck_writer(m, [&] {
    EXPECT_EQ(m.find(1), std::optional<u64>(10));
    EXPECT_TRUE(m.contains(1));
    u64 seen = 0;
    EXPECT_TRUE(std::as_const(m).visit(1, [&](const u64& v) { seen = v; }));
    EXPECT_EQ(seen, 10u);
    std::size_t n = 0;
    m.for_each([&](const u64&, const u64&) { ++n; });
    EXPECT_EQ(n, 100u);
    const std::vector<u64> keys{1, 2, 500};
    EXPECT_EQ(m.visit_bulk(keys.begin(), keys.end(), [](std::size_t, const u64&) {}), 2u);
  });
}

TEST(ConcurrentHashMap, CopyOnWriteReadersAreNotHeldUpEither) {
  cmap::concurrent_hash_map<u64, std::string> m;
  m.insert(1, std::string(40, 'a'));
  run_reader_against_stuck_writer(m, [&] {
    EXPECT_EQ(m.find(1), std::optional<std::string>(std::string(40, 'a')));
  });
}

TEST(ConcurrentHashMap, WritersOfOtherKeysProceedWhileOneKeyIsLocked) {
  // Stripe locks, not a map lock: with the key-1 writer stuck, writers of keys in other
  // stripes complete. (Room is reserved first: an insert that must grow the table takes
  // every stripe lock, so it would wait for the stuck writer.)
  map_t m(1000, cmap::hash<u64>{}, std::equal_to<u64>{}, 64);
  m.insert(1, 1);
  run_reader_against_stuck_writer(m, [&] {
    int other_stripe_writes = 0;
    for (u64 k = 2; other_stripe_writes < 50 && k < 100000; ++k) {
      // Only keys of other stripes: a key of key 1's stripe would (rightly) wait.
      if ((cmap::hash<u64>{}(k) >> 58) == (cmap::hash<u64>{}(1) >> 58)) continue;
      EXPECT_TRUE(m.insert(k, k));
      ++other_stripe_writes;
    }
    EXPECT_EQ(other_stripe_writes, 50);
  });
}

TEST(ConcurrentHashMap, ReadersFindEveryEntryWhileTheTableGrows) {
  // A reader loops over a fixed set of keys while a writer inserts enough new keys to
  // double the table many times over: no lookup of a present key may miss.
  map_t m;
  constexpr u64 stable = 500;
  for (u64 k = 0; k < stable; ++k) m.insert(k, k + 1);
  std::atomic<bool> done{false};
  std::atomic<u64> misses{0}, lookups{0};
  std::thread reader([&] {
    while (!done.load(std::memory_order_acquire)) {
      for (u64 k = 0; k < stable; ++k) {
        const auto v = m.find(k);
        if (!v || *v != k + 1) misses.fetch_add(1);
      }
      lookups.fetch_add(stable);
    }
  });
  const auto bytes_before = m.table_bytes();
  for (u64 k = 1000; k < 1000 + 100000; ++k) m.insert(k, k);
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_GT(m.table_bytes(), bytes_before * 64);  // it did grow, several times
  EXPECT_GT(lookups.load(), 0u);
  EXPECT_EQ(misses.load(), 0u);
}

TEST(ConcurrentHashMap, VisitBulkReportsFoundKeysByInputPosition) {
  map_t m;
  for (u64 k = 0; k < 10000; k += 2) m.insert(k, k * 3);
  std::vector<u64> keys;
  for (u64 k = 0; k < 1000; ++k) keys.push_back((k * 7919) % 20000);
  std::vector<u64> got(keys.size(), ~u64{0});
  const std::size_t found =
      m.visit_bulk(keys.begin(), keys.end(), [&](std::size_t i, const u64& v) { got.at(i) = v; });
  std::size_t expected = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const bool present = keys[i] < 10000 && keys[i] % 2 == 0;
    expected += present;
    if (present) {
      EXPECT_EQ(got[i], keys[i] * 3) << i;
    } else {
      EXPECT_EQ(got[i], ~u64{0}) << i;
    }
  }
  EXPECT_EQ(found, expected);
  const std::vector<u64> none;
  EXPECT_EQ(m.visit_bulk(none.begin(), none.end(), [](std::size_t, const u64&) { FAIL(); }), 0u);
}

TEST(ConcurrentHashMap, VisitBulkWorksForStringAndMoveOnlyValues) {
  cmap::concurrent_hash_map<std::string, std::unique_ptr<int>, cmap::hash<std::string>,
                            std::equal_to<>>
      m;
  m.insert("a", std::make_unique<int>(1));
  m.insert("c", std::make_unique<int>(3));
  const std::vector<std::string_view> keys{"a", "b", "c"};
  int sum = 0;
  EXPECT_EQ(m.visit_bulk(keys.begin(), keys.end(),
                         [&](std::size_t i, const std::unique_ptr<int>& p) {
                           sum += *p * static_cast<int>(i + 1);
                         }),
            2u);
  EXPECT_EQ(sum, 1 * 1 + 3 * 3);
}

TEST(ConcurrentHashMap, ValuePoliciesFollowTheValueType) {
  using cmap::detail::value_policy;
  using cmap::detail::value_policy_for;
  static_assert(value_policy_for<u64>() == value_policy::atomic_inline);
  static_assert(value_policy_for<double>() == value_policy::atomic_inline);
  static_assert(value_policy_for<std::string>() == value_policy::copy_on_write);
  static_assert(value_policy_for<std::unique_ptr<int>>() == value_policy::locked_in_place);
  struct big {
    u64 a, b, c;
  };
  static_assert(value_policy_for<big>() == value_policy::copy_on_write);
  SUCCEED();
}

TEST(ConcurrentHashMap, MoveOnlyValuesAreUpdatedInPlaceAndReadUnderTheStripeLock) {
  cmap::concurrent_hash_map<u64, std::unique_ptr<u64>> m;
  for (u64 k = 0; k < 8; ++k) m.insert(k, std::make_unique<u64>(0));
  constexpr int threads = 4, rounds = 2000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        m.visit(static_cast<u64>(i % 8), [](std::unique_ptr<u64>& p) { ++*p; });
        std::as_const(m).visit(static_cast<u64>(i % 8), [](const std::unique_ptr<u64>& p) {
          EXPECT_NE(p, nullptr);
        });
      }
    });
  }
  for (auto& t : ts) t.join();
  u64 total = 0;
  m.for_each([&](const u64&, const std::unique_ptr<u64>& p) { total += *p; });
  EXPECT_EQ(total, static_cast<u64>(threads) * rounds);
}

TEST(ConcurrentHashMap, StripeCountMustBeAPowerOfTwo) {
  EXPECT_THROW(map_t(0, cmap::hash<u64>{}, std::equal_to<u64>{}, 3), std::invalid_argument);
  EXPECT_THROW(map_t(0, cmap::hash<u64>{}, std::equal_to<u64>{}, 0), std::invalid_argument);
  map_t one(0, cmap::hash<u64>{}, std::equal_to<u64>{}, 1);
  for (u64 k = 0; k < 1000; ++k) one.insert(k, k);
  EXPECT_EQ(one.size(), 1000u);
  EXPECT_EQ(one.stripe_count(), 1u);
  EXPECT_TRUE(std::has_single_bit(map_t::default_stripe_count()));
  EXPECT_GE(map_t::default_stripe_count(), 16u);
}

TEST(ConcurrentHashMap, EraseHeavyUseRebuildsInsteadOfGrowing) {
  map_t m;
  for (u64 k = 0; k < 1000; ++k) m.insert(k, k);
  const auto after_fill = m.table_bytes();
  for (u64 k = 1000; k < 300000; ++k) {
    m.insert(k, k);
    m.erase(k - 1000);
  }
  EXPECT_EQ(m.size(), 1000u);
  EXPECT_LE(m.table_bytes(), after_fill * 2);
}

TEST(ConcurrentHashMap, ClearWhileReadersRead) {
  map_t m;
  for (u64 k = 0; k < 10000; ++k) m.insert(k, k);
  std::atomic<bool> done{false};
  std::atomic<u64> wrong{0};
  std::thread reader([&] {
    while (!done.load()) {
      for (u64 k = 0; k < 10000; k += 97) {
        const auto v = m.find(k);
        if (v && *v != k) wrong.fetch_add(1);  // absent is fine; a wrong value is not
      }
    }
  });
  for (int round = 0; round < 20; ++round) {
    m.clear();
    for (u64 k = 0; k < 10000; k += 3) m.insert(k, k);
  }
  done.store(true);
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(m.size(), 3334u);
}

}  // namespace
