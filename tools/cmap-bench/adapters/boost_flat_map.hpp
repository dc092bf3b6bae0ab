#pragma once
// Boost 1.81 has boost::unordered_flat_map but not boost::concurrent_flat_map (added in
// 1.83), so Boost appears only as a single-thread ceiling.
#include <boost/unordered/unordered_flat_map.hpp>

#include "unlocked.hpp"

namespace cmap_bench {
template <class Key, class Value>
using boost_flat_map_adapter =
    unlocked_adapter<boost::unordered_flat_map<Key, Value, boost::hash<Key>, std::equal_to<Key>,
                                               counting_allocator<std::pair<const Key, Value>>>>;
}  // namespace cmap_bench
