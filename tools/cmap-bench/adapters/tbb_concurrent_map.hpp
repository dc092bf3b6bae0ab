#pragma once
// oneTBB's tbb::concurrent_map (a skip list): concurrent insert, find and iteration, but no
// concurrent erase (unsafe_erase) and no synchronisation of the values, so erase,
// insert_or_assign and update mixes are n/a with more than one thread (as for
// tbb_unordered_map). Ordered by std::less<Key>: no hash.

#include <oneapi/tbb/concurrent_map.h>
#include <oneapi/tbb/tbb_allocator.h>

#include "adapter.hpp"
#include "counting_allocator.hpp"
#include "tbb_hash_map.hpp"

namespace cmap_bench {

template <class Key, class Value>
class tbb_concurrent_map_adapter : public memory_from_allocator {
 public:
  using value_type = Value;
  explicit tbb_concurrent_map_adapter(std::size_t /*param*/) {}
  bool find(const Key& k) {
    auto it = map_.find(k);
    if (it == map_.end()) return false;
    keep(it->second);
    return true;
  }
  bool insert(const Key& k, const Value& v) { return map_.emplace(k, v).second; }
  void insert_or_assign(const Key& k, const Value& v) {
    auto [it, inserted] = map_.emplace(k, v);
    if (!inserted) it->second = v;
  }
  void update(const Key& k) {
    auto [it, inserted] = map_.emplace(k, Value(1));
    if (!inserted) ++it->second;
  }
  bool erase(const Key& k) { return map_.unsafe_erase(k) == 1; }
  std::size_t for_each() { return walk_entries(map_); }
  // Safe alongside concurrent inserts (the skip list's iterators are).
  std::size_t scan(const Key& k, std::size_t n) {
    std::size_t seen = 0;
    for (auto it = map_.lower_bound(k); it != map_.end() && seen < n; ++it, ++seen)
      keep(it->second);
    return seen;
  }
  std::size_t size() { return map_.size(); }

 private:
  tbb::concurrent_map<Key, Value, std::less<Key>,
                      counting_allocator<std::pair<const Key, Value>, tbb_base_allocator>>
      map_;
};

}  // namespace cmap_bench
