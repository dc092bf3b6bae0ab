#pragma once
// cmap::art_map (the ordered map) over the common surface. It has no hash: the adapter builds
// it without a seed, and its order is the keys' (u64: numeric, strings: bytewise).

#include <cmap/art_map.hpp>

#include "adapter.hpp"
#include "common_surface.hpp"

namespace cmap_bench {

template <class Key, class Value>
using art_map_adapter = common_surface_adapter<cmap::art_map<Key, Value>>;

}  // namespace cmap_bench
