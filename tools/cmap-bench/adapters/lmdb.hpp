#pragma once
// LMDB (Debian's liblmdb-dev 0.9.24) as a durable store: one environment in a fresh directory
// per map, an 8 GiB map (address space only: the file grows as pages are used), one unnamed
// database. Writes: one write transaction per call, committed durably (LMDB's default: the
// commit writes the pages and syncs, then writes and syncs the meta page). LMDB serialises
// its writers (one write transaction at a time) and has no group commit. NoSync = true opens
// the environment with MDB_NOSYNC: commits are handed to the OS, not synced (≙ sync::none).
//
// Reads: each thread keeps one read-only transaction per environment, reset after each read
// and renewed before the next (mdb_txn_reset / mdb_txn_renew: LMDB's cheap way to take a new
// snapshot, without a reader-table search per read). MDB_NOTLS ties the reader slot to the
// transaction rather than to the thread. The adapter owns those transactions and aborts them
// before it closes the environment.
//
// u64 keys as 8 bytes big-endian (durable_common.hpp) with LMDB's default bytewise compare;
// scans: a cursor, MDB_SET_RANGE, then MDB_NEXT.

#include <lmdb.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "durable_common.hpp"

namespace cmap_bench {

template <class Key, class Value, bool NoSync>
class lmdb_adapter : public memory_from_allocator {
  static_assert(std::is_same_v<Key, std::uint64_t>, "the durable stores take u64 keys");

 public:
  using key_type = Key;
  using value_type = Value;
  explicit lmdb_adapter(std::size_t /*param*/) : dir_(NoSync ? "lmdb-nosync" : "lmdb") { open(); }
  ~lmdb_adapter() { close(); }
  lmdb_adapter(const lmdb_adapter&) = delete;
  lmdb_adapter& operator=(const lmdb_adapter&) = delete;

  bool find(const Key& k) {
    reader r(*this);
    be_key key(k);
    MDB_val kv = val(key);
    MDB_val v;
    const int rc = mdb_get(r.txn, dbi_, &kv, &v);
    if (rc == MDB_NOTFOUND) return false;
    check(rc, "mdb_get");
    keep(value_from<Value>(std::string_view(static_cast<const char*>(v.mv_data), v.mv_size)));
    return true;
  }
  bool insert(const Key& k, const Value& v) { return put(k, v, MDB_NOOVERWRITE); }
  void insert_or_assign(const Key& k, const Value& v) { put(k, v, 0); }
  // The untimed preload: 10,000 keys per write transaction (one commit each), so that a
  // durable environment does not sync once per key.
  void preload_insert(const Key& k, const Value& v) {
    if (preload_txn_ == nullptr) check(mdb_txn_begin(env_, nullptr, 0, &preload_txn_), "begin");
    be_key key(k);
    MDB_val kv = val(key);
    MDB_val vv = val(v);
    check(mdb_put(preload_txn_, dbi_, &kv, &vv, 0), "mdb_put");
    if (++preload_pending_ == 10'000) finish();
  }
  // After the preload (and at the end of each worker's stream): commits a pending preload.
  void finish() {
    std::lock_guard lock(preload_mutex_);
    if (preload_txn_ == nullptr) return;
    check(mdb_txn_commit(preload_txn_), "commit");
    preload_txn_ = nullptr;
    preload_pending_ = 0;
  }
  void update(const Key& k) {
    write_txn w(*this);
    be_key key(k);
    MDB_val kv = val(key);
    MDB_val old;
    Value v(1);
    const int rc = mdb_get(w.txn, dbi_, &kv, &old);
    if (rc == 0) {
      v = value_from<Value>(std::string_view(static_cast<const char*>(old.mv_data), old.mv_size));
      ++v;
    } else if (rc != MDB_NOTFOUND) {
      check(rc, "mdb_get");
    }
    MDB_val vv = val(v);
    check(mdb_put(w.txn, dbi_, &kv, &vv, 0), "mdb_put");
    w.commit();
  }
  bool erase(const Key& k) {
    write_txn w(*this);
    be_key key(k);
    MDB_val kv = val(key);
    const int rc = mdb_del(w.txn, dbi_, &kv, nullptr);
    if (rc == MDB_NOTFOUND) return false;
    check(rc, "mdb_del");
    w.commit();
    return true;
  }
  std::size_t for_each() {
    std::size_t n = 0;
    visit_from(0, ~std::size_t{0}, [&](std::uint64_t, const Value& v) {
      keep(v);
      ++n;
    });
    return n;
  }
  std::size_t scan(const Key& k, std::size_t n) {
    std::size_t seen = 0;
    if (n == 0) return 0;
    visit_from(k, n, [&](std::uint64_t, const Value& v) {
      keep(v);
      ++seen;
    });
    return seen;
  }
  // Up to n entries from k on, in key order, each passed to f(key, value).
  template <class F>
  void visit_from(const Key& k, std::size_t n, F&& f) {
    if (n == 0) return;
    reader r(*this);
    MDB_cursor* cursor = nullptr;
    check(mdb_cursor_open(r.txn, dbi_, &cursor), "mdb_cursor_open");
    be_key key(k);
    MDB_val kv = val(key);
    MDB_val v;
    std::size_t seen = 0;
    for (int rc = mdb_cursor_get(cursor, &kv, &v, MDB_SET_RANGE); rc == 0 && seen < n;
         rc = mdb_cursor_get(cursor, &kv, &v, MDB_NEXT), ++seen)
      f(key_from_be(std::string_view(static_cast<const char*>(kv.mv_data), kv.mv_size)),
        value_from<Value>(std::string_view(static_cast<const char*>(v.mv_data), v.mv_size)));
    mdb_cursor_close(cursor);
  }
  std::size_t size() {
    finish();
    MDB_stat st;
    check(mdb_env_stat(env_, &st), "mdb_env_stat");
    return st.ms_entries;
  }

  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_.path(); }
  // LMDB writes in place and buffers nothing but a pending preload transaction.
  void flush() { finish(); }
  // Close (untimed), then mdb_env_open: LMDB has no log to replay; opening maps the file and
  // reads the meta pages.
  std::chrono::nanoseconds reopen() {
    close();
    const auto t0 = std::chrono::steady_clock::now();
    open();
    return std::chrono::steady_clock::now() - t0;
  }

