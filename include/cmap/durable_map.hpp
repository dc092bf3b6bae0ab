#pragma once
// cmap::durable_map: an ordered concurrent map that survives crashes. It is an art_map
// (<cmap/art_map.hpp>) in memory, and a write-ahead log plus checkpoints in a directory: every
// write is first appended to the log, then applied to the map; open() rebuilds the map from
// the newest checkpoint and the log after it. Reads (lookups and scans) come from memory and
// never touch the disk.
//
// Choose it for keyed state that must outlive the process, read far more often than a disk
// could answer: a stream processor's per-key state with its input offset, a service's
// sessions, counters, an index that must come back after a restart. Where one would
// otherwise embed RocksDB, LevelDB or LMDB and keep the working set in their caches.
// Consider instead: those stores when the data does not fit in memory (durable_map holds
// every entry in RAM, and recovery reads them all), or when several processes must open the
// store at once (one process owns a durable_map directory). art_map when nothing needs to
// outlive the process.
//
// Durability, per write (cmap::sync, <cmap/durability.hpp>; durable_options::default_sync,
// or with(sync) for the writes made through it):
//   sync::none         returns once the record is in the operating system (one write(2),
//                      shared by concurrent writers): survives a crash or kill -9 of the
//                      process; a power loss or kernel crash may take back the last writes.
//   sync::group        returns once the record is on the device (fdatasync); concurrent
//                      writers share one sync (group commit): survives a power loss.
//   sync::every_write  as group, with a sync of its own per call.
// A write is applied to the map, and seen by readers, only after its record reached that
// state: no reader sees a write that a crash of the kind its mode covers could take back.
// A write that returned is found after a crash its mode covers; a write that threw may or may
// not be. write(batch) is atomic for recovery: a crash keeps all of a batch or none of it
// (readers of the live map may see a batch part-applied, as they may see any two writes).
//
// Failures. If the log cannot be written or synced (EIO, ENOSPC, a short write), the call
// throws cmap::durable_error, and so does every later write (reads go on): after a failed
// fdatasync the kernel may have dropped the unsynced pages and report success for a later
// sync, so the only safe way on is to reopen, which rebuilds the state from what the disk
// really holds. A write whose record is logged but cannot be applied in memory (an
// allocation failure) fails the store the same way.
//
// Guarantees of the map: as art_map's (single-key calls linearizable, lookups and scans lock
// nothing, scans weakly consistent, a write that returned happens before any read that
// observes it). Writers of one key are serialised by a striped mutex held from reading the
// key's current value to applying the new one, which is what makes the log's order of a
// key's writes the order they were applied in; writers of keys in different stripes do not
// wait for each other, except for the log itself. The stripe is held through the log's sync,
// so two writers of the same key (or stripe) cost a sync each under sync::group.
// Callbacks (upsert's f, mutable visit's f, erase_if's pred) run with the stripe held: they
// must not write to this map.
//
// What is logged: results, not calls. upsert(k, f), visit(k, f), compare_exchange and the
// rest read the current value, compute the new one, and log it as a put (or an erase), so
// that replay is deterministic whatever f does. A call that changes nothing (insert of a
// present key, erase of an absent one, a failed compare) logs nothing.
//
// Checkpoints (checkpoint(), and in the background every checkpoint_log_bytes of log): the log
// moves to a new segment while writers are held back for a moment, and then the map is
// scanned and written to a checkpoint file while writers go on (a fuzzy checkpoint: an entry
// is written with the value it has when the scan reaches it; replaying the log from the new
// segment on makes every entry right). The log segments before the checkpoint are then
// deleted. docs/durability.md gives the procedure and the file formats byte by byte.
//
// Keys and values: a key is stored as its key_traits encoding (<cmap/key_traits.hpp>), a
// value through Codec (cmap::codec<T>, <cmap/durability.hpp>). Recovery rejects bytes that
// do not decode as corruption.
//
// Costs: a lookup or scan is art_map's. A write is art_map's plus encoding, one CRC-32C of
// the record, a stripe mutex, the log mutex, and its share of a write(2) (and of an fdatasync
// under group, or one of its own under every_write). Log space: 15 bytes of framing and
// lengths per single write plus key and value (a u64 -> u64 write takes 31 bytes). Memory:
// art_map's, plus 256 KiB of stripes. Open: reads the newest checkpoint and the log after it
// (docs/durability.md has the measured rate).
//
// Header-only, as the rest of cmap: the file-system calls are POSIX (<cmap/file_system.hpp>),
// made through cmap::file_system so that tests can inject faults.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "art_map.hpp"
#include "detail/common_surface.hpp"
#include "detail/durable_files.hpp"
#include "detail/log_format.hpp"
#include "detail/log_writer.hpp"
#include "detail/parking_lock.hpp"
#include "detail/hash_seed.hpp"
#include "detail/rapidhash.hpp"
#include "durability.hpp"
#include "file_system.hpp"
#include "key_traits.hpp"

