#pragma once
// cmap::map_stats: what every map's stats() reports, to see how full a map is, how often it
// grew, and what it costs in memory, without a debugger.

#include <cstddef>

namespace cmap {

struct map_stats {
  std::size_t size = 0;  // entries (as size())
  // Entries the map holds before its table next grows (summed over shards); for
  // snapshot_map and serial_map, whose trie grows node by node, the same as size.
  std::size_t capacity = 0;
  // Slots of the table (or tables); 0 for the tries.
  std::size_t slots = 0;
  // size / slots; 0 without slots.
  double load_factor = 0;
  // Slots that held an erased entry and are not yet reclaimed (they count against capacity
  // until the next rebuild); 0 for the tries.
  std::size_t tombstones = 0;
  // Times a table was replaced by a rebuilt one since construction: growth, rebuilds at the
  // same size that drop tombstones, reserve, rehash and shrink_to_fit (not the first table a
  // map allocates, nor the empty one clear() may put in place); 0 for the tries.
  std::size_t resizes = 0;
  // As allocated_bytes(): what the map asked its allocator for and still holds.
  std::size_t allocated_bytes = 0;
  // How far a lookup of a present key travels: the groups it visits, its home group counting
  // as 1 (the tries: nodes from the root, plus the entries before it in a collision node);
  // the longest over all entries, and the mean. With the default seeded cmap::hash nearly
  // every key sits in its home group: mean_probe stays close to 1 and longest_probe is a few
  // groups at most, even at 7/8 load. A longest_probe of tens or hundreds means keys that
  // collide in the bits the table uses: a poor user-supplied hash, or keys chosen by someone
  // who knows the seed (hash flooding); watch it where keys come from outside. Computing
  // them hashes every key again: stats() costs O(size) and, for the hash maps, holds the
  // locks it takes (stripes or shards) for that long.
  std::size_t longest_probe = 0;
  double mean_probe = 0;
};

}  // namespace cmap
