// What only serial_map has: the write queue and its owner thread. Ordering (per submitter
// and global, futures resolved in order, a caller that waited sees its write), fire-and-
// forget writes and flush(), exception isolation inside a batch (a throwing write reaches
// its own future only, the rest of its batch is applied), close() and the destructor
// (drain, nothing lost, later writes refused), batching, readers that never wait for the
// owner, detection of synchronous calls from the owner thread, and an 8-thread stress.
// The common surface is tested in common_surface_test.cpp (serial_family).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmap/serial_map.hpp>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "stress/watchdog.hpp"

namespace {

using u64 = std::uint64_t;
using map_t = cmap::serial_map<u64, u64>;

struct boom : std::runtime_error {
  boom() : std::runtime_error("boom") {}
};

// Holds the owner thread inside a command until release(): the writes queued meanwhile
// form the next batch, in full.
class gate {
 public:
  template <class Map>
  void block(Map& m) {
    m.submit([this](auto&) {
      entered_.store(true);
      entered_.notify_all();
      open_.wait();
    });
    entered_.wait(false);
  }
  void release() { open_promise_.set_value(); }

 private:
  std::promise<void> open_promise_;
  std::shared_future<void> open_ = open_promise_.get_future().share();
  std::atomic<bool> entered_{false};
};

// ---- ordering -------------------------------------------------------------------------------

TEST(SerialMap, OneSubmitterWritesApplyInOrderAndFuturesResolveInOrder) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  map_t m;
  std::vector<std::future<bool>> results;
  for (u64 i = 0; i < 1000; ++i) results.push_back(m.insert_or_assign_async(7, i));
  results.back().wait();
  // The last one is ready, so every earlier one is too (resolved in ticket order).
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_EQ(results[i].wait_for(std::chrono::seconds(0)), std::future_status::ready) << i;
  }
  EXPECT_TRUE(results[0].get());  // the first inserted
  for (std::size_t i = 1; i < results.size(); ++i) EXPECT_FALSE(results[i].get()) << i;
  EXPECT_EQ(m.find(7), std::optional<u64>(999));  // the last value wins

  // Synchronous and asynchronous calls of one thread interleave in program order.
  m.submit_insert_or_assign(8, 1);
  auto f = m.insert_or_assign_async(8, 2);
  EXPECT_FALSE(m.insert_or_assign(8, 3));
  EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(m.find(8), std::optional<u64>(3));
}

TEST(SerialMap, WritesApplyInGlobalSubmissionOrder) {
  cmap_test::watchdog dog(std::chrono::seconds(120));
  constexpr int threads = 4, per_thread = 2000;
  map_t m;
  // Submissions numbered under one mutex: their queue order is the numbering. The owner
  // records the order in which it applies them (only the owner writes `applied`).
  std::mutex numbering;
  u64 next = 0;
  std::vector<std::pair<int, u64>> applied;  // (thread, global number)
  applied.reserve(threads * per_thread);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        std::lock_guard lock(numbering);
        const u64 n = next++;
        m.submit([&applied, t, n](map_t::transient& tr) {
          tr.insert_or_assign(static_cast<u64>(t), n);
          applied.emplace_back(t, n);
        });
      }
    });
  }
  for (auto& th : ts) th.join();
  m.flush();
  ASSERT_EQ(applied.size(), static_cast<std::size_t>(threads * per_thread));
  for (std::size_t i = 0; i < applied.size(); ++i) ASSERT_EQ(applied[i].second, i) << i;
  // Each thread's key holds its last submission.
  for (int t = 0; t < threads; ++t) {
    u64 last = 0;
    for (const auto& [who, n] : applied)
      if (who == t) last = n;
    EXPECT_EQ(m.find(static_cast<u64>(t)), std::optional<u64>(last)) << t;
  }
}

