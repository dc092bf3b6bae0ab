#pragma once
// Construction options: the knobs a map has besides its capacity, hash, equality and
// allocator, taken by name so that a map's constructor arguments mean the same on every
// map (the first size_t is always "room for n entries"):
//
//   cmap::sharded_map<K, V> m(100'000, {.shards = 64});
//   cmap::concurrent_hash_map<K, V> c(0, {.growth = cmap::growth_policy::grow_by_half});
//   cmap::serial_map<K, V> s(0, {.queue_limit = 1024});
//
// Every field has a default; what a zero means is said at each field.

#include <cstddef>

#include "growth_policy.hpp"

namespace cmap {

// sharded_map: how many shards (each a reader-writer lock and its own table).
struct sharded_map_options {
  // A power of two, 1 to 65536; 0: sharded_map's default_shard_count() (4 per hardware
  // thread). Anything else throws std::invalid_argument.
  std::size_t shards = 0;
};

// concurrent_hash_map and read_mostly_map: writer stripes and growth.
struct concurrent_map_options {
  // Writer stripes (each a lock serialising the writers of its keys): a power of two, 1 to
  // 65536; 0: default_stripe_count() (4 per hardware thread, at least 16). Anything else
  // throws std::invalid_argument.
  std::size_t stripes = 0;
  // How the table grows (see growth_policy.hpp); set_growth_policy() changes it later.
  growth_policy growth = growth_policy::double_size;
};

// serial_map: backpressure.
struct serial_map_options {
  // The most commands waiting for the owner thread; a submission that finds the queue full
  // waits until the owner takes it. 0 is taken as 1.
  std::size_t queue_limit = std::size_t{1} << 16;
};

}  // namespace cmap
