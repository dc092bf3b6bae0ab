#pragma once
// libcds's cds::container::SplitListMap over a Michael list, reclaimed by hazard pointers
// (cds::gc::HP): lock-free find, insert, update and erase, and a growing bucket table
// (split-ordered lists: the buckets are shortcuts into one sorted list, so growing splits no
// chain). Iteration is not safe while other threads erase: libcds's list iterator guards the
// node it stands on, but once that node is unlinked its successor can be reclaimed before the
// iterator steps onto it (libcds calls such iteration "for debugging only"; a for_each mix
// crashed here at 8 threads). The registry marks it: for_each with writers is n/a.
//
// The runtime, the threads' attaching and the values (relaxed atomic_ref, word by word) are
// libcds_common.hpp's.

#include <cds/container/michael_kvlist_hp.h>
#include <cds/container/split_list_map.h>

#include <cstddef>
#include <functional>

#include "counting_allocator.hpp"
#include "hash_seed.hpp"
#include "libcds_common.hpp"

namespace cmap_bench {

namespace libcds_detail {

template <class Key>
struct split_list_traits : cds::container::split_list::traits {
  using ordered_list = cds::container::michael_list_tag;
  // libcds default-constructs it: the run's seed (hash_seed.hpp).
  using hash = fixed_seed_hash<Key>;
  using allocator = counting_allocator<int>;  // the bucket table
  using item_counter = cds::atomicity::cache_friendly_item_counter;
  struct ordered_list_traits : cds::container::michael_list::traits {
    using less = std::less<Key>;
    using allocator = counting_allocator<int>;  // the nodes
  };
};

}  // namespace libcds_detail

template <class Key, class Value>
class libcds_split_list_adapter
    : public libcds_detail::map_adapter<cds::container::SplitListMap<
          cds::gc::HP, Key, Value, libcds_detail::split_list_traits<Key>>> {
 public:
  // Room for 4M entries at load factor 1 before chains lengthen; segments of the bucket
  // table are allocated as the map grows.
  explicit libcds_split_list_adapter(std::size_t /*param*/)
      : libcds_split_list_adapter::map_adapter(std::size_t{1} << 22, std::size_t{1}) {}
};

}  // namespace cmap_bench
