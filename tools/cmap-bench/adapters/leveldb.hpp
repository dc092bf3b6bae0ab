#pragma once
// LevelDB (Debian's libleveldb-dev 1.23) as a durable store, through lsm_store_adapter
// (lsm_store.hpp, which says how it is configured): its default options, a 4 MiB write
// buffer, an 8 MiB block cache, no Bloom filter. Sync = true: every write returns once its log
// record is fsync'd; LevelDB groups concurrent writers itself. Reads: Get into a std::string
// (LevelDB has no other way).

#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/slice.h>

#include "lsm_store.hpp"

namespace cmap_bench {

struct leveldb_lib {
  using db = leveldb::DB;
  using iterator = leveldb::Iterator;
  using slice = leveldb::Slice;
  using status = leveldb::Status;
  using options = leveldb::Options;
  using read_options = leveldb::ReadOptions;
  using write_options = leveldb::WriteOptions;
  using value_buffer = std::string;
  static constexpr const char* name = "leveldb";
  static constexpr const char* sync_dir = "leveldb-sync";
  static constexpr const char* nosync_dir = "leveldb-nosync";
  static status get(db& d, const read_options& r, const slice& k, value_buffer& v) {
    return d.Get(r, k, &v);
  }
  // CompactRange writes the memtable out and compacts the whole key range, so that the files
  // hold each live entry once (the "compacted" bytes on disk).
  static void compact(db& d) { d.CompactRange(nullptr, nullptr); }
  static void close(db&) {}  // deleting the DB closes it
};

template <class Key, class Value>
using leveldb_sync_adapter = lsm_store_adapter<leveldb_lib, Key, Value, true>;
template <class Key, class Value>
using leveldb_nosync_adapter = lsm_store_adapter<leveldb_lib, Key, Value, false>;

}  // namespace cmap_bench
