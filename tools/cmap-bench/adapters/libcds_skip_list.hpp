#pragma once
// libcds's cds::container::SkipListMap, reclaimed by hazard pointers (cds::gc::HP): an ordered
// map, lock-free find, insert, update and erase (a node is marked from its top level down,
// then unlinked level by level). update() builds a node before it searches, so an update of
// a present key allocates and frees one.
//
// No scan. SkipListMap has no lower_bound, and its iterator starts only at begin() (the
// constructor that takes a node is libcds's internal one), so "the n entries from k on" would
// be a walk over every smaller key first: the registry leaves it unordered, and a mix with
// scans is n/a for it. for_each: the iterator guards the node it stands on and, when that
// node is marked deleted, stops (returns end()) rather than follow its next pointer, so a
// walk during erases ends early; libcds still calls such iteration "for debugging only", and
// the registry marks for_each with writers n/a, as for the split list.
//
// Memory: the nodes and their towers come from the traits' allocator, so counting_allocator
// sees them all. The runtime, the threads' attaching and the values (relaxed atomic_ref, word
// by word) are libcds_common.hpp's.

#include <cds/container/skip_list_map_hp.h>

#include <cstddef>
#include <functional>

#include "counting_allocator.hpp"
#include "libcds_common.hpp"

namespace cmap_bench {

namespace libcds_detail {

// libcds's defaults otherwise: 32 levels (turbo32), relaxed ordering where libcds allows it.
template <class Key>
struct skip_list_traits : cds::container::skip_list::traits {
  using less = std::less<Key>;
  using allocator = counting_allocator<int>;  // the nodes and their towers
  // libcds's default counts nothing (size() would be 0).
  using item_counter = cds::atomicity::cache_friendly_item_counter;
};

}  // namespace libcds_detail

template <class Key, class Value>
class libcds_skip_list_adapter
    : public libcds_detail::map_adapter<cds::container::SkipListMap<
          cds::gc::HP, Key, Value, libcds_detail::skip_list_traits<Key>>> {
  using map_type =
      cds::container::SkipListMap<cds::gc::HP, Key, Value, libcds_detail::skip_list_traits<Key>>;
  static_assert(map_type::c_nHazardPtrCount <= libcds_detail::hazard_pointers,
                "the shared HP object has fewer hazard pointers than the skip list needs");

 public:
  explicit libcds_skip_list_adapter(std::size_t /*param*/) {}
};

}  // namespace cmap_bench