 private:
  static void check(int rc, const char* what) {
    if (rc != 0) throw std::runtime_error(std::string("lmdb ") + what + ": " + mdb_strerror(rc));
  }
  static MDB_val val(be_key& k) noexcept { return {8, k.bytes}; }
  static MDB_val val(const Value& v) noexcept {
    return {sizeof(Value), const_cast<Value*>(&v)};
  }

  void open() {
    check(mdb_env_create(&env_), "mdb_env_create");
    check(mdb_env_set_mapsize(env_, std::size_t{8} << 30), "mdb_env_set_mapsize");
    check(mdb_env_set_maxreaders(env_, 1024), "mdb_env_set_maxreaders");
    const unsigned flags = MDB_NOTLS | (NoSync ? MDB_NOSYNC : 0u);
    check(mdb_env_open(env_, dir_.path().c_str(), flags, 0644), "mdb_env_open");
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    check(mdb_dbi_open(txn, nullptr, 0, &dbi_), "mdb_dbi_open");
    check(mdb_txn_commit(txn), "mdb_txn_commit");
    id_ = next_id().fetch_add(1, std::memory_order_relaxed) + 1;
  }
  void close() {
    if (env_ == nullptr) return;
    finish();
    for (MDB_txn* t : readers_) mdb_txn_abort(t);
    readers_.clear();
    mdb_env_close(env_);
    env_ = nullptr;
  }

  // This thread's read transaction of this environment, renewed for one read.
  struct reader {
    MDB_txn* txn;
    explicit reader(lmdb_adapter& a) : txn(a.thread_reader()) {}
    ~reader() { mdb_txn_reset(txn); }
  };
  MDB_txn* thread_reader() {
    // The cache names the environment by a number never reused, so that a thread's cached
    // transaction of a closed environment is never taken for this one's.
    thread_local std::uint64_t cached_id = 0;
    thread_local MDB_txn* cached = nullptr;
    if (cached_id == id_) {
      check(mdb_txn_renew(cached), "mdb_txn_renew");
      return cached;
    }
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
    {
      std::lock_guard lock(readers_mutex_);
      readers_.push_back(txn);
    }
    cached_id = id_;
    cached = txn;
    return txn;
  }
  static std::atomic<std::uint64_t>& next_id() {
    static std::atomic<std::uint64_t> id{0};
    return id;
  }

  struct write_txn {
    MDB_txn* txn = nullptr;
    explicit write_txn(lmdb_adapter& a) { check(mdb_txn_begin(a.env_, nullptr, 0, &txn), "begin"); }
    void commit() {
      check(mdb_txn_commit(txn), "mdb_txn_commit");
      txn = nullptr;
    }
    ~write_txn() {
      if (txn != nullptr) mdb_txn_abort(txn);
    }
  };
  bool put(const Key& k, const Value& v, unsigned flags) {
    write_txn w(*this);
    be_key key(k);
    MDB_val kv = val(key);
    MDB_val vv = val(v);
    const int rc = mdb_put(w.txn, dbi_, &kv, &vv, flags);
    if (rc == MDB_KEYEXIST) return false;  // insert of a present key: nothing to commit
    check(rc, "mdb_put");
    w.commit();
    return true;
  }

  scratch_dir dir_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::uint64_t id_ = 0;
  std::mutex readers_mutex_;
  std::vector<MDB_txn*> readers_;
  std::mutex preload_mutex_;
  MDB_txn* preload_txn_ = nullptr;
  std::size_t preload_pending_ = 0;
};

template <class Key, class Value>
using lmdb_sync_adapter = lmdb_adapter<Key, Value, false>;
template <class Key, class Value>
using lmdb_nosync_adapter = lmdb_adapter<Key, Value, true>;

}  // namespace cmap_bench
