#pragma once
// cmap::snapshot_map over the common surface.

#include <cmap/snapshot_map.hpp>

#include "adapter.hpp"
#include "common_surface.hpp"

namespace cmap_bench {

template <class Key, class Value>
using snapshot_map_adapter = common_surface_adapter<cmap::snapshot_map<Key, Value>>;

}  // namespace cmap_bench
