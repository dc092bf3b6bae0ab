// What read_mostly_map promises beyond the common surface (which the typed suites test): Go
// sync.Map's semantics under its C++ names, Range's "f may call any method on the map", and
// LoadOrStore's single winner.

#include <gtest/gtest.h>

#include <atomic>
#include <cmap/read_mostly_map.hpp>
#include <cstdint>
#include <functional>
#include <latch>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using u64 = std::uint64_t;

// The ten sync.Map operations in the order of Go's documentation, each against the result
// Go's would give.
TEST(ReadMostlyMap, SyncMapOperationsUnderTheirCppNames) {
  cmap::read_mostly_map<std::string, int, cmap::hash<std::string>, std::equal_to<>> m;
  // Load of a missing key: (zero, false).
  EXPECT_EQ(m.find("a"), std::nullopt);
  // Store: insert, then overwrite.
  EXPECT_TRUE(m.insert_or_assign("a", 1));
  EXPECT_FALSE(m.insert_or_assign("a", 2));
  EXPECT_EQ(m.find("a"), std::optional<int>(2));
  // LoadOrStore: the existing value and loaded=true; a new key stores and returns it.
  EXPECT_EQ(m.find_or_insert("a", 9), std::make_pair(2, false));
  EXPECT_EQ(m.find_or_insert("b", 3), std::make_pair(3, true));
  // LoadAndDelete: the value and loaded=true, then nothing.
  EXPECT_EQ(m.extract("b"), std::optional<int>(3));
  EXPECT_EQ(m.extract("b"), std::nullopt);
  // Delete of present and absent keys (Go's Delete returns nothing; ours says which).
  m.insert("c", 4);
  EXPECT_TRUE(m.erase("c"));
  EXPECT_FALSE(m.erase("c"));
  // Swap: previous value (loaded=true), or none when the key was new.
  EXPECT_EQ(m.exchange("a", 5), std::optional<int>(2));
  EXPECT_EQ(m.exchange("d", 6), std::nullopt);
  EXPECT_EQ(m.find("d"), std::optional<int>(6));
  // CompareAndSwap: only when the current value equals old.
  EXPECT_FALSE(m.compare_exchange("a", 4, 7));
  EXPECT_TRUE(m.compare_exchange("a", 5, 7));
  EXPECT_FALSE(m.compare_exchange("zz", 0, 1));  // absent: false, nothing stored
  EXPECT_FALSE(m.contains("zz"));
  EXPECT_EQ(m.find("a"), std::optional<int>(7));
  // CompareAndDelete.
  EXPECT_FALSE(m.compare_erase("a", 5));
  EXPECT_TRUE(m.compare_erase("a", 7));
  EXPECT_FALSE(m.contains("a"));
  // Range: every entry, and false stops it.
  for (int i = 0; i < 10; ++i) m.insert("k" + std::to_string(i), i);
  std::map<std::string, int> seen;
  m.for_each([&](const std::string& k, const int& v) { seen.emplace(k, v); });
  EXPECT_EQ(seen.size(), 11u);  // k0..k9 and d
  int calls = 0;
  m.for_each([&](const std::string&, const int&) { return ++calls < 3; });
  EXPECT_EQ(calls, 3);
  // Clear.
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(std::string_view("d")), std::nullopt);  // heterogeneous lookup
}

// Go: "Range does not block other methods on the receiver; even f itself may call any method
// on m." Here f looks up, inserts (enough to grow the table several times), erases, walks the
// map again and asks its size, all from inside the walk; debug builds would abort if any of
// these met a lock the walk holds.
TEST(ReadMostlyMap, ForEachCallbackMayCallAnyMethodOfTheMap) {
  cmap::read_mostly_map<u64, u64> m;
  constexpr u64 initial = 64;
  for (u64 k = 0; k < initial; ++k) m.insert(k, k);
  u64 next_new_key = 1'000'000;
  std::map<u64, int> visits;
  std::size_t erased = 0;
  m.for_each([&](const u64& k, const u64& v) {
    ++visits[k];
    EXPECT_EQ(m.find(k), std::optional<u64>(v));
    for (int i = 0; i < 64; ++i) m.insert(next_new_key++, 1);  // grows the table under the walk
    if (k % 2 == 0) {
      EXPECT_TRUE(m.erase(k));
      ++erased;
    }
    std::size_t inner = 0;
    m.for_each([&](const u64&, const u64&) { ++inner; });
    EXPECT_EQ(inner, m.size());
  });
  // Every key present for the whole walk was seen exactly once; erased keys were seen
  // once, since each was erased only after its own visit. Keys inserted during the walk may
  // or may not be seen (and erased), but never twice.
  for (u64 k = 0; k < initial; ++k) EXPECT_EQ(visits[k], 1) << "key " << k;
  for (const auto& [k, n] : visits) EXPECT_EQ(n, 1) << "key " << k << " seen twice";
  EXPECT_GE(erased, initial / 2);
  EXPECT_EQ(m.size(), initial + (next_new_key - 1'000'000) - erased);
}

// Range running concurrently with writers that erase and re-insert the keys being walked:
// no key is seen twice in one walk, and every key that no writer touches is seen.
TEST(ReadMostlyMap, ForEachSeesStableKeysOnceWhileWritersChurn) {
  cmap::read_mostly_map<u64, u64> m;
  constexpr u64 stable = 2000, churned = 2000;
  for (u64 k = 0; k < stable + churned; ++k) m.insert(k, k);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      u64 x = static_cast<u64>(w) * 7919;
      while (!stop.load(std::memory_order_relaxed)) {
        const u64 k = stable + (x++ * 2654435761u) % churned;
        m.erase(k);
        m.insert(k, k + 1);
      }
    });
  }
  for (int round = 0; round < 20; ++round) {
    std::vector<int> seen(stable + churned, 0);
    m.for_each([&](const u64& k, const u64&) { ++seen[k]; });
    for (u64 k = 0; k < stable + churned; ++k) {
      ASSERT_LE(seen[k], 1) << "key " << k << " seen twice in one walk";
      if (k < stable) {
        ASSERT_EQ(seen[k], 1) << "stable key " << k << " missed";
      }
    }
  }
  stop = true;
  for (auto& t : writers) t.join();
}

// LoadOrStore from many threads on the same keys: one caller stores, all get its value.
TEST(ReadMostlyMap, FindOrInsertHasOneWinnerPerKey) {
  constexpr int threads = 8;  // more threads than this machine's cores, on purpose
  constexpr u64 keys = 500;
  cmap::read_mostly_map<u64, u64> m;
  std::vector<std::vector<u64>> got(threads, std::vector<u64>(keys));
  std::vector<int> wins(threads, 0);
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      for (u64 k = 0; k < keys; ++k) {
        auto [v, inserted] = m.find_or_insert(k, static_cast<u64>(t));
        got[t][k] = v;
        wins[t] += inserted ? 1 : 0;
      }
    });
  }
  for (auto& th : pool) th.join();
  int total_wins = 0;
  for (int w : wins) total_wins += w;
  EXPECT_EQ(total_wins, static_cast<int>(keys));
  for (u64 k = 0; k < keys; ++k) {
    const std::optional<u64> stored = m.find(k);
    ASSERT_TRUE(stored.has_value());
    for (int t = 0; t < threads; ++t) EXPECT_EQ(got[t][k], *stored) << "key " << k;
  }
}

}  // namespace
