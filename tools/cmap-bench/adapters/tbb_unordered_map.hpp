#pragma once
// oneTBB's tbb::concurrent_unordered_map (split-ordered lists): concurrent insert, find and
// iteration, but no concurrent erase (unsafe_erase) and no synchronisation of the values,
// so erase, insert_or_assign and update mixes are n/a with more than one thread.

#include <oneapi/tbb/concurrent_unordered_map.h>
#include <oneapi/tbb/tbb_allocator.h>

#include "adapter.hpp"
#include "counting_allocator.hpp"
#include "hash_seed.hpp"
#include "tbb_hash_map.hpp"

namespace cmap_bench {

// The calls of oneTBB's containers without concurrent erase (concurrent_unordered_map and the
// ordered concurrent_map), over the container Map.
template <class Map>
class tbb_insert_only_adapter : public memory_from_allocator {
 public:
  using key_type = typename Map::key_type;
  using value_type = typename Map::mapped_type;
  explicit tbb_insert_only_adapter(std::size_t /*param*/) {}
  bool find(const key_type& k) {
    auto it = map_.find(k);
    if (it == map_.end()) return false;
    keep(it->second);
    return true;
  }
  bool insert(const key_type& k, const value_type& v) { return map_.emplace(k, v).second; }
  void insert_or_assign(const key_type& k, const value_type& v) {
    auto [it, inserted] = map_.emplace(k, v);
    if (!inserted) it->second = v;
  }
  void update(const key_type& k) {
    auto [it, inserted] = map_.emplace(k, value_type(1));
    if (!inserted) ++it->second;
  }
  bool erase(const key_type& k) { return map_.unsafe_erase(k) == 1; }
  std::size_t for_each() { return walk_entries(map_); }
  std::size_t size() { return map_.size(); }

 protected:
  Map map_;
};

template <class Key, class Value>
class tbb_unordered_map_adapter
    : public tbb_insert_only_adapter<tbb::concurrent_unordered_map<
          Key, Value, fixed_seed_hash<Key>, std::equal_to<Key>,
          counting_allocator<std::pair<const Key, Value>, tbb_base_allocator>>> {
 public:
  using tbb_unordered_map_adapter::tbb_insert_only_adapter::tbb_insert_only_adapter;
};

}  // namespace cmap_bench
