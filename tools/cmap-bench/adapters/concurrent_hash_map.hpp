#pragma once
// cmap::concurrent_hash_map over the common surface; concurrent_hash_map_compact is the same
// map growing by half (cmap::growth_policy::grow_by_half) instead of doubling.

#include <cmap/concurrent_hash_map.hpp>

#include "adapter.hpp"
#include "common_surface.hpp"

namespace cmap_bench {

template <class Key, class Value>
using concurrent_hash_map_adapter = common_surface_adapter<cmap::concurrent_hash_map<Key, Value>>;

template <class Key, class Value>
class compact_concurrent_hash_map : public cmap::concurrent_hash_map<Key, Value> {
  using base = cmap::concurrent_hash_map<Key, Value>;

 public:
  compact_concurrent_hash_map(std::size_t n, const typename base::hasher& hash) : base(n, hash) {
    this->set_growth_policy(cmap::growth_policy::grow_by_half);
  }
};

template <class Key, class Value>
using compact_concurrent_hash_map_adapter =
    common_surface_adapter<compact_concurrent_hash_map<Key, Value>>;

}  // namespace cmap_bench
