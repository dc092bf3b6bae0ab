#pragma once
// The baseline users write by hand: std::unordered_map behind one std::shared_mutex
// (shared lock for reads, exclusive for writes), with cmap::hash and the run's seed, like the
// cmap maps.

#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "adapter.hpp"
#include "counting_allocator.hpp"
#include "hash_seed.hpp"

namespace cmap_bench {

// Any map behind one std::shared_mutex: shared lock for reads, exclusive for writes.
template <class Map>
class shared_mutex_adapter : public memory_from_allocator {
 public:
  using key_type = typename Map::key_type;
  using value_type = typename Map::mapped_type;
  explicit shared_mutex_adapter(std::size_t /*param*/) {}
  bool find(const key_type& k) {
    std::shared_lock lock(mutex_);
    auto it = map_.find(k);
    if (it == map_.end()) return false;
    const value_type copy = it->second;
    keep(copy);
    return true;
  }
  bool insert(const key_type& k, const value_type& v) {
    std::unique_lock lock(mutex_);
    return map_.emplace(k, v).second;
  }
  void insert_or_assign(const key_type& k, const value_type& v) {
    std::unique_lock lock(mutex_);
    map_.insert_or_assign(k, v);
  }
  void update(const key_type& k) {
    std::unique_lock lock(mutex_);
    auto [it, inserted] = map_.try_emplace(k, 1);
    if (!inserted) ++it->second;
  }
  bool erase(const key_type& k) {
    std::unique_lock lock(mutex_);
    return map_.erase(k) == 1;
  }
  std::size_t for_each() {
    std::shared_lock lock(mutex_);
    return walk_entries(map_);
  }
  // Ordered maps only (the runner looks for scan).
  std::size_t scan(const key_type& k, std::size_t n)
    requires has_lower_bound<Map>
  {
    std::shared_lock lock(mutex_);
    return walk_from(map_, k, n);
  }
  template <class F = keep_entry>
  std::size_t prefix_scan(std::string_view prefix, std::size_t n, F&& f = {})
    requires(std::is_constructible_v<key_type, std::string_view> && has_lower_bound<Map>)
  {
    std::shared_lock lock(mutex_);
    return walk_prefix(map_, prefix, n, f);
  }
  std::size_t size() {
    std::shared_lock lock(mutex_);
    return map_.size();
  }

 private:
  std::shared_mutex mutex_;
  Map map_;
};

template <class Key, class Value>
using std_shared_mutex_adapter =
    shared_mutex_adapter<std::unordered_map<Key, Value, fixed_seed_hash<Key>, std::equal_to<Key>,
                                            counting_allocator<std::pair<const Key, Value>>>>;

}  // namespace cmap_bench
