#pragma once
// cow_map: the baseline of the cow-vs-persistent preset: an immutable std::unordered_map behind
// a published pointer, copied whole on every write (Go's "atomic.Value + immutable map").
// Every write copies the whole map (O(n)), changes the copy and publishes it. A bench
// baseline, not a library map.
//
// Publication as C++ code usually writes it: the current version is a std::shared_ptr
// guarded by a small mutex; a reader copies the pointer under that mutex (a reference count
// increment) and reads its version without it; a writer, serialised with the other writers
// by a second mutex, copies the map, changes the copy and swaps it in; a version is freed by
// whoever drops its last reference. (std::atomic<std::shared_ptr> says the same in one type,
// but libstdc++ 12's is a lock too, and ThreadSanitizer flags it.) A reader's pointer copy
// costs a few tens of nanoseconds, nothing next to the millisecond copy of each write that
// the preset compares with snapshot_map's path copy.

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "adapter.hpp"
#include "counting_allocator.hpp"
#include "hash_seed.hpp"

namespace cmap_bench {

template <class Key, class Value>
class cow_map_adapter : public memory_from_allocator {
  using map_type = std::unordered_map<Key, Value, fixed_seed_hash<Key>, std::equal_to<Key>,
                                      counting_allocator<std::pair<const Key, Value>>>;

 public:
  using value_type = Value;
  explicit cow_map_adapter(std::size_t /*param*/) : current_(std::make_shared<map_type>()) {}
  cow_map_adapter(const cow_map_adapter&) = delete;
  cow_map_adapter& operator=(const cow_map_adapter&) = delete;

  bool find(const Key& k) {
    const std::shared_ptr<const map_type> m = load();
    auto it = m->find(k);
    if (it == m->end()) return false;
    const Value copy = it->second;
    keep(copy);
    return true;
  }
  bool insert(const Key& k, const Value& v) {
    return write([&](map_type& m) { return m.emplace(k, v).second; });
  }
  // The runner's preload: one thread, no reader yet, untimed; inserting in place keeps it
  // linear (insert would copy the whole map per key).
  void preload_insert(const Key& k, const Value& v) {
    std::lock_guard lock(writer_);
    current_->emplace(k, v);
  }
  void insert_or_assign(const Key& k, const Value& v) {
    write([&](map_type& m) { return m.insert_or_assign(k, v).second; });
  }
  void update(const Key& k) {
    write([&](map_type& m) {
      auto [it, inserted] = m.try_emplace(k, 1);
      if (!inserted) ++it->second;
      return inserted;
    });
  }
  bool erase(const Key& k) {
    return write([&](map_type& m) { return m.erase(k) == 1; });
  }
  std::size_t for_each() { return walk_entries(*load()); }
  std::size_t size() { return load()->size(); }

 private:
  // The current version; the reader's copy keeps it alive while it reads.
  std::shared_ptr<const map_type> load() {
    std::lock_guard lock(current_mutex_);
    return current_;
  }

  // Copies the whole current map, applies f to the copy and publishes it (even when f
  // changed nothing: the naive design copies first and looks later).
  template <class F>
  bool write(F f) {
    std::lock_guard lock(writer_);
    auto fresh = std::make_shared<map_type>(*current_);  // the O(n) copy; only writers change
    const bool result = f(*fresh);                       // current_, and we are the writer
    std::shared_ptr<map_type> old;
    {
      std::lock_guard publish(current_mutex_);
      old = std::exchange(current_, std::move(fresh));
    }
    return result;  // old is freed here unless a reader still holds it
  }

  std::mutex writer_;          // one writer at a time; held for the whole copy
  std::mutex current_mutex_;   // guards current_ itself (not the map it points to)
  std::shared_ptr<map_type> current_;
};

}  // namespace cmap_bench
