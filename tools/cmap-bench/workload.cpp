#include "workload.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#ifdef CMAP_BENCH_HAVE_TOML
#include <toml++/toml.h>
#endif

namespace cmap_bench {

namespace {

constexpr const char* op_names[op_kind_count] = {
    "find",  "find_miss", "insert", "insert_or_assign", "update",
    "erase", "for_each",  "scan",   "prefix_scan"};

void set_mix(workload& w, std::initializer_list<std::pair<op_kind, double>> parts) {
  std::fill(std::begin(w.mix), std::end(w.mix), 0.0);
  for (auto [k, p] : parts) w.mix[static_cast<int>(k)] = p;
}

op_kind op_from_name(const std::string& name, const std::string& where) {
  std::string known;
  for (int i = 0; i < op_kind_count; ++i) {
    if (name == op_names[i]) return static_cast<op_kind>(i);
    known += (known.empty() ? "" : ", ") + std::string(op_names[i]);
  }
  throw usage_error(fmt::format("{}: unknown operation '{}' (known: {})", where, name, known));
}

double parse_double(const std::string& text, const std::string& what) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(v)) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    throw usage_error(fmt::format("{}: '{}' is not a number", what, text));
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

}  // namespace

const char* op_name(op_kind k) noexcept { return op_names[static_cast<int>(k)]; }

const char* dist_name(key_dist d) noexcept {
  switch (d) {
    case key_dist::uniform:
      return "uniform";
    case key_dist::zipf:
      return "zipf";
    case key_dist::sequential:
      return "sequential";
    case key_dist::shuffled:
      return "shuffled";
    case key_dist::hotset:
      return "hotset";
  }
  return "?";
}

bool workload::writes() const {
  return has(op_kind::insert) || has(op_kind::insert_or_assign) || has(op_kind::update) ||
         has(op_kind::erase);
}

std::string workload::mix_string() const {
  std::string out;
  for (int i = 0; i < op_kind_count; ++i) {
    if (mix[i] <= 0) continue;
    if (!out.empty()) out += ',';
    out += fmt::format("{}={:g}", op_names[i], mix[i]);
  }
  return out;
}

std::string workload::dist_string() const {
  switch (dist.type) {
    case key_dist::zipf:
      return fmt::format("zipf:{:g}", dist.theta);
    case key_dist::hotset:
      return fmt::format("hotset:{:g}:{:g}", dist.hot_fraction, dist.hot_probability);
    default:
      return dist_name(dist.type);
  }
}

