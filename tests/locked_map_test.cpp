// What only locked_map has: with_read_lock / with_write_lock, the RWMutex use case of
// compound logic that must be atomic.

#include <gtest/gtest.h>

#include <cmap/locked_map.hpp>
#include <cstdint>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using map_t = cmap::locked_map<std::uint64_t, std::uint64_t>;

TEST(LockedMap, InitializerListAndCapacityConstructors) {
  map_t m{{1, 10}, {2, 20}};
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.find(2), std::optional<std::uint64_t>(20));
  map_t big(1000);
  EXPECT_GT(big.allocated_bytes(), 0u);
  EXPECT_TRUE(big.empty());
}

TEST(LockedMap, WithReadLockSeesOneConsistentState) {
  map_t m{{1, 5}, {2, 5}};
  const auto sum = m.with_read_lock([](const map_t::table_type& t) {
    std::uint64_t s = 0;
    t.for_each([&](const std::uint64_t&, const std::uint64_t& v) { s += v; });
    return s;
  });
  EXPECT_EQ(sum, 10u);
}

TEST(LockedMap, WithWriteLockMakesCompoundUpdatesAtomic) {
  // Each thread moves one unit from key 0 to key 1 and back, many times, as two separate
  // table writes inside one with_write_lock. Readers through with_read_lock must always see
  // the total intact, which would break if the two writes were not one atomic step.
  map_t m{{0, 1000}, {1, 0}};
  constexpr int threads = 4, rounds = 2000;
  std::atomic<bool> torn{false};
  std::latch start(threads + 1);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < rounds; ++i) {
        m.with_write_lock([&](map_t::table_type& table) {
          const std::uint64_t from = (i + t) % 2, to = 1 - from;
          std::uint64_t* a = table.find(from);
          std::uint64_t* b = table.find(to);
          if (*a > 0) {
            --*a;
            ++*b;
          }
        });
      }
    });
  }
  start.arrive_and_wait();
  for (int i = 0; i < rounds; ++i) {
    m.with_read_lock([&](const map_t::table_type& table) {
      if (*table.find(0) + *table.find(1) != 1000) torn = true;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_FALSE(torn.load());
  EXPECT_EQ(*m.find(0) + *m.find(1), 1000u);
}

TEST(LockedMap, WithWriteLockReleasesTheLockWhenItThrows) {
  map_t m{{1, 1}};
  EXPECT_THROW(m.with_write_lock([](map_t::table_type& t) {
    t.insert_or_assign(std::uint64_t{2}, std::uint64_t{2});
    throw std::runtime_error("x");
  }),
               std::runtime_error);
  EXPECT_THROW(
      m.with_read_lock([](const map_t::table_type&) -> int { throw std::runtime_error("y"); }),
      std::runtime_error);
  std::thread other([&] { m.insert(3, 3); });  // would hang if the lock leaked
  other.join();
  EXPECT_EQ(m.size(), 3u);  // what f did before throwing stays
}

TEST(LockedMap, WithWriteLockReturnsTheCallbacksResult) {
  map_t m;
  const bool inserted = m.with_write_lock([](map_t::table_type& t) {
    return t.try_emplace(std::uint64_t{7}, std::uint64_t{70}).second;
  });
  EXPECT_TRUE(inserted);
  EXPECT_EQ(m.find(7), std::optional<std::uint64_t>(70));
}

}  // namespace
