// Epoch-based reclamation on its own: nothing freed while a reader that could hold it is
// pinned, freed once it is safe, garbage bounded under churn, drain(owner) frees at once,
// and what exiting threads leave is freed too.

#include <gtest/gtest.h>

#include <atomic>
#include <cmap/detail/epoch.hpp>
#include <latch>
#include <thread>
#include <vector>

namespace {

using cmap::detail::epoch_domain;

struct tracked {
  static inline std::atomic<int> live{0};
  tracked() { live.fetch_add(1); }
  ~tracked() { live.fetch_sub(1); }
};

void delete_tracked(void* p, void*) { delete static_cast<tracked*>(p); }

epoch_domain& domain() { return epoch_domain::global(); }

// Frees everything this thread retired that is safe to free (no pins anywhere).
void settle() {
  for (int i = 0; i < 4; ++i) domain().collect_now();
}

TEST(Epoch, NothingIsFreedWhileAReaderThatMayHoldItIsPinned) {
  settle();
  const int base = tracked::live.load();
  std::latch pinned(1), release(1);
  std::thread reader([&] {
    auto guard = domain().pin();
    pinned.count_down();
    release.wait();
  });
  pinned.wait();
  for (int i = 0; i < 1000; ++i) domain().retire(new tracked, &delete_tracked, nullptr, nullptr);
  settle();
  EXPECT_EQ(tracked::live.load(), base + 1000) << "freed under a pinned reader";
  release.count_down();
  reader.join();
  settle();
  EXPECT_EQ(tracked::live.load(), base);
}

TEST(Epoch, PinsNestAndOnlyTheOutermostUnpins) {
  settle();
  const int base = tracked::live.load();
  std::latch pinned(1), release(1);
  std::thread reader([&] {
    auto outer = domain().pin();
    { auto inner = domain().pin(); }
    pinned.count_down();  // still pinned by `outer`
    release.wait();
  });
  pinned.wait();
  domain().retire(new tracked, &delete_tracked, nullptr, nullptr);
  settle();
  EXPECT_EQ(tracked::live.load(), base + 1);
  release.count_down();
  reader.join();
  settle();
  EXPECT_EQ(tracked::live.load(), base);
}

TEST(Epoch, GarbageStaysBoundedUnderChurnWithoutReaders) {
  settle();
  std::size_t peak = 0;
  for (int i = 0; i < 100000; ++i) {
    domain().retire(new tracked, &delete_tracked, nullptr, nullptr);
    peak = std::max(peak, domain().pending_on_this_thread());
  }
  EXPECT_LE(peak, 4 * epoch_domain::retire_batch);
  settle();
}

TEST(Epoch, DrainFreesAnOwnersObjectsAtOnceEvenWhilePinned) {
  settle();
  const int base = tracked::live.load();
  int owner_a = 0, owner_b = 0;
  auto guard = domain().pin();  // would hold back a normal collection
  for (int i = 0; i < 10; ++i) domain().retire(new tracked, &delete_tracked, nullptr, &owner_a);
  for (int i = 0; i < 5; ++i) domain().retire(new tracked, &delete_tracked, nullptr, &owner_b);
  domain().drain(&owner_a);
  EXPECT_EQ(tracked::live.load(), base + 5);
  domain().drain(&owner_b);
  EXPECT_EQ(tracked::live.load(), base);
}

TEST(Epoch, WhatAnExitingThreadLeftIsFreedLater) {
  settle();
  const int base = tracked::live.load();
  std::thread t([] {
    for (int i = 0; i < 50; ++i) domain().retire(new tracked, &delete_tracked, nullptr, nullptr);
  });
  t.join();
  // The thread's leftovers are orphans now; later collections free them once old enough.
  for (int i = 0; i < 8 && tracked::live.load() != base; ++i) {
    for (std::size_t j = 0; j < epoch_domain::retire_batch; ++j)
      domain().retire(new tracked, &delete_tracked, nullptr, nullptr);
    settle();
  }
  EXPECT_EQ(tracked::live.load(), base);
}

TEST(Epoch, ManyThreadsRetiringAndReadingNeverSeeFreedMemory) {
  // Readers pin and read a shared object; writers swap it and retire the old one. Under
  // ASan a use-after-free would be reported; here the object's canary is also checked.
  struct box {
    std::atomic<std::uint64_t> canary{0xC0FFEE};
    ~box() { canary.store(0xDEAD); }
  };
  std::atomic<box*> shared{new box};
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int r = 0; r < 3; ++r) {
    ts.emplace_back([&] {
      while (!done.load()) {
        auto g = domain().pin();
        box* b = shared.load(std::memory_order_acquire);
        if (b->canary.load() != 0xC0FFEE) bad.fetch_add(1);
      }
    });
  }
  for (int w = 0; w < 2; ++w) {
    ts.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        box* old = shared.exchange(new box, std::memory_order_acq_rel);
        domain().retire(
            old, [](void* p, void*) { delete static_cast<box*>(p); }, nullptr, nullptr);
      }
    });
  }
  for (std::size_t i = 3; i < ts.size(); ++i) ts[i].join();
  done.store(true);
  for (std::size_t i = 0; i < 3; ++i) ts[i].join();
  delete shared.load();
  EXPECT_EQ(bad.load(), 0);
}

TEST(Epoch, BarrierModeIsFixedAndSeqCstUnderThreadSanitizer) {
  const bool asymmetric = domain().asymmetric_barrier();
  RecordProperty("asymmetric_barrier", asymmetric ? "membarrier" : "seq_cst fence");
#if CMAP_DETAIL_TSAN || !defined(__linux__)
  // TSan does not model membarrier: readers must keep the fence it understands.
  EXPECT_FALSE(asymmetric);
#endif
  // Decided once per process (by the first thread that registers), not per thread.
  EXPECT_EQ(domain().asymmetric_barrier(), asymmetric);
  bool on_another_thread = !asymmetric;
  std::thread([&] { on_another_thread = domain().asymmetric_barrier(); }).join();
  EXPECT_EQ(on_another_thread, asymmetric);
  // Advances work in either mode once nothing is pinned.
  const auto before = domain().current_epoch();
  EXPECT_TRUE(domain().try_advance());
  EXPECT_EQ(domain().current_epoch(), before + 1);
}

}  // namespace