void validate(const workload& w) {
  const std::string where = fmt::format("workload '{}'", w.name);
  if (w.threads.empty()) throw usage_error(where + ": the thread list is empty");
  for (unsigned t : w.threads)
    if (t == 0 || t > 1024)
      throw usage_error(fmt::format("{}: thread count {} is out of range (1 to 1024)", where, t));
  if (w.ops == 0 && w.duration_ms == 0)
    throw usage_error(where + ": give either ops (> 0) or duration_ms (> 0)");
  if (w.ops != 0 && w.duration_ms != 0)
    throw usage_error(where + ": ops and duration_ms contradict each other; give only one");
  if (w.duration_ms > 600'000) throw usage_error(where + ": duration_ms above 600000 (10 minutes)");
  if (w.ops > 2'000'000'000ULL)
    throw usage_error(where + ": ops above 2e9 cannot be pre-generated");
  for (unsigned t : w.threads)
    if (w.ops != 0 && w.ops < t)
      throw usage_error(fmt::format("{}: {} ops cannot be shared by {} threads", where, w.ops, t));
  if (w.key_universe == 0) throw usage_error(where + ": key_universe must be at least 1");
  if (w.key_universe > (1ULL << 32))
    throw usage_error(where + ": key_universe above 2^32 is not supported");
  if (w.string_keys && (w.key_length < 8 || w.key_length > 256))
    throw usage_error(
        fmt::format("{}: key_length {} is out of range (8 to 256)", where, w.key_length));
  if (w.value_size != 8 && w.value_size != 64 && w.value_size != 100 && w.value_size != 256 &&
      w.value_size != 1024)
    throw usage_error(fmt::format(
        "{}: value_size {} is not supported (8, 64, 256 or 1024 bytes; 100 for the durable "
        "stores)",
        where, w.value_size));
  if (w.string_keys && w.key_prefix.size() + 1 > w.key_length)
    throw usage_error(
        fmt::format("{}: key_prefix '{}' leaves no room for the index in {} "
                    "characters (key_length)",
                    where, w.key_prefix, w.key_length));
  if ((w.has(op_kind::scan) || w.has(op_kind::prefix_scan)) &&
      (w.scan_length == 0 || w.scan_length > 1'000'000))
    throw usage_error(
        fmt::format("{}: scan_length {} is out of range (1 to 1000000)", where, w.scan_length));
  // A u64 key has no characters to share: the prefix scan is the string keys' (the range scan
  // of u64 keys is scan).
  if (w.has(op_kind::prefix_scan) && !w.string_keys)
    throw usage_error(where +
                      ": prefix_scan needs string keys (--key-type string, or key_type "
                      "\"string\"); for u64 keys use scan");
  double sum = 0;
  for (double p : w.mix) {
    if (p < 0 || !std::isfinite(p)) throw usage_error(where + ": a mix percentage is negative");
    sum += p;
  }
  if (std::fabs(sum - 100.0) > 1e-6)
    throw usage_error(fmt::format("{}: the operation mix adds up to {:g}%, not 100%", where, sum));
  if (w.preload < 0 || w.preload > 1 || !std::isfinite(w.preload))
    throw usage_error(
        fmt::format("{}: preload {:g} is not a fraction in [0, 1]", where, w.preload));
  if (w.dist.type == key_dist::zipf && (w.dist.theta < 0 || w.dist.theta > 5))
    throw usage_error(
        fmt::format("{}: zipf theta {:g} is out of range (0 to 5)", where, w.dist.theta));
  if (w.dist.type == key_dist::hotset && (w.dist.hot_fraction <= 0 || w.dist.hot_fraction >= 1 ||
                                          w.dist.hot_probability < 0 || w.dist.hot_probability > 1))
    throw usage_error(where + ": hotset needs 0 < hot_fraction < 1 and 0 <= hot_probability <= 1");
  // At least 3: a median with a min and a max that can differ from it.
  if (w.repetitions < 3 || w.repetitions > 100)
    throw usage_error(
        fmt::format("{}: repetitions {} is out of range (3 to 100)", where, w.repetitions));
  // Contradictions: reads of a map that is empty and never written find nothing to measure.
  if (!w.writes() && w.preload == 0 &&
      (w.has(op_kind::find) || w.has(op_kind::for_each) || w.has(op_kind::scan) ||
       w.has(op_kind::prefix_scan)))
    throw usage_error(where +
                      ": a read-only mix over an empty map (preload 0) measures nothing; "
                      "set preload > 0 or add writes");
  if (w.dist.type == key_dist::sequential && w.has(op_kind::find) && !w.writes() && w.preload < 1)
    throw usage_error(where + ": sequential reads of a partly preloaded map: use preload 1");
  if (w.hash_flood) {
    if (w.duration_ms != 0 || w.ops != 2 * w.key_universe)
      throw usage_error(where +
                        ": hash-flood inserts each key once and finds it once, so its ops are "
                        "2 * key_universe; give the keys (--keys), not ops or a duration");
    if (w.value_size != 8) throw usage_error(where + ": hash-flood measures 8-byte values only");
    // The attacked runs are quadratic (a cycle of 20k keys takes about a second, of 100k about
    // 25), and each string attack key costs thousands of candidates to find.
    if (w.key_universe > 100'000)
      throw usage_error(where + ": hash-flood takes at most 100000 keys");
  }
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {
      "parallel-load",     "read-heavy",     "read-only",       "mixed",
      "insert-only",       "write-heavy",    "lock-scope",      "shard-scaling",
      "cow-vs-persistent", "hash-flood",     "ordered",         "ordered-lookup",
      "ordered-90-10",     "ordered-scan10", "ordered-scan100", "ordered-prefix",
      "ordered-insert",    "ordered-uid",    "durable-fill",    "durable-fill-100",
      "durable-overwrite", "durable-overwrite-100", "durable-read", "durable-90-10",
      "durable-scan100",   "durable-recovery"};
  return names;
}

namespace {

// What the ordered-* presets share (ordered itself keeps its smaller, half-preloaded set-up):
// 1M keys, all preloaded, uniform, at 1, 2 and 8 threads, over every ordered map. A name this
// build lacks is left out with a line in the report (maps_for): the unlocked baselines and
// libcds's skip list are not in every build, and the unlocked maps run at 1 thread only.
// String keys, where a preset or --key-type asks for them, are "uid:" + 8 digits. The
// description is the preset's mix; the maps and the threads are appended here.
void ordered_set_up(workload& w, const std::string& mix) {
  w.description = mix +
                  "; art_map vs std::map and absl::btree_map (behind a shared_mutex, and unlocked "
                  "at 1 thread), tbb::concurrent_map, libcds's skip list; 1, 2 and 8 threads";
  w.threads = {1, 2, 8};
  w.key_universe = 1'000'000;
  w.preload = 1;
  w.dist.type = key_dist::uniform;
  w.random_u64_keys = true;
  w.key_prefix = "uid:";
  w.key_length = 12;
  w.maps = {
      "art_map",          "std_map_shared_mutex", "absl_btree_shared_mutex", "tbb_concurrent_map",
      "libcds_skip_list", "std_map_unlocked",     "absl_btree_unlocked"};
}

// What the durable-* presets share: u64 keys spread over all of u64, 8-byte values, 1, 2 and 8
// threads. The write presets compare every durable store in each of its sync modes; the read
// presets (whose reads do not depend on the sync mode) one map per store, in its durable
// mode, since every repetition preloads a fresh store.
void durable_set_up(workload& w, const std::string& what, bool every_mode) {
  w.description = what +
                  (every_mode ? "; durable_map (group, every_write, none) vs RocksDB and LevelDB "
                                "(sync, nosync), LMDB (durable, MDB_NOSYNC)"
                              : "; durable_map (group) vs RocksDB and LevelDB (sync), LMDB");
  w.description += "; 1, 2 and 8 threads";
  w.threads = {1, 2, 8};
  w.random_u64_keys = true;
  w.dist.type = key_dist::uniform;
  w.preload = 1;
  if (every_mode)
    w.maps = {"durable_map_group", "durable_map_every_write", "durable_map_none",
              "rocksdb_sync",      "rocksdb_nosync",          "leveldb_sync",
              "leveldb_nosync",    "lmdb",                    "lmdb_nosync"};
  else
    w.maps = {"durable_map_group", "rocksdb_sync", "leveldb_sync", "lmdb"};
}

}  // namespace

workload preset(const std::string& name) {
  workload w;
  w.name = name;
  w.threads = {1, 2, 4};
  if (name == "parallel-load") {
    // Boost.Unordered's concurrent benchmark: int -> int from empty, 10*N operations: 10%
    // upsert-increment and 45% lookups of Zipf keys over [1,N], 45% lookups over [N+1,2N].
    w.description =
        "Boost.Unordered's parallel load: from empty, 10N ops, 10% upsert-increment "
        "+ 45% find of Zipf keys in [1,N], 45% find in [N+1,2N]";
    w.key_universe = 500'000;
    w.ops = 10 * w.key_universe;
    w.preload = 0;
    w.dist = {key_dist::zipf, 0.99, 0.01, 0.9};
    set_mix(w, {{op_kind::update, 10}, {op_kind::find, 45}, {op_kind::find_miss, 45}});
  } else if (name == "read-heavy") {
    w.description = "1M keys preloaded, 90% find / 10% update (upsert-increment), Zipf 0.99";
    w.key_universe = 1'000'000;
    w.ops = 4'000'000;
    w.dist = {key_dist::zipf, 0.99, 0.01, 0.9};
    set_mix(w, {{op_kind::find, 90}, {op_kind::update, 10}});
  } else if (name == "read-only") {
    w.description = "1M keys preloaded, 100% find, Zipf 0.99";
    w.key_universe = 1'000'000;
    w.ops = 4'000'000;
    w.dist = {key_dist::zipf, 0.99, 0.01, 0.9};
    set_mix(w, {{op_kind::find, 100}});
  } else if (name == "mixed") {
    w.description =
        "1M keys, half preloaded; 50% find / 25% update / 15% insert / 10% erase, Zipf 0.8";
    w.key_universe = 1'000'000;
    w.ops = 4'000'000;
    w.preload = 0.5;
    w.dist = {key_dist::zipf, 0.8, 0.01, 0.9};
    set_mix(
        w,
        {{op_kind::find, 50}, {op_kind::update, 25}, {op_kind::insert, 15}, {op_kind::erase, 10}});
  } else if (name == "insert-only") {
    w.description = "from empty, no reserve: every op inserts a new key";
    w.key_universe = 2'000'000;
    w.ops = 2'000'000;
    w.preload = 0;
    w.dist.type = key_dist::sequential;
    set_mix(w, {{op_kind::insert, 100}});
  } else if (name == "write-heavy") {
    w.description = "sync.Map's worst case: 100% stores (insert_or_assign) of new keys";
    w.key_universe = 2'000'000;
    w.ops = 2'000'000;
    w.preload = 0;
    w.dist.type = key_dist::sequential;
    set_mix(w, {{op_kind::insert_or_assign, 100}});
  } else if (name == "lock-scope") {
    w.description =
        "locked_map, 80% find / 20% update, each update logged (~0.3 us of formatting) "
        "inside vs outside the critical section";
    w.key_universe = 100'000;
    w.ops = 1'000'000;
    w.dist = {key_dist::zipf, 0.8, 0.01, 0.9};
    set_mix(w, {{op_kind::find, 80}, {op_kind::update, 20}});
    w.maps = {"locked_map+log-inside", "locked_map+log-outside"};
  } else if (name == "shard-scaling") {
    w.description =
        "sharded_map with 1 to 256 shards vs locked_map (one global lock), 50% find / "
        "50% update, uniform keys";
    w.key_universe = 100'000;
    w.ops = 2'000'000;
    w.dist.type = key_dist::uniform;
    set_mix(w, {{op_kind::find, 50}, {op_kind::update, 50}});
    w.threads = {1, 2, 4};
    w.maps = {"locked_map",     "sharded_map:1",  "sharded_map:4",
              "sharded_map:16", "sharded_map:64", "sharded_map:256"};
  } else if (name == "cow-vs-persistent") {
    // An immutable map behind an atomically published pointer, copied whole on every write
    // (cow_map), against snapshot_map (a path copy per write), both publishing one immutable
    // version per write. Timed rather than counted: a cow_map write copies all 100k entries
    // (milliseconds), so an operation count small enough for it would leave snapshot_map a
    // run too short to measure, and one right for snapshot_map would keep cow_map for hours.
    w.description =
        "100k keys preloaded, 80% find / 20% update (upsert-increment), uniform, 500 ms per "
        "run: cow_map (full copy per write) vs snapshot_map (path copy per write)";
    w.key_universe = 100'000;
    w.ops = 0;
    w.duration_ms = 500;
    w.threads = {1, 2};
    w.dist.type = key_dist::uniform;
    set_mix(w, {{op_kind::find, 80}, {op_kind::update, 20}});
    w.maps = {"cow_map", "snapshot_map"};
  } else if (name == "hash-flood") {
    // What hash flooding costs each cmap hash map, and what the secret seed of cmap::hash
    // saves: the same count of random keys, of keys chosen to collide under a seed the
    // attacker knows (the map built with it), and of those keys against a map with a secret
    // seed. A fixed count rather than a time: the attacked runs are quadratic.
    w.description =
        "hash flooding: N keys (20k) inserted into an empty map, then each found once; random "
        "keys, keys that collide under a seed the attacker knows (the map built with it), the "
        "same keys against a map with a secret seed";
    w.key_universe = 20'000;
    w.ops = 2 * w.key_universe;
    w.threads = {1, 2};
    w.preload = 0;
    w.dist.type = key_dist::sequential;
    set_mix(w, {{op_kind::insert, 50}, {op_kind::find, 50}});
    w.hash_flood = true;
    w.maps = {"concurrent_hash_map", "read_mostly_map", "locked_map",
              "sharded_map",         "snapshot_map",    "serial_map"};
  } else if (name == "ordered") {
    // The ordered maps against each other: art_map, std::map and absl::btree_map behind a
    // std::shared_mutex, tbb::concurrent_map (a peer that is not installed is skipped). The
    // scans make the hash maps n/a, so the preset names its maps.
    w.description =
        "ordered maps: 200k keys, half preloaded; 70% find / 20% scan of 50 entries from a random "
        "key / 10% insert, uniform; u64 keys and \"uid:\" string keys";
    w.key_universe = 200'000;
    w.ops = 400'000;
    w.preload = 0.5;
    w.dist.type = key_dist::uniform;
    w.scan_length = 50;
    w.key_prefix = "uid:";
    w.key_length = 12;
    set_mix(w, {{op_kind::find, 70}, {op_kind::scan, 20}, {op_kind::insert, 10}});
    w.maps = {"art_map", "std_map_shared_mutex", "absl_btree_shared_mutex", "tbb_concurrent_map"};
  } else if (name == "ordered-lookup") {
    ordered_set_up(w, "1M random u64 keys preloaded, 1M ops: 100% find, uniform");
    w.ops = 1'000'000;
    set_mix(w, {{op_kind::find, 100}});
  } else if (name == "ordered-90-10") {
    ordered_set_up(
        w,
        "1M random u64 keys preloaded, 1M ops: 90% find / 10% insert_or_assign of a present key, "
        "uniform");
    w.ops = 1'000'000;
    set_mix(w, {{op_kind::find, 90}, {op_kind::insert_or_assign, 10}});
  } else if (name == "ordered-scan10") {
    ordered_set_up(w, "1M random u64 keys preloaded, 500k ops: 100% scan of 10 entries from a uniform "
                      "random key");
    w.ops = 500'000;
    w.scan_length = 10;
    set_mix(w, {{op_kind::scan, 100}});
  } else if (name == "ordered-scan100") {
    ordered_set_up(w, "1M random u64 keys preloaded, 100k ops: 100% scan of 100 entries from a uniform "
                      "random key");
    w.ops = 100'000;
    w.scan_length = 100;
    set_mix(w, {{op_kind::scan, 100}});
  } else if (name == "ordered-prefix") {
    ordered_set_up(w,
                   "1M \"uid:\" string keys preloaded, 100k ops: 100% prefix_scan: the keys that "
                   "start with a uniform random key's first 10 of 12 characters (100 keys), at "
                   "most 100");
    w.ops = 100'000;
    w.string_keys = true;
    w.scan_length = 100;
    set_mix(w, {{op_kind::prefix_scan, 100}});
  } else if (name == "ordered-insert") {
    ordered_set_up(w, "from empty, 1M ops: 100% insert of 1M distinct random u64 keys in random order "
                      "(shuffled)");
    w.ops = w.key_universe;
    w.preload = 0;
    w.dist.type = key_dist::shuffled;
    set_mix(w, {{op_kind::insert, 100}});
  } else if (name == "ordered-uid") {
    // A stream processor's state store: per-user state read and rewritten by key. What
    // matters is the tail latency and the memory per key.
    ordered_set_up(w, "state store: 1M \"uid:\" string keys preloaded, 500k ops: 50% find / 50% "
                      "update (upsert-increment of a present key), uniform");
    w.ops = 500'000;
    w.string_keys = true;
    set_mix(w, {{op_kind::find, 50}, {op_kind::update, 50}});
  } else if (name == "durable-fill" || name == "durable-fill-100") {
    // Timed: a synced store does a few thousand writes a second, an unsynced one hundreds of
    // thousands; no operation count suits both. The keys are distinct (sequential over a
    // universe larger than any thread's stream: 2^20 operations a thread) and, spread over
    // u64, arrive in no key order.
    durable_set_up(w,
                   fmt::format("from empty, 1 s per run: 100% insert of new random u64 keys, {} "
                               "B values",
                               name.ends_with("-100") ? 100 : 8),
                   true);
    w.key_universe = 10'000'000;
    w.ops = 0;
    w.duration_ms = 1000;
    w.preload = 0;
    w.dist.type = key_dist::sequential;
    set_mix(w, {{op_kind::insert, 100}});
    if (name.ends_with("-100")) w.value_size = 100;
  } else if (name == "durable-overwrite" || name == "durable-overwrite-100") {
    durable_set_up(w,
                   fmt::format("100k random u64 keys preloaded, 1 s per run: 100% "
                               "insert_or_assign of a present key, uniform, {} B values",
                               name.ends_with("-100") ? 100 : 8),
                   true);
    w.key_universe = 100'000;
    w.ops = 0;
    w.duration_ms = 1000;
    set_mix(w, {{op_kind::insert_or_assign, 100}});
    if (name.ends_with("-100")) w.value_size = 100;
  } else if (name == "durable-read") {
    durable_set_up(w, "1M random u64 keys preloaded, 1M ops: 100% find, uniform", false);
    w.key_universe = 1'000'000;
    w.ops = 1'000'000;
    set_mix(w, {{op_kind::find, 100}});
  } else if (name == "durable-90-10") {
    durable_set_up(w,
                   "1M random u64 keys preloaded, 1 s per run: 90% find / 10% insert_or_assign "
                   "of a present key, uniform",
                   false);
    w.key_universe = 1'000'000;
    w.ops = 0;
    w.duration_ms = 1000;
    set_mix(w, {{op_kind::find, 90}, {op_kind::insert_or_assign, 10}});
  } else if (name == "durable-scan100") {
    durable_set_up(w,
                   "1M random u64 keys preloaded, 100k ops: 100% scan of 100 entries from a "
                   "uniform random key",
                   false);
    w.key_universe = 1'000'000;
    w.ops = 100'000;
    w.scan_length = 100;
    set_mix(w, {{op_kind::scan, 100}});
  } else if (name == "durable-recovery") {
    // The log replayed: 1M 8-byte records written unsynced (the preload), the store closed,
    // its reopening timed. One thread: opening is one call.
    durable_set_up(w, "1M random u64 keys written (unsynced), the store closed and reopened: "
                      "the reopening timed",
                   false);
    w.threads = {1};
    w.description.resize(w.description.find("; durable_map"));
    w.description += "; durable_map (none) vs RocksDB, LevelDB (nosync), LMDB (MDB_NOSYNC)";
    w.maps = {"durable_map_none", "rocksdb_nosync", "leveldb_nosync", "lmdb_nosync"};
    w.key_universe = 1'000'000;
    w.ops = 1;  // no operation streams: the reopen is the measurement
    w.recovery = true;
    set_mix(w, {{op_kind::insert, 100}});
  } else {
    std::string known;
    for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw usage_error(fmt::format("unknown preset '{}' (known: {})", name, known));
  }
  return w;
}

std::vector<workload> preset_runs(const std::string& name) {
  std::vector<workload> out{preset(name)};
  // ordered-lookup on "uid:" keys too: single-thread lookups of string keys are a figure of
  // their own (the radix tree's path compression against the B-tree's string compares).
  if (out.front().hash_flood || name == "ordered" || name == "ordered-lookup") {
    workload strings = out.front();
    strings.name += "-string";
    strings.string_keys = true;
    strings.random_u64_keys = false;
    if (const auto at = strings.description.find("random u64 keys"); at != std::string::npos)
      strings.description.replace(at, 15, "\"uid:\" string keys");
    out.push_back(strings);
  }
  return out;
}

std::vector<workload> standard_suite() {
  // Sized for the 2-core development machine: about 3 minutes with every peer installed.
  std::vector<workload> out;
  auto add = [&](const std::string& name, std::uint64_t universe, std::uint64_t ops) {
    workload w = preset(name);
    w.key_universe = universe;
    w.ops = ops;
    w.threads = {1, 2, 4};
    out.push_back(w);
  };
  add("parallel-load", 100'000, 700'000);
  add("read-heavy", 1'000'000, 1'200'000);
  add("read-only", 1'000'000, 1'200'000);
  add("mixed", 1'000'000, 1'200'000);
  add("insert-only", 600'000, 600'000);
  add("write-heavy", 600'000, 600'000);
  add("lock-scope", 100'000, 400'000);
  add("shard-scaling", 100'000, 600'000);
  out.push_back(preset("cow-vs-persistent"));
  return out;
}

void parse_mix(const std::string& text, workload& w) {
  std::fill(std::begin(w.mix), std::end(w.mix), 0.0);
  if (text.empty()) throw usage_error("--mix: empty (expected e.g. find=90,update=10)");
  for (const auto& part : split(text, ',')) {
    const auto eq = part.find('=');
    if (eq == std::string::npos)
      throw usage_error(
          fmt::format("--mix: '{}' is not op=percent (e.g. find=90,update=10)", part));
    const op_kind k = op_from_name(part.substr(0, eq), "--mix");
    w.mix[static_cast<int>(k)] += parse_double(part.substr(eq + 1), "--mix " + part.substr(0, eq));
  }
}

distribution parse_distribution(const std::string& text) {
  distribution d;
  const auto parts = split(text, ':');
  const std::string& kind = parts.empty() ? text : parts[0];
  if (kind == "uniform" && parts.size() == 1) {
    d.type = key_dist::uniform;
  } else if (kind == "sequential" && parts.size() == 1) {
    d.type = key_dist::sequential;
  } else if (kind == "shuffled" && parts.size() == 1) {
    d.type = key_dist::shuffled;
  } else if (kind == "zipf" && parts.size() <= 2) {
    d.type = key_dist::zipf;
    if (parts.size() == 2) d.theta = parse_double(parts[1], "zipf theta");
  } else if (kind == "hotset" && parts.size() <= 3) {
    d.type = key_dist::hotset;
    if (parts.size() >= 2) d.hot_fraction = parse_double(parts[1], "hotset fraction");
    if (parts.size() == 3) d.hot_probability = parse_double(parts[2], "hotset probability");
  } else {
    throw usage_error(
        fmt::format("unknown key distribution '{}' (known: uniform, zipf[:theta], sequential, "
                    "shuffled, hotset[:fraction[:probability]])",
                    text));
  }
  return d;
}

workload parse_workload_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object()) throw usage_error(origin + ": a workload file must hold a JSON object");
  workload w;
  if (j.contains("preset")) {
    if (!j["preset"].is_string()) throw usage_error(origin + ": 'preset' must be a string");
    w = preset(j["preset"].get<std::string>());
    if (!w.unavailable.empty())
      throw usage_error(origin + ": preset '" + w.name + "' is " + w.unavailable);
  } else {
    w.name = "custom";
  }
  bool has_ops = false;
  bool has_duration = false;
  const std::set<std::string> known = {
      "preset",       "name",     "description", "threads",    "ops",        "duration_ms",
      "key_universe", "key_type", "key_length",  "value_size", "mix",        "distribution",
      "preload",      "seed",     "repetitions", "maps",       "key_prefix", "scan_length",
      "key_spread"};
  for (const auto& item : j.items()) {
    // Named variables, not a structured binding: the lambdas below capture them.
    const std::string field = item.key();
    const nlohmann::json& value = item.value();
    const std::string where = fmt::format("{}: field '{}'", origin, field);
    if (!known.count(field))
      throw usage_error(fmt::format("{}: unknown field '{}'", origin, field));
    auto need_uint = [&](std::uint64_t max) {
      if (!value.is_number_unsigned() &&
          !(value.is_number_integer() && value.get<std::int64_t>() >= 0))
        throw usage_error(where + " must be a non-negative integer");
      const auto v = value.get<std::uint64_t>();
      if (v > max) throw usage_error(fmt::format("{} is too large (at most {})", where, max));
      return v;
    };
    auto need_number = [&]() {
      if (!value.is_number()) throw usage_error(where + " must be a number");
      return value.get<double>();
    };
    if (field == "preset") continue;
    if (field == "name") {
      if (!value.is_string()) throw usage_error(where + " must be a string");
      w.name = value.get<std::string>();
    } else if (field == "description") {
      // Read too, so that a workload recorded by --json (to_json) can be run again as is.
      if (!value.is_string()) throw usage_error(where + " must be a string");
      w.description = value.get<std::string>();
    } else if (field == "threads") {
      if (!value.is_array() || value.empty())
        throw usage_error(where + " must be a non-empty array of integers");
      w.threads.clear();
      for (const auto& t : value) {
        if (!t.is_number_integer() || t.get<std::int64_t>() < 1 || t.get<std::int64_t>() > 1024)
          throw usage_error(where + " must hold integers from 1 to 1024");
        w.threads.push_back(t.get<unsigned>());
      }
    } else if (field == "ops") {
      w.ops = need_uint(2'000'000'000ULL);
      has_ops = true;
    } else if (field == "duration_ms") {
      w.duration_ms = need_uint(600'000);
      has_duration = true;
    } else if (field == "key_universe") {
      w.key_universe = need_uint(1ULL << 32);
    } else if (field == "key_type") {
      if (!value.is_string()) throw usage_error(where + " must be \"u64\" or \"string\"");
      const auto s = value.get<std::string>();
      if (s == "u64")
        w.string_keys = false;
      else if (s == "string")
        w.string_keys = true;
      else
        throw usage_error(fmt::format("{}: '{}' is not a key type (u64 or string)", where, s));
    } else if (field == "key_spread") {
      const std::string s = value.is_string() ? value.get<std::string>() : std::string();
      if (s != "dense" && s != "random")
        throw usage_error(where + " must be \"dense\" (keys 1..N) or \"random\" (spread over u64)");
      w.random_u64_keys = s == "random";
    } else if (field == "key_length") {
      w.key_length = static_cast<unsigned>(need_uint(100'000));
    } else if (field == "key_prefix") {
      if (!value.is_string()) throw usage_error(where + " must be a string");
      w.key_prefix = value.get<std::string>();
    } else if (field == "scan_length") {
      w.scan_length = static_cast<unsigned>(need_uint(1'000'000'000));
    } else if (field == "value_size") {
      w.value_size = static_cast<unsigned>(need_uint(1'000'000));
    } else if (field == "mix") {
      if (!value.is_object() || value.empty())
        throw usage_error(where + " must be an object like {\"find\": 90, \"update\": 10}");
      std::fill(std::begin(w.mix), std::end(w.mix), 0.0);
      for (const auto& [op, pct] : value.items()) {
        const op_kind k = op_from_name(op, where);
        if (!pct.is_number())
          throw usage_error(fmt::format("{}: '{}' must be a number", where, op));
        w.mix[static_cast<int>(k)] = pct.get<double>();
      }
    } else if (field == "distribution") {
      if (value.is_string()) {
        w.dist = parse_distribution(value.get<std::string>());
      } else if (value.is_object()) {
        if (!value.contains("type") || !value["type"].is_string())
          throw usage_error(where + " needs a string 'type'");
        w.dist = parse_distribution(value["type"].get<std::string>());
        for (const auto& [k, v] : value.items()) {
          if (k == "type") continue;
          if (!v.is_number()) throw usage_error(fmt::format("{}: '{}' must be a number", where, k));
          if (k == "theta" && w.dist.type == key_dist::zipf)
            w.dist.theta = v.get<double>();
          else if (k == "hot_fraction" && w.dist.type == key_dist::hotset)
            w.dist.hot_fraction = v.get<double>();
          else if (k == "hot_probability" && w.dist.type == key_dist::hotset)
            w.dist.hot_probability = v.get<double>();
          else
            throw usage_error(fmt::format("{}: '{}' does not apply to a {} distribution", where, k,
                                          dist_name(w.dist.type)));
        }
      } else {
        throw usage_error(where + " must be a string or an object");
      }
    } else if (field == "preload") {
      w.preload = need_number();
    } else if (field == "seed") {
      w.seed = need_uint(~0ULL);
    } else if (field == "repetitions") {
      w.repetitions = static_cast<unsigned>(need_uint(1000));
    } else if (field == "maps") {
      if (!value.is_array()) throw usage_error(where + " must be an array of map names");
      w.maps.clear();
      for (const auto& m : value) {
        if (!m.is_string()) throw usage_error(where + " must hold strings");
        w.maps.push_back(m.get<std::string>());
      }
    }
  }
  if (has_ops && has_duration)
    throw usage_error(origin + ": 'ops' and 'duration_ms' contradict each other; give only one");
  if (has_duration) w.ops = 0;
  if (has_ops) w.duration_ms = 0;
  if (w.hash_flood && !has_ops) w.ops = 2 * w.key_universe;
  if (!w.string_keys && j.contains("key_length"))
    throw usage_error(origin + ": 'key_length' applies to string keys only (key_type is u64)");
  if (w.string_keys && j.contains("key_spread"))
    throw usage_error(origin + ": 'key_spread' applies to u64 keys only (key_type is string)");
  if (!w.string_keys && j.contains("key_prefix"))
    throw usage_error(origin + ": 'key_prefix' applies to string keys only (key_type is u64)");
  validate(w);
  return w;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

#ifdef CMAP_BENCH_HAVE_TOML
// A TOML document as the JSON value parse_workload_json reads, so that both formats share one
// validation and its messages: tables become objects, arrays arrays, a non-negative integer
// an unsigned number (as the JSON parser makes it), dates and times strings (rejected there).
nlohmann::json toml_to_json(const toml::node& node) {
  if (const auto* table = node.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [key, value] : *table) j[std::string(key.str())] = toml_to_json(value);
    return j;
  }
  if (const auto* array = node.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& value : *array) j.push_back(toml_to_json(value));
    return j;
  }
  if (const auto* v = node.as_integer()) {
    const std::int64_t i = v->get();
    return i >= 0 ? nlohmann::json(static_cast<std::uint64_t>(i)) : nlohmann::json(i);
  }
  if (const auto* v = node.as_floating_point()) return v->get();
  if (const auto* v = node.as_boolean()) return v->get();
  if (const auto* v = node.as_string()) return v->get();
  std::ostringstream text;  // date, time or date-time
  node.visit([&](const auto& n) { text << n; });
  return text.str();
}
#endif

nlohmann::json read_toml(std::string_view text, const std::string& path) {
#ifdef CMAP_BENCH_HAVE_TOML
  try {
    return toml_to_json(toml::parse(text, path));
  } catch (const toml::parse_error& e) {
    throw usage_error(fmt::format("{}: malformed TOML: {} (line {}, column {})", path,
                                  e.description(), e.source().begin.line, e.source().begin.column));
  }
#else
  (void)text;
  throw usage_error(fmt::format("{}: TOML support not compiled in; use JSON", path));
#endif
}

}  // namespace

bool toml_supported() {
#ifdef CMAP_BENCH_HAVE_TOML
  return true;
#else
  return false;
#endif
}

workload parse_workload_text(std::string_view text, const std::string& origin, bool toml) {
  if (toml) return parse_workload_json(read_toml(text, origin), origin);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number beyond double's range ("1e999").
    throw usage_error(fmt::format("{}: malformed JSON: {}", origin, e.what()));
  }
  return parse_workload_json(j, origin);
}

workload load_workload_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error(fmt::format("cannot open workload file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw usage_error(fmt::format("cannot read workload file '{}'", path));
  return parse_workload_text(text.str(), path, ends_with(path, ".toml"));
}

nlohmann::json to_json(const workload& w) {
  nlohmann::json mix = nlohmann::json::object();
  for (int i = 0; i < op_kind_count; ++i)
    if (w.mix[i] > 0) mix[op_names[i]] = w.mix[i];
  nlohmann::json j = {{"name", w.name},
                      {"description", w.description},
                      {"threads", w.threads},
                      {"key_universe", w.key_universe},
                      {"key_type", w.string_keys ? "string" : "u64"},
                      {"value_size", w.value_size},
                      {"mix", mix},
                      {"distribution", w.dist_string()},
                      {"preload", w.preload},
                      {"seed", w.seed},
                      {"repetitions", w.repetitions}};
  if (w.duration_ms > 0)
    j["duration_ms"] = w.duration_ms;
  else
    j["ops"] = w.ops;
  if (w.string_keys) j["key_length"] = w.key_length;
  if (!w.string_keys && w.random_u64_keys) j["key_spread"] = "random";
  if (w.string_keys && !w.key_prefix.empty()) j["key_prefix"] = w.key_prefix;
  if (w.has(op_kind::scan) || w.has(op_kind::prefix_scan)) j["scan_length"] = w.scan_length;
  if (!w.maps.empty()) j["maps"] = w.maps;
  // Read back, the preset makes it the hash-flood measurement again (or the recovery one).
  if (w.hash_flood) j["preset"] = "hash-flood";
  if (w.recovery) j["preset"] = "durable-recovery";
  return j;
}

}  // namespace cmap_bench
