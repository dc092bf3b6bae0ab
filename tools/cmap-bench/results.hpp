#pragma once
// What a run measures: one map_result per (workload, map, thread count).

#include <cstdint>
#include <string>
#include <vector>

#include "measures.hpp"

namespace cmap_bench {

struct rep_result {
  double seconds = 0;
  std::uint64_t ops = 0;
  double mops = 0;  // million operations per second, all threads together
};

struct map_result {
  std::string workload;
  std::string map;
  unsigned threads = 1;
  // "ok"; "n/a" (the map cannot run this workload: note says why); "interrupted" (Ctrl-C
  // before the first repetition ended); "unavailable" (the workload cannot run yet).
  std::string status = "ok";
  std::string note;
  bool single_thread_ceiling = false;  // an unlocked map, shown for reference
  std::vector<rep_result> reps;
  double median_mops = 0;
  double min_mops = 0;
  double max_mops = 0;
  double p50_ns = 0;
  double p99_ns = 0;
  double p999_ns = 0;
  std::uint64_t latency_samples = 0;
  latency_histogram latency;  // the samples behind p50/p99/p99.9 (merged across runs)
  // Memory, counted on one thread, untimed: after the first repetition's preload, or after
  // replaying the whole run on one thread when the workload starts empty.
  std::uint64_t entries = 0;
  double bytes_per_entry = 0;        // 0 when not measured
  std::string memory_method;         // "allocated_bytes" (the map's own) or "counting_allocator"
  std::uint64_t peak_rss_bytes = 0;  // process peak RSS during this map's repetitions
  // The durable stores (adapters/durable_common.hpp; docs/cmap-bench.md, "Durable stores").
  bool durable = false;
  // Over the timed phases of every repetition: the key and value bytes the writes asked to
  // store (an insert of a present key and an erase of an absent one store nothing), and what
  // the process's /proc/self/io counted meanwhile: wchar, the bytes handed to write(2) and
  // its kin, and write_bytes, the bytes of the page cache's pages dirtied for the device (a
  // page synced and written again counts again).
  std::uint64_t user_bytes_written = 0;
  std::uint64_t os_bytes_written = 0;
  std::uint64_t device_bytes_written = 0;
  // The sizes of the store's files / its entries after the first repetition, as the run left
  // them and after the store's flush() (compacted: RocksDB's and LevelDB's CompactRange,
  // durable_map's checkpoint; LMDB unchanged). 0 when not measured.
  double disk_bytes_per_entry = 0;
  double compacted_disk_bytes_per_entry = 0;
  // durable-recovery: the median time to reopen the store (each repetition's seconds).
  bool recovery = false;
  double recovery_seconds = 0;

  [[nodiscard]] bool ok() const { return status == "ok"; }
  // Bytes written per user byte; 0 when nothing was written or not measured.
  [[nodiscard]] double os_write_amplification() const {
    return user_bytes_written ? static_cast<double>(os_bytes_written) / user_bytes_written : 0;
  }
  [[nodiscard]] double device_write_amplification() const {
    return user_bytes_written ? static_cast<double>(device_bytes_written) / user_bytes_written
                              : 0;
  }
};

// Fills median/min/max from reps, and the percentiles from latency.
void summarise(map_result& r);

// The rows of one workload, in their order.
std::vector<const map_result*> rows_of(const std::vector<map_result>& results,
                                       const std::string& workload);
// The maps of rows, in order of first appearance.
std::vector<std::string> map_names(const std::vector<const map_result*>& rows);
// The row of map at that thread count; nullptr if there is none.
const map_result* find_row(const std::vector<const map_result*>& rows, const std::string& map,
                           unsigned threads);

}  // namespace cmap_bench
