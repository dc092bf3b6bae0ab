#pragma once
// cmap::key_traits<K>: the binary-comparable encoding of a key, for ordered maps built on a
// radix tree (an adaptive radix tree branches on a key's bytes, one at a time, and compares
// no keys).
//
// The contract. For keys a and b of type K and their encodings E(a), E(b), compared as
// strings of unsigned bytes (lexicographically, a proper prefix first):
//   - E(a) < E(b) exactly when std::less<K>{}(a, b), and E(a) == E(b) exactly when neither
//     is less than the other: the tree's order is the map's order, and one encoding is one key;
//   - decode(E(k)) == k, and decode_from(rest) consumes exactly one encoding from the front;
//   - prefix_free: no encoding is a proper prefix of another. The tree needs it: it stores a
//     key as a leaf at the end of its bytes, and a key whose bytes continue past another key's
//     leaf would have to share that node. Every encoding below is prefix-free.
// std::string compares as unsigned bytes (char_traits<char>::lt compares as unsigned char),
// so two encodings held in std::strings compare with their own operator< in the map's order.
//
// The encodings, byte by byte ("E(k)" is the encoding of k, bytes in hexadecimal):
//   unsigned integers   sizeof(K) bytes, the value big-endian (most significant byte first,
//   (char8_t, char16_t, so that the first differing byte decides, as the top differing digit
//   char32_t too)       does): std::uint16_t 258 -> 01 02. Fixed width, so prefix-free.
//   signed integers     sizeof(K) bytes: the value as unsigned (modulo 2^N), its sign bit
//   (char, wchar_t      flipped, big-endian. Two's complement places the negatives above the
//   where signed)       positives; flipping the sign bit moves them below, in order:
//                       std::int16_t -32768 -> 00 00, -1 -> 7F FF, 0 -> 80 00, 1 -> 80 01,
//                       32767 -> FF FF.
//   bool                1 byte: 00 false, 01 true; decode rejects any other byte.
//   enums               the encoding of the underlying type, which std::less compares.
//   float, double       sizeof(K) bytes, big-endian, of the IEEE 754 bits b transformed: sign
//                       bit clear -> b with the sign bit set; sign bit set -> ~b (all bits
//                       flipped, so that larger magnitudes sort lower). This is IEEE 754's
//                       total order, except that -0.0 is encoded as +0.0 (std::less holds
//                       them equal: 80 00 00 00 for float) and every NaN, whatever its sign
//                       and payload, as all ones (FF FF FF FF), after +infinity (FF 80 00 00).
//                       std::less does not order NaN, so a NaN key has no std::less order to
//                       keep; there it is one key, the largest. decode returns +0.0 and a
//                       quiet NaN for those, and rejects the bit patterns no key encodes to.
//   std::string,        each byte in order, a 00 byte written as 00 FF, then the terminator
//   std::string_view,   00 00: "" -> 00 00; "ab" -> 61 62 00 00; "a\0b" -> 61 00 FF 62 00 00.
//   std::vector of      Why: a 00 byte is always followed by FF (a zero of the key) or 00 (the
//   std::uint8_t or     end), so the key's end is known from its bytes and no encoding is a
//   std::byte           proper prefix of another. Where one key ends and another goes on
//                       ("ab" against "abc", or "a" against "a\0"), the terminator 00 00 is
//                       below anything the longer one can go on with (a non-zero byte, or 00
//                       FF), so a string sorts before its extensions, as std::less has it.
//                       A length prefix would be prefix-free but would order by length first
//                       ("b" before "ab"). The cost: 2 bytes per key and 1 per zero byte. The
//                       escape is FoundationDB's tuple layer's and CockroachDB's (whose
//                       terminator is 00 01; any second byte below FF works).
//   std::pair,          the parts' encodings concatenated, first part first, nothing between:
//   std::tuple          (std::uint8_t 1, "a") -> 01 61 00 00. This keeps the order only
//                       because the parts' encodings are prefix-free (integers are fixed
//                       width, strings are terminated): two different first parts then differ
//                       at a byte inside both encodings, so bytes of the second part never
//                       decide against the first. Every part but the last must therefore be
//                       prefix-free (checked at compile time); the tuple is prefix-free when
//                       the last part is.
// Not encodable: const char* (std::less compares the pointers, not the characters), long
// double (its format varies by platform), std::span (it has no operator< and cannot own a
// decoded key).
//
// Prefix scans. key_traits<std::string>::encode_prefix(p, out) appends E(p) without its
// terminator. Escaping goes byte by byte, so the string keys that start with p are exactly the
// keys whose encodings start with those bytes; they form one contiguous range of the map's
// order, which a tree finds by descending those bytes. The same holds for a tuple whose first
// part is a string, and for the byte vectors.
//
// The members of a specialisation (the ready ones below, and what a user's must provide):
//   static constexpr bool prefix_free;                       whether the encoding is prefix-free
//   static void encode(const K& key, std::string& out);      appends E(key) to out
//   static K decode_from(std::string_view& rest);            decodes the encoding at the front
//                                                            of rest and removes it from rest
//   static K decode(std::string_view bytes);                 decodes bytes that are exactly one
//                                                            encoding (from key_traits_base)
// and, where every encoding has the same length (integers, enums, floating point, and pairs
// and tuples of them), for a tree that keeps such keys in place without allocating:
//   static constexpr std::size_t fixed_size;                 the length of every encoding
//   static void encode_fixed(const K& key, char* out) noexcept;
//                                                            writes E(key) to out[0, fixed_size)
//   static K decode_fixed(const char* in) noexcept;          reads a key from in[0, fixed_size);
//                                                            unchecked: in must hold an encoding
// decode and decode_from throw std::invalid_argument where the bytes are not an encoding (too
// short, unterminated, or a byte no key encodes to); they are two names because a
// std::string_view argument would make decode(std::string_view) and decode(std::string_view&)
// ambiguous. The string encodings take std::string_view, so that a literal or a view encodes
// without building a std::string (key_traits<std::string_view> encodes the same bytes but has
// no decode, since a view cannot own decoded characters: it is encodable_key, not
// ordered_key). Every member is constexpr; encode_fixed and decode_fixed are noexcept, the
// others allocate or throw. The integer, enum and floating-point members take K by value.
//
// Adding a key type: specialise cmap::key_traits before the first use of the type as a key,
// deriving from cmap::key_traits_base for decode, and build the encoding from the ready ones,
// so that the order argument above carries over. For a struct ordered by its members in
// declaration order (as a defaulted operator<=> orders it):
//
//   struct order_id {
//     std::uint32_t region;
//     std::string name;
//     auto operator<=>(const order_id&) const = default;
//   };
//   template <>
//   struct cmap::key_traits<order_id> : cmap::key_traits_base<cmap::key_traits<order_id>> {
//     static constexpr bool prefix_free = true;  // a fixed-width part, then a terminated one
//     static void encode(const order_id& key, std::string& out) {
//       cmap::key_traits<std::uint32_t>::encode(key.region, out);
//       cmap::key_traits<std::string>::encode(key.name, out);
//     }
//     static order_id decode_from(std::string_view& rest) {
//       const std::uint32_t region = cmap::key_traits<std::uint32_t>::decode_from(rest);
//       return {region, cmap::key_traits<std::string>::decode_from(rest)};
//     }
//   };
//
// A user's encoding must keep the contract above; tests/key_traits_test.cpp shows how to check
// it (random and adversarial pairs, both orders compared).

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace cmap {

// The customisation point. Not defined for a type without an encoding, so that the concepts
// below are false for it, and a map constrained on them names the type in its error.
template <class K>
struct key_traits;

// K has an encoding: key_traits<K> says whether it is prefix-free and can encode a K.
template <class K>
concept encodable_key = requires(const K& key, std::string& out) {
  typename std::bool_constant<key_traits<K>::prefix_free>;
  key_traits<K>::encode(key, out);
};

// K has an encoding that decodes back to a K: a key type of an ordered map.
template <class K>
concept ordered_key =
    encodable_key<K> && requires(std::string_view bytes, std::string_view& rest) {
      { key_traits<K>::decode(bytes) } -> std::same_as<K>;
      { key_traits<K>::decode_from(rest) } -> std::same_as<K>;
    };

// Every encoding of K has the same length, and it can be written to and read from a caller's
// buffer without allocating.
template <class K>
concept fixed_size_key = ordered_key<K> && requires(const K& key, char* out, const char* in) {
  typename std::integral_constant<std::size_t, key_traits<K>::fixed_size>;
  { key_traits<K>::encode_fixed(key, out) } noexcept;
  { key_traits<K>::decode_fixed(in) } noexcept -> std::same_as<K>;
};

namespace detail {

[[noreturn]] inline void throw_bad_key_encoding(const char* what) {
  throw std::invalid_argument(std::string("cmap::key_traits: not a key encoding: ") + what);
}

}  // namespace detail

// Derive a key_traits specialisation from key_traits_base<that specialisation> for decode,
// which is decode_from with a check that nothing is left over.
template <class Traits>
struct key_traits_base {
  // The key whose encoding is all of bytes. Throws std::invalid_argument where bytes are not
  // exactly one encoding.
  [[nodiscard]] static constexpr auto decode(std::string_view bytes) {
    auto key = Traits::decode_from(bytes);
    if (!bytes.empty()) detail::throw_bad_key_encoding("bytes left over after the key");
    return key;
  }
};

namespace detail {

// Fixed-width encodings: encode, decode_from and decode from the specialisation's fixed_size,
// encode_fixed and decode_fixed. decode_from also asks the specialisation's is_valid_fixed,
// where it has one, whether the bytes are an encoding at all.
template <class Traits, class K>
struct fixed_key_traits_base : key_traits_base<Traits> {
  // No N-byte string is a proper prefix of another N-byte string.
  static constexpr bool prefix_free = true;

  static constexpr void encode(const K& key, std::string& out) {
    std::array<char, Traits::fixed_size> bytes{};
    Traits::encode_fixed(key, bytes.data());
    out.append(bytes.data(), bytes.size());
  }

  [[nodiscard]] static constexpr K decode_from(std::string_view& rest) {
    if (rest.size() < Traits::fixed_size) throw_bad_key_encoding("too short for a fixed-size key");
    if constexpr (requires { Traits::is_valid_fixed(rest.data()); }) {
      if (!Traits::is_valid_fixed(rest.data())) {
        throw_bad_key_encoding("no key encodes to these bytes");
      }
    }
    const K key = Traits::decode_fixed(rest.data());
    rest.remove_prefix(Traits::fixed_size);
    return key;
  }
};

// Big-endian store and load of an unsigned integer: the most significant byte first.
template <class U>
constexpr void store_big_endian(U value, char* out) noexcept {
  for (std::size_t i = sizeof(U); i-- > 0;) {
    out[i] = static_cast<char>(value & 0xFFu);
    value = static_cast<U>(value >> 8);
  }
}

template <class U>
[[nodiscard]] constexpr U load_big_endian(const char* in) noexcept {
  U value = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) {
    value = static_cast<U>((value << 8) | static_cast<unsigned char>(in[i]));
  }
  return value;
}

// The unsigned integer whose big-endian bytes are an integral type's encoding.
template <class K>
struct ordered_bits {
  using type = std::make_unsigned_t<K>;
};
template <>
struct ordered_bits<bool> {
  using type = unsigned char;
};

template <class K>
concept unqualified = std::same_as<K, std::remove_cv_t<K>>;

}  // namespace detail

