// map_metrics: a map's counters summed over the threads' blocks. Each count lands in the
// right map, operation and outcome whichever way its block was found (the thread's remembered
// block, the block table, the shared block of threads past max_threads), a map built where
// another was destroyed never counts into the old one's blocks, and the current map a scope
// names is restored when the scope ends.

#include <gtest/gtest.h>

#include <chrono>
#include <cmap/detail/map_metrics.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <thread>
#include <vector>

namespace {

using cmap::detail::map_metrics;
using cmap::detail::metric_totals;
using cmap::detail::probe_op;

std::uint64_t count_of(const metric_totals& t, probe_op op, bool hit) {
  return t.ops[static_cast<std::size_t>(op) - static_cast<std::size_t>(probe_op::find)][hit ? 1 : 0];
}

TEST(MapMetrics, CountsByOperationAndOutcome) {
  map_metrics m;
  for (int i = 0; i < 3; ++i) m.count_op(probe_op::find, true);
  for (int i = 0; i < 2; ++i) m.count_op(probe_op::find, false);
  m.count_op(probe_op::erase, true);
  const metric_totals t = m.totals();
  EXPECT_EQ(count_of(t, probe_op::find, true), 3u);
  EXPECT_EQ(count_of(t, probe_op::find, false), 2u);
  EXPECT_EQ(count_of(t, probe_op::erase, true), 1u);
  EXPECT_EQ(count_of(t, probe_op::erase, false), 0u);
  EXPECT_EQ(count_of(t, probe_op::emplace, true), 0u);
}

TEST(MapMetrics, AThreadAlternatingBetweenMapsCountsEachInItsOwn) {
  map_metrics a;
  map_metrics b;
  for (int i = 0; i < 100; ++i) {
    a.count_op(probe_op::find, true);
    b.count_op(probe_op::find, false);
    b.count_op(probe_op::find, false);
  }
  EXPECT_EQ(count_of(a.totals(), probe_op::find, true), 100u);
  EXPECT_EQ(count_of(a.totals(), probe_op::find, false), 0u);
  EXPECT_EQ(count_of(b.totals(), probe_op::find, false), 200u);
  EXPECT_EQ(count_of(b.totals(), probe_op::find, true), 0u);
}

// The thread remembers the block it last counted into: a map built in the same storage after
// the first was destroyed has a different number, so it counts into a block of its own (under
// AddressSanitizer, a count into the freed block would also be reported).
TEST(MapMetrics, AMapBuiltWhereAnotherWasDestroyedStartsFromZero) {
  alignas(map_metrics) static std::byte storage[sizeof(map_metrics)];
  auto* first = new (storage) map_metrics();
  for (int i = 0; i < 5; ++i) first->count_op(probe_op::emplace, true);
  EXPECT_EQ(count_of(first->totals(), probe_op::emplace, true), 5u);
  first->~map_metrics();

  auto* second = new (storage) map_metrics();
  ASSERT_EQ(static_cast<void*>(second), static_cast<void*>(first));
  second->count_op(probe_op::emplace, true);
  EXPECT_EQ(count_of(second->totals(), probe_op::emplace, true), 1u);
  second->~map_metrics();
}

TEST(MapMetrics, ConcurrentThreadsCountsAddUp) {
  map_metrics m;
  constexpr int threads = 8;
  constexpr int per_thread = 20000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) m.count_op(probe_op::find, (i & 1) == 0);
    });
  }
  for (auto& th : pool) th.join();
  const metric_totals t = m.totals();
  EXPECT_EQ(count_of(t, probe_op::find, true), std::uint64_t{threads} * per_thread / 2);
  EXPECT_EQ(count_of(t, probe_op::find, false), std::uint64_t{threads} * per_thread / 2);
}

// Threads numbered max_threads and above share one block with atomic adds; their counts are
// not lost, and a thread that counted into the shared block does not remember it as its own.
TEST(MapMetrics, ThreadsPastTheBlockTableShareOneBlock) {
  map_metrics m;
  const std::size_t threads = map_metrics::max_threads + 40;
  for (std::size_t t = 0; t < threads; ++t) {
    std::thread([&] {
      m.count_op(probe_op::contains, true);
      m.count_op(probe_op::contains, true);
    }).join();
  }
  EXPECT_EQ(count_of(m.totals(), probe_op::contains, true), 2 * threads);

  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) m.count_op(probe_op::contains, false);
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(count_of(m.totals(), probe_op::contains, false), 40000u);
}

TEST(MapMetrics, LockWaitsFallInTheirBuckets) {
  map_metrics m;
  using std::chrono::microseconds;
  using std::chrono::nanoseconds;
  m.count_lock_wait(nanoseconds(500));        // <= 1 us
  m.count_lock_wait(microseconds(50));        // <= 100 us
  m.count_lock_wait(std::chrono::seconds(20));  // +Inf
  const metric_totals t = m.totals();
  EXPECT_EQ(t.lock_waits, 3u);
  EXPECT_EQ(t.lock_wait_ns, 500u + 50'000u + 20'000'000'000u);
  EXPECT_EQ(t.lock_wait_buckets[0], 1u);
  EXPECT_EQ(t.lock_wait_buckets[2], 1u);
  EXPECT_EQ(t.lock_wait_buckets.back(), 1u);
  m.count_resize(microseconds(7));
  EXPECT_EQ(m.totals().resizes, 1u);
  EXPECT_EQ(m.totals().resize_ns, 7000u);
}

TEST(MapMetrics, TheCurrentMapScopeNestsAndRestores) {
  map_metrics outer;
  map_metrics inner;
  EXPECT_EQ(cmap::detail::current_map_metrics(), nullptr);
  {
    const cmap::detail::current_map_scope a(&outer);
    EXPECT_EQ(cmap::detail::current_map_metrics(), &outer);
    {
      const cmap::detail::current_map_scope b(&inner);
      EXPECT_EQ(cmap::detail::current_map_metrics(), &inner);
    }
    EXPECT_EQ(cmap::detail::current_map_metrics(), &outer);
  }
  EXPECT_EQ(cmap::detail::current_map_metrics(), nullptr);
}

}  // namespace
