#pragma once
// What every adapter offers the runner, and the value types of the workloads.
//
// An adapter wraps one map for keys Key and values Value and has:
//   explicit A(std::size_t param)            param: a variant's number (shards), 0 = default
//   bool find(const Key&)                    true if found (the value is copied out)
//   bool insert(const Key&, const Value&)    insert if absent
//   void insert_or_assign(const Key&, const Value&)
//   void update(const Key&)                  upsert-increment: ++value, or insert Value(1)
//   bool erase(const Key&)
//   std::size_t for_each()                   walks every entry, returns how many it saw
//   std::size_t scan(const Key& k, std::size_t n)   the ordered maps only: the first n entries
//                                            from k on (k included), in key order; returns
//                                            how many it saw
//   std::size_t prefix_scan(std::string_view p, std::size_t n, F f = keep_entry{})
//                                            the ordered maps with string keys only: the
//                                            first n entries whose keys start with p, in key
//                                            order, each passed to f(key, value) (the tests
//                                            look at them); returns how many it saw
//   std::size_t size()
//   std::optional<std::size_t> allocated_bytes()   where the map reports it
// and, optionally,
//   class thread_scope                       default-constructed at the start of each worker
//                                            thread, destroyed at its end (libcds: attach and
//                                            detach the thread); maps without one pay nothing
//   void preload_insert(const Key&, const Value&)   used instead of insert for the untimed,
//                                                    single-threaded preload (no reader yet)
//   void finish()                            called after the preload, and by each worker at
//                                            the end of its timed stream (serial_map+async:
//                                            wait until its queued writes are published)
// and, for the durable stores (durable_store below, adapters/durable_common.hpp), untimed:
//   const std::filesystem::path& directory() where its files are (a fresh directory per map)
//   void flush()                             what the store buffers in memory goes to its
//                                            files (RocksDB: the memtable), for bytes on disk
//   std::chrono::nanoseconds reopen()        closes the store and opens it again on the same
//                                            directory; returns how long the open took
// Which of these may run concurrently is said once, in the map's registry entry (caps).

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace cmap_bench {

// What a map allows; the runner reports a workload as n/a where it needs more.
struct caps {
  bool concurrent = true;           // false: unlocked map, run at 1 thread only
  bool concurrent_erase = true;     // erase concurrently with other operations
  bool concurrent_update = true;    // insert_or_assign / update of a present key
  bool concurrent_for_each = true;  // for_each concurrently with writers
};

// A value of Bytes bytes (8 is a plain u64): the first word is the counter that update
// increments, the rest is payload that copies cost.
template <unsigned Bytes>
struct payload {
  std::uint64_t words[Bytes / 8] = {};
  payload() = default;
  explicit payload(std::uint64_t v) noexcept { words[0] = v; }
  payload& operator++() noexcept {
    ++words[0];
    return *this;
  }
  friend bool operator==(const payload&, const payload&) = default;
};

// A value of Bytes bytes that are not a whole number of words (100: the durable presets'
// values, the size LevelDB's and RocksDB's own benchmarks use): the first 8 bytes are the
// counter, read and written with memcpy, so that the type is exactly Bytes bytes and a store
// that copies its bytes stores Bytes bytes.
template <unsigned Bytes>
struct byte_payload {
  static_assert(Bytes >= 8);
  unsigned char bytes[Bytes] = {};
  byte_payload() = default;
  explicit byte_payload(std::uint64_t v) noexcept { std::memcpy(bytes, &v, 8); }
  [[nodiscard]] std::uint64_t counter() const noexcept {
    std::uint64_t v = 0;
    std::memcpy(&v, bytes, 8);
    return v;
  }
  byte_payload& operator++() noexcept {
    const std::uint64_t v = counter() + 1;
    std::memcpy(bytes, &v, 8);
    return *this;
  }
  friend bool operator==(const byte_payload&, const byte_payload&) = default;
};

template <unsigned Bytes>
struct value_of {
  using type = payload<Bytes>;
};
template <>
struct value_of<8> {
  using type = std::uint64_t;
};
// Only the durable stores run 100-byte values (run_durable_adapter in runner.hpp).
template <>
struct value_of<100> {
  using type = byte_payload<100>;
};

// Keeps the compiler from dropping a copied-out value.
template <class T>
inline void keep(const T& v) noexcept {
  asm volatile("" : : "m"(v));
}

// What prefix_scan does with an entry when the caller asks for nothing: keep its value.
struct keep_entry {
  template <class K, class V>
  void operator()(const K& /*key*/, const V& value) const noexcept {
    keep(value);
  }
};

// scan and prefix_scan of the maps that have iterators and lower_bound (std::map,
// absl::btree_map, tbb::concurrent_map): up to n entries from k on, or from the prefix on
// while the keys start with it, in key order; return how many they saw.
template <class Map, class K>
std::size_t walk_from(Map& map, const K& k, std::size_t n) {
  std::size_t seen = 0;
  for (auto it = map.lower_bound(k); it != map.end() && seen < n; ++it, ++seen) keep(it->second);
  return seen;
}
template <class Map, class F>
std::size_t walk_prefix(Map& map, std::string_view prefix, std::size_t n, F&& f) {
  std::size_t seen = 0;
  for (auto it = map.lower_bound(typename std::remove_const_t<Map>::key_type(prefix));
       it != map.end() && seen < n && std::string_view(it->first).starts_with(prefix); ++it, ++seen)
    f(it->first, it->second);
  return seen;
}

// for_each of the maps that have iterators: walks (key, value) pairs, touching each value;
// returns how many it saw.
template <class Range>
std::size_t walk_entries(const Range& range) {
  std::size_t n = 0;
  for (const auto& entry : range) {
    keep(entry.second);
    ++n;
  }
  return n;
}

// The maps that can start at a key (std::map, absl::btree_map): the adapters that wrap one
// offer scan and prefix_scan (walk_from, walk_prefix), the others do not (the runner looks
// for them).
template <class Map>
concept has_lower_bound = requires(Map& m, const typename Map::key_type& k) {
  m.lower_bound(k);
};

// The adapter's thread_scope, or an empty one.
template <class Adapter>
struct thread_scope_of {
  struct type {};
};
template <class Adapter>
requires requires { typename Adapter::thread_scope; }
struct thread_scope_of<Adapter> {
  using type = typename Adapter::thread_scope;
};

// A durable store (the durable presets): its files can be measured, and it can be reopened.
template <class Adapter>
concept durable_store = requires(Adapter& a) {
  { a.directory() } -> std::convertible_to<const std::filesystem::path&>;
  a.flush();
  { a.reopen() } -> std::convertible_to<std::chrono::nanoseconds>;
};

// The peers do not report their memory: counting_allocator measures it instead.
struct memory_from_allocator {
  static std::optional<std::size_t> allocated_bytes() { return std::nullopt; }
};

// The increment every update applies.
struct increment {
  template <class V>
  void operator()(V& v) const noexcept {
    ++v;
  }
};

}  // namespace cmap_bench
