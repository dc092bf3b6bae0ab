// A fuzz target for the hash maps' engines: the input bytes are a program of
// single-threaded calls, run on each hash map of the library (concurrent_hash_map with inline
// u64 -> u64 slots, growing by doubling or by half, and with node storage and std::string
// values; read_mostly_map; locked_map and sharded_map, over flat_table; snapshot_map, a
// persistent trie) and checked call by call against a std::unordered_map model.
//
// What a random test with a good hash rarely reaches, the input chooses here: the hash
// itself. Besides cmap::hash, it may put every key in a handful of home groups (long probe
// chains, overflow bits set everywhere), give every key the same 7-bit tag (each probe
// compares keys in every slot; in the trie, long shared prefixes), or give every key the same
// hash (one probe sequence for all; one collision node). Small key universes and the erase
// calls fill tables with tombstones, so tables rebuild at the same size as well as grow;
// reserve, rehash and shrink_to_fit (which rebuild smaller tables too), clear,
// set_growth_policy, erase_if, insert(first, last), stats() and visit_bulk are calls of the
// program, where the map has them.
//
// Checks: each call's result against the model; size() after every call; every 64 calls
// and at the end, for_each (each key exactly once, values equal to the model's) and, where
// the map has it, visit_bulk over the whole key universe (the found count, each index once,
// the values). A failed check prints the call and aborts, which libFuzzer reports with the
// input.
//
// Built two ways (tests/CMakeLists.txt): with libFuzzer (clang, CMAP_FUZZ=ON, `make fuzz`),
// or with driver.cpp, which runs fixed pseudo-random inputs as an ordinary test.

#include <algorithm>
#include <cmap/concurrent_hash_map.hpp>
#include <cmap/locked_map.hpp>
#include <cmap/map_stats.hpp>
#include <cmap/read_mostly_map.hpp>
#include <cmap/sharded_map.hpp>
#include <cmap/snapshot_map.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "key_calls.hpp"

namespace {

// How keys hash; chosen by the input's first byte, stored in every map's hasher.
enum class hash_mode : std::uint8_t {
  mixed,       // cmap::hash: what users get
  few_groups,  // the top bits take 4 values: every key's home group is one of 4
  one_tag,     // well spread home groups, but every key has the same tag and overflow bit
  few_groups_one_tag,
  constant,  // every key has the same hash: one probe sequence for all
  count_
};

struct fuzz_hash {
  hash_mode mode = hash_mode::mixed;
  std::size_t operator()(std::uint64_t k) const noexcept {
    // A fixed seed, so that an input replays the same run (and the same layout) every time.
    const std::uint64_t mixed = cmap::hash<std::uint64_t>{0}(k);
    switch (mode) {
      case hash_mode::mixed:
        return mixed;
      case hash_mode::few_groups:
        return ((k & 3) << 62) | (mixed >> 2 & 0x7F);
      case hash_mode::one_tag:
        return (mixed & ~std::uint64_t{0x7F}) | 0x15;
      case hash_mode::few_groups_one_tag:
        return ((k & 3) << 62) | 0x15;
      case hash_mode::constant:
      case hash_mode::count_:
        break;
    }
    return 0x2A;
  }
};

[[noreturn]] void fail(const char* what, std::size_t call, std::uint64_t key, const char* map) {
  std::fprintf(stderr, "maps_fuzz: %s (map %s, call %zu, key %llu)\n", what, map, call,
               static_cast<unsigned long long>(key));
  std::abort();
}

using cmap_fuzz::bump;
using cmap_fuzz::input;
using cmap_fuzz::key_call;
using cmap_fuzz::make_value;

// The calls besides the key calls (cmap_fuzz::run_key_call).
enum class call : std::uint8_t {
  // 0 to key_call::count_ - 1: the key calls.
  erase_if = static_cast<std::uint8_t>(key_call::count_),
  clear,
  reserve,
  set_growth_policy,
  visit_bulk,
  // Runs of up to 1020 consecutive keys of the universe: short inputs still grow tables,
  // fill them with tombstones and shrink them.
  insert_run,
  erase_run,
  // Rebuilds that may shrink the table, and the bulk calls.
  rehash,
  shrink_to_fit,
  insert_range,
  stats,
  count_
};

template <class Map>
class program {
  using T = typename Map::mapped_type;

 public:
  program(Map& m, const char* name, const std::vector<std::uint64_t>& keys)
      : m_(m), name_(name), keys_(keys) {}

  void run(input in) {
    for (call_ = 0; !in.empty(); ++call_) {
      step(in);
      if (m_.size() != model_.size()) fail("size() differs from the model", call_, key_, name_);
      if (m_.empty() != model_.empty()) fail("empty() differs", call_, key_, name_);
      if (call_ % 64 == 63) full_check();
    }
    full_check();
  }