TEST(SerialMap, ACallerThatWaitedSeesItsWrite) {
  cmap_test::watchdog dog(std::chrono::seconds(120));
  constexpr int threads = 4, per_thread = 500;
  map_t m;
  std::atomic<int> misses{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const u64 k = static_cast<u64>(t) * 1'000'000 + static_cast<u64>(i);
        if (i % 3 == 0) {
          if (!m.insert(k, k)) ++misses;  // synchronous
        } else if (i % 3 == 1) {
          if (!m.insert_async(k, k).get()) ++misses;  // waited on its future
        } else {
          m.submit_insert(k, k);
          m.flush();  // waited with flush()
        }
        if (m.find(k) != std::optional<u64>(k)) ++misses;
        if (!m.snapshot().contains(k)) ++misses;
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(misses.load(), 0);
  EXPECT_EQ(m.size(), static_cast<std::size_t>(threads * per_thread));
}

TEST(SerialMap, FireAndForgetWritesAreAllAppliedAfterFlush) {
  cmap_test::watchdog dog(std::chrono::seconds(120));
  constexpr int threads = 4, per_thread = 5000;
  map_t m;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const u64 k = static_cast<u64>(t * per_thread + i);
        m.submit_insert(k, k);
        m.submit_upsert(
            1'000'000, [](u64& v) { ++v; }, u64{1});  // one shared counter
      }
      m.flush();
      // This thread's writes are all published now.
      for (int i = 0; i < per_thread; ++i) {
        const u64 k = static_cast<u64>(t * per_thread + i);
        if (m.find(k) != std::optional<u64>(k)) ADD_FAILURE() << k;
      }
    });
  }
  for (auto& th : ts) th.join();
  m.flush();
  EXPECT_EQ(m.size(), static_cast<std::size_t>(threads * per_thread + 1));
  EXPECT_EQ(m.find(1'000'000), std::optional<u64>(threads * per_thread));
  EXPECT_EQ(m.failed_submissions(), 0u);
  EXPECT_EQ(m.applied(), static_cast<u64>(2 * threads * per_thread));
}

// ---- exceptions -------------------------------------------------------------------------

TEST(SerialMap, AThrowingCallbackReachesItsOwnFutureOnly) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  map_t m;
  m.insert(2, 20);
  gate g;
  g.block(m);
  // One batch: the gate's command done, these five are queued together.
  auto a = m.insert_async(1, 10);
  auto b = m.upsert_async(
      2,
      [](u64& v) {
        v = 99;  // a half-done change that must not stay
        throw boom();
      },
      u64{0});
  auto c = m.insert_async(3, 30);
  auto d = m.apply_async([](map_t::transient& t) {
    t.insert(4, 40);
    t.erase(1);
    t.insert_or_assign(2, 77);
    throw boom();  // undoes all three
  });
  auto e = m.erase_async(3);
  const auto applied_before = m.applied();
  g.release();
  EXPECT_TRUE(a.get());
  EXPECT_THROW(b.get(), boom);
  EXPECT_TRUE(c.get());
  EXPECT_THROW(d.get(), boom);
  EXPECT_TRUE(e.get());
  EXPECT_GE(m.largest_batch(), 5u);
  EXPECT_EQ(m.applied(), applied_before + 1 + 5);  // the gate's command (counted once its
                                                   // batch ends), then these five
  EXPECT_EQ(m.find(1), std::optional<u64>(10));
  EXPECT_EQ(m.find(2), std::optional<u64>(20));
  EXPECT_FALSE(m.contains(3));
  EXPECT_FALSE(m.contains(4));
  EXPECT_EQ(m.size(), 2u);
  std::size_t walked = 0;
  m.for_each([&](const u64&, const u64&) { ++walked; });
  EXPECT_EQ(walked, 2u);
  // A synchronous call gets its exception too, and the map goes on.
  EXPECT_THROW(m.upsert(2, [](u64&) { throw boom(); }), boom);
  EXPECT_THROW(m.visit(2,
                       [](u64& v) {
                         v = 5;
                         throw boom();
                       }),
               boom);
  EXPECT_EQ(m.find(2), std::optional<u64>(20));
  EXPECT_TRUE(m.insert(5, 50));
}

