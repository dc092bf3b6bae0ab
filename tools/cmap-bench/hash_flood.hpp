#pragma once
// hash_flood: keys chosen to collide in a hash table, to measure what hash flooding costs
// cmap's maps (cmap-bench's hash-flood preset) and to test that a seeded hash spreads them
// (tests/cmap_bench/hash_flood_test.cpp). Header-only, on the standard library and mix.hpp
// alone, so that the library's tests may include it as well as cmap-bench.
//
// The attack
// ----------
// A table places a key by a few bits of its hash. Whoever can compute the hash can pick keys
// whose hashes agree in those bits: they all land in one group, one bucket or one trie path,
// so every insert and lookup walks past the keys placed there before it, and n keys cost
// O(n^2) instead of O(n). cmap::hash keys the hash with a secret seed per map; keys chosen
// against one seed (one the attacker learnt, or a benchmark's fixed seed) spread like random
// keys in a map whose seed is another. flood_keys() makes such keys against a hasher that
// the attacker knows.
//
// Layouts: where a map puts a hash h (the maps' headers say the same; the tests check the keys
// against these formulas)
//   concurrent_groups  concurrent_hash_map, read_mostly_map (detail/concurrent_table.hpp):
//                      groups of 15 slots, at most 7/8 full, any group count; home group
//                      mul_high(h, groups), that is h's top bits; tag h & 0x7F (which also
//                      picks the group's overflow bit); the writer stripe is h's top bits.
//   flat_groups        locked_map, and each shard of sharded_map (detail/flat_table.hpp): a
//                      power-of-two number of 16-slot groups, at most 7/8 full; group
//                      (h >> 7) & (groups - 1); tag h & 0x7F.
//   sharded            sharded_map (sharded_map.hpp): the shard is h's top log2(shards) bits,
//                      then flat_groups in the shard's table.
//   open_addressing    all three at once: h's top bits, bits 7 and up, and the tag.
//   buckets            std::unordered_map, so checked_map and cmap-bench's std_shared_mutex
//                      (libstdc++): bucket h % count, a prime count that grows with the size.
//   trie               snapshot_map, serial_map (detail/champ.hpp): 5 bits of h per level
//                      from bit 0 up; keys that share their low bits share the top of a path.
//                      A 64-bit hash gives at most 13 levels: only equal hashes share a
//                      collision node, so for a bijective hash the path length is bounded.
//
// Targets
// -------
// A hash_target fixes some bits of the hash (mask and value) and, for buckets, the remainder
// by a modulus. flood_keys() returns distinct keys whose hashes all meet the target; the fixed
// bits are the ones the layout uses at the table size n keys need, and so at every smaller
// size: zeros at the top of the group index (any group count up to the one targeted gives
// group 0), the low levels of the trie, or a remainder of 0 by the product of the largest
// bucket counts that n keys pass through. How the keys are found:
//  - u64 keys under cmap::hash<std::uint64_t> (h = mix64(x ^ seed), a bijection): flood_keys
//    chooses the hashes and computes x = unmix64(h) ^ seed (chosen_target). Bits cost
//    nothing there, so the target fixes every bit but the bit_width(n - 1) that number the
//    keys: they collide in tables far larger than n needs, in the tag too, and for
//    open_addressing (and sharded) in both kinds of open-addressing table and in one shard of
//    sharded_map of up to 2^21 shards.
//  - any other key type or hasher (strings): candidates make_key(0), make_key(1), ... are
//    tried in order and kept when their hash meets the target (search_target). Fixing b bits
//    costs about 2^b candidates per key, so the target fixes only what the layout uses at n
//    keys, and adds the 7-bit tag (and, for the trie, further levels) only while the expected
//    number of candidates stays within max_candidates. 20,000 keys against 2048 groups take
//    about 4 * 10^7 candidates: a second or less; against one group of one of 8 shards
//    (sharded), 8 times as many.
// Also the classic structured sets, which a seeded hash spreads and an identity hash does not:
// multiples of a power of two (the table's size), and strings one byte apart.

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mix.hpp"

