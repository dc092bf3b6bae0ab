#pragma once
// cmap::locked_map over the common surface; also the lock-scope variants, which log every
// update (a simulated logging hook, ~0.3 us of formatting) inside or outside the lock.

#include <cmap/locked_map.hpp>

#include "adapter.hpp"
#include "common_surface.hpp"

namespace cmap_bench {

template <class Key, class Value>
using locked_map_adapter = common_surface_adapter<cmap::locked_map<Key, Value>>;

template <class Key, class Value>
using locked_map_log_inside =
    common_surface_adapter<cmap::locked_map<Key, Value>, log_hook::inside>;

template <class Key, class Value>
using locked_map_log_outside =
    common_surface_adapter<cmap::locked_map<Key, Value>, log_hook::outside>;

}  // namespace cmap_bench