// A value whose copies throw on command and whose move may throw (it copies): the map must
// use savepoints for every write that changes a value, not the noexcept-move path.
struct touchy {
  static inline int copies_left = -1;  // -1: unlimited
  u64 v = 0;
  touchy() = default;
  explicit touchy(u64 x) : v(x) {}
  touchy(const touchy& o) : v(o.v) {
    if (copies_left == 0) throw boom();
    if (copies_left > 0) --copies_left;
  }
  touchy(touchy&& o) noexcept(false) : touchy(static_cast<const touchy&>(o)) {}
  touchy& operator=(const touchy& o) {
    if (copies_left == 0) throw boom();
    v = o.v;
    return *this;
  }
  touchy& operator=(touchy&& o) noexcept(false) { return *this = static_cast<const touchy&>(o); }
  bool operator==(const touchy&) const = default;
};

TEST(SerialMap, AThrowingCopyFailsOnlyItsWriteAndTheMapStaysConsistent) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  using tmap = cmap::serial_map<u64, touchy>;
  tmap m;
  for (u64 k = 0; k < 200; ++k) m.insert(k, touchy(k));
  gate g;
  g.block(m);
  auto before = m.insert_or_assign_async(1000, touchy(1000));
  // The callback half-changes the value, then its copy throws: nothing may stay.
  auto bad = m.apply_async([](tmap::transient& t) {
    t.visit(5, [](touchy& v) { v.v = 555; });
    t.insert(2000, touchy(2000));
    touchy::copies_left = 0;
    touchy copy(*t.find(6));  // throws
    return copy.v;
  });
  auto bad_upsert = m.upsert_async(
      7,
      [](touchy& v) {
        v.v = 777;
        throw boom();
      },
      u64{0});
  auto after = m.apply_async([](tmap::transient& t) {
    touchy::copies_left = -1;
    return t.insert_or_assign(3000, touchy(3000));
  });
  m.submit([](tmap::transient& t) {
    t.erase(8);
    throw boom();  // fire-and-forget: counted, and the erase undone
  });
  g.release();
  EXPECT_TRUE(before.get());
  EXPECT_THROW(bad.get(), boom);
  EXPECT_THROW(bad_upsert.get(), boom);
  EXPECT_TRUE(after.get());
  m.flush();
  EXPECT_EQ(m.failed_submissions(), 1u);
  EXPECT_EQ(m.size(), 202u);
  for (u64 k = 0; k < 200; ++k) ASSERT_EQ(m.find(k), std::optional<touchy>(touchy(k))) << k;
  EXPECT_FALSE(m.contains(2000));
  EXPECT_TRUE(m.contains(1000));
  EXPECT_TRUE(m.contains(3000));
  // Throwing moves: erase and exchange still leave the map unchanged when a copy throws.
  touchy::copies_left = 0;
  EXPECT_THROW(m.exchange(9, touchy(1)), boom);
  touchy::copies_left = -1;
  EXPECT_EQ(m.find(9), std::optional<touchy>(touchy(9)));
  EXPECT_EQ(m.size(), 202u);
}

// ---- close and the destructor -------------------------------------------------------------

