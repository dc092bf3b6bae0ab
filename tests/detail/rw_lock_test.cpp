// cmap::detail::rw_lock: exclusion between writers, sharing between readers, exclusion of
// readers by a writer, writer preference (a waiting writer holds back new readers), the
// standard lock wrappers, and a mixed stress with an invariant only a correct lock keeps.
//
// A broken lock must make these tests fail, not hang: every wait has a deadline, and a
// thread that may stay blocked in the lock owns its state through a shared_ptr, so that it
// can be abandoned (detached) when the deadline passes.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmap/detail/rw_lock.hpp>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace {

using cmap::detail::rw_lock;
using namespace std::chrono_literals;

// Generous: a correct lock passes every wait below in microseconds; only a broken one (or
// a badly overloaded machine) comes near it.
constexpr auto deadline = 10s;

// Polls pred until it holds or the deadline passes; true if it held. Polling, not sleeping:
// the outcome never depends on how long anything takes, only the failure does.
template <class Pred>
bool wait_until(Pred pred, std::chrono::steady_clock::duration limit = deadline) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

// What another thread gets from try_lock_shared / try_lock (releasing what it got).
bool try_lock_shared_elsewhere(rw_lock& l) {
  bool got = false;
  std::thread t([&] {
    got = l.try_lock_shared();
    if (got) l.unlock_shared();
  });
  t.join();
  return got;
}
bool try_lock_elsewhere(rw_lock& l) {
  bool got = false;
  std::thread t([&] {
    got = l.try_lock();
    if (got) l.unlock();
  });
  t.join();
  return got;
}

TEST(RwLock, FreshLockCanBeTakenEitherWay) {
  rw_lock l;
  ASSERT_TRUE(l.try_lock());
  l.unlock();
  ASSERT_TRUE(l.try_lock_shared());
  l.unlock_shared();
  ASSERT_TRUE(l.try_lock());
  l.unlock();
}

TEST(RwLock, WritersExcludeEachOtherSoAPlainCounterIsExact) {
  constexpr int threads = 8;
  constexpr int per_thread = 100000;
  rw_lock l;
  std::uint64_t counter = 0;  // plain: only the lock orders the increments
  std::latch start(threads);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        l.lock();
        // A read-modify-write spread over two statements, so that an overlap between two
        // holders loses an update rather than hiding in one instruction.
        const std::uint64_t seen = counter;
        counter = seen + 1;
        l.unlock();
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(counter, std::uint64_t{threads} * per_thread);
}

TEST(RwLock, TwoReadersHoldTheSharedLockAtTheSameTime) {
  struct state {
    rw_lock l;
    std::atomic<int> holding{0};  // readers that got in (never decremented)
    std::atomic<int> met{0};      // readers that saw the other one inside too
  };
  auto s = std::make_shared<state>();
  // Each reader takes the shared lock, then waits (bounded) until the other also holds it.
  // If readers excluded each other, the second could not get in and the first would time
  // out while holding.
  auto reader = [s] {
    s->l.lock_shared();
    s->holding.fetch_add(1, std::memory_order_acq_rel);
    if (wait_until([&] { return s->holding.load(std::memory_order_acquire) == 2; })) {
      s->met.fetch_add(1, std::memory_order_acq_rel);
    }
    s->l.unlock_shared();
  };
  // Each wait above is bounded, so both threads return even if the lock is broken.
  std::thread a(reader);
  std::thread b(reader);
  a.join();
  b.join();
  EXPECT_EQ(s->met.load(), 2) << "the two readers never held the shared lock at the same time";
}

TEST(RwLock, ReadersShareWhileNoWriterWaits) {
  rw_lock l;
  ASSERT_TRUE(l.try_lock_shared());
  EXPECT_TRUE(try_lock_shared_elsewhere(l));
  ASSERT_TRUE(l.try_lock_shared());  // a second shared hold by a second "reader"
  l.unlock_shared();
  l.unlock_shared();
  EXPECT_TRUE(try_lock_elsewhere(l)) << "the lock was not free after both readers left";
}

TEST(RwLock, WriterExcludesReadersAndWriters) {
  rw_lock l;
  l.lock();
  EXPECT_FALSE(try_lock_shared_elsewhere(l)) << "a reader got in while a writer held the lock";
  EXPECT_FALSE(try_lock_elsewhere(l)) << "a second writer got in while a writer held the lock";
  l.unlock();
  EXPECT_TRUE(try_lock_shared_elsewhere(l));
  EXPECT_TRUE(try_lock_elsewhere(l));
}

