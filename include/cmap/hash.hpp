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
#include <functional>
#include <string>
#include <string_view>

#include "detail/hash.hpp"

namespace cmap {

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
