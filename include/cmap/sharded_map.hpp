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
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "detail/locking_map_base.hpp"
#include "hash.hpp"

namespace cmap {

template <class Key, class T, class Hash = cmap::hash<Key>, class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
class sharded_map : public detail::locking_map_base<sharded_map<Key, T, Hash, KeyEqual, Allocator>,
                                                    Key, T, Hash, KeyEqual, Allocator> {
  using base = detail::locking_map_base<sharded_map, Key, T, Hash, KeyEqual, Allocator>;
  friend base;

 public:
  using typename base::shard_type;
  using typename base::size_type;

  // 4 shards per hardware thread, rounded up to a power of two: enough that two threads
  // rarely meet in one shard, few enough that size() and for_each stay cheap.
  [[nodiscard]] static size_type default_shard_count() noexcept {
    const unsigned hw = std::thread::hardware_concurrency();
    return std::bit_ceil(static_cast<size_type>(hw == 0 ? 1 : hw) * 4);
  }

  sharded_map() : sharded_map(default_shard_count()) {}

  // shard_count must be a power of two (1 to 2^16); throws std::invalid_argument otherwise.
  explicit sharded_map(size_type shard_count, const Hash& hash = Hash(),
                       const KeyEqual& eq = KeyEqual(), const Allocator& alloc = Allocator())
      : base(hash),
        shard_count_(checked_shard_count(shard_count)),
        shard_shift_(static_cast<unsigned>(64 - std::countr_zero(shard_count)) & 63u),
        shards_(std::make_unique<shard_type[]>(shard_count)) {
    // make_unique value-initialises with default arguments; give each table the caller's
    // hash, equality and allocator.
    for (size_type i = 0; i < shard_count_; ++i)
      shards_[i].table = typename base::table_type(hash, eq, alloc);
  }

  sharded_map(const sharded_map&) = delete;
  sharded_map& operator=(const sharded_map&) = delete;

  [[nodiscard]] size_type shard_count() const noexcept { return shard_count_; }

  // The index of the shard that holds (or would hold) key, in [0, shard_count()): to spot
  // hot shards, like std::unordered_map::bucket.
  [[nodiscard]] size_type shard_of(const typename base::key_type& key) const {
    return shard_index(this->hash_function()(key));
  }

 private:
  static size_type checked_shard_count(size_type n) {
    if (n == 0 || n > (size_type{1} << 16) || !std::has_single_bit(n)) {
      throw std::invalid_argument(
          "cmap::sharded_map: shard_count must be a power of two between 1 "
          "and 65536, got " +
          std::to_string(n));
    }
    return n;
  }

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
  const shard_type& shard_at(size_type i) const noexcept { return shards_[i]; }

  size_type shard_count_ = 1;
  unsigned shard_shift_ = 0;
  std::unique_ptr<shard_type[]> shards_;
};

}  // namespace cmap
