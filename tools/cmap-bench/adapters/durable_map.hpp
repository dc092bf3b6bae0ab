#pragma once
// cmap::durable_map as a durable store: the in-memory adaptive radix tree (cmap::art_map) and
// a write-ahead log with group commit and checkpoints, one store in a fresh directory per map.
// Mode is the default sync mode of its writes (durable_map_group, durable_map_every_write,
// durable_map_none); automatic checkpoints are off (checkpoint_log_bytes = 0), so that a run
// measures the log alone, and recovery replays every record written (a checkpoint is taken
// only by flush(), for the compacted bytes on disk).
//
// Keys and values go to the log through cmap::codec (u64: 8 bytes little-endian; the 100-byte
// payload: its bytes). The untimed preload writes with sync::none: the records are in the log
// (a reopen replays them), without one fdatasync per key.

#include <cmap/durable_map.hpp>

#include <chrono>
#include <cstdint>

#include "durable_common.hpp"

namespace cmap_bench {

template <class Key, class Value, cmap::sync Mode>
class durable_map_adapter {
  static_assert(std::is_same_v<Key, std::uint64_t>, "the durable stores take u64 keys");
  using map_type = cmap::durable_map<Key, Value>;

 public:
  using key_type = Key;
  using value_type = Value;
  explicit durable_map_adapter(std::size_t /*param*/) : dir_(name()) { open(); }

  bool find(const Key& k) {
    const auto v = map_->find(k);
    if (!v) return false;
    keep(*v);
    return true;
  }
  bool insert(const Key& k, const Value& v) { return map_->insert(k, v); }
  void preload_insert(const Key& k, const Value& v) {
    map_->with(cmap::sync::none).insert(k, v);
  }
  void insert_or_assign(const Key& k, const Value& v) { map_->insert_or_assign(k, v); }
  void update(const Key& k) { map_->upsert(k, increment{}, Value(1)); }
  bool erase(const Key& k) { return map_->erase(k); }
  std::size_t for_each() {
    std::size_t n = 0;
    map_->for_each_from(Key{0}, [&n](const Key&, const Value& v) {
      keep(v);
      ++n;
      return true;
    });
    return n;
  }
  std::size_t scan(const Key& k, std::size_t n) {
    std::size_t seen = 0;
    if (n == 0) return 0;
    map_->for_each_from(k, [&](const Key&, const Value& v) {
      keep(v);
      return ++seen < n;
    });
    return seen;
  }
  template <class F>
  void visit_from(const Key& k, std::size_t n, F&& f) {
    std::size_t seen = 0;
    if (n == 0) return;
    map_->for_each_from(k, [&](const Key& key, const Value& v) {
      f(key, v);
      return ++seen < n;
    });
  }
  std::size_t size() { return map_->size(); }
  // The in-memory tree's bytes (the durable presets report bytes on disk instead).
  std::optional<std::size_t> allocated_bytes() { return map_->allocated_bytes(); }

  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_.path(); }
  // A checkpoint: the map written out once and the log segments it covers deleted (the
  // "compacted" bytes on disk).
  void flush() { map_->checkpoint(); }
  // Close (untimed: the destructor), then the constructor, which loads the checkpoint if any
  // and replays the log.
  std::chrono::nanoseconds reopen() {
    map_.reset();
    const auto t0 = std::chrono::steady_clock::now();
    open();
    return std::chrono::steady_clock::now() - t0;
  }
  // What the store counted (the tests and the docs' write amplification of the log alone).
  [[nodiscard]] cmap::durable_stats stats() const { return map_->stats(); }

 private:
  static const char* name() {
    switch (Mode) {
      case cmap::sync::none:
        return "durable-none";
      case cmap::sync::group:
        return "durable-group";
      default:
        return "durable-every-write";
    }
  }
  void open() {
    cmap::durable_options opt;
    opt.default_sync = Mode;
    opt.checkpoint_log_bytes = 0;
    map_ = std::make_unique<map_type>(dir_.path(), opt);
  }

  scratch_dir dir_;  // declared first: removed after the store is closed
  std::unique_ptr<map_type> map_;
};

template <class Key, class Value>
using durable_map_group_adapter = durable_map_adapter<Key, Value, cmap::sync::group>;
template <class Key, class Value>
using durable_map_every_write_adapter = durable_map_adapter<Key, Value, cmap::sync::every_write>;
template <class Key, class Value>
using durable_map_none_adapter = durable_map_adapter<Key, Value, cmap::sync::none>;

}  // namespace cmap_bench
