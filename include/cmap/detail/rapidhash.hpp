#pragma once
// rapidhash V3: the string hash of cmap::hash (<cmap/hash.hpp>).
//
// What it is: Nicolas De Carli's rapidhash, the successor of Wang Yi's wyhash, version 3, as
// defined by the reference header rapidhash.h (github.com/Nicoshev/rapidhash, tag
// rapidhash_v3): its rapidhash_internal(), in the default configuration (neither
// RAPIDHASH_PROTECTED nor the Micro and Nano variants; RAPIDHASH_COMPACT and
// RAPIDHASH_UNROLLED give the same values). rapidhash(data, len, seed) here equals the
// header's rapidhash_withSeed(data, len, seed) on every host. The test vectors in
// tests/detail/rapidhash_test.cpp are values that reference header computed, as two ports
// publish them: rapidhash4j (src/test/resources/rapidhash-v3.csv: every length class, five
// seeds) and rapidhash-js (test/test-vectors/v3.0: short UTF-8 strings under four seeds, and
// the prefixes of an 8,455-byte text).
//
// Why this function: keys of hash maps are short, and on a key of up to 16 bytes rapidhash
// costs two loads, two 64x64->128-bit multiplies and a few xors (three multiplies when the
// seed is mixed in on each call); longer keys go 16 bytes per multiply, over seven
// independent lanes past 112 bytes. It passes SMHasher and SMHasher3 (its author's runs), it
// takes a 64-bit seed, its code is a page, and it belongs to the family of wyhash, which Go's
// runtime uses to hash map keys on CPUs without AES instructions. Version 3 rather than 1: it
// is the version its author maintains, and its published vectors cover every branch under
// several seeds.
//
// The structure, for len bytes at p (all words read as little-endian 64-bit integers, so the
// values are the same on every host):
//  - the seed is first mixed with the secrets (rapidhash_mix_seed);
//  - up to 16 bytes: two words a and b, the first and last 8 bytes (4 bytes for 4..7, and
//    for 1..3 the first, middle and last byte); from 4 bytes on, the length is folded into
//    the seed;
//  - over 16 bytes: each 16-byte step multiplies (word ^ secret) by (next word ^ lane) and
//    folds the 128-bit product (folded_multiply); past 112 bytes seven lanes take 112 bytes a
//    round, then up to six steps over what is left, then a and b are the last 16 bytes;
//  - finally a ^ secret[1] times b ^ seed, and one more folded multiply.
//
// The secrets, and hash flooding: every multiply takes an input word xor a secret, so a word
// equal to that secret makes the product zero and erases the other factor (the rest of a
// short key, or all that a lane held), whatever the seed. With the published secrets anyone
// can build keys that collide under every seed: any two 16-byte keys whose first 8 bytes are
// the little-endian secret[1] hash alike. A secret seed alone therefore does not stop hash
// flooding; the secrets must be secret too. keyed_rapidhash below derives them from the seed
// (the reference header's rapidhash_internal takes them as a parameter), as the Rust crate
// rapidhash does, and as Go's runtime draws its wyhash keys at random when it starts.

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hash.hpp"

namespace cmap::detail {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "rapidhash reads little-endian words; mixed-endian hosts are not supported");

// secret[0..6] are xor-ed with input words before each multiply; secret[7] masks the last
// product.
using rapidhash_secrets = std::array<std::uint64_t, 8>;

// The published secrets of rapidhash V3.
inline constexpr rapidhash_secrets rapidhash_default_secrets = {
    0x2d358dccaa6c78a5ULL, 0x8bb84b93962eacc9ULL, 0x4b33a62ed433d4a3ULL, 0x4d5a2da51de1aa47ULL,
    0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL, 0x90ed1765281c388cULL, 0xaaaaaaaaaaaaaaaaULL};