namespace cmap_bench::hash_flood {

enum class layout { concurrent_groups, flat_groups, sharded, open_addressing, buckets, trie };

[[nodiscard]] constexpr const char* layout_name(layout l) noexcept {
  switch (l) {
    case layout::concurrent_groups:
      return "concurrent_groups";
    case layout::flat_groups:
      return "flat_groups";
    case layout::sharded:
      return "sharded";
    case layout::open_addressing:
      return "open_addressing";
    case layout::buckets:
      return "buckets";
    case layout::trie:
      return "trie";
  }
  return "?";
}

// ---- the table sizes n keys need -----------------------------------------------------------

inline constexpr std::uint64_t concurrent_group_slots = 15;
inline constexpr std::uint64_t flat_group_slots = 16;
inline constexpr unsigned tag_bits = 7;
inline constexpr unsigned trie_level_bits = 5;

// At most 7/8 of a table's slots hold entries, in both kinds of open-addressing table.
[[nodiscard]] constexpr std::uint64_t max_load(std::uint64_t slots) noexcept {
  return slots - slots / 8;
}
// The fewest groups of concurrent_hash_map's table that hold n keys (it takes any count).
[[nodiscard]] constexpr std::uint64_t concurrent_groups_for(std::uint64_t n) noexcept {
  std::uint64_t groups = 1;
  while (max_load(groups * concurrent_group_slots) < n) groups *= 2;
  while (groups > 1 && max_load((groups - 1) * concurrent_group_slots) >= n) --groups;
  return groups;
}
// The groups of a flat table (a power of two) that holds n keys.
[[nodiscard]] constexpr std::uint64_t flat_groups_for(std::uint64_t n) noexcept {
  std::uint64_t groups = 1;
  while (max_load(groups * flat_group_slots) < n) groups *= 2;
  return groups;
}
// The bits that number `count` groups: ceil(log2(count)). Keys whose hashes have that many
// top bits zero share group 0 of every table of up to 2^bits groups, whatever its count.
[[nodiscard]] constexpr unsigned index_bits(std::uint64_t count) noexcept {
  return count <= 1 ? 0u : static_cast<unsigned>(std::bit_width(count - 1));
}
// The trie levels n random keys fill: ceil(log32(n)).
[[nodiscard]] constexpr unsigned trie_levels_for(std::uint64_t n) noexcept {
  unsigned levels = 0;
  for (std::uint64_t reach = 1; reach < n; reach <<= trie_level_bits) ++levels;
  return levels;
}
// The bucket counts a std::unordered_map passes through while n keys are inserted into it
// from empty, in order: asked of the standard library this is built with, whose containers
// are the ones attacked.
[[nodiscard]] inline std::vector<std::uint64_t> bucket_counts_for(std::size_t n) {
  struct identity {
    std::size_t operator()(std::uint64_t x) const noexcept { return static_cast<std::size_t>(x); }
  };
  std::unordered_map<std::uint64_t, char, identity> probe;
  std::vector<std::uint64_t> counts{probe.bucket_count()};
  for (std::uint64_t i = 0; i < n; ++i) {
    probe.emplace(i, 0);
    if (probe.bucket_count() != counts.back()) counts.push_back(probe.bucket_count());
  }
  return counts;
}

// ---- targets ------------------------------------------------------------------------------

// What the hashes of a key set share. A hash h meets it when (h & mask) == value and, with a
// modulus, h % modulus < residues (buckets: one of the first `residues` buckets).
struct hash_target {
  std::uint64_t mask = 0;
  std::uint64_t value = 0;
  std::uint64_t modulus = 0;  // 0: no condition on the remainder
  std::uint64_t residues = 1;

  [[nodiscard]] bool matches(std::uint64_t h) const noexcept {
    return (h & mask) == value && (modulus == 0 || h % modulus < residues);
  }
  // The expected candidates per key that meets it, for uniformly distributed hashes.
  [[nodiscard]] double cost() const noexcept {
    double c = std::ldexp(1.0, std::popcount(mask));
    if (modulus != 0) c *= static_cast<double>(modulus) / static_cast<double>(residues);
    return c;
  }
};

namespace target_detail {
// Bits [from, to) set.
[[nodiscard]] constexpr std::uint64_t bit_range(unsigned from, unsigned to) noexcept {
  if (from >= to) return 0;
  const std::uint64_t upto = to >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << to) - 1;
  return upto & ~((std::uint64_t{1} << from) - 1);
}
// The top `bits` bits set.
[[nodiscard]] constexpr std::uint64_t top_bits(unsigned bits) noexcept {
  return bit_range(64 - std::min(bits, 64u), 64);
}
// The bits that number n keys 0 .. n-1 (at least 1).
[[nodiscard]] constexpr unsigned numbering_bits(std::uint64_t n) noexcept {
  return n <= 2 ? 1u : static_cast<unsigned>(std::bit_width(n - 1));
}
}  // namespace target_detail

