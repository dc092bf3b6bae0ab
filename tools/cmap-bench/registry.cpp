// The registry: one line per map. The peers are compiled in when CMake found them
// (CMAP_BENCH_HAVE_*); otherwise they are listed in skipped_peers().

#include "registry.hpp"

#include <fmt/format.h>
#include <fnmatch.h>

#include "adapters/art_map.hpp"
#include "adapters/concurrent_hash_map.hpp"
#include "adapters/cow_map.hpp"
#include "adapters/locked_map.hpp"
#include "adapters/locked_ordered.hpp"
#include "adapters/read_mostly_map.hpp"
#include "adapters/serial_map.hpp"
#include "adapters/sharded_map.hpp"
#include "adapters/snapshot_map.hpp"
#include "adapters/std_shared_mutex.hpp"
#include "adapters/unlocked_ordered.hpp"
#include "flood.hpp"
#include "runner.hpp"
#ifdef CMAP_BENCH_HAVE_TBB
#include "adapters/tbb_concurrent_map.hpp"
#include "adapters/tbb_hash_map.hpp"
#include "adapters/tbb_unordered_map.hpp"
#endif
#ifdef CMAP_BENCH_HAVE_LIBCUCKOO
#include "adapters/cuckoo.hpp"
#endif
#ifdef CMAP_BENCH_HAVE_ABSL
#include "adapters/absl_btree_shared_mutex.hpp"
#include "adapters/absl_btree_unlocked.hpp"
#include "adapters/absl_flat_map.hpp"
#endif
#ifdef CMAP_BENCH_HAVE_BOOST
#include "adapters/boost_flat_map.hpp"
#endif
#include "adapters/durable_map.hpp"
#ifdef CMAP_BENCH_HAVE_ROCKSDB
#include "adapters/rocksdb.hpp"
#endif
#ifdef CMAP_BENCH_HAVE_LEVELDB
#include "adapters/leveldb.hpp"
#endif
#ifdef CMAP_BENCH_HAVE_LMDB
#include "adapters/lmdb.hpp"
#endif

