#pragma once
// Any map with no lock at all: the single-thread ceiling (what a map costs when no thread
// ever shares it). Used for absl::flat_hash_map and boost::unordered_flat_map, each with its
// own default hash, and for the ordered std::map and absl::btree_map (unlocked_ordered.hpp,
// absl_btree_unlocked.hpp), which also get scan. Registered as not concurrent: they run at 1
// thread only.

#include <string_view>
#include <type_traits>

#include "adapter.hpp"
#include "counting_allocator.hpp"

namespace cmap_bench {

template <class Map>
class unlocked_adapter : public memory_from_allocator {
 public:
  using key_type = typename Map::key_type;
  using value_type = typename Map::mapped_type;
  explicit unlocked_adapter(std::size_t /*param*/) {}
  bool find(const key_type& k) {
    auto it = map_.find(k);
    if (it == map_.end()) return false;
    const value_type copy = it->second;
    keep(copy);
    return true;
  }
  bool insert(const key_type& k, const value_type& v) { return map_.emplace(k, v).second; }
  void insert_or_assign(const key_type& k, const value_type& v) { map_.insert_or_assign(k, v); }
  void update(const key_type& k) {
    auto [it, inserted] = map_.try_emplace(k, 1);
    if (!inserted) ++it->second;
  }
  bool erase(const key_type& k) { return map_.erase(k) == 1; }
  std::size_t for_each() { return walk_entries(map_); }
  // Ordered maps only (the runner looks for scan and prefix_scan).
  std::size_t scan(const key_type& k, std::size_t n)
    requires has_lower_bound<Map>
  {
    return walk_from(map_, k, n);
  }
  template <class F = keep_entry>
  std::size_t prefix_scan(std::string_view prefix, std::size_t n, F&& f = {})
    requires(std::is_constructible_v<key_type, std::string_view> && has_lower_bound<Map>)
  {
    return walk_prefix(map_, prefix, n, f);
  }
  std::size_t size() { return map_.size(); }

 private:
  Map map_;
};

}  // namespace cmap_bench