// "bits 0-6, 28-63 fixed", or for buckets "h % 2233421249 < 1": for a reader.
[[nodiscard]] inline std::string describe(const hash_target& t) {
  std::string out;
  for (unsigned b = 0; b < 64;) {
    if (((t.mask >> b) & 1u) == 0) {
      ++b;
      continue;
    }
    unsigned e = b;
    while (e < 64 && ((t.mask >> e) & 1u) != 0) ++e;
    out += (out.empty() ? "hash bits " : ", ") + std::to_string(b) +
           (e - b > 1 ? "-" + std::to_string(e - 1) : std::string());
    b = e;
  }
  if (!out.empty()) out += " fixed";
  if (t.modulus != 0) {
    out += (out.empty() ? "" : "; ") + std::string("h % ") + std::to_string(t.modulus) + " < " +
           std::to_string(t.residues);
  }
  return out.empty() ? "nothing fixed" : out;
}

// For hashes chosen outright (an invertible hasher): every bit fixed but the few that number
// n keys, placed where the layout does not look. The free bits are filled by chosen_hash.
[[nodiscard]] inline hash_target chosen_target(layout l, std::size_t n) {
  using namespace target_detail;
  const unsigned w = numbering_bits(n);
  hash_target t;
  switch (l) {
    case layout::concurrent_groups:
      // Numbered just above the tag: the top 57 - w bits are zero.
      t.mask = ~bit_range(tag_bits, tag_bits + w);
      break;
    case layout::flat_groups:
    case layout::trie:
      // Numbered in the top bits: every group index and trie level below them is zero.
      t.mask = ~top_bits(w);
      break;
    case layout::sharded:
    case layout::open_addressing: {
      // Numbered in the middle: the group bits of a flat table below, the top bits above
      // (concurrent table, sharded_map's shard), about half of what is left each.
      const unsigned group = (64 - tag_bits - w) / 2;
      t.mask = ~bit_range(tag_bits + group, tag_bits + group + w);
      break;
    }
    case layout::buckets: {
      // A multiple of the product of the largest bucket counts n keys pass through (primes,
      // so each divides it): bucket 0 at each of those sizes. The product keeps n multiples
      // within 64 bits.
      const auto counts = bucket_counts_for(n);
      const std::uint64_t limit =
          std::numeric_limits<std::uint64_t>::max() / std::max<std::size_t>(n, 1);
      t.modulus = 1;
      for (auto it = counts.rbegin(); it != counts.rend() && *it > 1; ++it) {
        if (t.modulus > limit / *it) break;
        t.modulus *= *it;
      }
      break;
    }
  }
  return t;
}

// The hash of key number j (0 <= j < n) under chosen_target(l, n): j's bits spread into the
// unfixed bits, lowest first; for buckets, j times the modulus.
[[nodiscard]] constexpr std::uint64_t chosen_hash(const hash_target& t, std::uint64_t j) noexcept {
  if (t.modulus != 0) return j * t.modulus;
  std::uint64_t h = t.value;
  for (unsigned b = 0; b < 64 && j != 0; ++b) {
    if (((t.mask >> b) & 1u) != 0) continue;
    h |= (j & 1u) << b;
    j >>= 1;
  }
  return h;
}

// For a search: the bits the layout uses at n keys, and the tag (trie: further levels; buckets:
// fewer buckets) only while n keys stay within max_candidates expected candidates. shards:
// sharded_map's shard count (a power of two), for layout::sharded; all n keys in one shard
// fill its table as they would one flat table.
[[nodiscard]] inline hash_target search_target(layout l, std::size_t n,
                                               std::uint64_t max_candidates,
                                               std::size_t shards = 1) {
  using namespace target_detail;
  const double budget = static_cast<double>(max_candidates);
  const double keys = static_cast<double>(std::max<std::size_t>(n, 1));
  const std::uint64_t tag = bit_range(0, tag_bits);
  auto affordable = [&](std::uint64_t mask) {
    return keys * std::ldexp(1.0, std::popcount(mask)) <= budget;
  };
  hash_target t;
  switch (l) {
    case layout::concurrent_groups:
      t.mask = top_bits(index_bits(concurrent_groups_for(n)));
      break;
    case layout::flat_groups:
      t.mask = bit_range(tag_bits, tag_bits + index_bits(flat_groups_for(n)));
      break;
    case layout::sharded:
      t.mask = top_bits(index_bits(shards)) |
               bit_range(tag_bits, tag_bits + index_bits(flat_groups_for(n)));
      break;
    case layout::open_addressing:
      t.mask = top_bits(index_bits(concurrent_groups_for(n))) |
               bit_range(tag_bits, tag_bits + index_bits(flat_groups_for(n)));
      break;
    case layout::trie: {
      // One level at least; more while affordable (each is one more node on every path).
      unsigned levels = 1;
      while (levels < 12 && affordable(bit_range(0, (levels + 1) * trie_level_bits))) ++levels;
      t.mask = bit_range(0, levels * trie_level_bits);
      return t;
    }
    case layout::buckets: {
      // The final bucket count; as few of its buckets as the budget affords.
      t.modulus = bucket_counts_for(n).back();
      const double share = std::ceil(keys * static_cast<double>(t.modulus) / budget);
      t.residues =
          static_cast<std::uint64_t>(std::clamp(share, 1.0, static_cast<double>(t.modulus)));
      return t;
    }
  }
  if (affordable(t.mask | tag)) t.mask |= tag;
  return t;
}