// Byte order reversal (std::byteswap is C++23), for reading little-endian words on a
// big-endian host.
[[nodiscard]] constexpr std::uint64_t byteswap64(std::uint64_t x) noexcept {
  x = (x & 0x00ff00ff00ff00ffULL) << 8 | (x >> 8 & 0x00ff00ff00ff00ffULL);
  x = (x & 0x0000ffff0000ffffULL) << 16 | (x >> 16 & 0x0000ffff0000ffffULL);
  return x << 32 | x >> 32;
}
[[nodiscard]] constexpr std::uint32_t byteswap32(std::uint32_t x) noexcept {
  x = (x & 0x00ff00ffU) << 8 | (x >> 8 & 0x00ff00ffU);
  return x << 16 | x >> 16;
}

// The little-endian 64- and 32-bit words at p, which need not be aligned.
[[nodiscard]] inline std::uint64_t read_le64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = byteswap64(v);
  return v;
}
[[nodiscard]] inline std::uint64_t read_le32(const unsigned char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = byteswap32(v);
  return v;
}

// The seed as every call starts from it. It depends on the seed and the secrets only, so a
// hasher that keeps them may compute it once (keyed_rapidhash).
[[nodiscard]] constexpr std::uint64_t rapidhash_mix_seed(std::uint64_t seed,
                                                         const rapidhash_secrets& s) noexcept {
  return seed ^ folded_multiply(seed ^ s[2], s[1]);
}

// One 16-byte step: the word at p xor the secret, times the next word xor the accumulator.
[[nodiscard]] inline std::uint64_t rapidhash_step(const unsigned char* p, std::uint64_t secret,
                                                  std::uint64_t acc) noexcept {
  return folded_multiply(read_le64(p) ^ secret, read_le64(p + 8) ^ acc);
}

// The last two multiplies, over the two words a and b, the accumulated seed, and rest (the
// length for keys of up to 16 bytes, else the bytes left after the 112-byte rounds).
[[nodiscard]] constexpr std::uint64_t rapidhash_finish(std::uint64_t a, std::uint64_t b,
                                                       std::uint64_t seed, std::uint64_t rest,
                                                       const rapidhash_secrets& s) noexcept {
  a ^= s[1];
  b ^= seed;
  const std::uint64_t lo = a * b;  // rapid_mum: a and b become the low and high words
  b = mul_high(a, b);
  a = lo;
  return folded_multiply(a ^ s[7], b ^ s[1] ^ rest);
}

// Keys of more than 16 bytes.
[[nodiscard]] inline std::uint64_t rapidhash_over_16(const unsigned char* p, std::size_t len,
                                                     std::uint64_t seed,
                                                     const rapidhash_secrets& s) noexcept {
  std::size_t rest = len;
  if (rest > 112) {
    // Seven lanes, seed being the first; independent multiplies overlap in the pipeline.
    std::uint64_t lane1 = seed, lane2 = seed, lane3 = seed, lane4 = seed, lane5 = seed,
                  lane6 = seed;
    do {
      seed = rapidhash_step(p, s[0], seed);
      lane1 = rapidhash_step(p + 16, s[1], lane1);
      lane2 = rapidhash_step(p + 32, s[2], lane2);
      lane3 = rapidhash_step(p + 48, s[3], lane3);
      lane4 = rapidhash_step(p + 64, s[4], lane4);
      lane5 = rapidhash_step(p + 80, s[5], lane5);
      lane6 = rapidhash_step(p + 96, s[6], lane6);
      p += 112;
      rest -= 112;
    } while (rest > 112);
    seed ^= lane1 ^ lane2 ^ lane3 ^ lane4 ^ lane5 ^ lane6;
  }
  // 1..112 bytes left: one step per 16 bytes beyond the last 16, which a and b take.
  if (rest > 16) seed = rapidhash_step(p, s[2], seed);
  if (rest > 32) seed = rapidhash_step(p + 16, s[2], seed);
  if (rest > 48) seed = rapidhash_step(p + 32, s[1], seed);
  if (rest > 64) seed = rapidhash_step(p + 48, s[1], seed);
  if (rest > 80) seed = rapidhash_step(p + 64, s[2], seed);
  if (rest > 96) seed = rapidhash_step(p + 80, s[1], seed);
  // The last 16 bytes of the key; when fewer than 16 are left they overlap bytes already
  // read (the key has more than 112).
  const std::uint64_t a = read_le64(p + rest - 16) ^ rest;
  const std::uint64_t b = read_le64(p + rest - 8);
  return rapidhash_finish(a, b, seed, rest, s);
}

