#pragma once
// libcds's cds::container::SplitListMap over a Michael list, reclaimed by hazard pointers
// (cds::gc::HP): lock-free find, insert, update and erase, and a growing bucket table
// (split-ordered lists: the buckets are shortcuts into one sorted list, so growing splits no
// chain). Iteration is not safe while other threads erase: libcds's list iterator guards the
// node it stands on, but once that node is unlinked its successor can be reclaimed before the
// iterator steps onto it (libcds calls such iteration "for debugging only"; a for_each mix
// crashed here at 8 threads). The registry marks it: for_each with writers is n/a.
//
// libcds needs its runtime (cds::Initialize, one HP object) and every thread that touches a
// map attached to it. Both happen here, so the runner knows nothing of libcds:
//   - libcds_runtime() is built on first use and torn down at exit (HP, then cds::Terminate);
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

#include <cds/container/michael_kvlist_hp.h>
#include <cds/container/split_list_map.h>
#include <cds/gc/hp.h>
#include <cds/init.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "adapter.hpp"
#include "counting_allocator.hpp"
#include "hash_seed.hpp"

namespace cmap_bench {

namespace libcds_detail {

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
  cds::gc::HP hp;  // default sizes: 8 hazard pointers a thread, up to 100 threads
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

template <class Key>
struct traits : cds::container::split_list::traits {
  using ordered_list = cds::container::michael_list_tag;
  // libcds default-constructs it: the run's seed (hash_seed.hpp).
  using hash = fixed_seed_hash<Key>;
  using allocator = counting_allocator<int>;  // the bucket table
  using item_counter = cds::atomicity::cache_friendly_item_counter;
  struct ordered_list_traits : cds::container::michael_list::traits {
    using less = std::less<Key>;
    using allocator = counting_allocator<int>;  // the nodes
  };
};

}  // namespace libcds_detail

template <class Key, class Value>
class libcds_split_list_adapter : public memory_from_allocator {
  using map_type =
      cds::container::SplitListMap<cds::gc::HP, Key, Value, libcds_detail::traits<Key>>;

 public:
  using value_type = Value;

  // Attaches the worker thread that holds it (the runner makes one per worker thread).
  class thread_scope {
   public:
    thread_scope() : attached_(!cds::threading::Manager::isThreadAttached()) {
      libcds_detail::the_runtime();
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

  explicit libcds_split_list_adapter(std::size_t /*param*/) : map_(make_map()) {}
  ~libcds_split_list_adapter() {
    map_.reset();
    cds::gc::HP::force_dispose();  // free the retired nodes now, not at some later scan
  }
  libcds_split_list_adapter(const libcds_split_list_adapter&) = delete;
  libcds_split_list_adapter& operator=(const libcds_split_list_adapter&) = delete;

  bool find(const Key& k) {
    Value v;
    return map_->find(k, [&](typename map_type::value_type& item) {
      libcds_detail::atomic_copy(v, item.second);
      keep(v);
    });
  }
  // The value at k (read word by word), for tests; find() is the timed path.
  std::optional<Value> value_of(const Key& k) {
    Value v;
    if (!map_->find(k, [&](typename map_type::value_type& item) {
          libcds_detail::atomic_copy(v, item.second);
        }))
      return std::nullopt;
    return v;
  }
  bool insert(const Key& k, const Value& v) { return map_->insert(k, v); }
  void insert_or_assign(const Key& k, const Value& v) {
    map_->update(k, [&](bool /*is_new*/, typename map_type::value_type& item) {
      libcds_detail::atomic_copy(item.second, v);
    });
  }
  // A new entry is linked with Value() (0) before the functor runs, so the increment makes 1.
  void update(const Key& k) {
    map_->update(k, [](bool /*is_new*/, typename map_type::value_type& item) {
      std::atomic_ref<std::uint64_t>(libcds_detail::words_of(item.second)[0])
          .fetch_add(1, std::memory_order_relaxed);
    });
  }
  bool erase(const Key& k) { return map_->erase(k); }
  std::size_t for_each() {
    std::size_t n = 0;
    for (auto it = map_->begin(); it != map_->end(); ++it) {
      Value v;
      libcds_detail::atomic_copy(v, it->second);
      keep(v);
      ++n;
    }
    return n;
  }
  std::size_t size() { return map_->size(); }

 private:
  // The runtime must exist and this thread be attached before the map is built.
  static std::unique_ptr<map_type> make_map() {
    libcds_detail::the_runtime();
    if (!cds::threading::Manager::isThreadAttached()) cds::threading::Manager::attachThread();
    // Room for 4M entries at load factor 1 before chains lengthen; segments of the bucket
    // table are allocated as the map grows.
    return std::make_unique<map_type>(std::size_t{1} << 22, 1);
  }
  std::unique_ptr<map_type> map_;  // reset before force_dispose in the destructor
};

}  // namespace cmap_bench
