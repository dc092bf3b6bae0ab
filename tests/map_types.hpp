#pragma once
// The maps that offer the common surface (shared/API.md), as "families" so that typed tests
// can instantiate each map with the key and value types they need. A new map joins every
// typed suite (common surface, reference model, stress) by adding one line to
// all_map_families.

#include <gtest/gtest.h>

#include <cmap/locked_map.hpp>
#include <cmap/sharded_map.hpp>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace cmap_test {

template <template <class, class, class, class, class> class Map>
struct family {
  template <class K, class V, class Hash = cmap::hash<K>, class Eq = std::equal_to<K>,
            class Alloc = std::allocator<std::pair<const K, V>>>
  using map = Map<K, V, Hash, Eq, Alloc>;
};

using locked_family = family<cmap::locked_map>;
using sharded_family = family<cmap::sharded_map>;

using all_map_families = ::testing::Types<locked_family, sharded_family>;

// Readable names in test output: "CommonSurface/locked_map.Find" rather than ".../0.Find".
struct family_names {
  template <class F>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<F, locked_family>) return "locked_map";
    if constexpr (std::is_same_v<F, sharded_family>) return "sharded_map";
    return "unknown";
  }
};

}  // namespace cmap_test
