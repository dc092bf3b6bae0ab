#pragma once
// oneTBB's tbb::concurrent_hash_map (per-bucket reader-writer locks through accessors).
// Its iteration is not safe while other threads write: for_each with writers is n/a.

#include <oneapi/tbb/concurrent_hash_map.h>
#include <oneapi/tbb/tbb_allocator.h>

#include "adapter.hpp"
#include "counting_allocator.hpp"
#include "hash_seed.hpp"

namespace cmap_bench {
// ThreadSanitizer sees the hand-over of freed memory to the next allocation only through the
// malloc it intercepts: under TSan, oneTBB's maps use std::allocator instead of its scalable
// allocator (its own pool, not instrumented), or every reuse of a node freed by another
// thread would be reported as a race. The build defines CMAP_BENCH_TSAN under ThreadSanitizer.
#ifdef CMAP_BENCH_TSAN
template <class T>
using tbb_base_allocator = std::allocator<T>;
#else
template <class T>
using tbb_base_allocator = tbb::tbb_allocator<T>;
#endif
}  // namespace cmap_bench

namespace cmap_bench {

// oneTBB calls hash() as a static function: the seed is the run's (hash_seed.hpp).
template <class Key>
struct tbb_cmap_hash_compare {
  static std::size_t hash(const Key& k) { return fixed_hash<Key>()(k); }
  static bool equal(const Key& a, const Key& b) { return a == b; }
};

template <class Key, class Value>
class tbb_hash_map_adapter : public memory_from_allocator {
  using map_type =
      tbb::concurrent_hash_map<Key, Value, tbb_cmap_hash_compare<Key>,
                               counting_allocator<std::pair<const Key, Value>, tbb_base_allocator>>;

 public:
  using value_type = Value;
  explicit tbb_hash_map_adapter(std::size_t /*param*/) {}
  bool find(const Key& k) {
    typename map_type::const_accessor a;
    if (!map_.find(a, k)) return false;
    const Value copy = a->second;
    keep(copy);
    return true;
  }
  bool insert(const Key& k, const Value& v) {
    return map_.insert(typename map_type::value_type(k, v));
  }
  void insert_or_assign(const Key& k, const Value& v) {
    typename map_type::accessor a;
    map_.insert(a, k);
    a->second = v;
  }
  void update(const Key& k) {
    typename map_type::accessor a;
    if (map_.insert(a, k))
      a->second = Value(1);
    else
      ++a->second;
  }
  bool erase(const Key& k) { return map_.erase(k); }
  std::size_t for_each() { return walk_entries(map_); }
  std::size_t size() { return map_.size(); }

 private:
  map_type map_;
};

}  // namespace cmap_bench
