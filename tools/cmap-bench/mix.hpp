#pragma once
// SplitMix64's finaliser and its inverse. mix64 is also the mixer of cmap::hash for integers
// (the library's copy is internal, and a tool includes public headers only): cmap-bench seeds
// its random streams with it, and hash_flood.hpp runs it backwards to turn hash values it
// chose into keys. Standard library only, so that the library's tests may include it.

#include <cstdint>

namespace cmap_bench {

// Two multiply-xorshift rounds (Steele, Lea and Flood, 2014): a bijection of 64 bits.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

namespace mix_inverse {
// The x of y = x ^ (x >> s), 0 < s < 64: y's top s bits are x's own, and each lower block of
// s bits is y's xor the block of x above it, so x = y ^ y >> s ^ y >> 2s ^ ... (the shifted
// terms cancel in pairs).
constexpr std::uint64_t unxorshift(std::uint64_t y, unsigned s) noexcept {
  std::uint64_t x = y;
  for (unsigned k = s; k < 64; k += s) x ^= y >> k;
  return x;
}
// The inverse of an odd a modulo 2^64, by Newton's iteration x *= 2 - a * x, which doubles
// the number of correct low bits each time: a is its own inverse modulo 8 (3 bits), and five
// steps give 96.
constexpr std::uint64_t inverse(std::uint64_t a) noexcept {
  std::uint64_t x = a;
  for (int i = 0; i < 5; ++i) x *= 2 - a * x;
  return x;
}
}  // namespace mix_inverse

// mix64's inverse: unmix64(mix64(x)) == x and mix64(unmix64(h)) == h for every 64-bit value.
constexpr std::uint64_t unmix64(std::uint64_t h) noexcept {
  using mix_inverse::inverse;
  using mix_inverse::unxorshift;
  h = unxorshift(h, 31);
  h *= inverse(0x94d049bb133111ebULL);
  h = unxorshift(h, 27);
  h *= inverse(0xbf58476d1ce4e5b9ULL);
  return unxorshift(h, 30);
}

static_assert(mix_inverse::inverse(0xbf58476d1ce4e5b9ULL) * 0xbf58476d1ce4e5b9ULL == 1);
static_assert(unmix64(mix64(0x0123456789abcdefULL)) == 0x0123456789abcdefULL);

}  // namespace cmap_bench
