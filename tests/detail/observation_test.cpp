// The slow-path observation points (detail/observation.hpp) while a tracer is attached
// (semaphores raised, as a tracer does): locks still exclude under contention on the path that
// fires lock_wait_begin/end, and tables that grow on the path with resize_begin/end keep every
// entry.

#include <gtest/gtest.h>

#include <cmap/concurrent_hash_map.hpp>
#include <cmap/detail/observation.hpp>
#include <cmap/detail/parking_lock.hpp>
#include <cmap/detail/rw_lock.hpp>
#include <cmap/detail/spin_lock.hpp>
#include <cmap/locked_map.hpp>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace {

class attached {
 public:
  attached() { adjust(+1); }
  attached(const attached&) = delete;
  attached& operator=(const attached&) = delete;
  ~attached() { adjust(-1); }

 private:
  static void adjust([[maybe_unused]] int by) {
#if CMAP_DETAIL_PROBES
    for (volatile unsigned short* s :
         {&cmap_lock_wait_begin_semaphore, &cmap_lock_wait_end_semaphore,
          &cmap_resize_begin_semaphore, &cmap_resize_end_semaphore, &cmap_reclaim_semaphore,
          &cmap_op_begin_semaphore, &cmap_op_end_semaphore}) {
      *s = static_cast<unsigned short>(*s + by);
    }
#endif
  }
};

// Threads x rounds increments of a plain counter under `lock`; the total shows exclusion.
template <class Lock, class Guard = std::lock_guard<Lock>>
std::uint64_t count_under(Lock& lock, int threads, int rounds) {
  std::uint64_t counter = 0;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        const Guard g(lock);
        ++counter;
      }
    });
  }
  for (auto& t : ts) t.join();
  return counter;
}

constexpr int threads = 4;  // more than this machine's cores: waits happen
constexpr int rounds = 20000;

TEST(observation, contended_locks_still_exclude_while_attached) {
  const attached tracer;
  cmap::detail::spin_lock spin;
  EXPECT_EQ(count_under(spin, threads, rounds), std::uint64_t{threads} * rounds);
  cmap::detail::rw_lock rw;
  EXPECT_EQ(count_under(rw, threads, rounds), std::uint64_t{threads} * rounds);
  cmap::detail::parking_lock parking;
  EXPECT_EQ(count_under(parking, threads, rounds), std::uint64_t{threads} * rounds);
}

TEST(observation, readers_and_a_writer_of_an_rw_lock_while_attached) {
  const attached tracer;
  cmap::detail::rw_lock rw;
  std::uint64_t a = 0, b = 0;  // the writer keeps a == b
  std::atomic<bool> torn{false};
  std::thread writer([&] {
    for (int i = 0; i < rounds; ++i) {
      const std::lock_guard g(rw);
      ++a;
      ++b;
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        const std::shared_lock g(rw);
        if (a != b) torn.store(true, std::memory_order_relaxed);
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_FALSE(torn.load());
  EXPECT_EQ(a, std::uint64_t{rounds});
}

TEST(observation, growing_tables_keep_every_entry_while_attached) {
  const attached tracer;
  cmap::concurrent_hash_map<std::uint64_t, std::uint64_t> chm;
  cmap::locked_map<std::uint64_t, std::uint64_t> locked;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (std::uint64_t k = t; k < 40000; k += threads) {
        chm.insert(k, k);
        locked.insert(k, k);
      }
    });
  }
  for (auto& t : ts) t.join();
  ASSERT_EQ(chm.size(), 40000U);
  ASSERT_EQ(locked.size(), 40000U);
  for (std::uint64_t k = 0; k < 40000; k += 997) {
    EXPECT_EQ(chm.find(k), std::optional<std::uint64_t>(k));
    EXPECT_EQ(locked.find(k), std::optional<std::uint64_t>(k));
  }
}

}  // namespace
