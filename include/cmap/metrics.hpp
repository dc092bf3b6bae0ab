#pragma once

// cmap::metrics — counters and gauges of named maps, written in Prometheus's text format.
//
// What it is. Name a map, and from then on its operations are counted (by operation and
// result), its lock waits and table rebuilds timed, and its size and memory read when the
// metrics are written. write_prometheus(out) writes every named map's figures in the text
// exposition format that a Prometheus server scrapes from a /metrics endpoint
// (tools/cmap-metrics-demo serves one with cpp-httplib):
//
//   cmap::concurrent_hash_map<std::string, order> orders;
//   auto named = cmap::metrics::watch(orders, "orders", {{"service", "checkout"}});
//   ...
//   cmap::metrics::write_prometheus(std::cout);
//
// Families (every sample has the labels map="<name>", kind="<map kind>" and the labels given
// to watch):
//   cmap_map_operations_total{op, result}  counter: calls by operation; result="true" when the
//                                          call found, inserted, replaced or erased something
//   cmap_map_entries                       gauge: size() when written
//   cmap_map_allocated_bytes               gauge: allocated_bytes() when written
//   cmap_map_lock_waits_total              counter: operations that found a lock taken
//   cmap_map_lock_wait_seconds             histogram: how long they waited
//   cmap_map_resizes_total                 counter: table rebuilds inside the map's calls
//   cmap_map_resize_seconds_total          counter: their time
//   cmap_map_queued_writes                 gauge: serial_map's queued_writes()
//   cmap_map_log_syncs_total, cmap_map_log_bytes_total, cmap_map_checkpoints_total
//                                          counters: durable_map's stats()
//   cmap_map_violations_total{violation}   counter: checked_map's own detector's reports
//                                          (checked_map has this family only: its budget
//                                          has no room for a count per call, and reading
//                                          its size from the scraping thread would be the
//                                          very race it reports)
// and, with no map label, cmap_epoch_retired_objects: the reclamation backlog of the
// lock-free maps (gauge).
//
// Cost. An unnamed map pays one load and a not-taken branch per operation (next to the
// probes' test: detail/probes.hpp). A named map's operation adds a count to the calling
// thread's own block (a load and a store, no shared line; detail/map_metrics.hpp). Lock waits
// and rebuilds read the clock, on their slow paths only. Writing the metrics locks the
// registry and calls each named map's size() and allocated_bytes().
//
// Lifetime. watch returns a registration; the map is named until the registration is
// destroyed or reset. Declare the registration after the map, so that it ends first: a map
// destroyed while named leaves the registry in its destructor, but a scrape running at that
// moment may read the map's gauges while its members are being destroyed. Copies and moves of
// a map are unnamed.

#include <cstddef>
#include <memory>
#include <mutex>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "detail/epoch.hpp"
#include "detail/map_metrics.hpp"
#include "detail/probes.hpp"
#include "detail/prometheus_text.hpp"

namespace cmap::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

/// A map's name in the registry: RAII, movable. Destroying it unnames the map (its counts
/// stop and its samples leave the output).
class registration {
 public:
  registration() noexcept = default;
  explicit registration(std::shared_ptr<detail::metrics_entry> e) noexcept : entry_(std::move(e)) {}
  registration(registration&& other) noexcept = default;
  registration& operator=(registration&& other) noexcept {
    if (this != &other) {
      reset();
      entry_ = std::move(other.entry_);
    }
    return *this;
  }
  registration(const registration&) = delete;
  registration& operator=(const registration&) = delete;
  ~registration() { reset(); }

  /// Unnames the map now.
  void reset() noexcept {
    if (entry_ == nullptr) return;
    const std::lock_guard lock(detail::registry_mutex());
    if (entry_->slot != nullptr) entry_->slot->detach();
    if (entry_->checked_map != nullptr) {
      entry_->checked_map = nullptr;
      detail::named_checked_maps.fetch_sub(1, std::memory_order_relaxed);
    }
    auto& entries = detail::registry_entries();
    std::erase(entries, entry_);
    entry_.reset();
  }
  [[nodiscard]] bool active() const noexcept { return entry_ != nullptr; }

 private:
  std::shared_ptr<detail::metrics_entry> entry_;
};

}  // namespace cmap::metrics

namespace cmap::detail {
// watch() for the maps with a metrics slot (every map but checked_map).
template <class Map>
metrics::registration watch_counted(Map& map, std::shared_ptr<metrics_entry> entry);
}  // namespace cmap::detail

