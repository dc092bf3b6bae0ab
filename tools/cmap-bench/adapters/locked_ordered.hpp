#pragma once
// The ordered baselines users write by hand: an ordered map (std::map, absl::btree_map)
// behind one std::shared_mutex, shared lock for reads, exclusive for writes, as
// std_shared_mutex.hpp does for std::unordered_map. Ordered by std::less<Key>: no hash.

#include <map>
#include <mutex>
#include <shared_mutex>

#include "adapter.hpp"
#include "counting_allocator.hpp"

namespace cmap_bench {

template <class Map>
class shared_mutex_ordered_adapter : public memory_from_allocator {
 public:
  using key_type = typename Map::key_type;
  using value_type = typename Map::mapped_type;
  explicit shared_mutex_ordered_adapter(std::size_t /*param*/) {}
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
  std::size_t scan(const key_type& k, std::size_t n) {
    std::shared_lock lock(mutex_);
    std::size_t seen = 0;
    for (auto it = map_.lower_bound(k); it != map_.end() && seen < n; ++it, ++seen)
      keep(it->second);
    return seen;
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
using std_map_shared_mutex_adapter = shared_mutex_ordered_adapter<
    std::map<Key, Value, std::less<Key>, counting_allocator<std::pair<const Key, Value>>>>;

}  // namespace cmap_bench
