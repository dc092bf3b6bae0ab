#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmap/access_violation.hpp>
#include <cmap/detail/probe_names.hpp>
#include <sstream>

namespace cmap_watch {
namespace {

using nlohmann::json;

std::vector<u64> split_key(const std::string& key) {
  std::vector<u64> parts;
  std::istringstream in(key);
  for (std::string part; std::getline(in, part, ',');) parts.push_back(std::stoull(part));
  return parts;
}

std::string kind_name(unsigned code) {
  return std::string(cmap::detail::probe_map_kind_name(code));
}
std::string op_name(unsigned code) { return std::string(cmap::detail::probe_op_name(code)); }

// An unknown code is shown as its number.
std::string lock_kind_name(unsigned code) {
  const std::string_view name = cmap::detail::probe_lock_kind_name(code);
  return code != 0 && name == "unknown" ? fmt::format("lock kind {}", code) : std::string(name);
}

std::string violation_name(unsigned kind) {
  return std::string(cmap::describe(static_cast<cmap::violation_kind>(kind)));
}

std::string count_text(u64 n) {
  // 1234567 -> 1,234,567
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

std::string duration_text(u64 ns) {
  if (ns < 10'000) return fmt::format("{} ns", ns);
  if (ns < 10'000'000) return fmt::format("{:.1f} us", static_cast<double>(ns) / 1e3);
  if (ns < 10'000'000'000) return fmt::format("{:.1f} ms", static_cast<double>(ns) / 1e6);
  return fmt::format("{:.1f} s", static_cast<double>(ns) / 1e9);
}

// Per map (address, kind): its operations by op code.
std::map<std::pair<u64, unsigned>, std::map<unsigned, u64>> ops_by_map(const interval& iv) {
  std::map<std::pair<u64, unsigned>, std::map<unsigned, u64>> maps;
  for (const auto& [key, n] : iv.ops) {
    const auto& [map, kind, op] = key;
    maps[{map, kind}][op] += n;
  }
  return maps;
}

template <class Map>
u64 total(const Map& m) {
  u64 t = 0;
  for (const auto& [k, v] : m) t += v;
  return t;
}

}  // namespace

std::string hex(u64 address) { return fmt::format("0x{:x}", address); }

// ---- histogram ------------------------------------------------------------------------------

u64 histogram::count() const {
  u64 n = 0;
  for (const auto& [min, b] : buckets) n += b.second;
  return n;
}

u64 histogram::quantile_bound(double q) const {
  const u64 n = count();
  if (n == 0) return 0;
  const auto rank = static_cast<u64>(q * static_cast<double>(n) + 0.999999);
  u64 seen = 0;
  for (const auto& [min, b] : buckets) {
    seen += b.second;
    if (seen >= rank && b.second != 0) return b.first;
  }
  return buckets.rbegin()->second.first;
}

void histogram::add(const histogram& other) {
  for (const auto& [min, b] : other.buckets) {
    auto& mine = buckets[min];
    mine.first = b.first;
    mine.second += b.second;
  }
}

// ---- interval ---------------------------------------------------------------------------------

bool interval::empty() const {
  return ops.empty() && locks.empty() && resizes.empty() && reclaim.empty() && batches.empty() &&
         syncs.empty() && races.empty() && violations.empty();
}

void interval::add(const interval& o) {
  seconds += o.seconds;
  end = std::max(end, o.end);
  for (const auto& [k, n] : o.ops) ops[k] += n;
  for (const auto& [k, h] : o.latency) latency[k].add(h);
  for (const auto& [k, w] : o.map_waits) {
    map_waits[k].count += w.count;
    map_waits[k].ns += w.ns;
  }
  for (const auto& [k, w] : o.locks) {
    locks[k].count += w.count;
    locks[k].ns += w.ns;
  }
  resizes.insert(resizes.end(), o.resizes.begin(), o.resizes.end());
  for (const auto& [k, r] : o.reclaim) {
    auto& mine = reclaim[k];
    mine.freed += r.freed;
    mine.passes += r.passes;
    mine.backlog = r.backlog;
    mine.backlog_max = std::max(mine.backlog_max, r.backlog_max);
  }
  for (const auto& [k, b] : o.batches) {
    auto& mine = batches[k];
    mine.batches += b.batches;
    mine.commands += b.commands;
    mine.largest = std::max(mine.largest, b.largest);
  }
  for (const auto& [k, s] : o.syncs) {
    auto& mine = syncs[k];
    mine.syncs += s.syncs;
    mine.bytes += s.bytes;
    mine.ns += s.ns;
    mine.max_ns = std::max(mine.max_ns, s.max_ns);
  }
  for (const auto& [k, n] : o.races) races[k] += n;
  for (const auto& [k, n] : o.violations) violations[k] += n;
}

// ---- collector ------------------------------------------------------------------------------

collector::event collector::feed(const std::string& line) {
  event ev;
  if (line.empty() || line.front() != '{') return ev;
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("type")) return ev;
  const std::string type = j["type"].get<std::string>();
  const json& data = j.contains("data") ? j["data"] : json();
  if (type == "attached_probes") {
    probes_attached_ = data.value("probes", 0);
  } else if (type == "printf" && data.is_string()) {
    take_printf(data.get<std::string>(), ev);
  } else if (type == "map" && data.is_object()) {
    for (const auto& [name, value] : data.items()) take_map(name, value);
  } else if (type == "hist" && data.is_object()) {
    for (const auto& [name, value] : data.items()) take_hist(name, value);
  }
  return ev;
}

void collector::take_printf(const std::string& text, event& ev) {
  std::istringstream in(text);
  std::string marker;
  in >> marker;
  if (marker == "@@resize") {
    resize_event r;
    in >> r.map >> r.table >> r.old_capacity >> r.new_capacity >> r.ns;
    if (in) current_.resizes.push_back(r);
    return;
  }
  u64 now = 0;
  in >> now;
  if (marker == "@@attached") {
    attached_ns_ = last_ns_ = now;
    ev.kind = event::attached;
  } else if (marker == "@@interval") {
    current_.seconds = static_cast<double>(now - last_ns_) / 1e9;
    current_.end = static_cast<double>(now - attached_ns_) / 1e9;
    last_ns_ = now;
    summary_.add(current_);
    ev.kind = event::interval_done;
    ev.closed = std::move(current_);
    current_ = interval{};
  }
}

void collector::take_map(const std::string& name, const json& value) {
  if (!value.is_object()) return;
  for (const auto& [key_text, v] : value.items()) {
    if (!v.is_number()) continue;
    const auto n = v.get<u64>();
    std::vector<u64> k;
    try {
      k = split_key(key_text);
    } catch (const std::exception&) {
      continue;
    }
    auto u = [&](std::size_t i) { return static_cast<unsigned>(k[i]); };
    if (name == "@ops" && k.size() == 3) {
      current_.ops[{k[0], u(1), u(2)}] += n;
    } else if (name == "@lock_wait_ns" && k.size() == 1) {
      current_.map_waits[k[0]].ns += n;
    } else if (name == "@lock_waits" && k.size() == 1) {
      current_.map_waits[k[0]].count += n;
    } else if (name == "@lock_ns" && k.size() == 2) {
      current_.locks[{k[0], u(1)}].ns += n;
    } else if (name == "@lock_n" && k.size() == 2) {
      current_.locks[{k[0], u(1)}].count += n;
    } else if (name == "@reclaim_freed" && k.size() == 1) {
      current_.reclaim[k[0]].freed += n;
    } else if (name == "@reclaim_runs" && k.size() == 1) {
      current_.reclaim[k[0]].passes += n;
    } else if (name == "@reclaim_backlog" && k.size() == 1) {
      current_.reclaim[k[0]].backlog = n;
    } else if (name == "@reclaim_backlog_max" && k.size() == 1) {
      current_.reclaim[k[0]].backlog_max = n;
    } else if (name == "@batches" && k.size() == 1) {
      current_.batches[k[0]].batches += n;
    } else if (name == "@batch_commands" && k.size() == 1) {
      current_.batches[k[0]].commands += n;
    } else if (name == "@batch_max" && k.size() == 1) {
      current_.batches[k[0]].largest = n;
    } else if (name == "@syncs" && k.size() == 1) {
      current_.syncs[k[0]].syncs += n;
    } else if (name == "@sync_bytes" && k.size() == 1) {
      current_.syncs[k[0]].bytes += n;
    } else if (name == "@sync_ns" && k.size() == 1) {
      current_.syncs[k[0]].ns += n;
    } else if (name == "@sync_max_ns" && k.size() == 1) {
      current_.syncs[k[0]].max_ns = n;
    } else if (name == "@races" && k.size() == 5) {
      race_side a{k[1], u(2)};
      race_side b{k[3], u(4)};
      if (b < a) std::swap(a, b);
      current_.races[{k[0], a, b}] += n;
    } else if (name == "@violations" && k.size() == 6) {
      current_.violations[{k[0], u(1), u(2), u(3), u(4), u(5)}] += n;
    }
  }
}

void collector::take_hist(const std::string& name, const json& value) {
  if (name != "@op_lat" || !value.is_object()) return;
  for (const auto& [key_text, buckets] : value.items()) {
    std::vector<u64> k;
    try {
      k = split_key(key_text);
    } catch (const std::exception&) {
      continue;
    }
    if (k.size() != 2 || !buckets.is_array()) continue;
    histogram h;
    for (const auto& b : buckets) {
      const u64 count = b.value("count", u64{0});
      if (count == 0) continue;
      // bpftrace's first bucket of a hist() may lack "min" (values below 1) or "max".
      const u64 min = b.value("min", u64{0});
      const u64 max = b.value("max", min);
      h.buckets[min] = {max, count};
    }
    current_.latency[{static_cast<unsigned>(k[0]), static_cast<unsigned>(k[1])}].add(h);
  }
}

// ---- text ---------------------------------------------------------------------------------

std::string render_text(const interval& iv, bool races, bool final_summary) {
  std::string out;
  const double secs = iv.seconds > 0 ? iv.seconds : 1;
  if (final_summary) {
    out += fmt::format("=== summary: {:.1f} s attached ===\n", iv.seconds);
  } else {
    out += fmt::format("--- {:.1f} s (interval {:.2f} s) ---\n", iv.end, iv.seconds);
  }

  const auto maps = ops_by_map(iv);
  if (maps.empty()) {
    out += "  no cmap operations\n";
  } else {
    out += fmt::format("  {:<16} {:<20} {:>12} {:>12}  by operation (ops)\n", "map", "kind",
                       "ops/s", "lock wait");
    for (const auto& [id, by_op] : maps) {
      const auto& [map, kind] = id;
      std::string ops_text;
      for (const auto& [op, n] : by_op) ops_text += fmt::format("  {} {}", op_name(op), count_text(n));
      const auto w = iv.map_waits.find(map);
      const std::string wait = w == iv.map_waits.end() ? "-" : duration_text(w->second.ns);
      out += fmt::format("  {:<16} {:<20} {:>12} {:>12}{}\n", hex(map), kind_name(kind),
                         count_text(static_cast<u64>(static_cast<double>(total(by_op)) / secs)),
                         wait, ops_text);
    }
  }

  if (!iv.latency.empty()) {
    out += fmt::format("  {:<38} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                       "latency (bucket upper bounds)", "count", "p50", "p90", "p99", "max");
    for (const auto& [id, h] : iv.latency) {
      out += fmt::format("  {:<38} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                         kind_name(id.first) + " " + op_name(id.second), count_text(h.count()),
                         duration_text(h.quantile_bound(0.5)), duration_text(h.quantile_bound(0.9)),
                         duration_text(h.quantile_bound(0.99)), duration_text(h.quantile_bound(1)));
      if (final_summary) {
        const u64 peak = std::max_element(h.buckets.begin(), h.buckets.end(), [](auto& a, auto& b) {
                           return a.second.second < b.second.second;
                         })->second.second;
        for (const auto& [min, b] : h.buckets) {
          const auto bar = static_cast<std::size_t>(40.0 * static_cast<double>(b.second) /
                                                    static_cast<double>(peak));
          out += fmt::format("      [{:>9}, {:>9}] {:>12} |{}\n", duration_text(min),
                             duration_text(b.first), count_text(b.second),
                             std::string(std::max<std::size_t>(bar, 1), '@'));
        }
      }
    }
  }

  if (!iv.locks.empty()) {
    std::vector<std::pair<std::pair<u64, unsigned>, wait_total>> hot(iv.locks.begin(), iv.locks.end());
    std::sort(hot.begin(), hot.end(), [](auto& a, auto& b) { return a.second.ns > b.second.ns; });
    out += "  hottest locks (waits past the first try)\n";
    for (std::size_t i = 0; i < hot.size() && i < 5; ++i) {
      out += fmt::format("    {:<16} {:<18} {:>10} waits {:>12}\n", hex(hot[i].first.first),
                         lock_kind_name(hot[i].first.second), count_text(hot[i].second.count),
                         duration_text(hot[i].second.ns));
    }
  }
  // A growing table resizes in bursts: the first few, then a count.
  constexpr std::size_t resizes_shown = 5;
  for (std::size_t i = 0; i < iv.resizes.size() && i < resizes_shown; ++i) {
    const auto& r = iv.resizes[i];
    out += fmt::format("  resize: map {} table {}: {} -> {} slots in {}\n", hex(r.map),
                       hex(r.table), count_text(r.old_capacity), count_text(r.new_capacity),
                       duration_text(r.ns));
  }
  if (iv.resizes.size() > resizes_shown) {
    out += fmt::format("  ... and {} more resizes\n", iv.resizes.size() - resizes_shown);
  }
  for (const auto& [domain, r] : iv.reclaim) {
    out += fmt::format("  reclaim: domain {}: {} freed in {} passes, backlog {} (largest {})\n",
                       hex(domain), count_text(r.freed), count_text(r.passes),
                       count_text(r.backlog), count_text(r.backlog_max));
  }
  for (const auto& [exec, b] : iv.batches) {
    out += fmt::format("  serial batches: executor {}: {} batches, {} commands (largest {})\n",
                       hex(exec), count_text(b.batches), count_text(b.commands),
                       count_text(b.largest));
  }
  for (const auto& [log, s] : iv.syncs) {
    out += fmt::format("  log syncs: log {}: {} syncs, {} bytes, {} in all, longest {}\n", hex(log),
                       count_text(s.syncs), count_text(s.bytes), duration_text(s.ns),
                       duration_text(s.max_ns));
  }
  if (races) {
    if (iv.races.empty()) out += "  races: none seen\n";
    for (const auto& [key, n] : iv.races) {
      const auto& [map, a, b] = key;
      out += fmt::format(
          "  RACE on checked_map {}: tid {} ({}) and tid {} ({}) inside it at once, {} time{}\n",
          hex(map), a.tid, op_name(a.op), b.tid, op_name(b.op), count_text(n), n == 1 ? "" : "s");
    }
  }
  for (const auto& [v, n] : iv.violations) {
    out += fmt::format(
        "  checked_map {} reported: {} ({} on cmap thread {}, {} on cmap thread {}), {} time{}\n",
        hex(v.map), violation_name(v.kind), op_name(v.op), v.thread, op_name(v.other_op),
        v.other_thread, count_text(n), n == 1 ? "" : "s");
  }
  return out;
}

// ---- JSON ---------------------------------------------------------------------------------

nlohmann::ordered_json render_json(const interval& iv, bool races, bool final_summary, long pid) {
  using json = nlohmann::ordered_json;
  json j;
  j["type"] = final_summary ? "summary" : "interval";
  j["pid"] = pid;
  j["t"] = iv.end;
  j["seconds"] = iv.seconds;
  const double secs = iv.seconds > 0 ? iv.seconds : 1;

  j["maps"] = json::array();
  for (const auto& [id, by_op] : ops_by_map(iv)) {
    json m;
    m["address"] = hex(id.first);
    m["kind"] = kind_name(id.second);
    m["ops"] = total(by_op);
    m["ops_per_s"] = static_cast<double>(total(by_op)) / secs;
    m["operations"] = json::object();
    for (const auto& [op, n] : by_op) m["operations"][op_name(op)] = n;
    const auto w = iv.map_waits.find(id.first);
    m["lock_waits"] = w == iv.map_waits.end() ? 0 : w->second.count;
    m["lock_wait_ns"] = w == iv.map_waits.end() ? 0 : w->second.ns;
    j["maps"].push_back(m);
  }

  j["latency"] = json::array();
  for (const auto& [id, h] : iv.latency) {
    json l;
    l["kind"] = kind_name(id.first);
    l["op"] = op_name(id.second);
    l["count"] = h.count();
    l["p50_ns"] = h.quantile_bound(0.5);
    l["p90_ns"] = h.quantile_bound(0.9);
    l["p99_ns"] = h.quantile_bound(0.99);
    l["max_ns"] = h.quantile_bound(1);
    l["buckets"] = json::array();
    for (const auto& [min, b] : h.buckets) {
      l["buckets"].push_back({{"min_ns", min}, {"max_ns", b.first}, {"count", b.second}});
    }
    j["latency"].push_back(l);
  }

  j["locks"] = json::array();
  for (const auto& [id, w] : iv.locks) {
    j["locks"].push_back({{"address", hex(id.first)},
                          {"kind", lock_kind_name(id.second)},
                          {"waits", w.count},
                          {"wait_ns", w.ns}});
  }
  std::sort(j["locks"].begin(), j["locks"].end(),
            [](const json& a, const json& b) { return a["wait_ns"] > b["wait_ns"]; });

  j["resizes"] = json::array();
  for (const auto& r : iv.resizes) {
    j["resizes"].push_back({{"map", hex(r.map)},
                            {"table", hex(r.table)},
                            {"old_capacity", r.old_capacity},
                            {"new_capacity", r.new_capacity},
                            {"ns", r.ns}});
  }
  j["reclaim"] = json::array();
  for (const auto& [domain, r] : iv.reclaim) {
    j["reclaim"].push_back({{"domain", hex(domain)},
                            {"freed", r.freed},
                            {"passes", r.passes},
                            {"backlog", r.backlog},
                            {"backlog_max", r.backlog_max}});
  }
  j["serial_batches"] = json::array();
  for (const auto& [exec, b] : iv.batches) {
    j["serial_batches"].push_back({{"executor", hex(exec)},
                                   {"batches", b.batches},
                                   {"commands", b.commands},
                                   {"largest", b.largest}});
  }
  j["log_syncs"] = json::array();
  for (const auto& [log, s] : iv.syncs) {
    j["log_syncs"].push_back({{"log", hex(log)},
                              {"syncs", s.syncs},
                              {"bytes", s.bytes},
                              {"ns", s.ns},
                              {"max_ns", s.max_ns}});
  }
  if (races) {
    j["races"] = json::array();
    for (const auto& [key, n] : iv.races) {
      const auto& [map, a, b] = key;
      j["races"].push_back({{"map", hex(map)},
                            {"kind", "checked_map"},
                            {"count", n},
                            {"threads",
                             {{{"tid", a.tid}, {"op", op_name(a.op)}},
                              {{"tid", b.tid}, {"op", op_name(b.op)}}}}});
    }
  }
  j["violations"] = json::array();
  for (const auto& [v, n] : iv.violations) {
    j["violations"].push_back({{"map", hex(v.map)},
                               {"kind", violation_name(v.kind)},
                               {"op", op_name(v.op)},
                               {"thread", v.thread},
                               {"other_op", op_name(v.other_op)},
                               {"other_thread", v.other_thread},
                               {"count", n}});
  }
  return j;
}

}  // namespace cmap_watch
