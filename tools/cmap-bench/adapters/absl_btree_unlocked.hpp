#pragma once
// absl::btree_map with no lock at all: the single-thread ceiling of the ordered maps with a
// cache-friendlier tree than std::map's red-black nodes (absl_btree_shared_mutex behind a
// lock). Registered as not concurrent: it runs at 1 thread only.
#include <absl/container/btree_map.h>

#include "counting_allocator.hpp"
#include "unlocked.hpp"

namespace cmap_bench {
template <class Key, class Value>
using absl_btree_unlocked_adapter = unlocked_adapter<
    absl::btree_map<Key, Value, std::less<Key>, counting_allocator<std::pair<const Key, Value>>>>;
}  // namespace cmap_bench