TEST(SerialMap, CloseDrainsEveryAcceptedWriteThenRefusesWrites) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  map_t m;
  gate g;
  g.block(m);
  constexpr u64 n = 3000;
  std::vector<std::future<bool>> futures;
  for (u64 k = 0; k < n; ++k) {
    if (k % 2 == 0) {
      m.submit_insert(k, k);
    } else {
      futures.push_back(m.insert_async(k, k));
    }
  }
  std::thread closer([&] { m.close(); });
  // close() marks the map closed at once, even while the owner is still held.
  while (!m.closed()) std::this_thread::yield();
  EXPECT_THROW(m.insert(n, n), cmap::serial_map_closed);
  g.release();
  closer.join();
  for (auto& f : futures) EXPECT_TRUE(f.get());
  EXPECT_EQ(m.size(), n);  // nothing accepted was lost
  EXPECT_EQ(m.find(n - 1), std::optional<u64>(n - 1));
  // Every kind of write is refused, with a clear error; reads go on.
  EXPECT_THROW(m.insert(n, n), cmap::serial_map_closed);
  EXPECT_THROW(m.erase(1), cmap::serial_map_closed);
  EXPECT_THROW(m.upsert(
                   1, [](u64&) {}, u64{0}),
               cmap::serial_map_closed);
  EXPECT_THROW((void)m.insert_async(n, n), cmap::serial_map_closed);
  EXPECT_THROW(m.submit_insert(n, n), cmap::serial_map_closed);
  EXPECT_THROW(m.submit([](map_t::transient&) {}), cmap::serial_map_closed);
  try {
    m.clear();
    ADD_FAILURE() << "clear after close";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("after close"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(m.contains(0));
  EXPECT_EQ(m.size(), n);
  m.close();  // twice: fine
  m.flush();  // nothing pending: returns
  EXPECT_TRUE(m.closed());
}

TEST(SerialMap, ConcurrentCloseLosesNoAcceptedWrite) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  for (int round = 0; round < 20; ++round) {
    std::atomic<u64> accepted{0};
    std::atomic<u64> applied{0};
    {
      map_t m;
      std::vector<std::thread> ts;
      for (int t = 0; t < 3; ++t) {
        ts.emplace_back([&] {
          for (;;) {
            try {
              m.submit([&applied](map_t::transient&) { ++applied; });
            } catch (const cmap::serial_map_closed&) {
              return;
            }
            ++accepted;
          }
        });
      }
      while (accepted.load() < 100) std::this_thread::yield();
      m.close();
      for (auto& th : ts) th.join();
    }
    ASSERT_GT(accepted.load(), 0u);
    ASSERT_EQ(applied.load(), accepted.load()) << round;
  }
}

TEST(SerialMap, DestructorAppliesPendingWrites) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  std::atomic<u64> applied{0};
  constexpr u64 n = 1000;
  gate g;
  std::jthread opener;  // joined after the map is gone
  {
    map_t m;
    g.block(m);
    for (u64 i = 0; i < n; ++i) m.submit([&applied](map_t::transient&) { ++applied; });
    opener = std::jthread([&g] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      g.release();
    });
    // m's destructor runs here with n writes queued behind the held owner.
  }
  EXPECT_EQ(applied.load(), n);
}

// ---- batching and readers -----------------------------------------------------------------

TEST(SerialMap, QueuedWritesAreAppliedAsOneBatchAndPublishedOnce) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  map_t m;
  gate g;
  g.block(m);
  const auto batches_before = m.batches();
  const auto snap_before = m.snapshot();
  for (u64 k = 0; k < 500; ++k) m.submit_insert(k, k);
  g.release();
  m.flush();
  EXPECT_GE(m.largest_batch(), 500u);
  // The gate's batch (not counted while the owner was inside it), then one for all 500.
  EXPECT_EQ(m.batches(), batches_before + 2);
  EXPECT_EQ(m.size(), 500u);
  EXPECT_TRUE(snap_before.empty());

  // Many concurrent writers on 2 cores: batches form by themselves.
  map_t busy;
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      for (u64 i = 0; i < 2000; ++i) busy.submit_insert(static_cast<u64>(t) * 10000 + i, i);
    });
  }
  for (auto& th : ts) th.join();
  busy.flush();
  EXPECT_EQ(busy.size(), 16000u);
  EXPECT_EQ(busy.applied(), 16000u);
  EXPECT_LT(busy.batches(), busy.applied());
  EXPECT_GT(busy.largest_batch(), 1u);
}

