#pragma once
// The baseline users write by hand: std::unordered_map behind one std::shared_mutex
// (shared lock for reads, exclusive for writes), with cmap::hash and the run's seed, like the
// cmap maps.

#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "adapter.hpp"
#include "counting_allocator.hpp"
#include "hash_seed.hpp"

namespace cmap_bench {

template <class Key, class Value>
class std_shared_mutex_adapter : public memory_from_allocator {
 public:
  using value_type = Value;
  explicit std_shared_mutex_adapter(std::size_t /*param*/) {}
  bool find(const Key& k) {
    std::shared_lock lock(mutex_);
    auto it = map_.find(k);
    if (it == map_.end()) return false;
    const Value copy = it->second;
    keep(copy);
    return true;
  }
  bool insert(const Key& k, const Value& v) {
    std::unique_lock lock(mutex_);
    return map_.emplace(k, v).second;
  }
  void insert_or_assign(const Key& k, const Value& v) {
    std::unique_lock lock(mutex_);
    map_.insert_or_assign(k, v);
  }
  void update(const Key& k) {
    std::unique_lock lock(mutex_);
    auto [it, inserted] = map_.try_emplace(k, 1);
    if (!inserted) ++it->second;
  }
  bool erase(const Key& k) {
    std::unique_lock lock(mutex_);
    return map_.erase(k) == 1;
  }
  std::size_t for_each() {
    std::shared_lock lock(mutex_);
    return walk_entries(map_);
  }
  std::size_t size() {
    std::shared_lock lock(mutex_);
    return map_.size();
  }

 private:
  std::shared_mutex mutex_;
  std::unordered_map<Key, Value, fixed_seed_hash<Key>, std::equal_to<Key>,
                     counting_allocator<std::pair<const Key, Value>>>
      map_;
};

}  // namespace cmap_bench
