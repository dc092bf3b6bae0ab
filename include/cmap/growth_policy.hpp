#pragma once
// cmap::growth_policy: how concurrent_hash_map and read_mostly_map grow their table.

namespace cmap {

// How a concurrent_hash_map (or read_mostly_map) grows when its table is full (7/8 of the
// slots used), set with set_growth_policy(). Memory per entry is the table's bytes divided
// by the entries, so it depends on the load, which runs over each growth cycle from the
// load just after a growth up to 7/8:
//  - double_size (the default): 7/16 .. 7/8; for u64 -> u64, 27-28 bytes per entry on
//    average over a cycle. The fastest: lookups at a lower load more often find their key in
//    its first group, and each entry is moved once over the map's growth.
//  - grow_by_half: 7/12 .. 7/8; 23-24 bytes per entry for u64 -> u64, about 15% less memory,
//    for some throughput (entries are moved about twice as often; lookups run at a higher
//    load): 10-20% fewer inserts per second from empty, the same lookups
//    (docs/journal/growth-and-memory.md).
enum class growth_policy : unsigned char { double_size, grow_by_half };

}  // namespace cmap