TEST(SerialMap, AFullQueueHoldsSubmittersBackUntilTheOwnerTakesIt) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  map_t m(0, {.queue_limit = 4});
  EXPECT_EQ(m.queue_limit(), 4u);
  gate g;
  g.block(m);  // the gate's command is taken: the queue is empty again
  for (u64 k = 0; k < 4; ++k) m.submit_insert(k, k);
  std::atomic<bool> fifth_returned{false};
  std::thread fifth([&] {
    m.submit_insert(4, 4);  // the queue is full: waits for the owner
    fifth_returned.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(fifth_returned.load()) << "a submission went past a full queue";
  g.release();
  fifth.join();
  m.flush();
  EXPECT_EQ(m.size(), 5u);
  EXPECT_LE(m.largest_batch(), 4u);

  // A held-back submitter is refused, not lost, when the map closes meanwhile.
  map_t c(1);
  gate h;
  h.block(c);
  c.submit_insert(1, 1);
  std::atomic<int> outcome{0};  // 1: accepted, 2: refused
  std::thread late([&] {
    try {
      c.submit_insert(2, 2);
      outcome.store(1);
    } catch (const cmap::serial_map_closed&) {
      outcome.store(2);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::thread closer([&] { c.close(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  h.release();
  closer.join();
  late.join();
  EXPECT_TRUE(c.contains(1));
  EXPECT_EQ(c.contains(2), outcome.load() == 1);
  EXPECT_NE(outcome.load(), 0);
}

TEST(SerialMap, ReadersNeverWaitForTheOwner) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  map_t m;
  for (u64 k = 0; k < 100; ++k) m.insert(k, k);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> inside{false};
  // The owner is stuck inside this upsert's callback until we release it.
  auto stuck = m.upsert_async(
      1,
      [&](u64& v) {
        inside.store(true);
        released.wait();
        v = 1000;
      },
      u64{0});
  while (!inside.load()) std::this_thread::yield();
  auto later = m.insert_async(500, 500);  // queued behind the stuck one
  std::atomic<bool> read_done{false};
  std::thread reader([&] {
    EXPECT_EQ(m.find(1), std::optional<u64>(1));  // the published version
    EXPECT_TRUE(m.contains(99));
    EXPECT_FALSE(m.contains(500));
    EXPECT_EQ(m.size(), 100u);
    u64 sum = 0;
    m.for_each([&](const u64&, const u64& v) { sum += v; });
    EXPECT_EQ(sum, 99u * 100 / 2);
    EXPECT_EQ(m.snapshot().size(), 100u);
    EXPECT_TRUE(std::as_const(m).visit(2, [](const u64& v) { EXPECT_EQ(v, 2u); }));
    read_done.store(true);
  });
  for (int i = 0; i < 5000 && !read_done.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(read_done.load()) << "a reader waited for the owner";
  EXPECT_EQ(later.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  release.set_value();
  reader.join();
  EXPECT_FALSE(stuck.get());
  EXPECT_TRUE(later.get());
  EXPECT_EQ(m.find(1), std::optional<u64>(1000));
}

TEST(SerialMap, CallbacksRunOnTheOwnerAndMayReadAndSubmit) {
  cmap_test::watchdog dog(std::chrono::seconds(60));
  map_t m;
  m.insert(1, 1);
  std::thread::id callback_thread;
  std::optional<u64> seen_inside;
  m.upsert(
      1,
      [&](u64& v) {
        callback_thread = std::this_thread::get_id();
        seen_inside = m.find(1);  // a read: the published version
        m.submit_insert(2, 2);    // an asynchronous write: the next batch
        v = 10;
      },
      u64{0});
  EXPECT_NE(callback_thread, std::this_thread::get_id());
  EXPECT_EQ(seen_inside, std::optional<u64>(1));
  m.flush();
  EXPECT_EQ(m.find(1), std::optional<u64>(10));
  EXPECT_EQ(m.find(2), std::optional<u64>(2));
}

TEST(SerialMapDeathTest, SynchronousCallsFromTheOwnerThreadFailFast) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        map_t m;
        m.insert(1, 1);
        m.upsert(
            1, [&](u64&) { m.flush(); }, u64{0});
      },
      "called back into the map");
  EXPECT_DEATH(
      {
        map_t m;
        m.submit([&](map_t::transient&) { m.close(); });
        m.flush();
      },
      "called back into the map");
  EXPECT_DEATH(
      {
        map_t m;
        m.submit([&](map_t::transient&) { (void)m.erase(3); });
        m.flush();
      },
      "called back into the map");
}

// ---- stress ---------------------------------------------------------------------------------

// 8 threads on 2 cores, every kind of write, synchronous and not. Each thread owns a key
// range and keeps a model of it; all threads also increment shared counters. At the end the
// map must equal the union of the models, the counters must add up, and no write is lost.
TEST(SerialMap, EightThreadStressKeepsEveryInvariant) {
  cmap_test::watchdog dog(std::chrono::seconds(300));
  constexpr int threads = 8;
  constexpr int ops = 3000;
  constexpr u64 counters = 4;
  map_t m;
  std::vector<std::map<u64, u64>> models(threads);
  std::atomic<u64> increments{0};
  std::atomic<bool> stop_readers{false};
  std::atomic<int> reader_errors{0};
  std::thread reader([&] {
    while (!stop_readers.load()) {
      const auto s = m.snapshot();
      std::size_t n = 0;
      for (const auto& e : s) {
        (void)e;
        ++n;
      }
      if (n != s.size()) ++reader_errors;  // a snapshot is one whole version
    }
  });
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::uint64_t rng = 0x9e3779b97f4a7c15ULL * static_cast<u64>(t + 1);
      auto next = [&] {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
      };
      auto& model = models[t];
      const u64 base = 1000 + static_cast<u64>(t) * 1000;
      std::vector<std::future<bool>> pending;
      for (int i = 0; i < ops; ++i) {
        const u64 k = base + next() % 64;
        const u64 v = next() % 1000;
        switch (next() % 9) {
          case 0:
            if (m.insert(k, v) != !model.contains(k)) ADD_FAILURE() << "insert " << k;
            model.try_emplace(k, v);
            break;
          case 1:
            m.submit_insert_or_assign(k, v);
            model[k] = v;
            break;
          case 2:
            pending.push_back(m.insert_or_assign_async(k, v));
            model[k] = v;
            break;
          case 3:
            if (m.erase(k) != model.contains(k)) ADD_FAILURE() << "erase " << k;
            model.erase(k);
            break;
          case 4: {
            const auto old = m.exchange(k, v);
            const auto it = model.find(k);
            if (old != (it == model.end() ? std::nullopt : std::optional<u64>(it->second)))
              ADD_FAILURE() << "exchange " << k;
            model[k] = v;
            break;
          }
          case 5:
            m.submit_erase(k);
            model.erase(k);
            break;
          case 6:
            m.submit_upsert(
                next() % counters, [](u64& c) { ++c; }, u64{1});
            ++increments;
            break;
          case 7:
            (void)m.upsert(
                next() % counters, [](u64& c) { ++c; }, u64{1});
            ++increments;
            break;
          default: {
            // Our own key range is written by us only, and every write of ours before
            // this synchronous read-back has been published (we waited on this one).
            m.flush();
            const auto got = m.find(k);
            const auto it = model.find(k);
            if (got != (it == model.end() ? std::nullopt : std::optional<u64>(it->second)))
              ADD_FAILURE() << "read-back " << k;
            break;
          }
        }
      }
      for (auto& f : pending) (void)f.get();
    });
  }
  for (auto& th : ts) th.join();
  m.flush();
  stop_readers.store(true);
  reader.join();
  EXPECT_EQ(reader_errors.load(), 0);
  std::map<u64, u64> expected;
  for (const auto& model : models) expected.insert(model.begin(), model.end());
  u64 counted = 0;
  std::size_t entries = 0;
  m.for_each([&](const u64& k, const u64& v) {
    ++entries;
    if (k < counters) {
      counted += v;
      return;
    }
    const auto it = expected.find(k);
    if (it == expected.end() || it->second != v) ADD_FAILURE() << "unexpected " << k;
  });
  EXPECT_EQ(counted, increments.load());
  u64 present_counters = 0;
  for (u64 c = 0; c < counters; ++c) present_counters += m.contains(c) ? 1 : 0;
  EXPECT_EQ(entries, expected.size() + present_counters);
  EXPECT_EQ(m.size(), entries);
  EXPECT_EQ(m.failed_submissions(), 0u);
}

}  // namespace
