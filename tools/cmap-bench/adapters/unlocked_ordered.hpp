#pragma once
// std::map with no lock at all: the single-thread ceiling of the ordered maps, as
// std_map_shared_mutex is their locked baseline. Ordered by std::less<Key>: no hash.
// Registered as not concurrent: it runs at 1 thread only.

#include <map>

#include "counting_allocator.hpp"
#include "unlocked.hpp"

namespace cmap_bench {

template <class Key, class Value>
using std_map_unlocked_adapter = unlocked_adapter<
    std::map<Key, Value, std::less<Key>, counting_allocator<std::pair<const Key, Value>>>>;

}  // namespace cmap_bench
