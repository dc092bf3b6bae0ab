#pragma once
// libcuckoo's cuckoohash_map (fine-grained bucket locks; for_each takes the whole table
// through lock_table(), so it is safe with writers and blocks them).

#include <libcuckoo/cuckoohash_map.hh>

#include "adapter.hpp"
#include "counting_allocator.hpp"
#include "hash_seed.hpp"

namespace cmap_bench {

template <class Key, class Value>
class cuckoo_adapter : public memory_from_allocator {
 public:
  using value_type = Value;
  explicit cuckoo_adapter(std::size_t /*param*/) {}
  bool find(const Key& k) {
    Value v;
    return map_.find(k, v);
  }
  bool insert(const Key& k, const Value& v) { return map_.insert(k, v); }
  void insert_or_assign(const Key& k, const Value& v) { map_.insert_or_assign(k, v); }
  void update(const Key& k) { map_.upsert(k, increment{}, 1); }
  bool erase(const Key& k) { return map_.erase(k); }
  std::size_t for_each() {
    auto locked = map_.lock_table();
    return walk_entries(locked);
  }
  std::size_t size() { return map_.size(); }

 private:
  libcuckoo::cuckoohash_map<Key, Value, fixed_seed_hash<Key>, std::equal_to<Key>,
                            counting_allocator<std::pair<const Key, Value>>>
      map_;
};

}  // namespace cmap_bench
