#pragma once
// RocksDB (Debian's librocksdb-dev 7.8) as a durable store, through lsm_store_adapter
// (lsm_store.hpp, which says how it is configured): its default options, a 64 MiB memtable,
// block cache and compaction. Sync = true: every write returns once its WAL record is
// fdatasync'd; RocksDB groups concurrent writers into one WAL write and one sync. Reads: Get
// into a PinnableSlice (no copy of the value).

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>

#include "lsm_store.hpp"

namespace cmap_bench {

struct rocksdb_lib {
  using db = rocksdb::DB;
  using iterator = rocksdb::Iterator;
  using slice = rocksdb::Slice;
  using status = rocksdb::Status;
  using options = rocksdb::Options;
  using read_options = rocksdb::ReadOptions;
  using write_options = rocksdb::WriteOptions;
  using value_buffer = rocksdb::PinnableSlice;
  static constexpr const char* name = "rocksdb";
  static constexpr const char* sync_dir = "rocksdb-sync";
  static constexpr const char* nosync_dir = "rocksdb-nosync";
  static status get(db& d, const read_options& r, const slice& k, value_buffer& v) {
    return d.Get(r, d.DefaultColumnFamily(), k, &v);
  }
  // The memtable written out and the whole key range compacted, so that the files hold each
  // live entry once (the "compacted" bytes on disk).
  static void compact(db& d) {
    check(d.Flush(rocksdb::FlushOptions{}), "Flush");
    check(d.CompactRange(rocksdb::CompactRangeOptions{}, nullptr, nullptr), "CompactRange");
  }
  static void close(db& d) { check(d.Close(), "Close"); }
  static void check(const status& s, const char* what) {
    if (!s.ok()) throw std::runtime_error(std::string("rocksdb ") + what + ": " + s.ToString());
  }
};

template <class Key, class Value>
using rocksdb_sync_adapter = lsm_store_adapter<rocksdb_lib, Key, Value, true>;
template <class Key, class Value>
using rocksdb_nosync_adapter = lsm_store_adapter<rocksdb_lib, Key, Value, false>;

}  // namespace cmap_bench
