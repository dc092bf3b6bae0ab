#pragma once
// cmap::sharded_map over the common surface; "sharded_map:N" runs it with N shards.

#include <cmap/sharded_map.hpp>

#include "adapter.hpp"
#include "common_surface.hpp"

namespace cmap_bench {

template <class Key, class Value>
using sharded_map_adapter = common_surface_adapter<cmap::sharded_map<Key, Value>>;

}  // namespace cmap_bench