 private:
  void check(bool ok, const char* what) const {
    if (!ok) fail(what, call_, key_, name_);
  }

  void step(input& in) {
    const auto c = static_cast<call>(in.byte() % static_cast<unsigned>(call::count_));
    const std::size_t ki = keys_.size() <= 256 ? in.byte() % keys_.size() : in.u16() % keys_.size();
    key_ = keys_[ki];
    const std::uint64_t k = key_;
    // Few distinct values, so that compare_exchange and compare_erase sometimes match.
    const std::uint64_t raw = in.byte() % 8;
    const T v = make_value<T>(raw);
    if (cmap_fuzz::is_key_call(c)) {
      cmap_fuzz::run_key_call(static_cast<key_call>(c), m_, model_, k, k, v, in,
                              [this](bool ok, const char* what) { check(ok, what); });
      return;
    }
    switch (c) {
      case call::erase_if: {
        // Erase the entries whose key has the input's bit pattern in its low bits.
        const std::uint64_t mask = raw % 4;
        std::size_t want = 0;
        for (auto i = model_.begin(); i != model_.end();) {
          if ((i->first & 3) == mask) {
            i = model_.erase(i);
            ++want;
          } else {
            ++i;
          }
        }
        const std::size_t got =
            m_.erase_if([mask](std::uint64_t key, const T&) { return (key & 3) == mask; });
        check(got == want, "erase_if's count");
        break;
      }
      case call::clear:
        // Rare: it undoes the growth that the other calls work for.
        if (raw == 0 && in.byte() < 16) {
          m_.clear();
          model_.clear();
        }
        break;
      case call::reserve: {
        const auto n = static_cast<std::size_t>(in.u16() % 8192);
        if constexpr (requires { m_.reserve(n); }) m_.reserve(n);
        break;
      }
      case call::set_growth_policy: {
        const cmap::growth_policy g =
            (raw & 1) != 0 ? cmap::growth_policy::grow_by_half : cmap::growth_policy::double_size;
        if constexpr (requires { m_.set_growth_policy(g); }) m_.set_growth_policy(g);
        break;
      }
      case call::visit_bulk:
        bulk_check();
        break;
      case call::insert_run:
      case call::erase_run: {
        cmap_fuzz::run_of_keys(c == call::insert_run, m_, model_, keys_, ki,
                               std::size_t{in.byte()} * 4, v, key_,
                               [this](bool ok, const char* what) { check(ok, what); });
        break;
      }
      case call::rehash: {
        const auto n = static_cast<std::size_t>(in.u16() % 8192);
        m_.rehash(n);
        break;
      }
      case call::shrink_to_fit:
        m_.shrink_to_fit();
        break;
      case call::insert_range: {
        // Up to 16 consecutive keys of the universe, the first one twice (the first of equal
        // keys wins).
        std::vector<std::pair<std::uint64_t, T>> entries;
        const std::size_t n = 1 + raw % 16;
        for (std::size_t j = 0; j < n; ++j)
          entries.emplace_back(keys_[(ki + j) % keys_.size()], make_value<T>(j));
        entries.emplace_back(entries.front().first, make_value<T>(99));
        std::size_t want = 0;
        for (const auto& [key, value] : entries) want += model_.emplace(key, value).second ? 1 : 0;
        check(m_.insert(entries.begin(), entries.end()) == want, "insert(first, last)'s count");
        break;
      }
      case call::stats: {
        const cmap::map_stats st = m_.stats();
        check(st.size == model_.size(), "stats().size");
        check(st.allocated_bytes == m_.allocated_bytes(), "stats().allocated_bytes");
        check(st.capacity >= st.size, "stats().capacity below size");
        if (st.slots != 0) check(st.capacity + st.tombstones <= st.slots, "stats() room");
        break;
      }
      default:  // the key calls, made above
        break;
    }
  }

  // for_each shows each key of the model exactly once, with the model's value.
  void full_check() {
    std::unordered_map<std::uint64_t, int> seen;
    m_.for_each([&](std::uint64_t k, const T& x) {
      key_ = k;
      const auto it = model_.find(k);
      check(it != model_.end(), "for_each shows a key the model does not have");
      check(it->second == x, "for_each shows a value other than the model's");
      check(++seen[k] == 1, "for_each shows a key twice");
      return true;
    });
    check(seen.size() == model_.size(), "for_each misses keys of the model");
    bulk_check();
  }

