#pragma once
// lsm_store_adapter: RocksDB and LevelDB as durable stores, one adapter for both (their C++
// APIs are the same where the benchmark uses them: DB::Open, Get, Put, Delete, iterators with
// Seek and Next, Status). Lib names one of them (rocksdb.hpp, leveldb.hpp): its types, its
// Get (LevelDB reads into a std::string; RocksDB into a PinnableSlice, without a copy), and
// how it compacts and closes.
//
// One DB in a fresh directory per map, the library's default options but create_if_missing
// (no tuning either way). Sync = true: every write returns once its log record is synced; both
// libraries group concurrent writers themselves (the writer at the head of their queue writes
// and syncs the others' batches with its own), as durable_map's sync::group does. Sync =
// false: the log is written, not synced (≙ sync::none).
//
// u64 keys as 8 bytes big-endian (durable_common.hpp). insert, erase and update read then
// write under the key's stripe (key_stripes), since neither library has insert-if-absent or an
// atomic increment; a plain store (insert_or_assign) takes it too, and is one Put.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "durable_common.hpp"

namespace cmap_bench {

template <class Lib, class Key, class Value, bool Sync>
class lsm_store_adapter : public memory_from_allocator {
  static_assert(std::is_same_v<Key, std::uint64_t>, "the durable stores take u64 keys");

 public:
  using key_type = Key;
  using value_type = Value;
  explicit lsm_store_adapter(std::size_t /*param*/)
      : dir_(Sync ? Lib::sync_dir : Lib::nosync_dir), stripes_(std::make_unique<key_stripes>()) {
    write_.sync = Sync;
    // The untimed preload: never synced (a synced write per key would take minutes); the
    // WAL holds it, as it holds every write.
    preload_write_.sync = false;
    open();
  }

  bool find(const Key& k) {
    const be_key key(k);
    typename Lib::value_buffer value;
    const auto s = Lib::get(*db_, read_, to_slice(key), value);
    if (s.IsNotFound()) return false;
    check(s, "Get");
    keep(value_from<Value>(std::string_view(value.data(), value.size())));
    return true;
  }
  bool insert(const Key& k, const Value& v) {
    std::lock_guard lock(stripes_->of(k));
    if (present(k)) return false;
    put(k, v, write_);
    return true;
  }
  void preload_insert(const Key& k, const Value& v) { put(k, v, preload_write_); }
  void insert_or_assign(const Key& k, const Value& v) {
    std::lock_guard lock(stripes_->of(k));
    put(k, v, write_);
  }
  void update(const Key& k) {
    std::lock_guard lock(stripes_->of(k));
    const be_key key(k);
    std::string old;
    const auto s = db_->Get(read_, to_slice(key), &old);
    Value v(1);
    if (s.ok()) {
      v = value_from<Value>(old);
      ++v;
    } else if (!s.IsNotFound()) {
      check(s, "Get");
    }
    put(k, v, write_);
  }
  bool erase(const Key& k) {
    std::lock_guard lock(stripes_->of(k));
    if (!present(k)) return false;
    const be_key key(k);
    check(db_->Delete(write_, to_slice(key)), "Delete");
    return true;
  }
  std::size_t for_each() {
    std::size_t n = 0;
    std::unique_ptr<typename Lib::iterator> it(db_->NewIterator(read_));
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) keep(it->value().data()[0]);
    check(it->status(), "iteration");
    return n;
  }
  // Up to n entries from k on, in key order.
  std::size_t scan(const Key& k, std::size_t n) {
    if (n == 0) return 0;
    const be_key key(k);
    std::size_t seen = 0;
    std::unique_ptr<typename Lib::iterator> it(db_->NewIterator(read_));
    for (it->Seek(to_slice(key)); it->Valid() && seen < n; it->Next(), ++seen)
      keep(value_from<Value>(std::string_view(it->value().data(), it->value().size())));
    check(it->status(), "scan");
    return seen;
  }
  // The tests' view of a scan: the keys, in the order the store gives them.
  template <class F>
  void visit_from(const Key& k, std::size_t n, F&& f) {
    const be_key key(k);
    std::unique_ptr<typename Lib::iterator> it(db_->NewIterator(read_));
    std::size_t seen = 0;
    for (it->Seek(to_slice(key)); it->Valid() && seen < n; it->Next(), ++seen)
      f(key_from_be(std::string_view(it->key().data(), it->key().size())),
        value_from<Value>(std::string_view(it->value().data(), it->value().size())));
  }
  std::size_t size() { return for_each(); }

  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_.path(); }
  // The store compacted: the memtable written out and the whole key range compacted, so
  // that the files hold each live entry once (the "compacted" bytes on disk).
  void flush() { Lib::compact(*db_); }
  // Close (untimed), then DB::Open, which replays the log written since the memtable was
  // last written out.
  std::chrono::nanoseconds reopen() {
    Lib::close(*db_);
    db_.reset();
    const auto t0 = std::chrono::steady_clock::now();
    open();
    return std::chrono::steady_clock::now() - t0;
  }

 private:
  static typename Lib::slice to_slice(const be_key& k) noexcept { return {k.bytes, 8}; }
  static void check(const typename Lib::status& s, const char* what) {
    if (!s.ok()) throw std::runtime_error(std::string(Lib::name) + " " + what + ": " + s.ToString());
  }
  void open() {
    typename Lib::options options;
    options.create_if_missing = true;
    typename Lib::db* db = nullptr;
    check(Lib::db::Open(options, dir_.path().string(), &db), "Open");
    db_.reset(db);
  }
  bool present(const Key& k) {
    const be_key key(k);
    typename Lib::value_buffer value;
    const auto s = Lib::get(*db_, read_, to_slice(key), value);
    if (s.IsNotFound()) return false;
    check(s, "Get");
    return true;
  }
  void put(const Key& k, const Value& v, const typename Lib::write_options& how) {
    const be_key key(k);
    const auto bytes = value_bytes(v);
    check(db_->Put(how, to_slice(key), typename Lib::slice(bytes.data(), bytes.size())), "Put");
  }

  scratch_dir dir_;  // declared first: removed after the DB is closed
  std::unique_ptr<key_stripes> stripes_;
  typename Lib::read_options read_;
  typename Lib::write_options write_;
  typename Lib::write_options preload_write_;
  std::unique_ptr<typename Lib::db> db_;
};

}  // namespace cmap_bench