namespace cmap {

template <class Key, class T, class Traits = key_traits<Key>, class Codec = codec<T>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
requires(std::copy_constructible<T> &&
         requires(const T& v, std::string& out, std::string_view in) {
           Codec::encode(v, out);
           { Codec::decode(in) } -> std::convertible_to<T>;
         }) class durable_map
    : public detail::common_surface<durable_map<Key, T, Traits, Codec, Allocator>, Key, T,
                                    detail::art_encoded_lookup, detail::art_encoded_lookup,
                                    Allocator> {
  using surface = detail::common_surface<durable_map, Key, T, detail::art_encoded_lookup,
                                         detail::art_encoded_lookup, Allocator>;
  friend surface;
  friend detail::lookup_surface<durable_map, Key, T, detail::art_encoded_lookup,
                                detail::art_encoded_lookup>;
  static constexpr detail::probe_map_kind probe_kind() noexcept {
    return detail::probe_map_kind::durable_map;
  }
  using map_type = art_map<Key, T, Traits, Allocator>;

 public:
  using typename surface::allocator_type;
  using typename surface::key_type;
  using typename surface::mapped_type;
  using typename surface::size_type;
  using typename surface::value_type;
  using traits_type = Traits;
  using codec_type = Codec;
  using entry = typename map_type::entry;

  // Several writes, logged as one record and applied together: after a crash, all of them or
  // none. Build it, then pass it to durable_map::write. Writes apply in the order added.
  class batch {
   public:
    void insert_or_assign(Key key, T value) {
      ops_.push_back(op{std::move(key), std::move(value)});
    }
    void erase(Key key) { ops_.push_back(op{std::move(key), std::nullopt}); }
    [[nodiscard]] std::size_t size() const noexcept { return ops_.size(); }
    [[nodiscard]] bool empty() const noexcept { return ops_.empty(); }
    void clear() noexcept { ops_.clear(); }

   private:
    friend durable_map;
    struct op {
      Key key;
      std::optional<T> value;  // empty: erase
    };
    std::vector<op> ops_;
  };

  // The map's write calls (the common surface's) with a sync mode of their own: with(sync)
  // returns one. It refers to the map, which must outlive it.
  class writer : public detail::common_surface<writer, Key, T, detail::art_encoded_lookup,
                                               detail::art_encoded_lookup, Allocator> {
    using writer_surface = detail::common_surface<writer, Key, T, detail::art_encoded_lookup,
                                                  detail::art_encoded_lookup, Allocator>;
    friend writer_surface;
    friend detail::lookup_surface<writer, Key, T, detail::art_encoded_lookup,
                                  detail::art_encoded_lookup>;
    static constexpr detail::probe_map_kind probe_kind() noexcept {
      return detail::probe_map_kind::durable_map;
    }
    const durable_map* surface_owner() const noexcept { return m_; }

   public:
    writer(durable_map& m, cmap::sync mode) noexcept : m_(&m), mode_(mode) {}
    [[nodiscard]] size_type size() const { return m_->size(); }
    void write(const batch& b) { m_->write(b, mode_); }

   private:
    template <class K>
    std::optional<T> find_impl(const K& k) const { return m_->find_impl(k); }
    template <class K>
    bool contains_impl(const K& k) const { return m_->contains_impl(k); }
    template <class K, class F>
    bool visit_impl(const K& k, F& f) const { return m_->visit_impl(k, f); }
    template <class K, class F>
    bool visit_mut_impl(const K& k, F& f) { return m_->visit_mut_with(mode_, k, f); }
    template <class KK, class... Args>
    bool emplace_impl(KK&& k, Args&&... args) {
      return m_->emplace_with(mode_, std::forward<KK>(k), std::forward<Args>(args)...);
    }
    template <class KK>
    bool insert_or_assign_impl(KK&& k, T&& v) {
      return m_->insert_or_assign_with(mode_, std::forward<KK>(k), std::move(v));
    }
    template <class KK>
    std::pair<T, bool> find_or_insert_impl(KK&& k, T&& v) {
      return m_->find_or_insert_with(mode_, std::forward<KK>(k), std::move(v));
    }
    template <class KK, class F, class... Args>
    bool upsert_impl(KK&& k, F& f, Args&&... args) {
      return m_->upsert_with(mode_, std::forward<KK>(k), f, std::forward<Args>(args)...);
    }
    template <class KK>
    std::optional<T> exchange_impl(KK&& k, T&& v) {
      return m_->exchange_with(mode_, std::forward<KK>(k), std::move(v));
    }
    template <class K>
    bool compare_exchange_impl(const K& k, const T& expected, T& desired) {
      return m_->compare_exchange_with(mode_, k, expected, desired);
    }
    template <class K>
    bool erase_impl(const K& k) { return m_->erase_with(mode_, k); }
    template <class K>
    std::optional<T> extract_impl(const K& k) { return m_->extract_with(mode_, k); }
    template <class K>
    bool compare_erase_impl(const K& k, const T& expected) {
      return m_->compare_erase_with(mode_, k, expected);
    }

    durable_map* m_;
    cmap::sync mode_;
  };

  // Opens the store in dir, creating it if it does not exist (options.create_if_missing), and
  // recovers its state. Throws cmap::durable_error (cmap::corruption_error for damaged files,
  // naming file and offset), having changed nothing on the disk, if the directory holds
  // anything but a store, is locked by another owner, or cannot be read.
  explicit durable_map(std::filesystem::path dir, durable_options options = {},
                       const allocator_type& alloc = allocator_type())
      : options_(std::move(options)),
        map_(alloc),
        files_(std::move(dir), options_, sink_()),
        log_(files_.fs(), files_.directory(), files_.next_segment(), options_.segment_bytes),
        stripes_(new stripe[stripe_count]) {
    if (options_.checkpoint_log_bytes != 0) {
      background_ = std::thread([this] { checkpoint_loop(); });
    }
  }
  // The same, as a factory.
  static std::unique_ptr<durable_map> open(std::filesystem::path dir,
                                           durable_options options = {}) {
    return std::make_unique<durable_map>(std::move(dir), std::move(options));
  }

  durable_map(const durable_map&) = delete;
  durable_map& operator=(const durable_map&) = delete;

  // Stops background checkpoints, and syncs the log (so that writes made with sync::none
  // survive a power loss after a clean close). Errors are swallowed here: a write that
  // needed them reported them.
  ~durable_map() {
    {
      std::lock_guard l(background_m_);
      stop_ = true;
    }
    background_cv_.notify_all();
    if (background_.joinable()) background_.join();
    log_.sync_all();
  }

  // ---- the store ------------------------------------------------------------------------------
  [[nodiscard]] const std::filesystem::path& directory() const noexcept {
    return files_.directory();
  }
  [[nodiscard]] const recovery_info& recovery() const noexcept { return files_.recovery(); }
  [[nodiscard]] durable_stats stats() const {
    durable_stats s;
    s.records = log_.records();
    s.user_bytes = log_.user_bytes();
    s.log_bytes = log_.appended();
    s.writes_to_os = log_.writes();
    s.syncs = log_.syncs();
    std::lock_guard l(checkpoint_m_);
    s.checkpoints = checkpoints_;
    s.checkpoint_bytes = checkpoint_bytes_;
    return s;
  }
  // True once a write failed: every later write throws until the store is reopened.
  [[nodiscard]] bool failed() const { return log_.failed(); }

  // The writes of the common surface, made with mode instead of the default.
  [[nodiscard]] writer with(cmap::sync mode) noexcept { return writer(*this, mode); }

  // Logs the batch as one record, then applies it. Throws as a single write does; an empty
  // batch does nothing.
  void write(const batch& b) { write(b, options_.default_sync); }
  void write(const batch& b, cmap::sync mode) {
    if (b.empty()) return;
    std::vector<std::string> keys;
    keys.reserve(b.ops_.size());
    std::vector<std::size_t> held;
    held.reserve(b.ops_.size());
    std::string record;
    const std::size_t at = detail::log_format::begin_record(record);
    detail::log_format::put_varint(record, b.ops_.size());
    std::string value;
    std::uint64_t user = 0;
    for (const auto& o : b.ops_) {
      std::string& k = keys.emplace_back();
      Traits::encode(o.key, k);
      value.clear();
      if (o.value) Codec::encode(*o.value, value);
      detail::log_format::put_write(
          record, o.value ? detail::log_format::write_kind::put : detail::log_format::write_kind::erase,
          k, value);
      user += k.size() + value.size();
      held.push_back(stripe_of(k));
    }
    detail::log_format::finish_record(record, at, detail::log_format::record_type::batch);
    std::sort(held.begin(), held.end());
    held.erase(std::unique(held.begin(), held.end()), held.end());
    stripe_locks locks(*this, held);
    log_.append(record, mode, user);
    applying([&] {
      for (const auto& o : b.ops_) {
        if (o.value) {
          map_.insert_or_assign(o.key, *o.value);
        } else {
          map_.erase(o.key);
        }
      }
    });
  }

  // Writes a checkpoint now (see the header) and deletes the log segments it replaces.
  checkpoint_info checkpoint() {
    std::lock_guard c(checkpoint_run_m_);
    std::uint64_t number;
    std::uint64_t log_at;
    {
      stripe_locks locks(*this, all_stripes());
      number = log_.rotate();
      log_at = log_.appended();
    }
    std::string k;
    std::string v;
    const checkpoint_info info = files_.write_checkpoint(number, [&](auto&& emit) {
      map_.for_each([&](const Key& key, const T& value) {
        k.clear();
        v.clear();
        Traits::encode(key, k);
        Codec::encode(value, v);
        emit(std::string_view(k), std::string_view(v));
      });
      // The scan saw every write applied so far, and a write is applied once its record is
      // written, not always synced (sync::none). Syncing the log before the checkpoint is
      // made durable keeps it from holding a value whose record a power loss could take
      // back: the checkpoint must never be ahead of the log it replaces.
      log_.sync_now();
    });
    std::lock_guard l(checkpoint_m_);
    checkpoint_mark_ = log_at;
    ++checkpoints_;
    checkpoint_bytes_ += info.bytes;
    return info;
  }
  // The error of the last background checkpoint that failed, or empty.
  [[nodiscard]] std::string background_error() const {
    std::lock_guard l(checkpoint_m_);
    return background_error_;
  }

  // ---- whole map (reads from memory) ------------------------------------------------------
  [[nodiscard]] size_type size() const noexcept { return map_.size(); }
  template <class F>
  void for_each(F&& f) const {
    map_.for_each(std::forward<F>(f));
  }
  template <class F>
  bool for_each_reverse(F&& f) const {
    return map_.for_each_reverse(std::forward<F>(f));
  }
  template <class K, class F>
  bool for_each_from(const K& from, F&& f) const {
    return map_.for_each_from(from, std::forward<F>(f));
  }
  template <class K, class F>
  bool for_each_reverse_from(const K& from, F&& f) const {
    return map_.for_each_reverse_from(from, std::forward<F>(f));
  }
  template <class K1, class K2, class F>
  bool for_range(const K1& lo, const K2& hi, F&& f) const {
    return map_.for_range(lo, hi, std::forward<F>(f));
  }
  template <class K1, class K2, class F>
  bool for_range_reverse(const K1& lo, const K2& hi, F&& f) const {
    return map_.for_range_reverse(lo, hi, std::forward<F>(f));
  }
  template <class P, class F>
  bool for_prefix(const P& prefix, F&& f) const {
    return map_.for_prefix(prefix, std::forward<F>(f));
  }
  template <class P, class F>
  bool for_prefix_reverse(const P& prefix, F&& f) const {
    return map_.for_prefix_reverse(prefix, std::forward<F>(f));
  }
  [[nodiscard]] std::optional<entry> first() const { return map_.first(); }
  [[nodiscard]] std::optional<entry> last() const { return map_.last(); }
  template <class K = Key>
  [[nodiscard]] std::optional<entry> lower_bound(const K& k) const {
    return map_.lower_bound(k);
  }
  template <class K = Key>
  [[nodiscard]] std::optional<entry> upper_bound(const K& k) const {
    return map_.upper_bound(k);
  }
  [[nodiscard]] size_type allocated_bytes() const noexcept { return map_.allocated_bytes(); }
  [[nodiscard]] map_stats stats_of_map() const { return map_.stats(); }
  [[nodiscard]] allocator_type get_allocator() const { return map_.get_allocator(); }
  void reserve(size_type n) const { map_.reserve(n); }
  void rehash(size_type n) const { map_.reserve(n); }
  void shrink_to_fit() const noexcept {}

  // ---- whole map (writes) -------------------------------------------------------------------
  // Erases every entry, as one log record (all writers are held back meanwhile).
  void clear() {
    std::string record;
    const std::size_t at = detail::log_format::begin_record(record);
    detail::log_format::finish_record(record, at, detail::log_format::record_type::clear);
    stripe_locks locks(*this, all_stripes());
    log_.append(record, options_.default_sync, 0);
    applying([&] { map_.clear(); });
  }
  // Erases every entry with pred(const Key&, const T&), each erase logged on its own and
  // checked against the value the entry has then; returns how many.
  template <class P>
  size_type erase_if(P&& pred) {
    std::vector<Key> candidates;
    map_.for_each([&](const Key& k, const T& v) {
      if (pred(k, v)) candidates.push_back(k);
    });
    size_type erased = 0;
    for (const Key& k : candidates) {
      erased += write_one(options_.default_sync, k, [&](const std::optional<T>& current) {
                  return current && pred(k, *current) ? outcome<bool>::erase(true)
                                                      : outcome<bool>::keep(false);
                })
                    ? 1
                    : 0;
    }
    return erased;
  }

 private:
  // ---- the single-key engine ----------------------------------------------------------------
  // What a write decided: its result, and what to log and apply (nothing, a put, an erase).
  template <class R>
  struct outcome {
    enum class action { keep, put, erase } what;
    std::optional<T> value;
    R result;
    static outcome keep(R r) { return {action::keep, std::nullopt, std::move(r)}; }
    static outcome put(T v, R r) { return {action::put, std::move(v), std::move(r)}; }
    static outcome erase(R r) { return {action::erase, std::nullopt, std::move(r)}; }
  };

  // Locks key's stripe, gives decide the key's current value, and logs and applies what it
  // decided. KK is the key as the caller gave it: a Key (built into the map on a put) or a
  // transparent lookup type.
  template <class KK, class Decide>
  auto write_one(cmap::sync mode, KK&& key, Decide&& decide) {
    std::string k;
    Traits::encode(key, k);
    std::lock_guard s(stripes_[stripe_of(k)].m);
    auto o = decide(map_.find(key));
    using action = typename decltype(o)::action;
    if (o.what == action::keep) return std::move(o.result);
    // Per-thread buffers, reused: a record of a u64 write is 31 bytes, past the small-string
    // buffer, and would otherwise be an allocation per write. Only Codec::encode runs between
    // here and the append (which copies the record), and a codec does not write to a map, so
    // no other use of them can interleave.
    thread_local std::string record;
    thread_local std::string value;
    record.clear();
    value.clear();
    const std::size_t at = detail::log_format::begin_record(record);
    detail::log_format::put_varint(record, 1);
    if (o.what == action::put) Codec::encode(*o.value, value);
    detail::log_format::put_write(record,
                                  o.what == action::put ? detail::log_format::write_kind::put
                                                        : detail::log_format::write_kind::erase,
                                  k, value);
    detail::log_format::finish_record(record, at, detail::log_format::record_type::batch);
    log_.append(record, mode, k.size() + value.size());
    applying([&] {
      if (o.what == action::put) {
        if constexpr (std::is_same_v<std::remove_cvref_t<KK>, Key>) {
          map_.insert_or_assign(std::forward<KK>(key), std::move(*o.value));
        } else {
          map_.insert_or_assign(Key(std::forward<KK>(key)), std::move(*o.value));
        }
      } else {
        map_.erase(key);
      }
    });
    return std::move(o.result);
  }

  // Runs apply, a logged write's change to memory; if it throws, the log holds a write the
  // map does not, so the store fails (reopening brings them together again).
  template <class Apply>
  void applying(Apply&& apply) {
    try {
      apply();
    } catch (...) {
      log_.fail(std::make_exception_ptr(durable_error(
          "a logged write could not be applied in memory; reopen the store", directory())));
      throw;
    }
  }

  template <class K>
  std::optional<T> find_impl(const K& k) const { return map_.find(k); }
  template <class K>
  bool contains_impl(const K& k) const { return map_.contains(k); }
  template <class K, class F>
  bool visit_impl(const K& k, F& f) const { return map_.visit(k, f); }

  template <class K, class F>
  bool visit_mut_with(cmap::sync mode, const K& k, F& f) {
    return write_one(mode, k, [&](const std::optional<T>& current) {
      if (!current) return outcome<bool>::keep(false);
      T v = *current;
      f(v);
      return outcome<bool>::put(std::move(v), true);
    });
  }
  template <class KK, class... Args>
  bool emplace_with(cmap::sync mode, KK&& k, Args&&... args) {
    return write_one(mode, std::forward<KK>(k), [&](const std::optional<T>& current) {
      if (current) return outcome<bool>::keep(false);
      return outcome<bool>::put(T(std::forward<Args>(args)...), true);
    });
  }
  template <class KK>
  bool insert_or_assign_with(cmap::sync mode, KK&& k, T&& v) {
    return write_one(mode, std::forward<KK>(k), [&](const std::optional<T>& current) {
      return outcome<bool>::put(std::move(v), !current.has_value());
    });
  }
  template <class KK>
  std::pair<T, bool> find_or_insert_with(cmap::sync mode, KK&& k, T&& v) {
    using R = std::pair<T, bool>;
    return write_one(mode, std::forward<KK>(k), [&](const std::optional<T>& current) {
      if (current) return outcome<R>::keep(R(*current, false));
      return outcome<R>::put(v, R(v, true));
    });
  }
  template <class KK, class F, class... Args>
  bool upsert_with(cmap::sync mode, KK&& k, F& f, Args&&... args) {
    return write_one(mode, std::forward<KK>(k), [&](const std::optional<T>& current) {
      if (!current) return outcome<bool>::put(T(std::forward<Args>(args)...), true);
      T v = *current;
      f(v);
      return outcome<bool>::put(std::move(v), false);
    });
  }
  template <class KK>
  std::optional<T> exchange_with(cmap::sync mode, KK&& k, T&& v) {
    using R = std::optional<T>;
    return write_one(mode, std::forward<KK>(k), [&](const std::optional<T>& current) {
      return outcome<R>::put(std::move(v), current);
    });
  }
  template <class K>
  bool compare_exchange_with(cmap::sync mode, const K& k, const T& expected, T& desired) {
    return write_one(mode, k, [&](const std::optional<T>& current) {
      if (!current || !(*current == expected)) return outcome<bool>::keep(false);
      return outcome<bool>::put(desired, true);
    });
  }
  template <class K>
  bool erase_with(cmap::sync mode, const K& k) {
    return write_one(mode, k, [&](const std::optional<T>& current) {
      return current ? outcome<bool>::erase(true) : outcome<bool>::keep(false);
    });
  }
  template <class K>
  std::optional<T> extract_with(cmap::sync mode, const K& k) {
    using R = std::optional<T>;
    return write_one(mode, k, [&](const std::optional<T>& current) {
      return current ? outcome<R>::erase(current) : outcome<R>::keep(std::nullopt);
    });
  }
  template <class K>
  bool compare_erase_with(cmap::sync mode, const K& k, const T& expected) {
    return write_one(mode, k, [&](const std::optional<T>& current) {
      return current && *current == expected ? outcome<bool>::erase(true)
                                             : outcome<bool>::keep(false);
    });
  }

  // The common surface's writes, with the store's default sync mode.
  template <class K, class F>
  bool visit_mut_impl(const K& k, F& f) { return visit_mut_with(options_.default_sync, k, f); }
  template <class KK, class... Args>
  bool emplace_impl(KK&& k, Args&&... args) {
    return emplace_with(options_.default_sync, std::forward<KK>(k), std::forward<Args>(args)...);
  }
  template <class KK>
  bool insert_or_assign_impl(KK&& k, T&& v) {
    return insert_or_assign_with(options_.default_sync, std::forward<KK>(k), std::move(v));
  }
  template <class KK>
  std::pair<T, bool> find_or_insert_impl(KK&& k, T&& v) {
    return find_or_insert_with(options_.default_sync, std::forward<KK>(k), std::move(v));
  }
  template <class KK, class F, class... Args>
  bool upsert_impl(KK&& k, F& f, Args&&... args) {
    return upsert_with(options_.default_sync, std::forward<KK>(k), f, std::forward<Args>(args)...);
  }
  template <class KK>
  std::optional<T> exchange_impl(KK&& k, T&& v) {
    return exchange_with(options_.default_sync, std::forward<KK>(k), std::move(v));
  }
  template <class K>
  bool compare_exchange_impl(const K& k, const T& expected, T& desired) {
    return compare_exchange_with(options_.default_sync, k, expected, desired);
  }
  template <class K>
  bool erase_impl(const K& k) { return erase_with(options_.default_sync, k); }
  template <class K>
  std::optional<T> extract_impl(const K& k) { return extract_with(options_.default_sync, k); }
  template <class K>
  bool compare_erase_impl(const K& k, const T& expected) {
    return compare_erase_with(options_.default_sync, k, expected);
  }

  // ---- stripes --------------------------------------------------------------------------------
  // A key's writers hold its stripe from reading the current value to applying the new one,
  // so the log's order of the key's writes is the order the map applied them in (replay then
  // ends where the map did). A checkpoint takes every stripe for the moment it moves the log
  // to a new segment, so that no write is logged in the old segment and not yet applied.
  //
  // Many, and small: a stripe is held through the log's sync, so writers of different keys
  // that meet in one stripe cost a sync each instead of sharing one. A write batch holds a
  // stripe per key, and two batches of 100 keys would meet in some stripe almost always
  // among 1024 stripes, in about one case in seven among 65536. Four bytes each (256 KiB a
  // store), not a cache line: a stripe is locked once per write, next to a log append that
  // every writer serialises on anyway, so sharing a line with neighbours costs little.
  static constexpr std::size_t stripe_count = std::size_t{1} << 16;
  struct stripe {
    detail::parking_lock m;  // waiters sleep: a holder may be in an fdatasync
  };
  std::size_t stripe_of(std::string_view encoded_key) const noexcept {
    return static_cast<std::size_t>(
               detail::rapidhash(encoded_key.data(), encoded_key.size(), stripe_seed_)) &
           (stripe_count - 1);
  }
  static const std::vector<std::size_t>& all_stripes() {
    static const std::vector<std::size_t> all = [] {
      std::vector<std::size_t> v(stripe_count);
      for (std::size_t i = 0; i < stripe_count; ++i) v[i] = i;
      return v;
    }();
    return all;
  }
  // Locks the stripes at the given indices, which are ascending and distinct (the order that
  // keeps two multi-stripe writers from deadlocking), and unlocks them on scope exit.
  class stripe_locks {
   public:
    stripe_locks(durable_map& m, const std::vector<std::size_t>& indices)
        : m_(m), indices_(indices) {
      std::size_t done = 0;
      try {
        for (; done < indices_.size(); ++done) m_.stripes_[indices_[done]].m.lock();
      } catch (...) {
        while (done > 0) m_.stripes_[indices_[--done]].m.unlock();
        throw;
      }
    }
    ~stripe_locks() {
      for (std::size_t i = indices_.size(); i > 0; --i) m_.stripes_[indices_[i - 1]].m.unlock();
    }
    stripe_locks(const stripe_locks&) = delete;
    stripe_locks& operator=(const stripe_locks&) = delete;

   private:
    durable_map& m_;
    const std::vector<std::size_t>& indices_;
  };

  // ---- recovery -------------------------------------------------------------------------------
  class sink final : public detail::replay_sink {
   public:
    explicit sink(map_type& m) : m_(m) {}
    void put(std::string_view key, std::string_view value) override {
      m_.insert_or_assign(Traits::decode(key), T(Codec::decode(value)));
    }
    void erase(std::string_view key) override { m_.erase(Traits::decode(key)); }
    void clear() override { m_.clear(); }

   private:
    map_type& m_;
  };
  detail::replay_sink& sink_() {
    replay_ = std::make_unique<sink>(map_);
    return *replay_;
  }

  // ---- background checkpoints -------------------------------------------------------------
  void checkpoint_loop() {
    std::unique_lock l(background_m_);
    while (!stop_) {
      background_cv_.wait_for(l, std::chrono::milliseconds(50));
      if (stop_) break;
      std::uint64_t mark;
      {
        std::lock_guard c(checkpoint_m_);
        mark = checkpoint_mark_;
      }
      if (log_.appended() - mark < options_.checkpoint_log_bytes || log_.failed()) continue;
      l.unlock();
      try {
        checkpoint();
      } catch (const std::exception& e) {
        std::lock_guard c(checkpoint_m_);
        background_error_ = e.what();
        // Try again after as much log again, not at once.
        checkpoint_mark_ = log_.appended();
      }
      l.lock();
    }
  }

  durable_options options_;
  map_type map_;
  std::unique_ptr<detail::replay_sink> replay_;  // used while files_ recovers
  detail::durable_files files_;
  detail::log_writer log_;
  std::unique_ptr<stripe[]> stripes_;
  const std::uint64_t stripe_seed_ = detail::fresh_hash_seed();

  std::mutex checkpoint_run_m_;  // one checkpoint at a time
  mutable std::mutex checkpoint_m_;  // guards the four below
  std::uint64_t checkpoint_mark_ = 0;  // log_.appended() when the last checkpoint began
  std::uint64_t checkpoints_ = 0;
  std::uint64_t checkpoint_bytes_ = 0;
  std::string background_error_;

  std::mutex background_m_;
  std::condition_variable background_cv_;
  bool stop_ = false;
  std::thread background_;
};

}  // namespace cmap
