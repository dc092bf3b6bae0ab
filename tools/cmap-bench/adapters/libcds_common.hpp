#pragma once
// What the libcds peers (libcds_split_list.hpp, libcds_skip_list.hpp) share: libcds's runtime,
// the attaching of threads to it, and one adapter over libcds's common map interface
// (find / insert / update / erase with functors, begin / end, size), reclaimed by hazard
// pointers (cds::gc::HP).
//
// libcds needs its runtime (cds::Initialize, one HP object) and every thread that touches a
// map attached to it. Both happen here, so the runner knows nothing of libcds:
//   - the_runtime() is built on first use and torn down at exit (HP, then cds::Terminate);
//   - the adapter's constructor attaches the thread that builds the map (the runner's main
//     thread, which preloads, measures memory and destroys the map), for the process's life;
//   - thread_scope, which the runner creates at the start of each worker thread (see
//     adapter.hpp), attaches that thread and detaches it when the thread ends; a detaching
//     thread hands its retired nodes to the others.
//
// Values: libcds does not synchronise a value's readers with its writers (update() hands the
// functor a reference to the live value, after the node is linked). The adapter reads and
// writes values only through relaxed std::atomic_ref, word by word: a u64 value (and the
// counter word of a larger one) is exact, but a reader may see a larger payload half-written.
//
// for_each walks libcds's iterator, which libcds calls "for debugging only" while other
// threads erase; each peer's header says what its iterator does then, and the registry marks
// for_each with writers n/a for both.

#include <cds/gc/hp.h>
#include <cds/init.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "adapter.hpp"

namespace cmap_bench {

namespace libcds_detail {

// Hazard pointers a thread may hold at once: the skip list's need with its default 32 levels
// (two a level for the predecessors and successors of a search, plus 3:
// SkipListMap::c_nHazardPtrCount, checked in libcds_skip_list.hpp); the split list needs a
// few. One HP object serves every map of the process, so it is sized for the largest need.
inline constexpr std::size_t hazard_pointers = 67;

// cds::Initialize before the HP object exists, cds::Terminate after it is gone (members are
// destroyed in reverse order).
struct runtime {
  struct init {
    init() { cds::Initialize(); }
    ~init() { cds::Terminate(); }
    init(const init&) = delete;
    init& operator=(const init&) = delete;
  };
  init cds_init;
  cds::gc::HP hp{hazard_pointers};  // up to 100 threads (libcds's default)
};

inline runtime& the_runtime() {
  static runtime r;
  return r;
}

inline std::span<std::uint64_t> words_of(std::uint64_t& v) noexcept { return {&v, 1}; }
template <unsigned Bytes>
std::span<std::uint64_t> words_of(payload<Bytes>& v) noexcept {
  return v.words;
}

// Copies src into dst word by word; src may be written concurrently, dst may be read
// concurrently (relaxed atomics: no data race, no ordering between the words).
template <class V>
void atomic_copy(V& dst, const V& src) noexcept {
  auto to = words_of(dst);
  auto from = words_of(const_cast<V&>(src));  // NOLINT: read only, atomic_ref needs non-const
  for (std::size_t i = 0; i < to.size(); ++i)
    std::atomic_ref<std::uint64_t>(to[i]).store(
        std::atomic_ref<std::uint64_t>(from[i]).load(std::memory_order_relaxed),
        std::memory_order_relaxed);
}

// Attaches the worker thread that holds it (the runner makes one per worker thread).
class thread_scope {
 public:
  thread_scope() : attached_(!cds::threading::Manager::isThreadAttached()) {
    the_runtime();
    if (attached_) cds::threading::Manager::attachThread();
  }
  ~thread_scope() {
    if (attached_) cds::threading::Manager::detachThread();
  }
  thread_scope(const thread_scope&) = delete;
  thread_scope& operator=(const thread_scope&) = delete;

 private:
  bool attached_;
};

// A libcds map of Key -> Value: the operations of adapter.hpp. Each peer derives from it and
// says how its map is built.
template <class Map>
class map_adapter : public memory_from_allocator {
 public:
  using key_type = typename Map::key_type;
  using value_type = typename Map::mapped_type;
  using thread_scope = libcds_detail::thread_scope;

  ~map_adapter() {
    map_.reset();
    cds::gc::HP::force_dispose();  // free the retired nodes now, not at some later scan
  }
  map_adapter(const map_adapter&) = delete;
  map_adapter& operator=(const map_adapter&) = delete;

  bool find(const key_type& k) {
    value_type v;
    return map_->find(k, [&](typename Map::value_type& item) {
      atomic_copy(v, item.second);
      keep(v);
    });
  }
  // The value at k (read word by word), for tests; find() is the timed path.
  std::optional<value_type> value_of(const key_type& k) {
    value_type v;
    if (!map_->find(k, [&](typename Map::value_type& item) { atomic_copy(v, item.second); }))
      return std::nullopt;
    return v;
  }
  bool insert(const key_type& k, const value_type& v) { return map_->insert(k, v); }
  void insert_or_assign(const key_type& k, const value_type& v) {
    map_->update(
        k, [&](bool /*is_new*/, typename Map::value_type& item) { atomic_copy(item.second, v); });
  }
  // A new entry is linked with value_type() (0) before the functor runs, so the increment
  // makes 1.
  void update(const key_type& k) {
    map_->update(k, [](bool /*is_new*/, typename Map::value_type& item) {
      std::atomic_ref<std::uint64_t>(words_of(item.second)[0])
          .fetch_add(1, std::memory_order_relaxed);
    });
  }
  bool erase(const key_type& k) { return map_->erase(k); }
  std::size_t for_each() {
    std::size_t n = 0;
    for (auto it = map_->begin(); it != map_->end(); ++it) {
      value_type v;
      atomic_copy(v, it->second);
      keep(v);
      ++n;
    }
    return n;
  }
  std::size_t size() { return map_->size(); }

 protected:
  // Builds the map from args, once the runtime exists and this thread is attached.
  template <class... Args>
  explicit map_adapter(const Args&... args) : map_(make_map(args...)) {}

 private:
  template <class... Args>
  static std::unique_ptr<Map> make_map(const Args&... args) {
    the_runtime();
    if (!cds::threading::Manager::isThreadAttached()) cds::threading::Manager::attachThread();
    return std::make_unique<Map>(args...);
  }
  std::unique_ptr<Map> map_;  // reset before force_dispose in the destructor
};

}  // namespace libcds_detail

}  // namespace cmap_bench
