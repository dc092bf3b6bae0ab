#pragma once
// The seed of every cmap::hash that cmap-bench builds.
//
// A default-constructed cmap::hash draws a secret seed per map, so the same keys land in
// different groups in every map and every run: two runs of one workload, or two maps of one
// run, would each be measured on a layout of their own. cmap-bench gives every map and peer
// that hashes with cmap::hash one fixed seed instead (default_hash_seed, or --hash-seed N),
// so that runs compare and a run can be repeated exactly. An adapter given a hasher object
// uses that one instead.
//
// One setting for the whole process, because some peers take no hasher object: libcds
// default-constructs the hash type of its traits, and oneTBB's concurrent_hash_map calls
// the hash_compare's static function. The command line sets it before any map is built.

#include <atomic>
#include <cmap/hash.hpp>
#include <cstdint>

namespace cmap_bench {

// The first 64 bits of pi's fraction: a constant chosen for nothing but being fixed.
inline constexpr std::uint64_t default_hash_seed = 0x243f6a8885a308d3ULL;

// Read through hash_seed(). relaxed: set by the command line before it builds any map or
// starts any thread (the threads it starts later see it through their creation).
inline std::atomic<std::uint64_t> hash_seed_setting{default_hash_seed};

[[nodiscard]] inline std::uint64_t hash_seed() noexcept {
  return hash_seed_setting.load(std::memory_order_relaxed);
}
inline void set_hash_seed(std::uint64_t seed) noexcept {
  hash_seed_setting.store(seed, std::memory_order_relaxed);
}

// cmap::hash<Key> with the run's seed: for the maps that take a hasher object.
template <class Key>
[[nodiscard]] cmap::hash<Key> fixed_hash() {
  return cmap::hash<Key>(hash_seed());
}

// The same, as a type whose default constructor takes the run's seed: for the peers that
// construct their hasher themselves (libcds's traits, oneTBB's static hash_compare).
template <class Key>
struct fixed_seed_hash : cmap::hash<Key> {
  fixed_seed_hash() : cmap::hash<Key>(hash_seed()) {}
};

}  // namespace cmap_bench
