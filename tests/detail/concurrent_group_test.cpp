// concurrent_group: the control-word operations of concurrent_table's groups. Each changes
// exactly the byte it names, whatever other threads do to the other bytes at the same time;
// a snapshot reads the slots' bytes (15 of them) and the overflow bits apart.

#include <gtest/gtest.h>

#include <atomic>
#include <cmap/detail/concurrent_group.hpp>
#include <cmap/detail/sanitizers.hpp>
#include <cstdint>
#include <latch>
#include <thread>
#include <vector>

namespace {

using cmap::detail::concurrent_group_slots;
using cmap::detail::ctrl_busy;
using cmap::detail::ctrl_deleted;
using cmap::detail::ctrl_empty;
using cmap::detail::ctrl_snapshot;
using cmap::detail::ctrl_t;
using cmap::detail::group_ctrl;
using cmap::detail::overflow_bit;

struct words {
  std::atomic<std::uint64_t> w[2];
  words() { group_ctrl(w).init(); }
  group_ctrl ctrl() { return group_ctrl(w); }
};

std::vector<unsigned> slots_of(cmap::detail::bit_mask m) {
  std::vector<unsigned> out;
  for (unsigned i : m) out.push_back(i);
  return out;
}

TEST(ConcurrentGroup, AFreshGroupIsEmptyWithoutOverflow) {
  words g;
  const ctrl_snapshot c = g.ctrl().load();
  EXPECT_EQ(slots_of(c.match_empty()).size(), concurrent_group_slots);
  EXPECT_FALSE(c.match_full().any());
  EXPECT_FALSE(c.match_deleted().any());
  for (std::size_t h = 0; h < 8; ++h) EXPECT_FALSE(c.overflowed(h));
  for (unsigned i = 0; i < concurrent_group_slots; ++i) EXPECT_EQ(c.byte(i), ctrl_empty);
}

TEST(ConcurrentGroup, SnapshotsMatchTagsAndStatesOfTheFifteenSlotsOnly) {
  words g;
  const group_ctrl c = g.ctrl();
  ASSERT_TRUE(c.set(0, ctrl_empty, 0x11));
  ASSERT_TRUE(c.set(7, ctrl_empty, 0x11));
  ASSERT_TRUE(c.set(8, ctrl_empty, 0x22));
  ASSERT_TRUE(c.set(14, ctrl_empty, ctrl_deleted));
  ASSERT_TRUE(c.set(3, ctrl_empty, ctrl_busy));
  c.mark_overflow(5);  // byte 15: must never show up as a slot
  const ctrl_snapshot s = c.load();
  EXPECT_EQ(slots_of(s.match(0x11)), (std::vector<unsigned>{0, 7}));
  EXPECT_EQ(slots_of(s.match(0x22)), (std::vector<unsigned>{8}));
  EXPECT_EQ(slots_of(s.match_deleted()), (std::vector<unsigned>{14}));
  EXPECT_EQ(slots_of(s.match_full()), (std::vector<unsigned>{0, 7, 8}));  // busy is not full
  EXPECT_EQ(slots_of(s.match_empty()).size(), concurrent_group_slots - 5);
  EXPECT_EQ(s.byte(3), ctrl_busy);
  EXPECT_EQ(s.byte(8), 0x22);
}

TEST(ConcurrentGroup, OverflowBitsAreOnePerLowHashBitsAndOnlyEverSet) {
  words g;
  const group_ctrl c = g.ctrl();
  c.mark_overflow(0x1234'5678'9abc'def3);  // low 3 bits: 3
  c.mark_overflow(0xb);                    // 3 again
  for (std::size_t h = 0; h < 64; ++h) EXPECT_EQ(c.load().overflowed(h), (h & 7) == 3) << h;
  EXPECT_EQ(overflow_bit(3), 1u << 3);
  c.mark_overflow(6);
  EXPECT_TRUE(c.load().overflowed(6));
  EXPECT_TRUE(c.load().overflowed(3));
  EXPECT_EQ(slots_of(c.load().match_empty()).size(), concurrent_group_slots);
}

TEST(ConcurrentGroup, SetFailsWhenTheByteIsNotTheExpectedOne) {
  words g;
  const group_ctrl c = g.ctrl();
  EXPECT_TRUE(c.set(4, ctrl_empty, ctrl_busy));
  EXPECT_FALSE(c.set(4, ctrl_empty, ctrl_busy));  // taken meanwhile
  EXPECT_EQ(c.load().byte(4), ctrl_busy);
  EXPECT_FALSE(c.set(5, ctrl_deleted, 0x01));
  EXPECT_EQ(c.load().byte(5), ctrl_empty);
}

// move() adds the difference of two byte values: every position and every pair of values
// the table uses must land exactly, with no carry or borrow into a neighbour.
TEST(ConcurrentGroup, MoveChangesExactlyItsByteForEveryPositionAndValue) {
  const std::vector<ctrl_t> values = {ctrl_empty, ctrl_deleted, ctrl_busy, 0x00, 0x01, 0x7F, 0x40};
  for (unsigned i = 0; i < concurrent_group_slots; ++i) {
    for (ctrl_t from : values) {
      for (ctrl_t to : values) {
        words g;
        const group_ctrl c = g.ctrl();
        // Neighbours at extreme values, to catch a carry or borrow.
        if (i > 0) c.set_private(i - 1, static_cast<ctrl_t>(0xFF));
        if (i + 1 < concurrent_group_slots) c.set_private(i + 1, 0x00);
        c.mark_overflow(7);
        c.set_private(i, from);
        const ctrl_snapshot before = c.load();
        c.move(i, from, to);
        const ctrl_snapshot after = c.load();
        ASSERT_EQ(after.byte(i), to) << "slot " << i;
        for (unsigned j = 0; j < concurrent_group_slots; ++j) {
          if (j == i) continue;
          ASSERT_EQ(after.byte(j), before.byte(j)) << "slot " << j << " moved too";
        }
        ASSERT_TRUE(after.overflowed(7));
      }
    }
  }
}

TEST(ConcurrentGroup, StillTaggedSeesTheByteAsItIsNow) {
  words g;
  const group_ctrl c = g.ctrl();
  ASSERT_TRUE(c.set(2, ctrl_empty, 0x33));
  EXPECT_TRUE(c.still_tagged(2, 0x33));
  c.move(2, 0x33, ctrl_deleted);
  EXPECT_FALSE(c.still_tagged(2, 0x33));
}

// Threads each own some bytes of one group and change only those, as stripes do: moves and
// claims of one thread never disturb another thread's bytes, and overflow marks survive.
TEST(ConcurrentGroup, ConcurrentWritersOfDifferentBytesDoNotDisturbEachOther) {
#if CMAP_DETAIL_TSAN
  constexpr int rounds = 2000;
#else
  constexpr int rounds = 50000;
#endif
  constexpr unsigned threads = 3;  // slots t, t + 3, t + 6, ... belong to thread t
  words g;
  const group_ctrl c = g.ctrl();
  std::latch start(threads);
  std::vector<std::thread> pool;
  std::atomic<int> wrong{0};
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int r = 0; r < rounds; ++r) {
        for (unsigned i = t; i < concurrent_group_slots; i += threads) {
          const auto tag = static_cast<ctrl_t>((r + i) & 0x7F);
          // Claim (CAS, racing with the others' changes of the word), publish, erase, free.
          if (!c.set(i, ctrl_empty, ctrl_busy)) wrong.fetch_add(1);
          c.move(i, ctrl_busy, tag);
          if (!c.still_tagged(i, tag)) wrong.fetch_add(1);
          c.move(i, tag, ctrl_deleted);
          if (!c.set(i, ctrl_deleted, ctrl_empty)) wrong.fetch_add(1);
        }
        if (r % 64 == 0) c.mark_overflow(t);
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(wrong.load(), 0);
  const ctrl_snapshot s = c.load();
  EXPECT_EQ(slots_of(s.match_empty()).size(), concurrent_group_slots);
  for (unsigned t = 0; t < threads; ++t) EXPECT_TRUE(s.overflowed(t));
  EXPECT_FALSE(s.overflowed(7));
}

}  // namespace
