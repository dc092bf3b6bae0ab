// cooperative_rehash on its own, with a Work that records what ran where: every chunk runs
// exactly once; no move chunk starts before every construct chunk has finished; move chunks
// run private (Shared = false) only before any helper joined, and never alongside a helper;
// helpers take chunks only of a running job; the first exception of a move chunk reaches the
// owner, the rest of the move chunks are skipped; run() returns only once no helper can
// touch the job (its frame), which AddressSanitizer would catch otherwise.

#include <gtest/gtest.h>

#include <atomic>
#include <cmap/detail/cooperative_rehash.hpp>
#include <cmap/detail/sanitizers.hpp>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

struct recording_work {
  explicit recording_work(std::size_t construct, std::size_t move, long throw_at = -1)
      : construct_runs(construct), move_runs(move), throw_at_(throw_at) {
    for (auto& r : construct_runs) r.store(0);
    for (auto& r : move_runs) r.store(0);
  }

  void construct(std::size_t chunk) noexcept {
    construct_runs[chunk].fetch_add(1);
    busy_wait();
    constructs_done.fetch_add(1);
  }
  template <bool Shared>
  void move(std::size_t chunk) {
    if (constructs_done.load() != construct_runs.size()) early_move.store(true);
    if (!Shared) {
      private_moves.fetch_add(1);
      if (on_helper_thread()) helper_ran_private.store(true);
    } else {
      shared_moves.fetch_add(1);
    }
    move_runs[chunk].fetch_add(1);
    if (static_cast<long>(chunk) == throw_at_) throw std::runtime_error("move chunk");
    busy_wait();
  }

  static void busy_wait() {
    // A little work per chunk, so that helpers arrive while chunks remain.
    volatile unsigned x = 0;
    for (unsigned i = 0; i < 2000; ++i) x = x + i;
  }
  static bool on_helper_thread() { return helper_thread; }
  static inline thread_local bool helper_thread = false;

  std::vector<std::atomic<int>> construct_runs;
  std::vector<std::atomic<int>> move_runs;
  std::atomic<std::size_t> constructs_done{0};
  std::atomic<bool> early_move{false};
  std::atomic<bool> helper_ran_private{false};
  std::atomic<int> private_moves{0};
  std::atomic<int> shared_moves{0};

 private:
  long throw_at_;
};

using rehash = cmap::detail::cooperative_rehash<recording_work>;

TEST(CooperativeRehash, WithoutHelpersTheOwnerRunsEveryChunkOncePrivately) {
  rehash r;
  recording_work w(5, 9);
  const auto result = r.run(w, 5, 9);
  EXPECT_EQ(result.chunks, 14u);
  EXPECT_EQ(result.helped, 0u);
  for (auto& c : w.construct_runs) EXPECT_EQ(c.load(), 1);
  for (auto& c : w.move_runs) EXPECT_EQ(c.load(), 1);
  EXPECT_FALSE(w.early_move.load());
  EXPECT_EQ(w.private_moves.load(), 9);
  EXPECT_EQ(w.shared_moves.load(), 0);
  EXPECT_FALSE(r.running());
  EXPECT_FALSE(r.help());  // no job: nothing to help with
}

// Helpers spin on help() while the owner runs many jobs one after another, as writers waiting
// for a stripe lock do while growth repeats.
TEST(CooperativeRehash, HelpersShareJobsAndEveryChunkStillRunsOnce) {
#if CMAP_DETAIL_TSAN
  constexpr int jobs = 20;
#else
  constexpr int jobs = 200;
#endif
  rehash r;
  std::atomic<bool> stop{false};
  std::atomic<long> helped_calls{0};
  std::vector<std::thread> helpers;
  for (int t = 0; t < 3; ++t) {
    helpers.emplace_back([&] {
      recording_work::helper_thread = true;
      while (!stop.load()) {
        if (r.help()) helped_calls.fetch_add(1);
        std::this_thread::yield();
      }
    });
  }
  std::size_t helped_chunks = 0;
  for (int j = 0; j < jobs; ++j) {
    // The job lives on the heap and is freed right after run(): a helper still touching it
    // would be a use after free (AddressSanitizer), or a race (ThreadSanitizer).
    auto w = std::make_unique<recording_work>(4, 12);
    const auto result = r.run(*w, 4, 12);
    helped_chunks += result.helped;
    for (auto& c : w->construct_runs) ASSERT_EQ(c.load(), 1) << "job " << j;
    for (auto& c : w->move_runs) ASSERT_EQ(c.load(), 1) << "job " << j;
    ASSERT_FALSE(w->early_move.load()) << "a move chunk started before construction ended";
    ASSERT_FALSE(w->helper_ran_private.load()) << "a helper ran a chunk of a private job";
    ASSERT_EQ(w->private_moves.load() + w->shared_moves.load(), 12);
    w.reset();
  }
  stop.store(true);
  for (auto& h : helpers) h.join();
  EXPECT_EQ(static_cast<long>(helped_chunks) > 0, helped_calls.load() > 0);
  RecordProperty("helped_chunks", static_cast<int>(helped_chunks));
}

// A job that a helper joins goes shared at the owner's next chunk boundary: from then on
// every move chunk is told Shared, so two threads never place entries privately at once.
TEST(CooperativeRehash, AfterAHelperJoinsEveryMoveChunkIsShared) {
  struct gated_work : recording_work {
    using recording_work::recording_work;
    std::atomic<bool> first_started{false};
    std::atomic<bool> release{false};
    void construct(std::size_t chunk) noexcept {
      if (chunk == 0) {
        first_started.store(true);
        while (!release.load()) std::this_thread::yield();  // hold the owner in chunk 0
      }
      recording_work::construct(chunk);
    }
  };
  // cooperative_rehash<gated_work> to call the gated construct.
  cmap::detail::cooperative_rehash<gated_work> gr;
  gated_work w(1, 20);
  std::thread helper;
  std::atomic<bool> helped{false};
  std::thread owner([&] { gr.run(w, 1, 20); });
  while (!w.first_started.load()) std::this_thread::yield();
  helper = std::thread([&] {
    recording_work::helper_thread = true;
    helped.store(gr.help());
  });
  // The helper has announced itself before the owner leaves chunk 0.
  while (gr.helpers() == 0) std::this_thread::yield();
  w.release.store(true);
  owner.join();
  helper.join();
  EXPECT_EQ(w.private_moves.load(), 0) << "moves ran private although a helper had joined";
  EXPECT_EQ(w.shared_moves.load(), 20);
  for (auto& c : w.move_runs) EXPECT_EQ(c.load(), 1);
}

TEST(CooperativeRehash, TheFirstExceptionOfAMoveChunkReachesTheOwnerAndTheRestIsSkipped) {
  rehash r;
  recording_work w(2, 10, /*throw_at=*/3);
  EXPECT_THROW(r.run(w, 2, 10), std::runtime_error);
  for (auto& c : w.construct_runs) EXPECT_EQ(c.load(), 1);
  // Chunks 0..3 ran (3 threw); every later one was skipped.
  for (std::size_t c = 0; c < 10; ++c) EXPECT_EQ(w.move_runs[c].load(), c <= 3 ? 1 : 0) << c;
  EXPECT_FALSE(r.running());
  // The rehash is usable again afterwards.
  recording_work again(1, 1);
  EXPECT_EQ(r.run(again, 1, 1).chunks, 2u);
}

}  // namespace
