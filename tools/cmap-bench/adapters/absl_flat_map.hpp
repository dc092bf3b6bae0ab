#pragma once
#include <absl/container/flat_hash_map.h>

#include "unlocked.hpp"

namespace cmap_bench {
template <class Key, class Value>
using absl_flat_map_adapter =
    unlocked_adapter<absl::flat_hash_map<Key, Value, absl::Hash<Key>, std::equal_to<Key>,
                                         counting_allocator<std::pair<const Key, Value>>>>;
}  // namespace cmap_bench
