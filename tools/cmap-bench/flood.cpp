#include "flood.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmap/hash.hpp>
#include <cmap/sharded_map.hpp>
#include <cstring>
#include <map>
#include <tuple>
#include <unordered_set>

#include "adapters/hash_seed.hpp"
#include "format.hpp"
#include "generator.hpp"
#include "hash_flood.hpp"

namespace cmap_bench {

namespace {

constexpr const char* row_separator = " / ";

// What a map's attack keys are made for: a layout, and for sharded_map its shard count.
struct attack_kind {
  hash_flood::layout layout;
  std::size_t shards = 1;
  // operator< rather than a defaulted <=>, which clang-tidy's modernize-use-nullptr misreads.
  friend bool operator<(const attack_kind& a, const attack_kind& b) {
    return std::tie(a.layout, a.shards) < std::tie(b.layout, b.shards);
  }
};

// For u64 keys one set hits every open-addressing table at once, sharded_map's shards
// included (its hashes are chosen: bits cost nothing); a search for string keys fixes only
// the bits of the map's own layout: for sharded_map, those of its shard count.
attack_kind attack_for(const selected_map& m, bool string_keys) {
  const hash_flood::layout l = m.info->flood->layout;
  if (!string_keys) {
    switch (l) {
      case hash_flood::layout::concurrent_groups:
      case hash_flood::layout::flat_groups:
      case hash_flood::layout::sharded:
        return {hash_flood::layout::open_addressing};
      default:
        return {l};
    }
  }
  if (l == hash_flood::layout::sharded)
    return {l, m.param != 0 ? m.param
                            : cmap::sharded_map<std::string, std::uint64_t>::default_shard_count()};
  return {l};
}

// The key sets of one workload, made before any timing.
struct key_sets {
  std::vector<std::uint64_t> random_u64;
  std::vector<std::string> random_strings;
  struct attack {
    std::vector<std::uint64_t> u64;
    std::vector<std::string> strings;
    std::string note;  // what the keys share, and what finding them took
  };
  std::map<attack_kind, attack> attacks;
};

key_sets make_key_sets(const workload& w, const std::vector<selected_map>& maps,
                       const run_options& opt) {
  using clock = std::chrono::steady_clock;
  const std::size_t n = w.key_universe;
  key_sets sets;
  rng r(w.seed);
  if (w.string_keys) {
    // "uid:" and a random number below 10^8: as long as the attack keys' numbers.
    std::unordered_set<std::uint64_t> used;
    while (sets.random_strings.size() < n) {
      const std::uint64_t id = r() % 100'000'000;
      if (used.insert(id).second) sets.random_strings.push_back(hash_flood::uid_key(id));
    }
  } else {
    std::unordered_set<std::uint64_t> used;
    while (sets.random_u64.size() < n) {
      const std::uint64_t k = r();
      if (used.insert(k).second) sets.random_u64.push_back(k);
    }
  }
  for (const auto& m : maps) {
    if (!m.info->flood) continue;
    const attack_kind kind = attack_for(m, w.string_keys);
    if (sets.attacks.count(kind)) continue;
    const auto l = kind.layout;
    const std::string layout_text = l == hash_flood::layout::sharded
                                        ? fmt::format("sharded layout ({} shards)", kind.shards)
                                        : fmt::format("{} layout", hash_flood::layout_name(l));
    if (opt.progress) {
      fmt::print(stderr, "\r\033[K[{}] finding {} attack keys for the {} ...", w.name, n,
                 layout_text);
      std::fflush(stderr);
    }
    const hash_flood::flood_options options{.shards = kind.shards};
    const auto start = clock::now();
    key_sets::attack a;
    hash_flood::hash_target target;
    std::uint64_t tried = 0;
    bool chosen = false;
    if (w.string_keys) {
      auto set = hash_flood::flood_keys<std::string>(fixed_hash<std::string>(), l, n, options);
      a.strings = std::move(set.keys);
      target = set.target;
      tried = set.tried;
    } else {
      auto set = hash_flood::flood_keys<std::uint64_t>(fixed_hash<std::uint64_t>(), l, n, options);
      a.u64 = std::move(set.keys);
      target = set.target;
      tried = set.tried;
      chosen = set.chosen;
    }
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    a.note = fmt::format(
        "attack keys for the {}: {}; {}, {:.2f} s", layout_text, hash_flood::describe(target),
        chosen ? "hashes chosen and inverted" : fmt::format("{} candidates hashed", tried),
        seconds);
    sets.attacks.emplace(kind, std::move(a));
  }
  return sets;
}

}  // namespace

const char* flood_key_set_name(flood_key_set s) noexcept {
  switch (s) {
    case flood_key_set::random:
      return "random";
    case flood_key_set::attack_known_seed:
      return "attack, seed known";
    case flood_key_set::attack_secret_seed:
      return "attack, secret seed";
  }
  return "?";
}

std::string flood_row_name(const std::string& map, flood_key_set s) {
  return map + row_separator + flood_key_set_name(s);
}

std::string flood_reference_row(const std::string& row) {
  const auto at = row.rfind(row_separator);
  return flood_row_name(at == std::string::npos ? row : row.substr(0, at), flood_key_set::random);
}

std::vector<map_result> run_hash_flood(const workload& w, const std::vector<selected_map>& maps,
                                       const run_options& opt) {
  const key_sets sets = make_key_sets(w, maps, opt);
  std::vector<map_result> out;
  for (unsigned threads : w.threads) {
    if (opt.stop->load()) break;
    // One row per map and key set, in that order; a map the preset cannot run gets one n/a row.
    struct cell {
      const selected_map* map;
      flood_key_set set;
      map_result row;
    };
    std::vector<cell> cells;
    for (const auto& m : maps) {
      if (!m.info->flood) {
        map_result r;
        r.workload = w.name;
        r.map = m.name;
        r.threads = threads;
        r.status = "n/a";
        r.note = "hash-flood runs the cmap hash maps only";
        out.push_back(std::move(r));
        continue;
      }
      const auto& attack = sets.attacks.at(attack_for(m, w.string_keys));
      for (flood_key_set s : flood_key_sets) {
        cell c{&m, s, {}};
        c.row.workload = w.name;
        c.row.map = flood_row_name(m.name, s);
        c.row.threads = threads;
        if (s != flood_key_set::random) c.row.note = attack.note;
        cells.push_back(std::move(c));
      }
    }
    // Interleaved (the default): repetition 1 of every map and key set, then repetition 2, ...;
    // sequential: every repetition of one before the next. cells holds each map's key sets
    // together, in flood_key_sets' order.
    const unsigned rounds = opt.sequential ? 1 : w.repetitions;
    const unsigned per_turn = opt.sequential ? w.repetitions : 1;
    bool interrupted = false;
    constexpr std::size_t sets_per_map = std::size(flood_key_sets);
    for (unsigned round = 0; round < rounds && !interrupted; ++round) {
      for (std::size_t turn = 0; turn < cells.size(); ++turn) {
        if (interrupted) break;
        // A map's key sets in a rotating order: none always runs first after another map.
        const std::size_t first_of_map = turn - turn % sets_per_map;
        cell& c = cells[first_of_map + (turn % sets_per_map + round) % sets_per_map];
        const auto& attack = sets.attacks.at(attack_for(*c.map, w.string_keys));
        flood_request rq;
        rq.threads = threads;
        rq.param = c.map->param;
        rq.stop = opt.stop;
        const bool random = c.set == flood_key_set::random;
        if (w.string_keys) {
          rq.string_keys = random ? &sets.random_strings : &attack.strings;
        } else {
          rq.u64_keys = random ? &sets.random_u64 : &attack.u64;
        }
        if (c.set != flood_key_set::attack_secret_seed) rq.hash_seed = hash_seed();
        for (unsigned rep = 0; rep < per_turn; ++rep) {
          if (opt.progress) {
            fmt::print(stderr, "\r\033[K[{}] {} at {} thread{}, repetition {}/{} ...", w.name,
                       c.row.map, threads, threads == 1 ? "" : "s", round + rep + 1, w.repetitions);
            std::fflush(stderr);
          }
          rep_result total;
          while (total.seconds < flood_min_repetition_seconds) {
            const auto cycle = c.map->info->flood->run(rq);
            if (!cycle) {
              interrupted = true;  // Ctrl-C: keep the repetitions measured
              break;
            }
            total.seconds += cycle->seconds;
            total.ops += cycle->ops;
          }
          if (interrupted) break;
          total.mops = static_cast<double>(total.ops) / total.seconds / 1e6;
          c.row.reps.push_back(total);
        }
      }
    }
    for (auto& c : cells) {
      if (c.row.reps.empty()) {
        c.row.status = "interrupted";
      } else {
        summarise(c.row);
      }
      out.push_back(std::move(c.row));
    }
    if (interrupted) break;
  }
  if (opt.progress) {
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  return out;
}

std::string format_flood_table(const report_input& in, const workload& w) {
  const auto rows = rows_of(in.results, w.name);
  std::string out = fmt::format("== {} ==\n   {}\n", w.name, w.description);
  out += fmt::format(
      "   {} {} keys{}, 8 B values: a cycle inserts all of them into an empty map, then finds "
      "each once ({} ops; the threads split the keys); a repetition runs cycles for at least "
      "20 ms; {} reps, the maps and key sets taking turns\n   hash seed {:#x}: the run's fixed "
      "seed, which the attacker knows; the secret-seed maps draw their own\n",
      w.key_universe, w.string_keys ? "string" : "u64",
      w.string_keys ? " (\"uid:\" and a number)" : "", w.ops, w.repetitions, in.meta.hash_seed);
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header{"map", "keys"};
  for (unsigned t : w.threads) header.push_back(fmt::format("{} thr", t));
  table.push_back(header);
  std::vector<std::string> notes;  // "note" -> the maps it concerns, in order
  std::map<std::string, std::vector<std::string>> note_maps;
  std::string previous_map;
  for (const auto& name : map_names(rows)) {
    const auto at = name.rfind(row_separator);
    const std::string map = at == std::string::npos ? name : name.substr(0, at);
    const std::string set =
        at == std::string::npos ? std::string("-") : name.substr(at + std::strlen(row_separator));
    std::vector<std::string> line{map == previous_map ? "" : map, set};
    previous_map = map;
    for (unsigned t : w.threads) {
      const auto* r = find_row(rows, name, t);
      if (r == nullptr) {
        line.emplace_back("-");
        continue;
      }
      if (!r->note.empty()) {
        if (note_maps.find(r->note) == note_maps.end()) notes.push_back(r->note);
        auto& list = note_maps[r->note];
        if (std::find(list.begin(), list.end(), map) == list.end()) list.push_back(map);
      }
      if (!r->ok()) {
        line.push_back(r->status);
        continue;
      }
      const rate_unit unit = unit_for(r->median_mops);
      std::string cell = fmt::format(
          "{} [{}-{}]{}", three_digits(in_unit(r->median_mops, unit)),
          three_digits(in_unit(r->min_mops, unit)), three_digits(in_unit(r->max_mops, unit)),
          unit == rate_unit::mops ? "" : std::string(" ") + unit_name(unit));
      const auto* base = find_row(rows, flood_reference_row(name), t);
      if (base != nullptr && base != r && base->ok() && base->median_mops > 0)
        cell += " " + format_ratio(r->median_mops / base->median_mops);
      line.push_back(cell);
    }
    table.push_back(line);
  }
  out += aligned_rows(table);
  for (const auto& n : notes) {
    std::string maps;
    for (const auto& m : note_maps[n]) maps += (maps.empty() ? "" : ", ") + m;
    out += fmt::format("   {}: {}\n", maps, n);
  }
  out +=
      "   Throughput: median Mops/s of the repetitions [min-max], inserts and finds together; "
      "xR = median / the same map's random keys at the same thread count.\n\n";
  return out;
}

}  // namespace cmap_bench