// Integers, bool and the character types: big-endian, the sign bit flipped where signed.
template <class K>
  requires std::integral<K> && detail::unqualified<K>
struct key_traits<K> : detail::fixed_key_traits_base<key_traits<K>, K> {
  using bits = typename detail::ordered_bits<K>::type;
  // Flipping it maps the least value to 00..00 and the greatest to FF..FF.
  static constexpr bits sign_bit =
      std::is_signed_v<K> ? static_cast<bits>(bits{1} << (std::numeric_limits<bits>::digits - 1))
                          : bits{0};

  static constexpr std::size_t fixed_size = sizeof(K);

  static constexpr void encode_fixed(K key, char* out) noexcept {
    detail::store_big_endian(static_cast<bits>(static_cast<bits>(key) ^ sign_bit), out);
  }
  [[nodiscard]] static constexpr K decode_fixed(const char* in) noexcept {
    return static_cast<K>(static_cast<bits>(detail::load_big_endian<bits>(in) ^ sign_bit));
  }
  // bool has two encodings among its byte's 256 values.
  [[nodiscard]] static constexpr bool is_valid_fixed(const char* in) noexcept
    requires std::same_as<K, bool>
  {
    return static_cast<unsigned char>(in[0]) <= 1;
  }
};

// Enums: the underlying type's encoding. For an enum without a fixed underlying type, decoding
// bytes that no enumerator's range covers is undefined, as the cast to the enum is.
template <class K>
  requires std::is_enum_v<K> && detail::unqualified<K>