// ---- key sets -----------------------------------------------------------------------------

// The candidates of a search for string keys: "uid:" and the number, as user ids sent by a
// client would look.
[[nodiscard]] inline std::string uid_key(std::uint64_t i) { return "uid:" + std::to_string(i); }

// The same, written into a buffer of its own and returned as a view of it (valid until the
// next call): a search hashes up to hundreds of millions of candidates and keeps few, so it
// builds a std::string only for those it keeps, and counts up in decimal in place when asked
// for the number after the last one (the search's order) rather than formatting each anew.
class uid_candidates {
 public:
  std::string_view operator()(std::uint64_t i) noexcept {
    if (i != next_ || end_ == 0) {
      end_ = static_cast<std::size_t>(
          std::to_chars(buffer_ + prefix, buffer_ + sizeof buffer_ - 1, i).ptr - buffer_);
    } else {
      std::size_t d = end_;
      while (d > prefix && buffer_[d - 1] == '9') buffer_[--d] = '0';
      if (d > prefix) {
        ++buffer_[d - 1];
      } else {  // all nines: one digit more
        buffer_[prefix] = '1';
        buffer_[end_++] = '0';
      }
    }
    next_ = i + 1;
    return {buffer_, end_};
  }

 private:
  static constexpr std::size_t prefix = 4;
  // "uid:", then up to 20 digits (any 64-bit number), and room for the carry's extra digit.
  char buffer_[prefix + 21] = {'u', 'i', 'd', ':'};
  std::size_t end_ = 0;     // the view's length; 0 before the first call
  std::uint64_t next_ = 0;  // the number one more than the last one written
};

struct flood_options {
  // The expected candidates a search may take in all (see search_target): a few seconds for
  // short strings.
  std::uint64_t max_candidates = std::uint64_t{1} << 28;
  // layout::sharded: the shard count of the sharded_map attacked (a power of two).
  std::size_t shards = 1;
};

template <class Key>
struct flood_set {
  std::vector<Key> keys;    // distinct, in the order found
  hash_target target;       // what their hashes under the known hasher share
  std::uint64_t tried = 0;  // candidates hashed (n when the hashes were chosen)
  bool chosen = false;      // hashes chosen and inverted, rather than searched for
};

namespace flood_detail {
template <class Hasher>
concept seeded_integer_hash = requires(const Hasher& h, std::uint64_t x) {
  { h.seed() } -> std::convertible_to<std::uint64_t>;
  { h(x) } -> std::convertible_to<std::uint64_t>;
};

// The candidates flood_keys tries when it is given none: uid strings, or the integers in order.
template <class Key>
auto default_candidates() {
  if constexpr (std::is_same_v<Key, std::string>) {
    return uid_candidates();
  } else {
    static_assert(std::is_integral_v<Key>, "give flood_keys a make_key for this key type");
    return [](std::uint64_t i) { return static_cast<Key>(i); };
  }
}

// A candidate's hash: as it is where the hasher takes it (a transparent string hash takes a
// std::string_view), else as a Key.
template <class Key, class Hasher, class Candidate>
std::uint64_t hash_of(const Hasher& hash, const Candidate& c) {
  if constexpr (std::is_invocable_v<const Hasher&, const Candidate&>) {
    return static_cast<std::uint64_t>(hash(c));
  } else {
    return static_cast<std::uint64_t>(hash(Key(c)));
  }
}
}  // namespace flood_detail