namespace cmap::metrics {

/// Names map: its operations count from now on, and write_prometheus reports it under name
/// with extra labels. Throws std::invalid_argument if the map is already named, or if a label
/// name is not a valid Prometheus label name or is map or kind.
template <class Map>
[[nodiscard]] registration watch(Map& map, std::string name, labels extra = {}) {
  for (const auto& [k, v] : extra) {
    if (k.empty() || k == "map" || k == "kind" || k == "op" || k == "result" || k == "le" ||
        k == "violation" ||
        detail::prometheus_writer::sanitized_name(k) != k || k.starts_with("__")) {
      throw std::invalid_argument("cmap::metrics::watch: invalid or reserved label name '" + k +
                                  "'");
    }
  }
  auto entry = std::make_shared<detail::metrics_entry>();
  entry->name = std::move(name);
  entry->labels = std::move(extra);
  if constexpr (requires { map.get_violation_policy(); }) {
    // checked_map: its detector's reports only. Not its size: a scrape on another thread
    // would be the very concurrent read the map reports. Its reports name its check word,
    // its first member: the map's address.
    entry->kind = "checked_map";
    entry->checked_map = &map;
    entry->gauges = [] { return detail::map_gauges{}; };
    const std::lock_guard lock(detail::registry_mutex());
    for (const auto& e : detail::registry_entries()) {
      if (e->checked_map == &map) {
        throw std::invalid_argument("cmap::metrics::watch: the map is already named");
      }
    }
    detail::named_checked_maps.fetch_add(1, std::memory_order_relaxed);
    detail::registry_entries().push_back(entry);
    return registration(std::move(entry));
  } else {
    return detail::watch_counted(map, std::move(entry));
  }
}

}  // namespace cmap::metrics

namespace cmap::detail {

template <class Map>
metrics::registration watch_counted(Map& map, std::shared_ptr<metrics_entry> entry) {
  metrics_slot& slot = metrics_slot_of(map);
  entry->kind = std::string(probe_map_kind_names[static_cast<std::size_t>(probe_kind_of(map))]);
  entry->counters = std::make_shared<map_metrics>();
  entry->gauges = [&map] {
    map_gauges g;
    g.entries = map.size();
    if constexpr (requires { map.allocated_bytes(); }) g.allocated_bytes = map.allocated_bytes();
    if constexpr (requires { map.queued_writes(); }) g.queued_writes = map.queued_writes();
    if constexpr (requires { map.stats().syncs; }) {
      const auto s = map.stats();
      g.log_syncs = s.syncs;
      g.log_bytes = s.log_bytes;
      g.checkpoints = s.checkpoints;
    }
    return g;
  };
  entry->slot = &slot;
  const std::lock_guard lock(registry_mutex());
  if (slot.get() != nullptr) {
    throw std::invalid_argument("cmap::metrics::watch: the map is already named");
  }
  slot.attach(entry->counters);
  registry_entries().push_back(entry);
  return metrics::registration(std::move(entry));
}

}  // namespace cmap::detail