// rapidhash of len bytes at data, from a seed already passed through rapidhash_mix_seed with
// the same secrets. data may be null when len is 0.
[[nodiscard]] inline std::uint64_t rapidhash_premixed(const void* data, std::size_t len,
                                                      std::uint64_t mixed_seed,
                                                      const rapidhash_secrets& s) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  if (len > 16) return rapidhash_over_16(p, len, mixed_seed, s);
  std::uint64_t a = 0, b = 0;
  if (len >= 8) {
    mixed_seed ^= len;
    a = read_le64(p);
    b = read_le64(p + len - 8);
  } else if (len >= 4) {
    mixed_seed ^= len;
    a = read_le32(p);
    b = read_le32(p + len - 4);
  } else if (len > 0) {
    a = std::uint64_t{p[0]} << 45 | p[len - 1];
    b = p[len >> 1];
  }
  return rapidhash_finish(a, b, mixed_seed, len, s);
}

// rapidhash of len bytes at data under the given seed and secrets (the reference header's
// rapidhash_internal).
[[nodiscard]] inline std::uint64_t rapidhash(const void* data, std::size_t len, std::uint64_t seed,
                                             const rapidhash_secrets& secrets) noexcept {
  return rapidhash_premixed(data, len, rapidhash_mix_seed(seed, secrets), secrets);
}

// rapidhash V3 with the published secrets: the reference header's rapidhash_withSeed, and
// the function the published test vectors check. Not for keys an attacker chooses (above).
[[nodiscard]] inline std::uint64_t rapidhash(const void* data, std::size_t len,
                                             std::uint64_t seed) noexcept {
  return rapidhash(data, len, seed, rapidhash_default_secrets);
}

// Secrets of one's own, derived from a 64-bit key (the reference header leaves their choice
// to the caller). secret[0..6] are successive SplitMix64 outputs from the key (mix64 over a
// Weyl sequence), each drawn again until 24 to 40 of its 64 bits are set: the published ones
// have 27 to 32, and a word with few bits set multiplies like a shift. secret[7] masks a product
// that already depends on the seed and stays the published constant. Only the key needs to
// be secret: the derivation is public.
[[nodiscard]] constexpr rapidhash_secrets rapidhash_secrets_from(std::uint64_t key) noexcept {
  rapidhash_secrets s = rapidhash_default_secrets;
  std::uint64_t state = key;
  for (std::size_t i = 0; i < 7; ++i) {
    do {
      state += 0x9e3779b97f4a7c15ULL;
      s[i] = mix64(state);
    } while (std::popcount(s[i]) < 24 || std::popcount(s[i]) > 40);
  }
  return s;
}

// rapidhash under secrets derived from the seed, with the seed mixed once: what
// cmap::string_hash computes. Its values differ from the published vectors' (which use the
// published secrets), so that keys built to collide under those do not collide here. Holds
// nine words; hashing reads three of them for a key of up to 16 bytes.
class keyed_rapidhash {
 public:
  explicit constexpr keyed_rapidhash(std::uint64_t seed) noexcept
      : secrets_(rapidhash_secrets_from(seed)), mixed_seed_(rapidhash_mix_seed(seed, secrets_)) {}

  [[nodiscard]] std::uint64_t operator()(const void* data, std::size_t len) const noexcept {
    return rapidhash_premixed(data, len, mixed_seed_, secrets_);
  }

  [[nodiscard]] constexpr const rapidhash_secrets& secrets() const noexcept { return secrets_; }

 private:
  rapidhash_secrets secrets_;
  std::uint64_t mixed_seed_;
};

}  // namespace cmap::detail
