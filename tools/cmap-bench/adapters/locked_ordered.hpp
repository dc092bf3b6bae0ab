#pragma once
// The ordered baselines users write by hand: an ordered map (std::map, absl::btree_map)
// behind one std::shared_mutex, shared lock for reads, exclusive for writes, as
// std_shared_mutex.hpp does for std::unordered_map. Ordered by std::less<Key>: no hash.

#include <map>
#include <mutex>
#include <shared_mutex>

#include "counting_allocator.hpp"
#include "std_shared_mutex.hpp"

namespace cmap_bench {

template <class Key, class Value>
using std_map_shared_mutex_adapter = shared_mutex_adapter<
    std::map<Key, Value, std::less<Key>, counting_allocator<std::pair<const Key, Value>>>>;

}  // namespace cmap_bench
