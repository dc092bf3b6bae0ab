#pragma once
// cmap::concurrent_hash_map over the common surface.

#include <cmap/concurrent_hash_map.hpp>

#include "adapter.hpp"
#include "common_surface.hpp"

namespace cmap_bench {

template <class Key, class Value>
using concurrent_hash_map_adapter = common_surface_adapter<cmap::concurrent_hash_map<Key, Value>>;

}  // namespace cmap_bench
