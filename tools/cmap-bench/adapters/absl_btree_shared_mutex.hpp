#pragma once
// absl::btree_map behind one std::shared_mutex: the ordered baseline with a cache-friendlier
// tree than std::map's red-black nodes.
#include <absl/container/btree_map.h>

#include "locked_ordered.hpp"

namespace cmap_bench {
template <class Key, class Value>
using absl_btree_shared_mutex_adapter = shared_mutex_adapter<
    absl::btree_map<Key, Value, std::less<Key>, counting_allocator<std::pair<const Key, Value>>>>;
}  // namespace cmap_bench
