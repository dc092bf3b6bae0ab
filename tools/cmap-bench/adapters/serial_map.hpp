#pragma once
// cmap::serial_map over the common surface (every write synchronous: submitted to the owner
// thread and waited for), and 'serial_map+async', which submits writes without waiting.
//
// serial_map+async measures what a producer that does not need each result gets: insert,
// insert_or_assign, update and erase are fire-and-forget submissions (submit_*), and each
// worker thread calls flush() when its stream ends (the runner's finish() hook, inside the
// timed phase), so a thread's time ends only once all of its writes are published and the
// operation count covers completed writes only. insert() reports true (the result is not
// waited for). Its latency samples are submission latencies, not write latencies.

#include <cmap/serial_map.hpp>

#include "adapter.hpp"
#include "common_surface.hpp"
#include "hash_seed.hpp"

namespace cmap_bench {

template <class Key, class Value>
using serial_map_adapter = common_surface_adapter<cmap::serial_map<Key, Value>>;

template <class Key, class Value>
class serial_map_async_adapter {
 public:
  using key_type = Key;
  using value_type = Value;

  explicit serial_map_async_adapter(std::size_t) : map_(0, fixed_hash<Key>()) {}

  bool find(const Key& k) { return map_.find(k).has_value(); }
  bool insert(const Key& k, const Value& v) {
    map_.submit_insert(k, v);
    return true;
  }
  void insert_or_assign(const Key& k, const Value& v) { map_.submit_insert_or_assign(k, v); }
  void update(const Key& k) { map_.submit_upsert(k, increment{}, Value(1)); }
  bool erase(const Key& k) {
    map_.submit_erase(k);
    return true;
  }
  std::size_t for_each() {
    std::size_t n = 0;
    map_.for_each([&n](const Key&, const Value&) { ++n; });
    return n;
  }
  // Called by each worker thread at the end of its stream (timed): waits until every write
  // submitted so far is published.
  void finish() { map_.flush(); }
  std::size_t size() { return map_.size(); }
  std::optional<std::size_t> allocated_bytes() { return map_.allocated_bytes(); }

 private:
  cmap::serial_map<Key, Value> map_;
};

}  // namespace cmap_bench