struct key_traits<K> : detail::fixed_key_traits_base<key_traits<K>, K> {
  using underlying = std::underlying_type_t<K>;

  static constexpr std::size_t fixed_size = sizeof(underlying);

  static constexpr void encode_fixed(K key, char* out) noexcept {
    key_traits<underlying>::encode_fixed(static_cast<underlying>(key), out);
  }
  [[nodiscard]] static constexpr K decode_fixed(const char* in) noexcept {
    return static_cast<K>(key_traits<underlying>::decode_fixed(in));
  }
  [[nodiscard]] static constexpr bool is_valid_fixed(const char* in) noexcept
    requires std::same_as<underlying, bool>
  {
    return key_traits<bool>::is_valid_fixed(in);
  }
};

// float and double: IEEE 754's total order, -0.0 as +0.0, every NaN last as one key.
template <class K>
  requires(std::same_as<K, float> || std::same_as<K, double>)
struct key_traits<K> : detail::fixed_key_traits_base<key_traits<K>, K> {
  static_assert(std::numeric_limits<K>::is_iec559, "cmap::key_traits: needs IEEE 754 floats");
  using bits = std::conditional_t<sizeof(K) == 4, std::uint32_t, std::uint64_t>;
  static_assert(sizeof(bits) == sizeof(K));
  static constexpr bits sign_bit = bits{1} << (std::numeric_limits<bits>::digits - 1);
  // Every NaN encodes to all ones, above +infinity's encoding (sign bit, then the exponent's
  // ones and a zero mantissa).
  static constexpr bits nan_encoding = ~bits{0};

