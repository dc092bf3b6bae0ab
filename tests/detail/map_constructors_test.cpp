// map_constructors: every constructor form reaches the core's one constructor with the right
// capacity, hash, equality, allocator and options, and the range and list forms insert their
// entries; the options forms exist only where the core has options.

#include <gtest/gtest.h>

#include <cmap/detail/map_constructors.hpp>
#include <cstddef>
#include <iterator>
#include <sstream>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

// Stand-ins that say which instance reached the core.
struct tagged_hash {
  int id = 0;
};
struct tagged_equal {
  int id = 0;
};
template <class T>
struct tagged_allocator {
  using value_type = T;
  int id = 0;
};
struct knobs {
  int level = 0;
};

template <class Options>
class recording_core {
 public:
  using size_type = std::size_t;
  using hasher = tagged_hash;
  using key_equal = tagged_equal;
  using allocator_type = tagged_allocator<std::pair<const int, int>>;
  using value_type = std::pair<const int, int>;
  using options_type = Options;

  recording_core(size_type n, const hasher& h, const key_equal& e, const allocator_type& a,
                 const options_type& o)
      : capacity(n), hash_id(h.id), equal_id(e.id), alloc_id(a.id) {
    if constexpr (std::is_same_v<Options, knobs>) level = o.level;
  }

  template <class It>
  std::size_t insert(It first, It last) {
    std::size_t n = 0;
    for (; first != last; ++first, ++n) {
      const auto entry = *first;
      inserted.emplace_back(entry.first, entry.second);
    }
    return n;
  }

  size_type capacity;
  int hash_id, equal_id, alloc_id, level = -1;
  std::vector<std::pair<int, int>> inserted;
};

using map_t = cmap::detail::map_constructors<recording_core<knobs>>;
using plain_t = cmap::detail::map_constructors<recording_core<cmap::detail::no_options>>;
using alloc_t = map_t::allocator_type;

void expect(const map_t& m, std::size_t n, int h, int e, int a, int level) {
  EXPECT_EQ(m.capacity, n);
  EXPECT_EQ(m.hash_id, h);
  EXPECT_EQ(m.equal_id, e);
  EXPECT_EQ(m.alloc_id, a);
  EXPECT_EQ(m.level, level);
}

TEST(MapConstructors, CapacityHashEqualityAllocatorAndOptionsReachTheCore) {
  expect(map_t(), 0, 0, 0, 0, 0);
  expect(map_t(7), 7, 0, 0, 0, 0);
  expect(map_t(7, {1}, {2}, alloc_t{3}), 7, 1, 2, 3, 0);
  expect(map_t(7, alloc_t{3}), 7, 0, 0, 3, 0);
  expect(map_t(7, tagged_hash{1}, alloc_t{3}), 7, 1, 0, 3, 0);
  expect(map_t(alloc_t{3}), 0, 0, 0, 3, 0);
  expect(map_t(7, knobs{.level = 9}), 7, 0, 0, 0, 9);
  expect(map_t(7, knobs{.level = 9}, {1}, {2}, alloc_t{3}), 7, 1, 2, 3, 9);
  expect(map_t(knobs{.level = 9}), 0, 0, 0, 0, 9);
}

TEST(MapConstructors, RangesAndListsAreInsertedWithRoomForThemFirst) {
  const std::vector<std::pair<int, int>> v{{1, 10}, {2, 20}, {3, 30}};
  const map_t from_range(v.begin(), v.end());
  expect(from_range, 3, 0, 0, 0, 0);  // forward iterators: room for the range's length
  EXPECT_EQ(from_range.inserted, v);
  expect(map_t(v.begin(), v.end(), 50, {1}, {2}, alloc_t{3}), 50, 1, 2, 3, 0);
  expect(map_t(v.begin(), v.end(), 50, alloc_t{3}), 50, 0, 0, 3, 0);
  expect(map_t(v.begin(), v.end(), 50, tagged_hash{1}, alloc_t{3}), 50, 1, 0, 3, 0);

  const map_t from_list({{4, 40}, {5, 50}});
  expect(from_list, 2, 0, 0, 0, 0);
  EXPECT_EQ(from_list.inserted, (std::vector<std::pair<int, int>>{{4, 40}, {5, 50}}));
  expect(map_t({{4, 40}}, 9, {1}, {2}, alloc_t{3}), 9, 1, 2, 3, 0);
  expect(map_t({{4, 40}}, 9, alloc_t{3}), 9, 0, 0, 3, 0);
  expect(map_t({{4, 40}}, 9, tagged_hash{1}, alloc_t{3}), 9, 1, 0, 3, 0);
}

// Single-pass iterators: the length is not known in advance, so the capacity is the one given.
struct entry_iterator {
  using iterator_category = std::input_iterator_tag;
  using value_type = std::pair<const int, int>;
  using difference_type = std::ptrdiff_t;
  std::istream_iterator<int> it;
  value_type operator*() const { return {*it, *it * 10}; }
  entry_iterator& operator++() {
    ++it;
    return *this;
  }
  void operator++(int) { ++it; }
  bool operator==(const entry_iterator& o) const { return it == o.it; }
};
static_assert(std::input_iterator<entry_iterator> && !std::forward_iterator<entry_iterator>);

TEST(MapConstructors, InputIteratorsPassTheGivenCapacity) {
  std::istringstream words("1 2 3");
  const map_t m(entry_iterator{std::istream_iterator<int>(words)}, entry_iterator{});
  expect(m, 0, 0, 0, 0, 0);
  EXPECT_EQ(m.inserted, (std::vector<std::pair<int, int>>{{1, 10}, {2, 20}, {3, 30}}));
  std::istringstream more("4");
  expect(map_t(entry_iterator{std::istream_iterator<int>(more)}, entry_iterator{}, 9), 9, 0, 0, 0,
         0);
}

TEST(MapConstructors, OptionsFormsExistOnlyWhereTheCoreHasOptions) {
  static_assert(std::is_constructible_v<map_t, std::size_t, knobs>);
  static_assert(std::is_constructible_v<map_t, knobs>);
  static_assert(!std::is_constructible_v<plain_t, std::size_t, cmap::detail::no_options>);
  static_assert(!std::is_constructible_v<plain_t, cmap::detail::no_options>);
  // A bare size_t is always room for entries, never an option.
  static_assert(!std::is_convertible_v<std::size_t, map_t>);
  SUCCEED();
}

}  // namespace