  // visit_bulk over the whole key universe (with every key twice, so batches see repeats).
  void bulk_check() {
    if constexpr (requires(std::vector<std::uint64_t>::iterator i) {
                    m_.visit_bulk(i, i, [](std::size_t, const T&) {});
                  }) {
      bulk_check_on();
    }
  }
  void bulk_check_on() {
    std::vector<std::uint64_t> batch(keys_);
    batch.insert(batch.end(), keys_.begin(), keys_.end());
    std::vector<int> calls(batch.size(), 0);
    const std::size_t found =
        m_.visit_bulk(batch.begin(), batch.end(), [&](std::size_t i, const T& x) {
          check(i < batch.size(), "visit_bulk's index is out of range");
          key_ = batch[i];
          const auto it = model_.find(batch[i]);
          check(it != model_.end(), "visit_bulk finds a key the model does not have");
          check(it->second == x, "visit_bulk's value differs from the model's");
          ++calls[i];
        });
    std::size_t want = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const bool present = model_.count(batch[i]) != 0;
      want += present ? 1 : 0;
      check(calls[i] == (present ? 1 : 0), "visit_bulk calls f other than once per found key");
    }
    check(found == want, "visit_bulk's count");
  }

  Map& m_;
  const char* name_;
  const std::vector<std::uint64_t>& keys_;
  std::unordered_map<std::uint64_t, T> model_;
  std::size_t call_ = 0;
  std::uint64_t key_ = 0;
};

// Runs the program on the map that make() returns (the maps are neither copyable nor
// movable: make returns a prvalue, constructed in place).
// by_half: growth by half from the start, where the map has growth policies.
template <class Make>
void run_one(const char* name, Make make, bool by_half, const std::vector<std::uint64_t>& keys,
             input in) {
  auto m = make();
  if constexpr (requires { m.set_growth_policy(cmap::growth_policy::grow_by_half); }) {
    if (by_half) m.set_growth_policy(cmap::growth_policy::grow_by_half);
  }
  program<decltype(m)>(m, name, keys).run(in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in(data, size);
  // Header: hash mode, key universe, initial capacity, which maps.
  fuzz_hash h;
  h.mode = static_cast<hash_mode>(in.byte() % static_cast<unsigned>(hash_mode::count_));
  static constexpr std::size_t universes[] = {8, 64, 256, 4096};
  const std::size_t universe = universes[in.byte() % 4];
  // The constant hash makes every call O(n): keep those tables small.
  const std::size_t keys_used =
      h.mode == hash_mode::constant ? std::min<std::size_t>(universe, 256) : universe;
  const std::size_t capacity = in.byte() % 64;
  const std::uint8_t maps = in.byte();
  std::vector<std::uint64_t> keys;
  keys.reserve(keys_used);
  for (std::size_t i = 0; i < keys_used; ++i) keys.push_back(i * 0x9E3779B97F4A7C15ULL + 1);

  using u64 = std::uint64_t;
  // Each set bit of `maps` runs one map; none set: all of them.
  const unsigned run = (maps & 63) != 0 ? maps & 63 : 63;
  const bool by_half = (maps & 64) != 0;
  const input program_bytes = in;
  if ((run & 1) != 0)
    run_one(
        "concurrent_hash_map<u64, u64>",
        [&] { return cmap::concurrent_hash_map<u64, u64, fuzz_hash>(capacity, h); }, by_half, keys,
        program_bytes);
  if ((run & 2) != 0)
    run_one(
        "concurrent_hash_map<u64, string>",
        [&] { return cmap::concurrent_hash_map<u64, std::string, fuzz_hash>(capacity, h); },
        by_half, keys, program_bytes);
  if ((run & 4) != 0)
    run_one(
        "read_mostly_map<u64, u64>",
        [&] { return cmap::read_mostly_map<u64, u64, fuzz_hash>(capacity, h); }, by_half, keys,
        program_bytes);
  if ((run & 8) != 0)
    run_one(
        "locked_map<u64, u64>", [&] { return cmap::locked_map<u64, u64, fuzz_hash>(capacity, h); },
        by_half, keys, program_bytes);
  if ((run & 16) != 0)
    run_one(
        "sharded_map<u64, u64>",
        [&] {
          // 1 to 8 shards: a power of two, as sharded_map requires.
          return cmap::sharded_map<u64, u64, fuzz_hash>(
              capacity, {.shards = std::size_t{1} << (capacity % 4)}, h);
        },
        by_half, keys, program_bytes);
  if ((run & 32) != 0)
    run_one(
        "snapshot_map<u64, u64>",
        [&] { return cmap::snapshot_map<u64, u64, fuzz_hash>(capacity, h); }, by_half, keys,
        program_bytes);
  return 0;
}
