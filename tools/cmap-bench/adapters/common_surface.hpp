#pragma once
// One adapter for every cmap map: they share the calls of docs/api.md, so a new map needs
// only an alias (one small header) and one registry line. sharded_map receives the variant's
// number ('sharded_map:N') as its shard count. The map hashes with the run's fixed seed
// (hash_seed.hpp) unless it is given a hasher; a map that does not hash (art_map: its hasher
// type is only a marker) is built without one.

#include <fmt/format.h>

#include <cmap/metrics.hpp>
#include <cmap/options.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>
#include <type_traits>

#include "adapter.hpp"
#include "hash_seed.hpp"
#include "name_maps.hpp"

namespace cmap_bench {

enum class log_hook { none, inside, outside };

// The simulated logging hook of the lock-scope preset: format one log line (~0.3 us).
inline void simulated_log_line(std::uint64_t counter) {
  thread_local fmt::memory_buffer line;
  line.clear();
  fmt::format_to(std::back_inserter(line), "{:>12} update counter={} shard={:#x} note={}", "INFO",
                 counter, counter * 0x9e3779b97f4a7c15ULL, "lock-scope");
  for (int i = 0; i < 4; ++i)
    fmt::format_to(std::back_inserter(line), " field{}={:.3f}", i,
                   static_cast<double>(counter) / (i + 1));
}

// A callback of the right shape, for asking whether a map scans in order.
struct scan_probe {
  template <class K, class V>
  bool operator()(const K&, const V&) const noexcept {
    return true;
  }
};

template <class Map, log_hook Hook = log_hook::none>
class common_surface_adapter {
 public:
  using key_type = typename Map::key_type;
  using value_type = typename Map::mapped_type;
  using hasher = typename Map::hasher;

  explicit common_surface_adapter(std::size_t param) : map_(make(param)) { name(); }
  common_surface_adapter(std::size_t param, const hasher& hash) : map_(make(param, hash)) {
    name();
  }

  bool find(const key_type& k) { return map_.find(k).has_value(); }
  bool insert(const key_type& k, const value_type& v) { return map_.insert(k, v); }
  void insert_or_assign(const key_type& k, const value_type& v) { map_.insert_or_assign(k, v); }
  void update(const key_type& k) {
    if constexpr (Hook == log_hook::none) {
      map_.upsert(k, increment{}, 1);
    } else if constexpr (Hook == log_hook::inside) {
      map_.upsert(
          k,
          [](value_type& v) {
            ++v;
            simulated_log_line(counter_of(v));
          },
          1);
    } else {
      simulated_log_line(0);
      map_.upsert(k, increment{}, 1);
    }
  }
  bool erase(const key_type& k) { return map_.erase(k); }
  std::size_t for_each() {
    std::size_t n = 0;
    map_.for_each([&n](const key_type&, const value_type&) { ++n; });
    return n;
  }
  // The ordered maps (art_map): up to n entries from k on, in key order.
  std::size_t scan(const key_type& k, std::size_t n)
  requires requires(const Map& m, const key_type& key) { m.for_each_from(key, scan_probe{}); }
  {
    std::size_t seen = 0;
    if (n == 0) return 0;
    map_.for_each_from(k, [&](const key_type&, const value_type& v) {
      keep(v);
      return ++seen < n;
    });
    return seen;
  }
  // art_map with string keys: its for_prefix.
  template <class F = keep_entry>
  std::size_t prefix_scan(std::string_view prefix, std::size_t n, F&& f = {})
  requires requires(const Map& m, std::string_view p) { m.for_prefix(p, scan_probe{}); }
  {
    std::size_t seen = 0;
    if (n == 0) return 0;
    map_.for_prefix(prefix, [&](const key_type& k, const value_type& v) {
      f(k, v);
      return ++seen < n;
    });
    return seen;
  }
  std::size_t size() { return map_.size(); }
  std::optional<std::size_t> allocated_bytes() {
    if constexpr (requires { map_.allocated_bytes(); })
      return map_.allocated_bytes();
    else
      return std::nullopt;
  }

 private:
  void name() {
    if (name_maps()) named_ = cmap::metrics::watch(map_, next_map_name());
  }
  static std::uint64_t counter_of(const value_type& v) {
    if constexpr (std::integral<value_type>)
      return v;
    else
      return v.words[0];
  }
  static constexpr bool hashes = std::is_constructible_v<hasher, std::uint64_t>;
  static Map make(std::size_t param) {
    if constexpr (hashes)
      return make(param, hasher(hash_seed()));
    else
      return Map(0);
  }
  // The parameter ('sharded_map:N') is sharded_map's shard count.
  static Map make(std::size_t param, const hasher& hash) {
    if constexpr (std::is_same_v<typename Map::options_type, cmap::sharded_map_options>) {
      if (param != 0) return Map(0, cmap::sharded_map_options{.shards = param}, hash);
    }
    return Map(0, hash);
  }
  Map map_;
  cmap::metrics::registration named_;  // after map_: unnamed before the map goes
};

}  // namespace cmap_bench
