#pragma once
// Integer mixing helpers: the 64-bit finaliser behind cmap::hash (<cmap/hash.hpp>), the
// multiply-high that maps a hash onto a table of any size (group.hpp), and the folded
// multiply of the string hash (rapidhash.hpp) and the seed source (hash_seed.hpp).

#include <cstddef>
#include <cstdint>

namespace cmap::detail {

// The finaliser of SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
// generators", 2014): two multiply-xorshift rounds, full avalanche, a few cycles.
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// The high word of the 128-bit product a * b. (x * n) >> 64 maps a uniform 64-bit x to
// [0, n) for any n, with one multiplication instead of a division (Lemire's "fastrange"),
// and keeps order: x < y gives a result no greater.
[[nodiscard]] constexpr std::uint64_t mul_high(std::uint64_t a, std::uint64_t b) noexcept {
#if defined(__SIZEOF_INT128__)
  __extension__ using u128 = unsigned __int128;  // __extension__: no -Wpedantic warning
  return static_cast<std::uint64_t>((static_cast<u128>(a) * b) >> 64);
#else
  const std::uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32;
  const std::uint64_t b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
  const std::uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi;
  const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFu) + lo_hi;
  return a_hi * b_hi + (hi_lo >> 32) + (cross >> 32);
#endif
}

// The low and high words of the 128-bit product a * b, xor-ed together: a non-invertible
// mix, used by wyhash, rapidhash (rapidhash.hpp) and Abseil's hash, and by the seed source
// (hash_seed.hpp).
[[nodiscard]] constexpr std::uint64_t folded_multiply(std::uint64_t a, std::uint64_t b) noexcept {
  return a * b ^ mul_high(a, b);
}

[[nodiscard]] constexpr std::size_t mix(std::size_t x) noexcept {
  static_assert(sizeof(std::size_t) == 8 || sizeof(std::size_t) == 4);
  return static_cast<std::size_t>(mix64(static_cast<std::uint64_t>(x)));
}

}  // namespace cmap::detail