namespace cmap_bench {

#ifdef CMAP_BENCH_HAVE_LIBCDS
map_result run_libcds_split_list(const run_request& rq);  // libcds_peer.cpp
map_result run_libcds_skip_list(const run_request& rq);   // libcds_peer.cpp
#endif

namespace {
constexpr caps concurrent_full{};
constexpr caps single_thread_only{false, false, false, false};
using hash_flood::layout;
}  // namespace

const std::vector<map_info>& registry() {
  static const std::vector<map_info> maps = {
      // ---- cmap maps (common surface) --------------------------------------------------------
      {"concurrent_hash_map", "cmap", "cmap::concurrent_hash_map: lock-free reads, striped writers",
       concurrent_full, false, false, run_adapter<concurrent_hash_map_adapter>,
       flood_with<concurrent_hash_map_adapter>(layout::concurrent_groups)},
      {"concurrent_hash_map_compact", "cmap",
       "cmap::concurrent_hash_map growing by half instead of doubling (growth_policy::"
       "grow_by_half: less memory per entry, a little slower; run only when named)",
       concurrent_full, false, true, run_adapter<compact_concurrent_hash_map_adapter>,
       flood_with<compact_concurrent_hash_map_adapter>(layout::concurrent_groups)},
      {"read_mostly_map", "cmap",
       "cmap::read_mostly_map: sync.Map's operations on concurrent_hash_map's engine",
       concurrent_full, false, false, run_adapter<read_mostly_map_adapter>,
       flood_with<read_mostly_map_adapter>(layout::concurrent_groups)},
      {"locked_map", "cmap", "cmap::locked_map: one reader-writer lock", concurrent_full, false,
       false, run_adapter<locked_map_adapter>, flood_with<locked_map_adapter>(layout::flat_groups)},
      {"sharded_map", "cmap", "cmap::sharded_map: lock striping ('sharded_map:N' for N shards)",
       concurrent_full, true, false, run_adapter<sharded_map_adapter>,
       flood_with<sharded_map_adapter>(layout::sharded)},
      {"snapshot_map", "cmap",
       "cmap::snapshot_map: persistent trie, O(1) snapshots, lock-free reads, serialised writers "
       "(run only when named, and by cow-vs-persistent and hash-flood: its preload of 1M keys "
       "would take a minute of the standard suite)",
       concurrent_full, false, true, run_adapter<snapshot_map_adapter>,
       flood_with<snapshot_map_adapter>(layout::trie)},
      {"serial_map", "cmap",
       "cmap::serial_map: writes queued to one owner thread, applied in batches; synchronous "
       "calls (run only when named, and by hash-flood: its synchronous writes would dominate the "
       "standard suite)",
       concurrent_full, false, true, run_adapter<serial_map_adapter>,
       flood_with<serial_map_adapter>(layout::trie)},
      {"serial_map+async", "cmap",
       "serial_map, writes submitted without waiting (submit_*), each thread flushes at the end "
       "(timed); latencies are submission latencies",
       concurrent_full, false, true, run_adapter<serial_map_async_adapter>, std::nullopt},
      {"art_map", "cmap",
       "cmap::art_map: ordered (adaptive radix tree), optimistic lock coupling, lock-free reads "
       "(no hash: not in hash-flood)",
       concurrent_full, false, false, run_adapter<art_map_adapter>, std::nullopt, true},
      // ---- durable stores (the durable-* presets; run only when named) ------------------------
      {"durable_map_group", "cmap",
       "cmap::durable_map, sync::group: art_map + a write-ahead log, concurrent writers share "
       "one fdatasync (group commit)",
       concurrent_full, false, true, run_durable_adapter<durable_map_group_adapter>, std::nullopt,
       true, {}, true},
      {"durable_map_every_write", "cmap",
       "cmap::durable_map, sync::every_write: one fdatasync per write", concurrent_full, false,
       true, run_durable_adapter<durable_map_every_write_adapter>, std::nullopt, true, {}, true},
      {"durable_map_none", "cmap",
       "cmap::durable_map, sync::none: each write handed to the OS (write(2)), not synced",
       concurrent_full, false, true, run_durable_adapter<durable_map_none_adapter>, std::nullopt,
       true, {}, true},
      {"locked_map+log-inside", "cmap", "locked_map, each update logged inside the lock",
       concurrent_full, false, true, run_adapter<locked_map_log_inside>, std::nullopt},
      {"locked_map+log-outside", "cmap", "locked_map, each update logged before taking the lock",
       concurrent_full, false, true, run_adapter<locked_map_log_outside>, std::nullopt},
      // ---- the hand-made baseline --------------------------------------------------------------
      {"std_shared_mutex", "baseline", "std::unordered_map behind one std::shared_mutex",
       concurrent_full, false, false, run_adapter<std_shared_mutex_adapter>, std::nullopt},
      {"cow_map", "baseline",
       "an immutable std::unordered_map behind an atomically published pointer, copied whole on "
       "every write",
       concurrent_full, false, true, run_adapter<cow_map_adapter>, std::nullopt},
      {"std_map_shared_mutex", "baseline",
       "std::map behind one std::shared_mutex: the ordered baseline (run only when named: the "
       "ordered peers would add minutes to the standard suite)",
       concurrent_full, false, true, run_adapter<std_map_shared_mutex_adapter>, std::nullopt, true},
      {"std_map_unlocked", "baseline",
       "std::map, no lock (single-thread ceiling of the ordered maps; run only when named)",
       single_thread_only, false, true, run_adapter<std_map_unlocked_adapter>, std::nullopt, true},
  // ---- peers ---------------------------------------------------------------------------------
#ifdef CMAP_BENCH_HAVE_TBB
      {"tbb_hash_map", "peer", "tbb::concurrent_hash_map (oneTBB)", caps{true, true, true, false},
       false, false, run_adapter<tbb_hash_map_adapter>, std::nullopt},
      {"tbb_unordered_map", "peer", "tbb::concurrent_unordered_map (oneTBB)",
       caps{true, false, false, true}, false, false, run_adapter<tbb_unordered_map_adapter>,
       std::nullopt},
      {"tbb_concurrent_map", "peer",
       "tbb::concurrent_map (oneTBB): ordered, a skip list (run only when named)",
       caps{true, false, false, true}, false, true, run_adapter<tbb_concurrent_map_adapter>,
       std::nullopt, true},
#endif
#ifdef CMAP_BENCH_HAVE_LIBCUCKOO
      {"cuckoo", "peer", "libcuckoo::cuckoohash_map", concurrent_full, false, false,
       run_adapter<cuckoo_adapter>, std::nullopt},
#endif
#ifdef CMAP_BENCH_HAVE_LIBCDS
      {"libcds_split_list", "peer",
       "cds::container::SplitListMap (libcds): lock-free, hazard pointers",
       caps{true, true, true, false}, false, false, run_libcds_split_list, std::nullopt},
      {"libcds_skip_list", "peer",
       "cds::container::SkipListMap (libcds): ordered, lock-free, hazard pointers; no scan (its "
       "iterator starts only at the first key) (run only when named)",
       caps{true, true, true, false}, false, true, run_libcds_skip_list, std::nullopt, false,
       "libcds's skip list iterates only from its first key"},
#endif
#ifdef CMAP_BENCH_HAVE_ABSL
      {"absl_flat_map", "peer", "absl::flat_hash_map, no lock (single-thread ceiling)",
       single_thread_only, false, false, run_adapter<absl_flat_map_adapter>, std::nullopt},
      {"absl_btree_shared_mutex", "peer",
       "absl::btree_map behind one std::shared_mutex: ordered (run only when named)",
       concurrent_full, false, true, run_adapter<absl_btree_shared_mutex_adapter>, std::nullopt,
       true},
      {"absl_btree_unlocked", "peer",
       "absl::btree_map, no lock (single-thread ceiling of the ordered maps; run only when named)",
       single_thread_only, false, true, run_adapter<absl_btree_unlocked_adapter>, std::nullopt,
       true},
#endif
#ifdef CMAP_BENCH_HAVE_ROCKSDB
      {"rocksdb_sync", "peer",
       "RocksDB, WriteOptions::sync = true (its write groups share one WAL sync); durable",
       concurrent_full, false, true, run_durable_adapter<rocksdb_sync_adapter>, std::nullopt,
       true, {}, true},
      {"rocksdb_nosync", "peer", "RocksDB, WAL on, sync = false; durable presets",
       concurrent_full, false, true, run_durable_adapter<rocksdb_nosync_adapter>, std::nullopt,
       true, {}, true},
#endif
#ifdef CMAP_BENCH_HAVE_LEVELDB
      {"leveldb_sync", "peer",
       "LevelDB, WriteOptions::sync = true (its writer queue shares one log sync); durable",
       concurrent_full, false, true, run_durable_adapter<leveldb_sync_adapter>, std::nullopt,
       true, {}, true},
      {"leveldb_nosync", "peer", "LevelDB, log on, sync = false; durable presets",
       concurrent_full, false, true, run_durable_adapter<leveldb_nosync_adapter>, std::nullopt,
       true, {}, true},
#endif
#ifdef CMAP_BENCH_HAVE_LMDB
      {"lmdb", "peer",
       "LMDB, durable commits, one write transaction per write (writers serialised); durable",
       concurrent_full, false, true, run_durable_adapter<lmdb_sync_adapter>, std::nullopt, true,
       {}, true},
      {"lmdb_nosync", "peer", "LMDB with MDB_NOSYNC; durable presets", concurrent_full, false,
       true, run_durable_adapter<lmdb_nosync_adapter>, std::nullopt, true, {}, true},
#endif
#ifdef CMAP_BENCH_HAVE_BOOST
      {"boost_flat_map", "peer", "boost::unordered_flat_map, no lock (single-thread ceiling)",
       single_thread_only, false, false, run_adapter<boost_flat_map_adapter>, std::nullopt},
#endif
  };
  return maps;
}

const std::vector<std::string>& skipped_peers() {
  static const std::vector<std::string> skipped = [] {
    std::vector<std::string> out;
#ifndef CMAP_BENCH_HAVE_TBB
    out.emplace_back(
        "tbb_hash_map, tbb_unordered_map, tbb_concurrent_map: skipped: not installed (libtbb-dev)");
#endif
#ifndef CMAP_BENCH_HAVE_LIBCUCKOO
    out.emplace_back("cuckoo: skipped: not installed (libcuckoo-dev)");
#endif
#if defined(CMAP_BENCH_LIBCDS_SKIPPED_TSAN)
    out.emplace_back(
        "libcds_split_list, libcds_skip_list: skipped: not built under ThreadSanitizer "
        "(libcds's list unlinks nodes with an acquire-only CAS, which TSan reports; "
        "docs/cmap-bench.md)");
#elif !defined(CMAP_BENCH_HAVE_LIBCDS)
    out.emplace_back("libcds_split_list, libcds_skip_list: skipped: not installed (libcds-dev)");
#endif
#ifndef CMAP_BENCH_HAVE_ABSL
    out.emplace_back(
        "absl_flat_map, absl_btree_shared_mutex, absl_btree_unlocked: skipped: not installed "
        "(libabsl-dev)");
#endif
#ifndef CMAP_BENCH_HAVE_BOOST
    out.emplace_back("boost_flat_map: skipped: not installed (libboost-dev 1.81+)");
#endif
#ifndef CMAP_BENCH_HAVE_ROCKSDB
    out.emplace_back("rocksdb_sync, rocksdb_nosync: skipped: not installed (librocksdb-dev)");
#endif
#ifndef CMAP_BENCH_HAVE_LEVELDB
    out.emplace_back("leveldb_sync, leveldb_nosync: skipped: not installed (libleveldb-dev)");
#endif
#ifndef CMAP_BENCH_HAVE_LMDB
    out.emplace_back("lmdb, lmdb_nosync: skipped: not installed (liblmdb-dev)");
#endif
    out.emplace_back("boost_concurrent_flat_map: skipped: needs Boost 1.83+ (Debian 12 has 1.81)");
    return out;
  }();
  return skipped;
}

std::vector<selected_map> select_maps(const std::vector<std::string>& patterns) {
  std::vector<selected_map> out;
  auto add = [&](const map_info& m, std::size_t param, const std::string& name) {
    for (const auto& s : out)
      if (s.name == name) return;
    out.push_back({&m, param, name});
  };
  for (const auto& pattern : patterns) {
    bool matched = false;
    const auto colon = pattern.find(':');
    if (colon != std::string::npos) {
      const std::string base = pattern.substr(0, colon);
      const std::string number = pattern.substr(colon + 1);
      std::size_t param = 0;
      try {
        std::size_t used = 0;
        param = std::stoull(number, &used);
        if (used != number.size()) throw std::invalid_argument(number);
      } catch (const std::exception&) {
        throw usage_error(fmt::format("map '{}': '{}' is not a number", pattern, number));
      }
      for (const auto& m : registry()) {
        if (m.name != base) continue;
        if (!m.takes_param) throw usage_error(fmt::format("map '{}' takes no ':N' variant", base));
        if (base == "sharded_map" && (param == 0 || param > 65536 || (param & (param - 1)) != 0))
          throw usage_error(fmt::format(
              "map '{}': the shard count must be a power of two from 1 to 65536", pattern));
        add(m, param, pattern);
        matched = true;
      }
    } else {
      for (const auto& m : registry()) {
        const bool exact = m.name == pattern;
        const bool glob = !m.hidden && fnmatch(pattern.c_str(), m.name.c_str(), 0) == 0;
        if (exact || glob) {
          add(m, 0, m.name);
          matched = true;
        }
      }
    }
    if (!matched) {
      std::string known;
      for (const auto& m : registry()) known += (known.empty() ? "" : ", ") + m.name;
      std::string skipped;
      for (const auto& s : skipped_peers())
        if (s.find(pattern) != std::string::npos) skipped = fmt::format(" ({})", s);
      throw usage_error(fmt::format("unknown map '{}'{} (known: {})", pattern, skipped, known));
    }
  }
  return out;
}

}  // namespace cmap_bench