TEST(RwLock, ReaderExcludesWriters) {
  rw_lock l;
  l.lock_shared();
  EXPECT_FALSE(try_lock_elsewhere(l)) << "a writer got in while a reader held the lock";
  l.lock_shared();  // two holds by (standing in for) two readers
  l.unlock_shared();
  EXPECT_FALSE(try_lock_elsewhere(l)) << "a writer got in while one of two readers still held";
  l.unlock_shared();
  EXPECT_TRUE(try_lock_elsewhere(l));
}

TEST(RwLock, BlockingLockWaitsForTheReaderToLeave) {
  struct state {
    rw_lock l;
    std::atomic<bool> writer_in{false};
  };
  auto s = std::make_shared<state>();
  s->l.lock_shared();
  std::thread writer([s] {
    s->l.lock();
    s->writer_in.store(true, std::memory_order_release);
    s->l.unlock();
  });
  // Give a broken lock the chance to admit the writer (a sleep only to let a bug show).
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(s->writer_in.load(std::memory_order_acquire))
      << "lock() returned while a reader held the lock";
  s->l.unlock_shared();
  const bool admitted = wait_until([&] { return s->writer_in.load(std::memory_order_acquire); });
  EXPECT_TRUE(admitted) << "the writer was not admitted after the reader left";
  if (admitted) {
    writer.join();
  } else {
    writer.detach();
  }
}

// Writer preference: once a writer waits in lock(), new readers are held back (so a stream
// of readers cannot starve it) until the writer has been in and out.
TEST(RwLock, WaitingWriterHoldsBackNewReadersUntilItIsInAndOut) {
  struct state {
    rw_lock l;
    std::atomic<bool> writer_in{false};
    std::atomic<bool> let_writer_go{false};
    std::atomic<bool> writer_out{false};
  };
  auto s = std::make_shared<state>();
  s->l.lock_shared();  // the reader already inside
  std::thread writer([s] {
    s->l.lock();
    s->writer_in.store(true, std::memory_order_release);
    // Bounded: if the test gave up, do not hold the lock (or the thread) forever.
    wait_until([&] { return s->let_writer_go.load(std::memory_order_acquire); });
    s->writer_out.store(true, std::memory_order_release);
    s->l.unlock();
  });
  auto finish = [&](bool writer_done) {
    s->let_writer_go.store(true, std::memory_order_release);
    if (writer_done) {
      writer.join();
    } else {
      writer.detach();
    }
  };

  // Until the writer has announced itself, a new reader may still get in; once it has, new
  // readers must fail. (Each reader that gets in leaves at once.)
  const bool held_back = wait_until([&] {
    if (!s->l.try_lock_shared()) return true;
    s->l.unlock_shared();
    return false;
  });
  if (!held_back) {
    s->l.unlock_shared();
    const bool writer_done = wait_until([&] { return s->writer_in.load(); });
    finish(writer_done);
    FAIL() << "new readers kept getting in although a writer was waiting in lock()";
  }
  EXPECT_FALSE(s->writer_in.load(std::memory_order_acquire))
      << "the writer got in while the first reader still held the lock";
  // It stays that way while the writer waits (the sleeps only give a bug time to show).
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(1ms);
    if (s->l.try_lock_shared()) {
      s->l.unlock_shared();
      ADD_FAILURE() << "a new reader got in while a writer was waiting (attempt " << i << ")";
      break;
    }
  }
  EXPECT_FALSE(s->writer_in.load(std::memory_order_acquire));

  // The first reader leaves: the writer gets in, and readers stay out while it holds.
  s->l.unlock_shared();
  const bool writer_in = wait_until([&] { return s->writer_in.load(std::memory_order_acquire); });
  if (!writer_in) {
    finish(false);
    FAIL() << "the waiting writer was not admitted after the last reader left";
  }
  EXPECT_FALSE(s->l.try_lock_shared()) << "a reader got in while the writer held the lock";
  EXPECT_FALSE(s->l.try_lock()) << "a second writer got in while the writer held the lock";

  // The writer leaves: readers are admitted again.
  s->let_writer_go.store(true, std::memory_order_release);
  const bool writer_out = wait_until(
      [&] { return s->writer_out.load(std::memory_order_acquire) && s->l.try_lock_shared(); });
  finish(writer_out);
  ASSERT_TRUE(writer_out) << "readers were not admitted after the writer left";
  s->l.unlock_shared();
  EXPECT_TRUE(s->l.try_lock()) << "the lock was not free at the end";
  s->l.unlock();
}

