#pragma once
// cmap::read_mostly_map over the common surface.

#include <cmap/read_mostly_map.hpp>

#include "adapter.hpp"
#include "common_surface.hpp"

namespace cmap_bench {

template <class Key, class Value>
using read_mostly_map_adapter = common_surface_adapter<cmap::read_mostly_map<Key, Value>>;

}  // namespace cmap_bench
