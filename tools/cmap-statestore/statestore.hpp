#pragma once
// cmap-statestore's model, shared by the tool and its tests: the event stream (a pure function
// of seed, partition and offset, so that any prefix can be recomputed), the keys of the store,
// the encodings of its values, and the fold that a verifier compares the store with.
//
// The store is a cmap::durable_map<std::string, std::string> holding three kinds of key:
//   config       "users=U partitions=P seed=S": the parameters the stream was generated with
//   offset:P     partition P's input offset: the events [0, offset) are folded into the state
//   uid:N        user N's state: risk score (sum of the deltas) and event count, 16 bytes
// A partition writes its changed users and its offset in one atomic batch, so that after a
// crash both are either there together or absent together.

#include <charconv>
#include <cmap/durability.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace cmap_statestore {

struct config {
  std::uint64_t users = 1000;
  std::uint64_t partitions = 4;
  std::uint64_t seed = 1;

  friend bool operator==(const config&, const config&) = default;
};

// splitmix64's finaliser: every bit of the input reaches every bit of the output, so that
// consecutive offsets give unrelated users and deltas.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Partition p owns the users whose number is p modulo the partition count, so that no two
// partitions write the same key and a batch never races another partition's batch.
constexpr std::uint64_t users_of(const config& c, std::uint64_t p) noexcept {
  return c.users > p ? (c.users - p + c.partitions - 1) / c.partitions : 0;
}

struct event {
  std::uint64_t user;  // a user number, owned by the event's partition
  std::int64_t delta;  // a risk-score change in [-100, 100]
};

// The event at `offset` of partition p's stream. Needs users_of(c, p) > 0 (users >=
// partitions, which the tool checks).
constexpr event event_at(const config& c, std::uint64_t p, std::uint64_t offset) noexcept {
  const std::uint64_t stream = mix64(c.seed ^ mix64(p + 1));
  const std::uint64_t h = mix64(stream + offset);
  return {p + c.partitions * ((h & 0xFFFFFFFFull) % users_of(c, p)),
          static_cast<std::int64_t>((h >> 40) % 201) - 100};
}

struct user_state {
  std::int64_t score = 0;
  std::int64_t events = 0;

  friend bool operator==(const user_state&, const user_state&) = default;
};

inline void apply(user_state& s, const event& e) noexcept {
  s.score += e.delta;
  ++s.events;
}

// ---- keys -------------------------------------------------------------------------------------

inline constexpr std::string_view config_key = "config";
inline constexpr std::string_view user_prefix = "uid:";
inline constexpr std::string_view offset_prefix = "offset:";

inline std::string user_key(std::uint64_t user) {
  return std::string(user_prefix) + std::to_string(user);
}
inline std::string offset_key(std::uint64_t partition) {
  return std::string(offset_prefix) + std::to_string(partition);
}

// The whole of `text` as a decimal number; nullopt for anything else (empty, a sign, spaces,
// trailing characters, overflow), so that a malformed key or argument is never half-read.
inline std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// The number after `prefix` in `key`, if key is prefix + a canonical decimal number (no
// leading zeros: "uid:07" is not user 7's key, and a verifier must call it unexpected).
inline std::optional<std::uint64_t> key_number(std::string_view key, std::string_view prefix) {
  if (!key.starts_with(prefix)) return std::nullopt;
  const std::string_view digits = key.substr(prefix.size());
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  return parse_u64(digits);
}

// ---- values -----------------------------------------------------------------------------------
// Fixed-width little-endian integers (cmap::codec's), so that a store written on one machine
// reads the same on another.

inline std::string encode_state(const user_state& s) {
  std::string out;
  cmap::codec<std::int64_t>::encode(s.score, out);
  cmap::codec<std::int64_t>::encode(s.events, out);
  return out;
}

// Throws std::invalid_argument for bytes that are not a state.
inline user_state decode_state(std::string_view bytes) {
  if (bytes.size() != 16) {
    throw std::invalid_argument("a user state is 16 bytes, " + std::to_string(bytes.size()) +
                                " found");
  }
  return {cmap::codec<std::int64_t>::decode(bytes.substr(0, 8)),
          cmap::codec<std::int64_t>::decode(bytes.substr(8, 8))};
}

inline std::string encode_offset(std::uint64_t offset) {
  std::string out;
  cmap::codec<std::uint64_t>::encode(offset, out);
  return out;
}

// Throws std::invalid_argument for bytes that are not an offset.
inline std::uint64_t decode_offset(std::string_view bytes) {
  return cmap::codec<std::uint64_t>::decode(bytes);
}

// Text rather than binary: a person looking into the store, or at a refusal, reads it as is.
inline std::string encode_config(const config& c) {
  return "users=" + std::to_string(c.users) + " partitions=" + std::to_string(c.partitions) +
         " seed=" + std::to_string(c.seed);
}

inline std::optional<config> decode_config(std::string_view text) {
  config c;
  std::uint64_t* fields[] = {&c.users, &c.partitions, &c.seed};
  const std::string_view names[] = {"users=", "partitions=", "seed="};
  for (int i = 0; i < 3; ++i) {
    if (!text.starts_with(names[i])) return std::nullopt;
    text.remove_prefix(names[i].size());
    const std::size_t end = i < 2 ? text.find(' ') : text.size();
    if (end == std::string_view::npos) return std::nullopt;
    const auto v = parse_u64(text.substr(0, end));
    if (!v) return std::nullopt;
    *fields[i] = *v;
    text.remove_prefix(i < 2 ? end + 1 : end);
  }
  return c;
}

// ---- the fold ---------------------------------------------------------------------------------

// Every state partition p's users have after the events [0, offset): index u / partitions for
// user u. What the store must hold once partition p's offset reads `offset`.
inline std::vector<user_state> fold(const config& c, std::uint64_t p, std::uint64_t offset) {
  std::vector<user_state> states(users_of(c, p));
  for (std::uint64_t i = 0; i < offset; ++i) {
    const event e = event_at(c, p, i);
    apply(states[e.user / c.partitions], e);
  }
  return states;
}

}  // namespace cmap_statestore
