#pragma once
// What cmap-watch reports: bpftrace's output (-f json, one object a line) read into one
// `interval` per "@@interval" marker, the intervals summed into a summary, and both rendered
// as text for a person or as JSON for a script (docs/observability.md has the schema).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace cmap_watch {

using u64 = std::uint64_t;

/// A power-of-two latency histogram in nanoseconds, as bpftrace's hist() counts: bucket
/// [min, max] holds `count` operations.
struct histogram {
  std::map<u64, std::pair<u64, u64>> buckets;  // min -> {max, count}
  u64 count() const;
  /// The upper bound of the bucket holding quantile q (0 < q <= 1): a bound, not an estimate.
  u64 quantile_bound(double q) const;
  void add(const histogram& other);
};

struct race_side {
  u64 tid = 0;
  unsigned op = 0;
  auto operator<=>(const race_side&) const = default;
};

struct wait_total {
  u64 count = 0;
  u64 ns = 0;
};

struct resize_event {
  u64 map = 0;  // the map whose operation began it; 0 if outside any operation
  u64 table = 0;
  u64 old_capacity = 0;
  u64 new_capacity = 0;
  u64 ns = 0;
};

struct reclaim_total {
  u64 freed = 0;
  u64 passes = 0;
  u64 backlog = 0;  // after the last pass
  u64 backlog_max = 0;
};

struct batch_total {
  u64 batches = 0;
  u64 commands = 0;
  u64 largest = 0;
};

struct sync_total {
  u64 syncs = 0;
  u64 bytes = 0;
  u64 ns = 0;
  u64 max_ns = 0;
};

struct violation_key {
  u64 map;
  unsigned kind, op, thread, other_op, other_thread;
  auto operator<=>(const violation_key&) const = default;
};

struct interval {
  double seconds = 0;  // how long it lasted
  double end = 0;      // seconds since attach
  std::map<std::tuple<u64, unsigned, unsigned>, u64> ops;  // (map, kind, op) -> count
  std::map<std::pair<unsigned, unsigned>, histogram> latency;  // (kind, op)
  std::map<u64, wait_total> map_waits;                      // map -> lock waits inside its ops
  std::map<std::pair<u64, unsigned>, wait_total> locks;     // (lock, lock kind)
  std::vector<resize_event> resizes;
  std::map<u64, reclaim_total> reclaim;  // domain
  std::map<u64, batch_total> batches;    // executor
  std::map<u64, sync_total> syncs;       // log
  // (map, one side, the other side), sides in order: a pair seen both ways counts once.
  std::map<std::tuple<u64, race_side, race_side>, u64> races;
  std::map<violation_key, u64> violations;

  bool empty() const;
  void add(const interval& other);  // sums; backlogs take the later value
};

/// Reads bpftrace's JSON lines. feed() returns an interval when a line closes one.
class collector {
 public:
  struct event {
    enum kind_t { none, attached, interval_done } kind = none;
    std::optional<interval> closed;
  };
  event feed(const std::string& line);
  const interval& summary() const { return summary_; }
  int probes_attached() const { return probes_attached_; }

 private:
  void take_map(const std::string& name, const nlohmann::json& value);
  void take_hist(const std::string& name, const nlohmann::json& value);
  void take_printf(const std::string& text, event& ev);

  interval current_;
  interval summary_;
  u64 attached_ns_ = 0;
  u64 last_ns_ = 0;
  int probes_attached_ = 0;
};

/// Text for a person: one block per interval.
std::string render_text(const interval& iv, bool races, bool final_summary);
/// One JSON object: {"type": "interval" or "summary", ...}.
nlohmann::ordered_json render_json(const interval& iv, bool races, bool final_summary, long pid);

std::string hex(u64 address);

}  // namespace cmap_watch
