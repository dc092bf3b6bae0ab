#pragma once
// cmap::sharded_map: lock striping. N shards (a power of two), each a reader-writer lock
// and its own open-addressing table on separate cache lines; a key's hash picks its shard.
//
// Choose it when several threads write a shared map at once and the keys spread over many
// shards: writers of different shards never wait for each other. With S shards and threads
// touching keys uniformly, two operations collide with probability about 1/S.
// Not for: a few very hot keys (all their traffic meets in one shard's lock), read-mostly
// maps on many cores (every read still writes its shard's lock word), or compound updates
// across keys (shards are locked separately; use locked_map::with_write_lock). See
// docs/choosing.md.
//
// Guarantees
//  - Single-key calls are linearizable: each holds its key's shard lock (shared for
//    find/contains/const visit, exclusive otherwise).
//  - for_each, erase_if, clear and reserve take one shard at a time: for_each is weakly
//    consistent (an entry present for the whole walk is seen exactly once; one inserted or
//    erased during the walk may or may not be seen).
//  - size() holds all shards' shared locks at once, so it is a value the size really had.
//  - Callbacks run under the key's shard lock and must not call into the same map.
//  - Exceptions: as locked_map (locks always released; single-key calls strong).
// Costs: single-key calls as locked_map; for_each/erase_if/clear O(n + S); size() O(S).
//
// Shard choice: the top log2(S) bits of the hash. The in-shard table uses the low bits
// (7-bit tag + group index; see detail/flat_table.hpp), so the two choices are independent
// and a shard's keys still spread over its whole table.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include "detail/allocated_array.hpp"
#include "detail/locking_map_base.hpp"
#include "detail/map_constructors.hpp"
#include "detail/power_of_two.hpp"
#include "hash.hpp"
#include "options.hpp"

namespace cmap {
namespace detail {

// sharded_map's body: the shards and how a hash picks one (see the top of this file).
template <class Key, class T, class Hash, class KeyEqual, class Allocator>
class sharded_map_core
    : public locking_map_base<sharded_map_core<Key, T, Hash, KeyEqual, Allocator>, Key, T, Hash,
                              KeyEqual, Allocator> {
  using base = locking_map_base<sharded_map_core, Key, T, Hash, KeyEqual, Allocator>;
  friend base;
  static constexpr probe_map_kind probe_kind() noexcept { return probe_map_kind::sharded_map; }

 public:
  using typename base::shard_type;
  using typename base::size_type;
  using options_type = sharded_map_options;

  // 4 shards per hardware thread, rounded up to a power of two: enough that two threads
  // rarely meet in one shard, few enough that size() and for_each stay cheap.
  [[nodiscard]] static size_type default_shard_count() noexcept {
    const unsigned hw = std::thread::hardware_concurrency();
    return std::bit_ceil(static_cast<size_type>(hw == 0 ? 1 : hw) * 4);
  }

  // The constructors are detail/map_constructors.hpp's: room for `capacity` entries in all;
  // options.shards a power of two from 1 to 65536 (0: default_shard_count()), else
  // std::invalid_argument.
  sharded_map_core(size_type capacity, const Hash& hash, const KeyEqual& eq, const Allocator& alloc,
                   const sharded_map_options& options)
      : base(hash),
        shard_count_(
            checked_power_of_two(options.shards == 0 ? default_shard_count() : options.shards,
                                 "shard count", "cmap::sharded_map")),
        shard_shift_(static_cast<unsigned>(64 - std::countr_zero(shard_count_)) & 63u),
        shards_(shard_count_, alloc, hash, eq, alloc) {
    if (capacity != 0) this->reserve(capacity);
  }

  sharded_map_core(const sharded_map_core&) = delete;
  sharded_map_core& operator=(const sharded_map_core&) = delete;

  [[nodiscard]] size_type shard_count() const noexcept { return shard_count_; }

  // The index of the shard that holds (or would hold) key, in [0, shard_count()): to spot
  // hot shards, like std::unordered_map::bucket.
  [[nodiscard]] size_type shard_of(const Key& key) const {
    return shard_index(this->hash_function()(key));
  }

 private:
  // The top bits of the hash; with one shard the shift is 0 and the mask keeps nothing.
  [[nodiscard]] size_type shard_index(std::size_t hash) const noexcept {
    return static_cast<size_type>(static_cast<std::uint64_t>(hash) >> shard_shift_) &
           (shard_count_ - 1);
  }
  shard_type& shard_for(std::size_t hash) noexcept { return shards_[shard_index(hash)]; }
  const shard_type& shard_for(std::size_t hash) const noexcept {
    return shards_[shard_index(hash)];
  }
  shard_type& shard_at(size_type i) noexcept { return shards_[i]; }
  size_type shards_bytes() const noexcept { return shard_count_ * sizeof(shard_type); }
  const shard_type& shard_at(size_type i) const noexcept { return shards_[i]; }

  size_type shard_count_ = 1;
  unsigned shard_shift_ = 0;
  allocated_array<shard_type, Allocator> shards_;  // each: a lock and a table
};

}  // namespace detail

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
class sharded_map
    : public detail::map_constructors<detail::sharded_map_core<Key, T, Hash, KeyEqual, Allocator>> {
  using base =
      detail::map_constructors<detail::sharded_map_core<Key, T, Hash, KeyEqual, Allocator>>;

 public:
  using base::base;
};

}  // namespace cmap
