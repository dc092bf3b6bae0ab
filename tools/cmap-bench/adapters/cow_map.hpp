#pragma once
// cow_map: the baseline of the cow-vs-persistent preset: an immutable std::unordered_map behind
// an atomically published pointer, copied whole on every write (Go's "atomic.Value + immutable
// map"). Every write copies the whole map (O(n)), changes the copy and publishes it. A bench
// baseline, not a library map.
//
// Publication is the one snapshot_map uses, so that the comparison isolates the copy:
// writers are serialised by a mutex, the current map is published with a release store,
// readers pin an epoch, load it (acquire) and read it, and a replaced map is retired through
// the epoch and deleted once no reader can be in it. (std::atomic<std::shared_ptr> would be
// the textbook choice, but libstdc++ 12's is not lock-free and ThreadSanitizer flags it.)
//
// The one exception to the tools' rule of public headers only: this header includes
// <cmap/detail/epoch.hpp>, snapshot_map's own reclamation, because any other scheme would make
// the comparison measure the difference in reclamation as well as the copy.

#include <atomic>
#include <cmap/detail/epoch.hpp>
#include <cmap/hash.hpp>
#include <cstddef>
#include <mutex>
#include <unordered_map>

#include "adapter.hpp"
#include "counting_allocator.hpp"

namespace cmap_bench {

template <class Key, class Value>
class cow_map_adapter : public memory_from_allocator {
  using map_type = std::unordered_map<Key, Value, cmap::hash<Key>, std::equal_to<Key>,
                                      counting_allocator<std::pair<const Key, Value>>>;

 public:
  using value_type = Value;
  explicit cow_map_adapter(std::size_t /*param*/) : current_(new map_type) {}
  ~cow_map_adapter() {
    domain().drain(this);
    delete current_.load(std::memory_order_relaxed);
  }
  cow_map_adapter(const cow_map_adapter&) = delete;
  cow_map_adapter& operator=(const cow_map_adapter&) = delete;

  bool find(const Key& k) {
    auto pin = domain().pin();
    const map_type* m = current_.load(std::memory_order_acquire);  // pairs with publish()
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
    current_.load(std::memory_order_relaxed)->emplace(k, v);
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
  std::size_t for_each() {
    auto pin = domain().pin();
    return walk_entries(*current_.load(std::memory_order_acquire));  // pairs with publish()
  }
  std::size_t size() {
    auto pin = domain().pin();
    return current_.load(std::memory_order_acquire)->size();  // pairs with publish()
  }

 private:
  static cmap::detail::epoch_domain& domain() { return cmap::detail::epoch_domain::global(); }

  // Copies the whole current map, applies f to the copy and publishes it (even when f
  // changed nothing: the naive design copies first and looks later).
  template <class F>
  bool write(F f) {
    std::lock_guard lock(writer_);
    map_type* old = current_.load(std::memory_order_relaxed);
    auto* fresh = new map_type(*old);  // the O(n) copy
    bool result = false;
    try {
      result = f(*fresh);
    } catch (...) {
      delete fresh;
      throw;
    }
    // release: the copy is complete before a reader's acquire load finds it.
    current_.store(fresh, std::memory_order_release);
    domain().retire(old, &destroy, nullptr, this);
    return result;
  }
  static void destroy(void* m, void*) noexcept { delete static_cast<map_type*>(m); }

  std::mutex writer_;
  std::atomic<map_type*> current_;
};

}  // namespace cmap_bench
