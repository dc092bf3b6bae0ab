#pragma once
// cmap::hash<K>: the default hash of every cmap hash map.
//
// Why not std::hash directly: libstdc++'s std::hash for integers is the identity, so
// sequential keys (1, 2, 3, ...) differ only in their low bits. cmap's tables take the
// in-group tag from the low 7 bits and the group index from the bits above them, and
// sharded_map picks a shard from the top bits; with the identity hash, sequential keys
// would all land in shard 0 and in neighbouring groups. cmap::hash therefore passes
// std::hash's result through a full-avalanche mixer, so that every output bit depends on
// every input bit.
//
// Strings: cmap::hash<std::string> (and <std::string_view>, <const char*>) is transparent
// (`is_transparent`), so with a transparent KeyEqual (std::equal_to<>) a map keyed by
// std::string can be searched with a std::string_view or a string literal, without
// building a std::string. All three hash the same characters to the same value.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

namespace cmap {
namespace detail {

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

[[nodiscard]] constexpr std::size_t mix(std::size_t x) noexcept {
  static_assert(sizeof(std::size_t) == 8 || sizeof(std::size_t) == 4);
  return static_cast<std::size_t>(mix64(static_cast<std::uint64_t>(x)));
}

}  // namespace detail

// The primary template: std::hash<K> mixed. Any K with a std::hash specialisation works.
template <class K>
struct hash {
  [[nodiscard]] std::size_t operator()(const K& key) const noexcept(noexcept(std::hash<K>{}(key))) {
    return detail::mix(std::hash<K>{}(key));
  }
};

// Strings: one transparent hasher for std::string, std::string_view and const char*.
struct string_hash {
  using is_transparent = void;
  [[nodiscard]] std::size_t operator()(std::string_view s) const noexcept {
    return detail::mix(std::hash<std::string_view>{}(s));
  }
  [[nodiscard]] std::size_t operator()(const std::string& s) const noexcept {
    return (*this)(std::string_view(s));
  }
  [[nodiscard]] std::size_t operator()(const char* s) const noexcept {
    return (*this)(std::string_view(s));
  }
};

template <>
struct hash<std::string> : string_hash {};
template <>
struct hash<std::string_view> : string_hash {};
template <>
struct hash<const char*> : string_hash {};

}  // namespace cmap
