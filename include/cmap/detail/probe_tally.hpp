#pragma once
// probe_tally: how far lookups of present keys travel, summed entry by entry, for the
// longest_probe and mean_probe of cmap::map_stats. Under a well-seeded hash nearly every key
// sits in its home group; long probes mean keys that collide in the bits a table uses.

#include <algorithm>
#include <cstddef>

#include "../map_stats.hpp"

namespace cmap::detail {

struct probe_tally {
  std::size_t longest = 0;  // the most groups (or trie nodes) one lookup visits
  std::size_t total = 0;    // summed over the entries
  std::size_t entries = 0;

  // One entry whose lookup visits `length` groups (its home group counts 1).
  void add(std::size_t length) noexcept {
    longest = std::max(longest, length);
    total += length;
    ++entries;
  }
  void merge(const probe_tally& o) noexcept {
    longest = std::max(longest, o.longest);
    total += o.total;
    entries += o.entries;
  }
  void write_to(map_stats& st) const noexcept {
    st.longest_probe = longest;
    st.mean_probe =
        entries == 0 ? 0.0 : static_cast<double>(total) / static_cast<double>(entries);
  }
};

}  // namespace cmap::detail