TEST(RwLock, WorksWithStandardLockWrappers) {
  rw_lock l;
  {
    std::unique_lock guard(l);
    EXPECT_TRUE(guard.owns_lock());
    EXPECT_FALSE(try_lock_shared_elsewhere(l));
    EXPECT_FALSE(try_lock_elsewhere(l));
    guard.unlock();
    EXPECT_TRUE(try_lock_elsewhere(l));
    guard.lock();
    EXPECT_FALSE(try_lock_elsewhere(l));
  }  // released by the destructor
  EXPECT_TRUE(try_lock_elsewhere(l));
  {
    std::shared_lock first(l);
    std::shared_lock second(l, std::try_to_lock);
    EXPECT_TRUE(first.owns_lock());
    EXPECT_TRUE(second.owns_lock());
    EXPECT_FALSE(try_lock_elsewhere(l));
    std::unique_lock writer(l, std::try_to_lock);
    EXPECT_FALSE(writer.owns_lock());
  }
  EXPECT_TRUE(try_lock_elsewhere(l));
  {
    std::unique_lock writer(l, std::try_to_lock);
    ASSERT_TRUE(writer.owns_lock());
    bool reader_got_in = true;
    std::thread t([&] {
      std::shared_lock reader(l, std::try_to_lock);
      reader_got_in = reader.owns_lock();
    });
    t.join();
    EXPECT_FALSE(reader_got_in);
  }
  {
    std::scoped_lock guard(l);
    EXPECT_FALSE(try_lock_shared_elsewhere(l));
  }
  {
    std::unique_lock writer(l, std::defer_lock);
    EXPECT_FALSE(writer.owns_lock());
    EXPECT_TRUE(writer.try_lock());
  }
  EXPECT_TRUE(try_lock_elsewhere(l));
  EXPECT_TRUE(try_lock_shared_elsewhere(l));
}

// Writers keep two plain variables equal (changing them one after the other, with a write of
// a third in between); readers must always see them equal, and each role checks through
// separate counters that nobody else was inside when it should not have been.
TEST(RwLock, MixedReadersAndWritersAlwaysSeeTheInvariant) {
  for (const int threads : {2, 8}) {
    SCOPED_TRACE(testing::Message() << threads << " threads");
    constexpr int ops_per_thread = 100000;
    rw_lock l;
    std::uint64_t a = 0, b = 0, scratch = 0;  // plain: guarded by l only
    std::atomic<int> writers_inside{0}, readers_inside{0};
    std::atomic<std::uint64_t> torn_reads{0}, exclusion_breaks{0}, reads{0}, writes{0};
    std::latch start(threads);
    std::vector<std::thread> pool;
    pool.reserve(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        start.arrive_and_wait();
        std::uint64_t local_reads = 0, local_writes = 0;
        for (int i = 0; i < ops_per_thread; ++i) {
          // Every thread reads and writes; the mix leans to reads, as in a map.
          if ((i + t) % 4 == 0) {
            std::unique_lock guard(l);
            if (writers_inside.fetch_add(1, std::memory_order_relaxed) != 0 ||
                readers_inside.load(std::memory_order_relaxed) != 0) {
              exclusion_breaks.fetch_add(1, std::memory_order_relaxed);
            }
            const std::uint64_t next = a + 1;
            a = next;
            scratch = next * 3;
            b = next;
            writers_inside.fetch_sub(1, std::memory_order_relaxed);
            ++local_writes;
          } else {
            std::shared_lock guard(l);
            readers_inside.fetch_add(1, std::memory_order_relaxed);
            if (writers_inside.load(std::memory_order_relaxed) != 0) {
              exclusion_breaks.fetch_add(1, std::memory_order_relaxed);
            }
            if (a != b || (a != 0 && scratch != a * 3))
              torn_reads.fetch_add(1, std::memory_order_relaxed);
            readers_inside.fetch_sub(1, std::memory_order_relaxed);
            ++local_reads;
          }
        }
        reads.fetch_add(local_reads);
        writes.fetch_add(local_writes);
      });
    }
    for (auto& th : pool) th.join();
    EXPECT_EQ(torn_reads.load(), 0u);
    EXPECT_EQ(exclusion_breaks.load(), 0u);
    EXPECT_EQ(a, writes.load()) << "a writer's update was lost";
    EXPECT_EQ(b, writes.load());
    EXPECT_EQ(reads.load() + writes.load(), static_cast<std::uint64_t>(threads) * ops_per_thread);
  }
}

}  // namespace
