#pragma once
// cmap-bench workloads: what one measurement runs (threads, operation count or duration, key
// universe and type, value size, operation mix, key distribution, preload, seed), the named
// presets of docs/cmap-bench.md, and the parsing of workload files (JSON).
//
// Every problem a user can cause (unknown preset, malformed file, contradictory or impossible
// parameters) is reported by throwing usage_error with a message that names the problem; the
// command line turns it into exit status 2.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cmap_bench {

// A user error: the message is printed as is, and the tool exits with status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class op_kind : std::uint8_t {
  find,
  find_miss,
  insert,
  insert_or_assign,
  update,
  erase,
  for_each,
  scan,  // the ordered maps only: scan_length entries from a key on, in key order
  // The ordered maps, string keys only: the keys that start with the key's first
  // key_length - 2 characters (the 100 indices that share index / 100 when the universe is
  // dense), at most scan_length of them, in key order.
  prefix_scan
};
inline constexpr int op_kind_count = 9;
const char* op_name(op_kind k) noexcept;

// shuffled: like sequential (thread t takes positions t, t + T, ... of one order of the
// universe, so each key once per key_universe operations) but the order is a seeded random
// permutation rather than ascending: distinct keys that an ordered map does not receive in
// key order.
enum class key_dist : std::uint8_t { uniform, zipf, sequential, hotset, shuffled };
const char* dist_name(key_dist d) noexcept;

struct distribution {
  key_dist type = key_dist::uniform;
  double theta = 0.99;           // zipf
  double hot_fraction = 0.01;    // hotset: this fraction of the keys ...
  double hot_probability = 0.9;  // ... receives this fraction of the accesses
};

struct workload {
  std::string name = "custom";
  std::string description;
  std::vector<unsigned> threads{1, 2};
  std::uint64_t ops = 1'000'000;  // total over all threads (0 when duration_ms is used)
  std::uint64_t duration_ms = 0;  // if > 0: each thread cycles its stream until time is up
  std::uint64_t key_universe = 100'000;
  bool string_keys = false;
  // u64 keys only: key i is i + 1 (dense, the default: a radix tree's best case, every node
  // full) or mix64(i + 1), a bijection, so the keys are distinct and spread over all of u64
  // as random keys are (random: the ordered presets).
  bool random_u64_keys = false;
  unsigned key_length = 16;  // string keys only
  // String keys only: the key is this prefix and the key's index in decimal, zero-padded to
  // key_length characters in all ("uid:" gives "uid:00000042"; the ordered preset).
  std::string key_prefix;
  unsigned scan_length = 100;  // scan, prefix_scan: how many entries one scan visits (at most)
  unsigned value_size = 8;     // bytes: 8, 64, 256 or 1024; 100 (the durable stores only)
  double mix[op_kind_count] = {100};  // percent, indexed by op_kind
  distribution dist;
  double preload = 1.0;  // fraction of the key universe inserted before timing
  std::uint64_t seed = 42;
  unsigned repetitions = 3;
  // The maps this workload compares by default (empty: every registered map). Presets
  // that are about one map's variants (lock-scope, shard-scaling) name them here.
  std::vector<std::string> maps;
  // Non-empty: the workload cannot run yet, and this says why (it is reported, never faked).
  std::string unavailable;
  // The hash-flood measurement (flood.hpp) instead of operation streams: key_universe keys
  // inserted into an empty map, then each found once (ops = 2 * key_universe), for three key
  // sets; mix, distribution and preload describe it and are not used.
  bool hash_flood = false;
  // durable-recovery: each durable store is preloaded (its log written, not synced), closed
  // and reopened; the reopening is timed instead of operation streams.
  bool recovery = false;

  [[nodiscard]] bool has(op_kind k) const { return mix[static_cast<int>(k)] > 0; }
  [[nodiscard]] bool writes() const;
  [[nodiscard]] std::string mix_string() const;
  [[nodiscard]] std::string dist_string() const;
};

// Throws usage_error naming the first problem found.
void validate(const workload& w);

// The named presets, in the order of docs/cmap-bench.md.
const std::vector<std::string>& preset_names();
// Throws usage_error for an unknown name (listing the known ones).
workload preset(const std::string& name);
// The workloads `--preset name` runs: the preset itself, and for hash-flood and ordered the
// same with string keys too (named hash-flood-string, ordered-string). The ordered-* presets
// run one key type each: ordered-prefix and ordered-uid string keys, the others u64.
std::vector<workload> preset_runs(const std::string& name);
// The presets of --standard, sized to finish in about 3 minutes on a 2-core machine.
std::vector<workload> standard_suite();

// A workload file: a JSON object, optionally starting from {"preset": NAME}. Unknown fields,
// wrong types and invalid values throw usage_error naming the file and the field.
workload parse_workload_json(const nlohmann::json& j, const std::string& origin);
// A workload file: TOML if its name ends in .toml (when built with toml++; otherwise the error
// "TOML support not compiled in; use JSON"), else JSON. Both go through parse_workload_json.
workload load_workload_file(const std::string& path);
// The same, from the text of such a file: TOML if toml, else JSON; origin names it in errors.
workload parse_workload_text(std::string_view text, const std::string& origin, bool toml);
// Whether this build reads TOML workload files.
bool toml_supported();

// "find=90,update=10" -> mix (percent); throws usage_error.
void parse_mix(const std::string& text, workload& w);
// "uniform", "zipf", "zipf:0.8", "sequential", "shuffled", "hotset:0.01:0.9"; throws
// usage_error.
distribution parse_distribution(const std::string& text);

nlohmann::json to_json(const workload& w);

}  // namespace cmap_bench
