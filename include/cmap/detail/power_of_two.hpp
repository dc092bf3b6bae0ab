#pragma once
// checked_power_of_two: validates a count of locks (shards, stripes) that must be a power of
// two from 1 to 65536, so that a hash's top bits pick one with a shift and a mask.

#include <bit>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace cmap::detail {

inline constexpr std::size_t max_lock_count = std::size_t{1} << 16;

// n if it is a power of two from 1 to max_lock_count; else throws std::invalid_argument
// naming the map and what n counts ("cmap::sharded_map: the shard count must be ...").
inline std::size_t checked_power_of_two(std::size_t n, const char* what, const char* map) {
  if (n == 0 || n > max_lock_count || !std::has_single_bit(n)) {
    throw std::invalid_argument(std::string(map) + ": the " + what +
                                " must be a power of two from 1 to 65536, got " +
                                std::to_string(n));
  }
  return n;
}

}  // namespace cmap::detail
