#pragma once
// The maps that offer the common surface (docs/api.md), as "families" so that typed tests
// can instantiate each map with the key and value types they need. A new map joins every
// typed suite (common surface, reference model, stress) by adding one line to
// all_map_families. A family also says the few things in which the maps' designs differ
// and that a test must know to check the right promise.

#include <gtest/gtest.h>

#include <cmap/art_map.hpp>
#include <cmap/concurrent_hash_map.hpp>
#include <cmap/locked_map.hpp>
#include <cmap/read_mostly_map.hpp>
#include <cmap/serial_map.hpp>
#include <cmap/sharded_map.hpp>
#include <cmap/snapshot_map.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace cmap_test {

// node_based: entries live in nodes that never move, so growth copies pointers, never
//   values; memory of erased entries is reclaimed after a grace period (epochs).
// for_each_locks: for_each holds a lock while its callback runs (so the callback must not
//   call into the map at all), rather than being lock-free.
// move_only_values: the map accepts a T that is not copyable (std::unique_ptr); a map that
//   does not rejects it at compile time (its class template requires a copyable T).
// persistent: a persistent trie (snapshot_map): no slot table (reserve has nothing to
//   reserve), every write copies the entries of the nodes on its key's path (so a throwing
//   copy can fail any write, not only growth; the map is then unchanged), old versions are
//   freed after a grace period, and values must be copyable (versions share them).
// hashed: the map hashes its keys with its Hash and compares them with its KeyEqual, and its
//   constructors take them; an ordered map (art_map) has neither (its key encoding decides
//   equality and order, and its lookups are always transparent), so the tests of a user's
//   hash or equality, of hash flooding and of constructors taking them skip it.
template <template <class, class, class, class, class> class Map, bool NodeBased, bool ForEachLocks,
          bool MoveOnlyValues = true, bool Persistent = false, bool Hashed = true>
struct family {
  template <class K, class V, class Hash = cmap::hash<K>, class Eq = std::equal_to<K>,
            class Alloc = std::allocator<std::pair<const K, V>>>
  using map = Map<K, V, Hash, Eq, Alloc>;
  static constexpr bool node_based = NodeBased;
  static constexpr bool for_each_locks = ForEachLocks;
  static constexpr bool move_only_values = MoveOnlyValues;
  static constexpr bool persistent = Persistent;
  static constexpr bool hashed = Hashed;
  // A table of slots that reserve sizes and growth replaces (not the tries, not the tree).
  static constexpr bool has_table = !Persistent && Hashed;
};

// concurrent_hash_map growing by half (growth_policy::grow_by_half) from construction on,
// so its tables have group counts that are not powers of two.
template <class K, class V, class Hash, class Eq, class Alloc>
class compact_concurrent_hash_map : public cmap::concurrent_hash_map<K, V, Hash, Eq, Alloc> {
  using base = cmap::concurrent_hash_map<K, V, Hash, Eq, Alloc>;

 public:
  using base::base;

 private:
  // A member, so that every inherited constructor sets the policy (before any insert of its
  // own only for the constructors that insert nothing; the others grow by doubling first).
  struct grow_by_half {
    explicit grow_by_half(base& m) noexcept {
      m.set_growth_policy(cmap::growth_policy::grow_by_half);
    }
  };
  [[no_unique_address]] grow_by_half policy_{*this};
};

using locked_family = family<cmap::locked_map, false, true>;
using sharded_family = family<cmap::sharded_map, false, true>;
using concurrent_family = family<cmap::concurrent_hash_map, true, false>;
using compact_concurrent_family = family<compact_concurrent_hash_map, true, false>;
using read_mostly_family = family<cmap::read_mostly_map, true, false, false>;
// Entries live inline in trie nodes that writes copy (not node_based); for_each walks a
// snapshot without any lock.
using snapshot_family = family<cmap::snapshot_map, false, false, false, true>;
// A snapshot_map inside, written only by the owner thread: the same traits. (Its callbacks
// run on the owner thread, but they still must not write to the map synchronously: the
// Reentrancy suite's death tests hold for it too.)
using serial_family = family<cmap::serial_map, false, false, false, true>;

// art_map in the families' shape: Hash and KeyEqual are not its parameters.
template <class K, class V, class Hash, class Eq, class Alloc>
using art_map_of = cmap::art_map<K, V, cmap::key_traits<K>, Alloc>;
// Leaves are nodes freed after a grace period (node_based); for_each takes no lock; values
// must be copyable (a value that is not atomic is immutable in its leaf, updates copy it).
using art_family = family<art_map_of, true, false, false, false, false>;

using hashed_map_families =
    ::testing::Types<locked_family, sharded_family, concurrent_family, compact_concurrent_family,
                     read_mostly_family, snapshot_family, serial_family>;
using all_map_families =
    ::testing::Types<locked_family, sharded_family, concurrent_family, compact_concurrent_family,
                     read_mostly_family, snapshot_family, serial_family, art_family>;

// How many times less work the randomised and stress suites give a family: every synchronous
// write of serial_map is a round trip to its owner thread (microseconds; far more under
// ThreadSanitizer), so its runs are shorter; the map under it, snapshot_map, runs them in full.
template <class Family>
inline constexpr std::size_t work_divisor = 1;
template <>
inline constexpr std::size_t work_divisor<serial_family> = 8;

// Readable names in test output: "CommonSurface/locked_map.Find" rather than ".../0.Find".
struct family_names {
  template <class F>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<F, locked_family>) return "locked_map";
    if constexpr (std::is_same_v<F, sharded_family>) return "sharded_map";
    if constexpr (std::is_same_v<F, concurrent_family>) return "concurrent_hash_map";
    if constexpr (std::is_same_v<F, compact_concurrent_family>)
      return "concurrent_hash_map_grow_by_half";
    if constexpr (std::is_same_v<F, read_mostly_family>) return "read_mostly_map";
    if constexpr (std::is_same_v<F, snapshot_family>) return "snapshot_map";
    if constexpr (std::is_same_v<F, serial_family>) return "serial_map";
    if constexpr (std::is_same_v<F, art_family>) return "art_map";
    return "unknown";
  }
};

// A map whose hash (if it has one) is keyed by a fixed seed, so that a test run with one seed
// repeats exactly; a map without a hash (art_map) is default-constructed.
template <class Map>
class with_seed : public Map {
  static constexpr bool seeded = std::is_constructible_v<typename Map::hasher, std::uint64_t>;

 public:
  explicit with_seed(std::uint64_t seed) : with_seed(seed, std::bool_constant<seeded>{}) {}

 private:
  with_seed(std::uint64_t seed, std::true_type) : Map(0, typename Map::hasher(seed)) {}
  with_seed(std::uint64_t, std::false_type) {}
};

// A map's entries, sorted by key: to compare maps whatever their iteration order.
template <class Map>
std::vector<std::pair<typename Map::key_type, typename Map::mapped_type>> sorted_contents(
    const Map& m) {
  std::vector<std::pair<typename Map::key_type, typename Map::mapped_type>> out;
  m.for_each([&](const auto& k, const auto& v) { out.emplace_back(k, v); });
  std::sort(out.begin(), out.end());
  return out;
}

// Bytes of a map's slot table, excluding per-entry nodes: what changes when and only when
// the table grows.
template <class Map>
std::size_t table_bytes(const Map& m) {
  if constexpr (requires { m.table_bytes(); }) {
    return m.table_bytes();
  } else {
    return m.allocated_bytes();
  }
}

}  // namespace cmap_test