  static constexpr std::size_t fixed_size = sizeof(K);

  static constexpr void encode_fixed(K key, char* out) noexcept {
    detail::store_big_endian(to_ordered(key), out);
  }
  [[nodiscard]] static constexpr K decode_fixed(const char* in) noexcept {
    const bits e = detail::load_big_endian<bits>(in);
    if (e == nan_encoding) return std::numeric_limits<K>::quiet_NaN();
    return std::bit_cast<K>((e & sign_bit) != 0 ? static_cast<bits>(e & ~sign_bit)
                                                : static_cast<bits>(~e));
  }
  // The encodings of -0.0 and of NaNs other than the one encode_fixed writes are no key's.
  [[nodiscard]] static constexpr bool is_valid_fixed(const char* in) noexcept {
    const bits e = detail::load_big_endian<bits>(in);
    if (e == nan_encoding) return true;
    const K key = decode_fixed(in);
    return key == key && to_ordered(key) == e;
  }

 private:
  [[nodiscard]] static constexpr bits to_ordered(K key) noexcept {
    if (key != key) return nan_encoding;
    if (key == K{0}) key = K{0};  // -0.0 == +0.0 under std::less: one encoding
    const bits b = std::bit_cast<bits>(key);
    return (b & sign_bit) != 0 ? static_cast<bits>(~b) : static_cast<bits>(b | sign_bit);
  }
};

namespace detail {

// The escaped bytes of a string: each byte, a 00 followed by FF. Then a terminator 00 00
// ends a key; a prefix for a scan has none.
template <class Byte>
constexpr void append_escaped(const Byte* bytes, std::size_t size, std::string& out) {
  out.reserve(out.size() + size + 2);
  for (std::size_t i = 0; i < size; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    out.push_back(static_cast<char>(c));
    if (c == 0) out.push_back(static_cast<char>(0xFF));
  }
}

constexpr void append_terminator(std::string& out) { out.append(2, '\0'); }

// Reads one escaped, terminated string from the front of rest into a Container of bytes.
template <class Container>
[[nodiscard]] constexpr Container take_escaped(std::string_view& rest) {
  using byte = typename Container::value_type;
  Container key;
  for (std::size_t i = 0;;) {
    if (i == rest.size()) throw_bad_key_encoding("string without its terminator");
    const auto c = static_cast<unsigned char>(rest[i]);
    if (c != 0) {
      key.push_back(static_cast<byte>(c));
      ++i;
      continue;
    }
    if (i + 1 == rest.size()) throw_bad_key_encoding("string without its terminator");
    const auto next = static_cast<unsigned char>(rest[i + 1]);
    if (next == 0xFF) {
      key.push_back(static_cast<byte>(0));
      i += 2;
    } else if (next == 0) {
      rest.remove_prefix(i + 2);
      return key;
    } else {
      throw_bad_key_encoding("00 followed by neither 00 nor FF in a string");
    }
  }
}

// The encoding of character strings, shared by std::string and std::string_view.
struct string_encoding {
  static constexpr bool prefix_free = true;

  static constexpr void encode(std::string_view key, std::string& out) {
    append_escaped(key.data(), key.size(), out);
    append_terminator(out);
  }
  // E(prefix) without the terminator: every string key starting with prefix, and only those,
  // has an encoding starting with these bytes.
  static constexpr void encode_prefix(std::string_view prefix, std::string& out) {
    append_escaped(prefix.data(), prefix.size(), out);
  }
};

// The same encoding for vectors of bytes.
template <class Byte>
struct byte_vector_key_traits : key_traits_base<byte_vector_key_traits<Byte>> {
  static constexpr bool prefix_free = true;

