// allocated_array: n objects built from the same arguments in one block from the allocator;
// a throw while building destroys what was built (in reverse) and frees the block.

#include <gtest/gtest.h>

#include <cmap/detail/allocated_array.hpp>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "counting_allocator.hpp"

namespace {

using cmap_test::alloc_stats;
using cmap_test::counting_allocator;

// Neither movable nor default constructible, like a lock with a table.
struct pinned {
  static inline int built = 0;
  static inline int throw_at = -1;  // the construction that throws (0-based), -1 none
  static inline std::vector<int> destroyed;
  int index;
  int payload;
  explicit pinned(int p) : index(built), payload(p) {
    if (built == throw_at) throw std::runtime_error("pinned");
    ++built;
  }
  ~pinned() { destroyed.push_back(index); }
  pinned(const pinned&) = delete;
  pinned& operator=(const pinned&) = delete;
  std::mutex lock;
};

void reset() {
  pinned::built = 0;
  pinned::throw_at = -1;
  pinned::destroyed.clear();
  alloc_stats::live_bytes = 0;
  alloc_stats::live_blocks = 0;
}

TEST(AllocatedArray, BuildsEveryElementFromTheSameArgumentsInOneBlock) {
  reset();
  {
    cmap::detail::allocated_array<pinned, counting_allocator<int>> a(5, {}, 42);
    ASSERT_EQ(a.size(), 5u);
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].payload, 42);
      EXPECT_EQ(a[i].index, static_cast<int>(i));
    }
    EXPECT_EQ(alloc_stats::live_blocks, 1);
    EXPECT_EQ(alloc_stats::live_bytes, static_cast<long>(5 * sizeof(pinned)));
  }
  EXPECT_EQ(pinned::destroyed, (std::vector<int>{4, 3, 2, 1, 0}));
  EXPECT_EQ(alloc_stats::live_blocks, 0);
  EXPECT_EQ(alloc_stats::live_bytes, 0);
}

TEST(AllocatedArray, AThrowWhileBuildingDestroysWhatWasBuiltAndFreesTheBlock) {
  reset();
  pinned::throw_at = 3;
  using array = cmap::detail::allocated_array<pinned, counting_allocator<int>>;
  EXPECT_THROW(array(6, {}, 1), std::runtime_error);
  EXPECT_EQ(pinned::destroyed, (std::vector<int>{2, 1, 0}));
  EXPECT_EQ(alloc_stats::live_blocks, 0);
  EXPECT_EQ(alloc_stats::live_bytes, 0);
}

}  // namespace
