#pragma once
// oneTBB's tbb::concurrent_map (a skip list): concurrent insert, find and iteration, but no
// concurrent erase (unsafe_erase) and no synchronisation of the values, so erase,
// insert_or_assign and update mixes are n/a with more than one thread (as for
// tbb_unordered_map, whose calls it shares). Ordered by std::less<Key>: no hash.

#include <oneapi/tbb/concurrent_map.h>
#include <oneapi/tbb/tbb_allocator.h>
#include <string_view>
#include <type_traits>

#include "adapter.hpp"
#include "counting_allocator.hpp"
#include "tbb_hash_map.hpp"
#include "tbb_unordered_map.hpp"

namespace cmap_bench {

template <class Key, class Value>
class tbb_concurrent_map_adapter
    : public tbb_insert_only_adapter<
          tbb::concurrent_map<Key, Value, std::less<Key>,
                              counting_allocator<std::pair<const Key, Value>, tbb_base_allocator>>> {
 public:
  using tbb_concurrent_map_adapter::tbb_insert_only_adapter::tbb_insert_only_adapter;
  // Safe alongside concurrent inserts (the skip list's iterators are).
  std::size_t scan(const Key& k, std::size_t n) { return walk_from(this->map_, k, n); }
  template <class F = keep_entry>
  std::size_t prefix_scan(std::string_view prefix, std::size_t n, F&& f = {})
    requires std::is_constructible_v<Key, std::string_view>
  {
    return walk_prefix(this->map_, prefix, n, f);
  }
};

}  // namespace cmap_bench