namespace cmap::metrics {

/// Every named map's metrics in Prometheus's text exposition format.
inline void write_prometheus(std::ostream& out) {
  using detail::prometheus_labels;
  const std::lock_guard lock(detail::registry_mutex());
  const auto& entries = detail::registry_entries();
  struct row {
    const detail::metrics_entry* e;
    prometheus_labels labels;
    detail::metric_totals totals;
    detail::map_gauges gauges;
  };
  std::vector<row> rows;
  for (const auto& e : entries) {
    prometheus_labels l{{"map", e->name}, {"kind", e->kind}};
    l.insert(l.end(), e->labels.begin(), e->labels.end());
    rows.push_back({e.get(), std::move(l),
                    e->counters != nullptr ? e->counters->totals() : detail::metric_totals{},
                    e->gauges()});
  }
  detail::prometheus_writer w(out);
  // A family of every map with operation counts (every named map but a checked_map, see
  // watch()): its header, then sample(name, row) for each such map.
  const auto counted_family = [&](const char* name, const char* type, const char* help,
                                  const auto& sample) {
    w.family(name, type, help);
    for (const row& r : rows) {
      if (r.e->counters != nullptr) sample(name, r);
    }
  };
  counted_family("cmap_map_operations_total", "counter",
                 "Calls of a named cmap map by operation; result is whether the call found, "
                 "inserted, replaced or erased something.",
                 [&](const char* name, const row& r) {
                   for (std::size_t op = 0; op < detail::metric_op_count; ++op) {
                     for (std::size_t hit = 0; hit < 2; ++hit) {
                       prometheus_labels l = r.labels;
                       l.emplace_back("op", std::string(detail::probe_op_names[op]));
                       l.emplace_back("result", hit != 0 ? "true" : "false");
                       w.sample(name, l, r.totals.ops[op][hit]);
                     }
                   }
                 });
  counted_family("cmap_map_entries", "gauge", "Entries in a named cmap map (its size()).",
                 [&](const char* name, const row& r) {
                   w.sample(name, r.labels, std::uint64_t{r.gauges.entries});
                 });
  counted_family("cmap_map_allocated_bytes", "gauge",
                 "Bytes a named cmap map holds from its allocator (its allocated_bytes()).",
                 [&](const char* name, const row& r) {
                   w.sample(name, r.labels, std::uint64_t{r.gauges.allocated_bytes});
                 });
  counted_family("cmap_map_lock_waits_total", "counter",
                 "Operations of a named cmap map that found a lock taken and waited.",
                 [&](const char* name, const row& r) {
                   w.sample(name, r.labels, r.totals.lock_waits);
                 });
  counted_family("cmap_map_lock_wait_seconds", "histogram",
                 "How long operations of a named cmap map waited for a lock.",
                 [&](const char* name, const row& r) {
                   w.histogram(name, r.labels, detail::wait_buckets, r.totals.lock_wait_buckets,
                               static_cast<double>(r.totals.lock_wait_ns) * 1e-9);
                 });
  counted_family("cmap_map_resizes_total", "counter",
                 "Table rebuilds (growth, or tombstone clean-up) inside calls of a named cmap "
                 "map.",
                 [&](const char* name, const row& r) {
                   w.sample(name, r.labels, r.totals.resizes);
                 });
  counted_family("cmap_map_resize_seconds_total", "counter",
                 "Time spent in table rebuilds inside calls of a named cmap map.",
                 [&](const char* name, const row& r) {
                   w.sample(name, r.labels, static_cast<double>(r.totals.resize_ns) * 1e-9);
                 });
  // The families only some maps have: written only when one such map is named.
  const auto optional_family = [&](const char* name, const char* type, const char* help,
                                   std::optional<std::uint64_t> detail::map_gauges::*field) {
    bool any = false;
    for (const row& r : rows) any = any || (r.gauges.*field).has_value();
    if (!any) return;
    w.family(name, type, help);
    for (const row& r : rows) {
      if ((r.gauges.*field).has_value()) w.sample(name, r.labels, *(r.gauges.*field));
    }
  };
  optional_family("cmap_map_queued_writes", "gauge",
                  "Writes queued for a named serial_map's writer thread and not yet taken.",
                  &detail::map_gauges::queued_writes);
  optional_family("cmap_map_log_syncs_total", "counter",
                  "fdatasync calls on a named durable_map's log since it was opened.",
                  &detail::map_gauges::log_syncs);
  optional_family("cmap_map_log_bytes_total", "counter",
                  "Bytes appended to a named durable_map's log since it was opened.",
                  &detail::map_gauges::log_bytes);
  optional_family("cmap_map_checkpoints_total", "counter",
                  "Checkpoints a named durable_map has written since it was opened.",
                  &detail::map_gauges::checkpoints);
  bool any_checked = false;
  for (const row& r : rows) any_checked = any_checked || r.e->counters == nullptr;
  if (any_checked) {
    w.family("cmap_map_violations_total", "counter",
             "Concurrent uses a named checked_map's own detector reported, by kind.");
    constexpr const char* kinds[] = {"concurrent_writes", "read_during_write",
                                     "iteration_during_write"};
    for (const row& r : rows) {
      if (r.e->counters != nullptr) continue;
      for (std::size_t k = 0; k < std::size(kinds); ++k) {
        prometheus_labels l = r.labels;
        l.emplace_back("violation", kinds[k]);
        w.sample("cmap_map_violations_total", l,
                 r.e->violations[k].load(std::memory_order_relaxed));
      }
    }
  }
  w.family("cmap_epoch_retired_objects", "gauge",
           "Objects retired by cmap's lock-free maps and not yet freed, process-wide (the "
           "epoch reclamation backlog).");
  w.sample("cmap_epoch_retired_objects", {},
           std::uint64_t{detail::epoch_domain::global().pending()});
}

/// write_prometheus into a string.
inline std::string prometheus_text() {
  std::ostringstream s;
  write_prometheus(s);
  return s.str();
}

}  // namespace cmap::metrics