  static constexpr void encode(std::span<const Byte> key, std::string& out) {
    append_escaped(key.data(), key.size(), out);
    append_terminator(out);
  }
  static constexpr void encode_prefix(std::span<const Byte> prefix, std::string& out) {
    append_escaped(prefix.data(), prefix.size(), out);
  }
  [[nodiscard]] static constexpr std::vector<Byte> decode_from(std::string_view& rest) {
    return take_escaped<std::vector<Byte>>(rest);
  }
};

}  // namespace detail

template <>
struct key_traits<std::string> : detail::string_encoding, key_traits_base<key_traits<std::string>> {
  [[nodiscard]] static constexpr std::string decode_from(std::string_view& rest) {
    return detail::take_escaped<std::string>(rest);
  }
};

// Encodes views, for lookups and prefix scans by a view; no decode (see above).
template <>
struct key_traits<std::string_view> : detail::string_encoding {};

template <>
struct key_traits<std::vector<std::uint8_t>> : detail::byte_vector_key_traits<std::uint8_t> {};

template <>
struct key_traits<std::vector<std::byte>> : detail::byte_vector_key_traits<std::byte> {};

namespace detail {

template <class P>
[[nodiscard]] constexpr P take_fixed(const char*& in) noexcept {
  const P part = key_traits<P>::decode_fixed(in);
  in += key_traits<P>::fixed_size;
  return part;
}

// The fixed-size members of a pair or tuple whose parts are all fixed-size; none otherwise.
template <class Product, class... Parts>
struct product_fixed_members {};

template <class Product, class... Parts>
  requires(fixed_size_key<Parts> && ...)
struct product_fixed_members<Product, Parts...> {
  static constexpr std::size_t fixed_size = (std::size_t{0} + ... + key_traits<Parts>::fixed_size);

  static constexpr void encode_fixed(const Product& key, char* out) noexcept {
    encode_parts(key, out, std::index_sequence_for<Parts...>{});
  }
  [[nodiscard]] static constexpr Product decode_fixed([[maybe_unused]] const char* in) noexcept {
    // The parts of a braced list are evaluated in order, so each reads after the one before.
    return Product{take_fixed<Parts>(in)...};
  }

 private:
  template <std::size_t... I>
  static constexpr void encode_parts([[maybe_unused]] const Product& key,
                                     [[maybe_unused]] char* out,
                                     std::index_sequence<I...>) noexcept {
    ((key_traits<Parts>::encode_fixed(std::get<I>(key), out), out += key_traits<Parts>::fixed_size),
     ...);
  }
};

template <class... Parts>
constexpr bool leading_parts_prefix_free() {
  constexpr std::array<bool, sizeof...(Parts)> prefix_free{key_traits<Parts>::prefix_free...};
  for (std::size_t i = 0; i + 1 < prefix_free.size(); ++i) {
    if (!prefix_free[i]) return false;
  }
  return true;
}

// std::pair and std::tuple: the parts' encodings concatenated.
template <class Product, class... Parts>
struct product_key_traits : key_traits_base<product_key_traits<Product, Parts...>>,
                            product_fixed_members<Product, Parts...> {
  static_assert(leading_parts_prefix_free<Parts...>(),
                "cmap::key_traits: every part of a pair or tuple key but the last needs a "
                "prefix-free encoding, else bytes of one part could decide against another");
  static constexpr bool prefix_free = (true && ... && key_traits<Parts>::prefix_free);

  static constexpr void encode(const Product& key, std::string& out) {
    encode_parts(key, out, std::index_sequence_for<Parts...>{});
  }
  [[nodiscard]] static constexpr Product decode_from([[maybe_unused]] std::string_view& rest) {
    // In order, as above.
    return Product{key_traits<Parts>::decode_from(rest)...};
  }

 private:
  template <std::size_t... I>
  static constexpr void encode_parts([[maybe_unused]] const Product& key,
                                     [[maybe_unused]] std::string& out,
                                     std::index_sequence<I...>) {
    (key_traits<Parts>::encode(std::get<I>(key), out), ...);
  }
};

}  // namespace detail

template <class A, class B>
  requires ordered_key<A> && ordered_key<B>
struct key_traits<std::pair<A, B>> : detail::product_key_traits<std::pair<A, B>, A, B> {};

template <class... Ts>
  requires(ordered_key<Ts> && ...)
struct key_traits<std::tuple<Ts...>> : detail::product_key_traits<std::tuple<Ts...>, Ts...> {};

}  // namespace cmap
