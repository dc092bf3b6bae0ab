#pragma once
// cmap::hash<K>: the default hash of every cmap hash map, keyed by a secret seed.
//
// Why a seed: a hash function anyone can compute lets an attacker who chooses the keys
// (user ids, session tokens, URLs sent by clients) pick thousands that land in one group of
// a table, so that every insert and lookup walks a long probe sequence: hash flooding, the
// denial of service of CVE-2011-4885 and CVE-2012-1150. With a secret seed the attacker
// cannot compute where a key lands, and chosen keys spread like random ones. Go, Rust,
// Python and Abseil seed their hash tables by default for the same reason.
//
// Per map, not per process: a default-constructed cmap::hash draws a fresh seed
// (detail/hash_seed.hpp: from the operating system once per thread, then a keyed counter),
// and a map keeps the hasher it was given, so each map has a key of its own, as in Go.
// It costs one 8-byte word in each map and one load per hash (a field of the map itself);
// for strings, ten words and three loads (below).
// A per-process seed, as Abseil uses, would cost nothing more at run time, but two maps
// would then share one layout: walking one map in table order and inserting into a
// smaller one piles the keys into the same few groups (Rust's hashbrown met this as a
// quadratic slowdown of copying), and whatever a client learns of one map's order holds
// for every map in the process.
//
// The consequences: two default-constructed cmap::hash objects give different values for
// the same key, so hash a key with the map's own hasher (hash_function()), never with a
// fresh cmap::hash{}; and a map's iteration order changes from run to run. Nothing any
// cmap map persists depends on the seed.
//
// Reproducible runs: cmap::hash<K>(seed) fixes the seed (benchmarks, tests, debugging);
// seed() returns it. A user-supplied Hash is used as given: seed it yourself, or wrap it in
// cmap::seeded_hash<H> below.
//
// The functions, for a seed s:
//  - integers, enums, pointers and any K with std::hash: mix64(std::hash<K>(key) ^ s),
//    SplitMix64's finaliser (detail/hash.hpp) over the key xor the seed. libstdc++'s
//    std::hash of an integer is the identity, so the tables' bits (the 7-bit tag at the
//    bottom, the group and shard indexes at the top) depend on every key bit and on the
//    seed. For a K whose std::hash itself collides (equal results for different keys), no
//    seed helps: give such a map a hash of its own.
//  - strings (std::string, std::string_view, const char*): rapidhash V3 of the characters
//    (detail/rapidhash.hpp), a published 64-bit hash that is fast on short keys, under
//    secrets derived from the seed. Secret secrets matter as much as the seed: with the
//    published ones, or with the seed applied after a fixed hash such as
//    std::hash<std::string_view>, keys built to collide collide under every seed. The hasher
//    keeps the secrets and the seed as rapidhash first mixes it (80 bytes), so that a key
//    costs no multiply for the seed, which short keys notice (docs/journal/hash-flooding.md).
//    One transparent hasher, so with std::equal_to<> a map keyed by std::string finds a
//    std::string_view or a literal without building a std::string; all three hash the same
//    characters to the same value.
//
// What the seed does not protect against: an attacker who learns the seed (by reading the
// process's memory, or if the program prints a map's iteration order or hash values to
// them), a user-supplied hash, and a key type whose std::hash collides. What each map then
// costs at worst: docs/api.md, "Security: hash flooding".

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "detail/hash.hpp"
#include "detail/hash_seed.hpp"
#include "detail/rapidhash.hpp"

namespace cmap {

// The seed and its accessors, shared by the hashers below.
class seeded_hasher_base {
 public:
  // A fresh secret seed (detail/hash_seed.hpp).
  seeded_hasher_base() : seed_(detail::fresh_hash_seed()) {}
  // A fixed seed, for reproducible runs: every hasher made with the same seed hashes alike.
  explicit constexpr seeded_hasher_base(std::uint64_t seed) noexcept : seed_(seed) {}

  [[nodiscard]] constexpr std::uint64_t seed() const noexcept { return seed_; }

 protected:
  std::uint64_t seed_;
};

// The primary template: std::hash<K> of the key, xor the seed, mixed.
template <class K>
struct hash : seeded_hasher_base {
  using seeded_hasher_base::seeded_hasher_base;

  [[nodiscard]] std::size_t operator()(const K& key) const noexcept(noexcept(std::hash<K>{}(key))) {
    return detail::mix(static_cast<std::size_t>(std::hash<K>{}(key) ^ seed_));
  }
};

// Strings: one transparent hasher for std::string, std::string_view and const char*,
// rapidhash V3 under secrets derived from the seed.
struct string_hash : seeded_hasher_base {
  using is_transparent = void;

  // A fresh secret seed.
  string_hash() : key_(seed_) {}
  // A fixed seed: every string_hash made with it hashes alike.
  explicit constexpr string_hash(std::uint64_t seed) noexcept
      : seeded_hasher_base(seed), key_(seed) {}

  [[nodiscard]] std::size_t operator()(std::string_view s) const noexcept {
    return static_cast<std::size_t>(key_(s.data(), s.size()));
  }
  [[nodiscard]] std::size_t operator()(const std::string& s) const noexcept {
    return (*this)(std::string_view(s));
  }
  [[nodiscard]] std::size_t operator()(const char* s) const noexcept {
    return (*this)(std::string_view(s));
  }

 private:
  detail::keyed_rapidhash key_;
};

template <>
struct hash<std::string> : string_hash {
  using string_hash::string_hash;
};
template <>
struct hash<std::string_view> : string_hash {
  using string_hash::string_hash;
};
template <>
struct hash<const char*> : string_hash {
  using string_hash::string_hash;
};

namespace detail {
template <class H, class = void>
struct transparency_of {};
template <class H>
struct transparency_of<H, std::void_t<typename H::is_transparent>> {
  using is_transparent = void;
};
}  // namespace detail

// Seeds any hasher H: H's value xor the seed, mixed as above. It helps against keys chosen
// to collide in the bits a table uses; it cannot separate keys on which H itself collides.
// Transparent when H is.
template <class H>
class seeded_hash : public seeded_hasher_base, public detail::transparency_of<H> {
 public:
  seeded_hash() = default;
  explicit seeded_hash(std::uint64_t seed, H inner = H())
      : seeded_hasher_base(seed), inner_(std::move(inner)) {}

  template <class K>
    requires std::is_invocable_v<const H&, const K&>
  [[nodiscard]] std::size_t operator()(const K& key) const
      noexcept(noexcept(std::declval<const H&>()(key))) {
    return detail::mix(static_cast<std::size_t>(inner_(key)) ^ static_cast<std::size_t>(seed_));
  }

  [[nodiscard]] const H& inner() const noexcept { return inner_; }

 private:
  [[no_unique_address]] H inner_;
};

}  // namespace cmap
