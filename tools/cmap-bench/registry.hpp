#pragma once
// The maps cmap-bench knows. Adding a map: one adapter header in adapters/ and one line in
// registry.cpp.

#include <atomic>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "adapters/adapter.hpp"
#include "generator.hpp"
#include "hash_flood.hpp"
#include "results.hpp"
#include "workload.hpp"

namespace cmap_bench {

struct run_request {
  const workload* w = nullptr;
  unsigned threads = 1;
  const streams* ops = nullptr;
  const std::vector<std::string>* string_keys = nullptr;  // key of each index (string keys)
  std::size_t param = 0;                                  // "name:N" variants, 0 = default
  const std::atomic<bool>* stop = nullptr;                // set by Ctrl-C
  bool measure_memory = false;                            // run the memory pass too
  // Repetitions first_rep .. first_rep + rep_count - 1 of the workload's (rep_count 0: all
  // from first_rep). The memory pass belongs to repetition 0.
  unsigned first_rep = 0;
  unsigned rep_count = 0;
};

struct flood_request;  // flood.hpp

// How the hash-flood preset runs a map: where the map puts a hash (which attack keys it
// gets), and one timed run (nothing when Ctrl-C cut it short).
struct flood_support {
  hash_flood::layout layout;
  std::function<std::optional<rep_result>(const flood_request&)> run;
};

struct map_info {
  std::string name;
  std::string family;  // "cmap", "baseline" or "peer"
  std::string description;
  caps can;
  bool takes_param = false;  // "name:N" accepted (sharded_map: shard count)
  bool hidden = false;       // a variant run only when a workload or --maps names it
  std::function<map_result(const run_request&)> run;
  std::optional<flood_support> flood;  // the cmap hash maps: hash-flood can run them
  bool ordered = false;                // has scan (keys in order): the scan operation runs it
  std::string no_scan = {};            // an ordered map without scan: why (the n/a note)
  bool durable = false;                // a durable store: the durable presets run it
};

const std::vector<map_info>& registry();
// Peers that were not found when cmap-bench was configured: "name: skipped: not installed (pkg)".
const std::vector<std::string>& skipped_peers();

// A selected map: the registry entry plus the variant's parameter and display name.
struct selected_map {
  const map_info* info = nullptr;
  std::size_t param = 0;
  std::string name;
};
// Resolves names and globs ("sharded_map:16", "tbb_*", "*"); throws usage_error on a name
// that matches nothing. Hidden variants are matched by exact name only.
std::vector<selected_map> select_maps(const std::vector<std::string>& patterns);

}  // namespace cmap_bench