// n distinct keys whose hashes under `known` (the hasher the attacker can compute) meet a
// target for layout l: chosen_target's with inverted hashes for u64 keys under a seeded
// mix64 (cmap::hash<std::uint64_t>; each key checked against `known`, else searched for),
// search_target's otherwise, trying make_key(0), make_key(1), ... in order (each a Key, or
// anything a Key is constructed from, such as a std::string_view). A search that runs past
// 4 * max(expected, max_candidates) candidates (a hasher that never meets the target, or
// make_key repeating itself) throws std::runtime_error.
template <class Key, class Hasher, class MakeKey>
flood_set<Key> flood_keys(const Hasher& known, layout l, std::size_t n, MakeKey make_key,
                          const flood_options& options = {}) {
  flood_set<Key> out;
  if constexpr (std::is_same_v<Key, std::uint64_t> && flood_detail::seeded_integer_hash<Hasher>) {
    out.target = chosen_target(l, n);
    out.keys.reserve(n);
    const auto seed = static_cast<std::uint64_t>(known.seed());
    for (std::uint64_t j = 0; j < n; ++j) {
      const std::uint64_t h = chosen_hash(out.target, j);
      const std::uint64_t x = unmix64(h) ^ seed;
      if (static_cast<std::uint64_t>(known(x)) != h) break;  // not mix64(x ^ seed): search
      out.keys.push_back(x);
    }
    if (out.keys.size() == n) {
      out.tried = n;
      out.chosen = true;
      return out;
    }
    out.keys.clear();
  }
  out.target = search_target(l, n, options.max_candidates, options.shards);
  out.keys.reserve(n);
  const double expected = out.target.cost() * static_cast<double>(n);
  const double limit = 4 * std::max(expected, static_cast<double>(options.max_candidates));
  for (std::uint64_t i = 0; out.keys.size() < n; ++i) {
    if (static_cast<double>(i) > limit)
      throw std::runtime_error("hash_flood: " + std::to_string(out.keys.size()) + " of " +
                               std::to_string(n) + " keys after " + std::to_string(i) +
                               " candidates (" + describe(out.target) + ")");
    auto&& candidate = make_key(i);
    if (out.target.matches(flood_detail::hash_of<Key>(known, candidate)))
      out.keys.push_back(Key(std::forward<decltype(candidate)>(candidate)));
    out.tried = i + 1;
  }
  return out;
}

template <class Key, class Hasher>
flood_set<Key> flood_keys(const Hasher& known, layout l, std::size_t n,
                          const flood_options& options = {}) {
  return flood_keys<Key>(known, l, n, flood_detail::default_candidates<Key>(), options);
}

// ---- the classic structured sets ---------------------------------------------------------

// The low hash bits that the flat table n keys need reads: the tag's 7 and the group index.
// The shift for power_of_two_multiples.
[[nodiscard]] constexpr unsigned table_shift(std::size_t n) noexcept {
  return tag_bits + index_bits(flat_groups_for(n));
}

// The keys i << shift, i = 1 .. n: under an identity hash (libstdc++'s std::hash of an
// integer) their low `shift` bits are zero, so with shift = table_shift(n) they share the tag
// and the group of every flat table up to the one n keys need (and, their top bits being zero
// too, the home group of a concurrent table), as they share a bucket of any power-of-two
// bucket array of up to 2^shift buckets.
[[nodiscard]] inline std::vector<std::uint64_t> power_of_two_multiples(std::size_t n,
                                                                       unsigned shift) {
  if (shift >= 64 || (shift > 0 && (n >> (64 - shift)) != 0))
    throw std::invalid_argument("hash_flood: n keys i << shift do not fit in 64 bits");
  std::vector<std::uint64_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = static_cast<std::uint64_t>(i + 1) << shift;
  return keys;
}

// n distinct strings, each equal to base but in one byte: key i changes the byte
// (i / 255) places from the end to one of the 255 other values. (Any two of them differ in one
// byte or two.) The default base is "uid:" and zeros, long enough for n.
[[nodiscard]] inline std::vector<std::string> one_byte_apart(std::size_t n, std::string base = {}) {
  const std::size_t positions = (n + 254) / 255;
  if (base.empty()) base = "uid:" + std::string(std::max<std::size_t>(positions, 12), '0');
  if (positions > base.size())
    throw std::invalid_argument("hash_flood: base is too short for n strings one byte apart");
  std::vector<std::string> keys;
  keys.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::string k = base;
    char& c = k[k.size() - 1 - i / 255];
    c = static_cast<char>(static_cast<unsigned char>(c) + 1 + i % 255);
    keys.push_back(std::move(k));
  }
  return keys;
}

}  // namespace cmap_bench::hash_flood
