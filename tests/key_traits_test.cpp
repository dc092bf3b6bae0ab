// cmap::key_traits (<cmap/key_traits.hpp>): for every ready key type, over random keys drawn
// under fixed seeds and over adversarial ones (0, -1, the limits, every byte position, empty
// strings, strings of 00 and FF bytes, strings that are prefixes of others, long shared
// prefixes), every pair of keys must compare as the unsigned bytes of their encodings compare,
// as std::less and == have it; every key must decode back from its encoding, decode_from must
// consume exactly that encoding, and no proper prefix of it may decode; no encoding may be a
// proper prefix of another. Pairs and tuples are checked the same way over mixed parts. The
// bytes of the documented examples are checked as written, the prefix helper against a
// brute-force filter, and malformed bytes must be rejected.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmap/key_traits.hpp>
#include <cmath>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// A user's key type, specialised as the header's opening comment shows.
struct order_id {
  std::uint32_t region;
  std::string name;
  auto operator<=>(const order_id&) const = default;
};

template <>
struct cmap::key_traits<order_id> : cmap::key_traits_base<cmap::key_traits<order_id>> {
  static constexpr bool prefix_free = true;  // a fixed-width part, then a terminated one
  static void encode(const order_id& key, std::string& out) {
    cmap::key_traits<std::uint32_t>::encode(key.region, out);
    cmap::key_traits<std::string>::encode(key.name, out);
  }
  static order_id decode_from(std::string_view& rest) {
    const std::uint32_t region = cmap::key_traits<std::uint32_t>::decode_from(rest);
    return {region, cmap::key_traits<std::string>::decode_from(rest)};
  }
};

// A key whose encoding is its raw bytes: order-preserving, but not prefix-free ("a" is a
// proper prefix of "ab"), so decode_from takes all that is left. Allowed as a tuple's last part.
struct tail_bytes {
  std::string bytes;
  auto operator<=>(const tail_bytes&) const = default;
};

template <>
struct cmap::key_traits<tail_bytes> : cmap::key_traits_base<cmap::key_traits<tail_bytes>> {
  static constexpr bool prefix_free = false;
  static void encode(const tail_bytes& key, std::string& out) { out += key.bytes; }
  static tail_bytes decode_from(std::string_view& rest) {
    tail_bytes key{std::string(rest)};
    rest = {};
    return key;
  }
};

namespace {

using namespace std::string_literals;

enum class small_enum : std::int8_t {};
enum plain_enum : unsigned {};
enum class flag : bool { no, yes };

// ---------------------------------------------------------------------------------------------
// What the header promises at compile time.
// ---------------------------------------------------------------------------------------------

static_assert(cmap::ordered_key<int> && cmap::ordered_key<bool> && cmap::ordered_key<char32_t>);
static_assert(cmap::ordered_key<std::string> && cmap::ordered_key<std::vector<std::byte>>);
static_assert(cmap::ordered_key<std::pair<int, std::string>>);
static_assert(cmap::ordered_key<std::tuple<std::string, double, small_enum>>);
static_assert(cmap::ordered_key<order_id>);
// A view encodes (for lookups and prefix scans) but cannot own what it decodes to.
static_assert(cmap::encodable_key<std::string_view> && !cmap::ordered_key<std::string_view>);
// No encoding, so no key: std::less compares the pointers; long double's format varies; a
// vector of ints has no byte encoding here; a pair is a key only when both parts are.
static_assert(!cmap::encodable_key<const char*> && !cmap::encodable_key<int*>);
static_assert(!cmap::encodable_key<long double> && !cmap::encodable_key<const int>);
static_assert(!cmap::encodable_key<std::vector<int>>);
static_assert(!cmap::ordered_key<std::pair<int, const char*>>);
static_assert(!cmap::ordered_key<std::tuple<int, std::string_view>>);

// Fixed-size keys: their encoding's length, written without allocating, and noexcept.
static_assert(cmap::fixed_size_key<std::uint64_t> &&
              cmap::key_traits<std::uint64_t>::fixed_size == 8);
static_assert(cmap::key_traits<bool>::fixed_size == 1 && cmap::key_traits<double>::fixed_size == 8);
static_assert(cmap::key_traits<small_enum>::fixed_size == 1);
static_assert(cmap::key_traits<std::tuple<std::uint8_t, std::int16_t, std::uint64_t>>::fixed_size ==
              11);
static_assert(cmap::key_traits<std::pair<int, std::pair<char, float>>>::fixed_size == 9);
static_assert(!cmap::fixed_size_key<std::string> && !cmap::fixed_size_key<order_id>);
static_assert(!cmap::fixed_size_key<std::pair<int, std::string>>);
static_assert(noexcept(cmap::key_traits<int>::encode_fixed(1, nullptr)));
static_assert(noexcept(cmap::key_traits<std::pair<int, double>>::decode_fixed(nullptr)));

// Prefix-freedom: every ready encoding; a tuple inherits its last part's.
static_assert(cmap::key_traits<std::string>::prefix_free && cmap::key_traits<int>::prefix_free);
static_assert(cmap::key_traits<std::tuple<int, std::string>>::prefix_free);
static_assert(!cmap::key_traits<std::pair<int, tail_bytes>>::prefix_free);

// The fixed-size members work in constant expressions.
template <class K>
constexpr bool fixed_round_trip(K key) {
  std::array<char, cmap::key_traits<K>::fixed_size> bytes{};
  cmap::key_traits<K>::encode_fixed(key, bytes.data());
  return cmap::key_traits<K>::decode_fixed(bytes.data()) == key;
}
static_assert(fixed_round_trip(std::int32_t{-5}) && fixed_round_trip(std::uint64_t{1} << 63));
static_assert(fixed_round_trip(-1.5) && fixed_round_trip(std::pair<short, bool>{-3, true}));
constexpr bool int16_minus_one_is_7f_ff() {
  std::array<char, 2> bytes{};
  cmap::key_traits<std::int16_t>::encode_fixed(-1, bytes.data());
  return static_cast<unsigned char>(bytes[0]) == 0x7F &&
         static_cast<unsigned char>(bytes[1]) == 0xFF;
}
static_assert(int16_minus_one_is_7f_ff());

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

// Every property runs under each of these seeds; a failure names the seed.
constexpr std::array<std::uint64_t, 4> seeds = {1, 42, 0x9e3779b97f4a7c15ULL, 20240601};
// Random keys per seed and type; the pairwise properties then hold over every pair of them and
// of the adversarial keys, in both orders.
constexpr int random_keys = 150;

template <class K>
std::string encoded(const K& key) {
  std::string out;
  cmap::key_traits<K>::encode(key, out);
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  if (bytes.size() > 48) {
    return hex(bytes.substr(0, 24)) + " ... (" + std::to_string(bytes.size()) + " bytes)";
  }
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (!out.empty()) out += ' ';
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out.empty() ? "(empty)" : out;
}

template <class K>
std::string describe(const K& key) {
  std::string printed = ::testing::PrintToString(key);
  if (printed.size() > 120) printed = printed.substr(0, 120) + "...";
  return printed + " encoded as " + hex(encoded(key));
}

// The sign of a lexicographic comparison of unsigned bytes, written out rather than taken from
// std::string, so that the test does not lean on what it checks.
int compare_bytes(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

template <class K>
int compare_keys(const K& a, const K& b) {
  const std::less<K> less;
  if (less(a, b)) return -1;
  return less(b, a) ? 1 : 0;
}

bool proper_prefix(std::string_view a, std::string_view b) {
  return a.size() < b.size() && b.substr(0, a.size()) == a;
}

// ---------------------------------------------------------------------------------------------
// Keys to check: adversarial ones, and random ones drawn from a seeded generator.
// ---------------------------------------------------------------------------------------------

template <class K>
struct source;

template <class K>
const std::vector<K>& adversarial() {
  static const std::vector<K> keys = source<K>::adversarial();
  return keys;
}

// A part of a pair or tuple: half the time one of the first adversarial keys, so that equal
// leading parts are common and the later parts decide.
template <class T>
T pick(std::mt19937_64& rng) {
  const std::vector<T>& few = adversarial<T>();
  if (rng() % 2 == 0) return few[rng() % std::min<std::size_t>(few.size(), 4)];
  return source<T>::random(rng);
}

template <class K>
  requires std::integral<K>
struct source<K> {
  using bits = typename cmap::key_traits<K>::bits;
  using limits = std::numeric_limits<K>;

  static std::vector<K> adversarial() {
    if constexpr (std::same_as<K, bool>) {
      return {false, true};
    } else {
      std::vector<K> keys = {K(0), K(1), static_cast<K>(bits(~bits{0})),  // -1, or the max
                             limits::min(), static_cast<K>(limits::min() + 1),
                             limits::max(), static_cast<K>(limits::max() - 1)};
      // 1, 0x80, 0xFF and their negations in each byte: a swapped or misplaced byte shows.
      for (std::size_t b = 0; b < sizeof(K); ++b) {
        for (const bits low : {bits{1}, bits{0x80}, bits{0xFF}}) {
          const auto v = static_cast<bits>(low << (8 * b));
          keys.push_back(static_cast<K>(v));
          keys.push_back(static_cast<K>(static_cast<bits>(-v)));
          keys.push_back(static_cast<K>(static_cast<bits>(v - 1)));
        }
      }
      return keys;
    }
  }

  static K random(std::mt19937_64& rng) {
    if constexpr (std::same_as<K, bool>) {
      return (rng() & 1) != 0;
    } else {
      switch (rng() % 4) {
        case 0:
          return static_cast<K>(static_cast<bits>(rng()));
        case 1:
          return static_cast<K>(static_cast<int>(rng() % 9) - 4);
        case 2:
          return static_cast<K>(limits::min() + static_cast<int>(rng() % 4));
        default:
          return static_cast<K>(limits::max() - static_cast<int>(rng() % 4));
      }
    }
  }
};

template <class K>
  requires std::is_enum_v<K>
struct source<K> {
  using underlying = std::underlying_type_t<K>;
  static std::vector<K> adversarial() {
    std::vector<K> keys;
    for (underlying u : ::adversarial<underlying>()) keys.push_back(static_cast<K>(u));
    return keys;
  }
  static K random(std::mt19937_64& rng) {
    return static_cast<K>(source<underlying>::random(rng));
  }
};

template <std::floating_point K>
struct source<K> {
  using limits = std::numeric_limits<K>;
  using bits = typename cmap::key_traits<K>::bits;

  static std::vector<K> adversarial() {
    std::vector<K> keys = {K(0), -K(0), K(1), K(-1), K(2), K(0.5), K(-0.5),
                           limits::infinity(), -limits::infinity(), limits::max(),
                           limits::lowest(), limits::min(), -limits::min(),
                           limits::denorm_min(), -limits::denorm_min(), limits::epsilon(),
                           std::nextafter(K(1), K(0)), std::nextafter(K(1), K(2)),
                           std::nextafter(K(-1), K(0)), std::nextafter(limits::min(), K(0))};
    return keys;
  }

  static K random(std::mt19937_64& rng) {
    switch (rng() % 3) {
      case 0:
        for (;;) {  // any bit pattern but a NaN's, which std::less does not order
          const K x = std::bit_cast<K>(static_cast<bits>(rng()));
          if (!std::isnan(x)) return x;
        }
      case 1:
        return std::uniform_real_distribution<K>(K(-1000), K(1000))(rng);
      default:
        return static_cast<K>(static_cast<int>(rng() % 9) - 4);
    }
  }
};

template <>
struct source<std::string> {
  static std::vector<std::string> adversarial() {
    std::vector<std::string> keys = {""s,     "\0"s,    "\0\0"s,   "\0\xff"s, "\xff"s,
                                     "\xff\xff"s, "\xff\0"s, "\x01"s,  "a"s,     "ab"s,
                                     "abc"s,  "a\0"s,   "a\0b"s,   "a\0\0"s,  "a\x01"s,
                                     "a\xff"s, "b"s,    "\0\x01"s, "\x01\0"s};
    // Long shared prefixes, and the same prefix one byte short.
    for (const std::string& base : {std::string(1000, 'x'), std::string(300, '\0'),
                                    std::string(300, '\xff')}) {
      for (const std::string& suffix : {""s, "\0"s, "\0\0"s, "\x01"s, "\xff"s, "a"s}) {
        keys.push_back(base + suffix);
      }
      keys.push_back(base.substr(1));
    }
    return keys;
  }

  static std::string random(std::mt19937_64& rng) {
    std::string key;
    if (rng() % 4 == 0) {  // any bytes
      key.resize(rng() % 25);
      for (char& c : key) c = static_cast<char>(rng() & 0xFF);
    } else {  // a small alphabet of the bytes that matter, so that prefixes and ties abound
      static constexpr std::array<char, 8> alphabet = {'\0',   '\x01', '\x7f', '\x80',
                                                       '\xfe', '\xff', 'a',    'b'};
      key.resize(rng() % 9);
      for (char& c : key) c = alphabet[rng() % alphabet.size()];
    }
    return key;
  }
};

template <class Byte>
std::vector<Byte> to_bytes(std::string_view s) {
  std::vector<Byte> bytes;
  for (char c : s) bytes.push_back(static_cast<Byte>(static_cast<unsigned char>(c)));
  return bytes;
}

template <class Byte>
struct source<std::vector<Byte>> {
  static std::vector<std::vector<Byte>> adversarial() {
    std::vector<std::vector<Byte>> keys;
    for (const std::string& s : ::adversarial<std::string>()) keys.push_back(to_bytes<Byte>(s));
    return keys;
  }
  static std::vector<Byte> random(std::mt19937_64& rng) {
    return to_bytes<Byte>(source<std::string>::random(rng));
  }
};

template <class A, class B>
struct source<std::pair<A, B>> {
  static std::vector<std::pair<A, B>> adversarial() {
    std::vector<std::pair<A, B>> keys;
    const auto& as = ::adversarial<A>();
    const auto& bs = ::adversarial<B>();
    for (std::size_t i = 0; i < std::min<std::size_t>(as.size(), 4); ++i) {
      for (std::size_t j = 0; j < std::min<std::size_t>(bs.size(), 4); ++j) {
        keys.emplace_back(as[i], bs[j]);
      }
    }
    return keys;
  }
  static std::pair<A, B> random(std::mt19937_64& rng) {
    return std::pair<A, B>{pick<A>(rng), pick<B>(rng)};  // a braced list: A drawn first
  }
};

template <class... Ts>
struct source<std::tuple<Ts...>> {
  // Every combination of the first three adversarial keys of each part.
  static std::vector<std::tuple<Ts...>> adversarial() {
    std::vector<std::tuple<Ts...>> keys;
    std::size_t combinations = 1;
    for (std::size_t i = 0; i < sizeof...(Ts); ++i) combinations *= 3;
    for (std::size_t c = 0; c < combinations; ++c) {
      std::size_t digit = 1;
      [[maybe_unused]] const auto part = [&]<class T>(std::type_identity<T>) {
        const std::vector<T>& few = ::adversarial<T>();
        const T& key = few[(c / digit) % 3 % few.size()];
        digit *= 3;
        return key;
      };
      keys.push_back(std::tuple<Ts...>{part(std::type_identity<Ts>{})...});
    }
    return keys;
  }
  static std::tuple<Ts...> random([[maybe_unused]] std::mt19937_64& rng) {
    return std::tuple<Ts...>{pick<Ts>(rng)...};
  }
};

template <>
struct source<order_id> {
  static std::vector<order_id> adversarial() {
    std::vector<order_id> keys;
    for (std::uint32_t region : {0u, 1u, 0xFFFFFFFFu, 0x100u}) {
      for (const char* name : {"", "a", "ab"}) keys.push_back({region, name});
    }
    return keys;
  }
  static order_id random(std::mt19937_64& rng) {
    const std::uint32_t region = pick<std::uint32_t>(rng);
    return {region, pick<std::string>(rng)};
  }
};

template <>
struct source<tail_bytes> {
  static std::vector<tail_bytes> adversarial() {
    std::vector<tail_bytes> keys;
    for (const std::string& s : ::adversarial<std::string>()) keys.push_back({s});
    return keys;
  }
  static tail_bytes random(std::mt19937_64& rng) { return {source<std::string>::random(rng)}; }
};

// ---------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------

// decode(E(k)) == k; decode_from takes E(k) and only it off the front of longer bytes; decode
// rejects E(k) with bytes after it and every proper prefix of E(k) (a prefix-free encoding's
// prefixes are no key's); the fixed-size members write and read the same bytes.
template <class K>
void check_round_trip(const K& key) {
  using traits = cmap::key_traits<K>;
  const std::string e = encoded(key);
  ASSERT_TRUE(traits::decode(e) == key) << describe(key);

  std::string e2;
  traits::encode(key, e2);
  ASSERT_EQ(e2, e) << "encode is not deterministic: " << describe(key);

  if constexpr (traits::prefix_free) {
    const std::string tail = "\x01\0\xff"s;
    const std::string longer = e + tail;
    std::string_view rest = longer;
    ASSERT_TRUE(traits::decode_from(rest) == key) << describe(key);
    ASSERT_EQ(rest, tail) << describe(key);
    ASSERT_THROW(static_cast<void>(traits::decode(longer)), std::invalid_argument) << describe(key);
    // Long encodings: their last few prefixes; the others cost quadratic time.
    for (std::size_t n = e.size() > 64 ? e.size() - 4 : 0; n < e.size(); ++n) {
      ASSERT_THROW(static_cast<void>(traits::decode(std::string_view(e).substr(0, n))),
                   std::invalid_argument)
          << describe(key) << ": its first " << n << " bytes decoded";
    }
  }

  if constexpr (cmap::fixed_size_key<K>) {
    ASSERT_EQ(e.size(), traits::fixed_size) << describe(key);
    std::array<char, traits::fixed_size + 1> bytes;
    bytes.fill('\x5a');
    traits::encode_fixed(key, bytes.data());
    ASSERT_EQ(std::string_view(bytes.data(), traits::fixed_size), e) << describe(key);
    ASSERT_EQ(bytes[traits::fixed_size], '\x5a') << "wrote past fixed_size: " << describe(key);
    ASSERT_TRUE(traits::decode_fixed(e.data()) == key) << describe(key);
  }
}

// Over every ordered pair: the encodings compare as std::less compares the keys, are equal
// exactly when the keys are, and (prefix-free encodings) neither is a proper prefix of the
// other.
template <class K>
void check_pairs(const std::vector<K>& keys) {
  std::vector<std::string> enc;
  enc.reserve(keys.size());
  for (const K& k : keys) enc.push_back(encoded(k));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (std::size_t j = 0; j < keys.size(); ++j) {
      ASSERT_EQ(compare_bytes(enc[i], enc[j]), compare_keys(keys[i], keys[j]))
          << "order differs: " << describe(keys[i]) << " against " << describe(keys[j]);
      ASSERT_EQ(enc[i] == enc[j], keys[i] == keys[j])
          << "equality differs: " << describe(keys[i]) << " against " << describe(keys[j]);
      if constexpr (cmap::key_traits<K>::prefix_free) {
        ASSERT_FALSE(proper_prefix(enc[i], enc[j]))
            << "prefix: " << describe(keys[i]) << " of " << describe(keys[j]);
      }
    }
  }
}

template <class K>
void check_all_properties() {
  for (const std::uint64_t seed : seeds) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    std::vector<K> keys = adversarial<K>();
    for (int i = 0; i < random_keys; ++i) keys.push_back(source<K>::random(rng));
    for (const K& key : keys) {
      check_round_trip(key);
      if (::testing::Test::HasFatalFailure()) return;
    }
    check_pairs(keys);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

template <class K>
class KeyTraitsProperties : public ::testing::Test {};

using key_types = ::testing::Types<
    // integers, bool and the character types
    bool, char, signed char, unsigned char, char8_t, char16_t, char32_t, wchar_t, short,
    unsigned short, int, unsigned, long, unsigned long, long long, unsigned long long,
    // enums, floating point
    small_enum, plain_enum, flag, float, double,
    // strings
    std::string, std::vector<std::uint8_t>, std::vector<std::byte>,
    // pairs and tuples over mixed parts, and user types
    std::pair<std::int32_t, std::string>, std::pair<std::string, std::uint64_t>,
    std::tuple<std::string, std::int64_t, std::string>,
    std::tuple<std::uint8_t, std::int16_t, std::uint64_t>, std::tuple<bool, double, std::string>,
    std::pair<std::pair<std::int16_t, std::string>, std::vector<std::uint8_t>>,
    std::tuple<char, small_enum, std::vector<std::byte>, float>, std::tuple<>, order_id,
    std::pair<std::uint16_t, tail_bytes>>;
TYPED_TEST_SUITE(KeyTraitsProperties, key_types);

TYPED_TEST(KeyTraitsProperties, BytesOrderAsKeysRoundTripAndNoneIsAPrefixOfAnother) {
  check_all_properties<TypeParam>();
}

// ---------------------------------------------------------------------------------------------
// The bytes the header's opening comment documents.
// ---------------------------------------------------------------------------------------------

TEST(KeyTraits, DocumentedBytes) {
  EXPECT_EQ(encoded(std::uint16_t{258}), "\x01\x02"s);
  EXPECT_EQ(encoded(std::int16_t{-32768}), "\0\0"s);
  EXPECT_EQ(encoded(std::int16_t{-1}), "\x7f\xff"s);
  EXPECT_EQ(encoded(std::int16_t{0}), "\x80\0"s);
  EXPECT_EQ(encoded(std::int16_t{1}), "\x80\x01"s);
  EXPECT_EQ(encoded(std::int16_t{32767}), "\xff\xff"s);
  EXPECT_EQ(encoded(std::uint32_t{0x01020304}), "\x01\x02\x03\x04"s);
  EXPECT_EQ(encoded(false), "\0"s);
  EXPECT_EQ(encoded(true), "\x01"s);
  EXPECT_EQ(encoded(small_enum{-1}), "\x7f"s);
  EXPECT_EQ(encoded(0.0f), "\x80\0\0\0"s);
  EXPECT_EQ(encoded(-0.0f), "\x80\0\0\0"s);
  EXPECT_EQ(encoded(std::numeric_limits<float>::infinity()), "\xff\x80\0\0"s);
  EXPECT_EQ(encoded(-std::numeric_limits<float>::infinity()), "\0\x7f\xff\xff"s);
  EXPECT_EQ(encoded(1.0f), "\xbf\x80\0\0"s);   // 3F 80 00 00 with the sign bit set
  EXPECT_EQ(encoded(-1.0f), "\x40\x7f\xff\xff"s);  // BF 80 00 00 flipped
  EXPECT_EQ(encoded(std::numeric_limits<float>::quiet_NaN()), "\xff\xff\xff\xff"s);
  EXPECT_EQ(encoded(""s), "\0\0"s);
  EXPECT_EQ(encoded("ab"s), "ab\0\0"s);
  EXPECT_EQ(encoded("a\0b"s), "a\0\xff" "b\0\0"s);
  EXPECT_EQ(encoded(std::pair<std::uint8_t, std::string>{1, "a"}), "\x01" "a\0\0"s);
  EXPECT_EQ(encoded(std::tuple<>{}), ""s);
  EXPECT_EQ(encoded(order_id{2, "x"}), "\0\0\0\x02x\0\0"s);
}

// ---------------------------------------------------------------------------------------------
// Floating point: -0.0 and NaN.
// ---------------------------------------------------------------------------------------------

template <class F>
void check_nan_and_zero() {
  using traits = cmap::key_traits<F>;
  using bits = typename traits::bits;
  constexpr bits sign = traits::sign_bit;
  const F quiet = std::numeric_limits<F>::quiet_NaN();
  const F inf = std::numeric_limits<F>::infinity();
  const std::string nan = encoded(quiet);
  // Every NaN, whatever its sign and payload, is one key after +infinity.
  for (const F x : {quiet, -quiet, std::numeric_limits<F>::signaling_NaN(),
                    std::bit_cast<F>(static_cast<bits>(std::bit_cast<bits>(inf) | 1)),
                    std::bit_cast<F>(static_cast<bits>(~bits{0})),
                    std::bit_cast<F>(static_cast<bits>(~bits{0} & ~sign))}) {
    ASSERT_TRUE(std::isnan(x));
    EXPECT_EQ(encoded(x), nan) << hex(encoded(x));
    EXPECT_TRUE(std::isnan(traits::decode(encoded(x))));
  }
  EXPECT_EQ(nan, std::string(sizeof(F), '\xff'));
  EXPECT_EQ(compare_bytes(encoded(inf), nan), -1);
  EXPECT_EQ(compare_bytes(encoded(std::numeric_limits<F>::max()), nan), -1);

  // -0.0 encodes as +0.0 and decodes to +0.0.
  EXPECT_EQ(encoded(-F(0)), encoded(F(0)));
  EXPECT_FALSE(std::signbit(traits::decode(encoded(-F(0)))));

  // The bytes no key encodes to: -0.0's bits transformed, and NaNs other than all ones (one
  // with the sign bit clear, one with it set).
  EXPECT_EQ(encoded(static_cast<bits>(~sign)),
            std::string("\x7f") + std::string(sizeof(F) - 1, '\xff'));
  for (const bits e : {static_cast<bits>(~sign), static_cast<bits>(~bits{0} - 1),
                       static_cast<bits>(~std::bit_cast<bits>(-quiet))}) {
    EXPECT_THROW(static_cast<void>(traits::decode(encoded(e))), std::invalid_argument)
        << hex(encoded(e));
  }
}

TEST(KeyTraits, FloatNanIsOneKeyAfterInfinityAndMinusZeroIsZero) {
  check_nan_and_zero<float>();
  check_nan_and_zero<double>();
}

// ---------------------------------------------------------------------------------------------
// Malformed bytes.
// ---------------------------------------------------------------------------------------------

template <class K>
void expect_rejected(std::string_view bytes) {
  EXPECT_THROW(static_cast<void>(cmap::key_traits<K>::decode(bytes)), std::invalid_argument)
      << hex(bytes);
}

// The reason given, where a wrong one would hide a read past the bytes.
template <class K>
void expect_rejected_because(std::string_view bytes, std::string_view reason) {
  try {
    static_cast<void>(cmap::key_traits<K>::decode(bytes));
    ADD_FAILURE() << hex(bytes) << " decoded";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string_view(e.what()).find(reason), std::string_view::npos)
        << hex(bytes) << ": " << e.what();
  }
}

TEST(KeyTraits, DecodeRejectsBytesThatAreNotOneEncoding) {
  expect_rejected_because<std::uint32_t>("abc", "too short");
  expect_rejected_because<std::pair<std::uint8_t, std::uint16_t>>("\x01\x02"s, "too short");
  expect_rejected_because<std::string>("ab\0"s, "without its terminator");
  expect_rejected_because<std::uint32_t>("abcde", "left over");
  expect_rejected<std::uint32_t>("abc");
  expect_rejected<std::uint32_t>("abcde");
  expect_rejected<std::int8_t>("");
  expect_rejected<bool>("\x02"s);
  expect_rejected<bool>("\xff"s);
  expect_rejected<flag>("\x02"s);
  EXPECT_EQ(cmap::key_traits<flag>::decode("\x01"s), flag::yes);

  for (const std::string& bad : {""s, "ab"s, "a\0"s, "a\0\x01"s, "a\0\xfe"s, "\0"s, "a\0\0x"s}) {
    expect_rejected<std::string>(bad);
    expect_rejected<std::vector<std::uint8_t>>(bad);
    expect_rejected<std::vector<std::byte>>(bad);
  }
  expect_rejected<std::pair<std::uint8_t, std::string>>("\x01"s);
  expect_rejected<std::pair<std::uint8_t, std::string>>("\x01" "a\0\0\0"s);
  expect_rejected<std::tuple<>>("x");

  // decode_from stops after the terminator and leaves the rest.
  const std::string bytes = "a\0\xff\0\0tail"s;
  std::string_view rest = bytes;
  EXPECT_EQ(cmap::key_traits<std::string>::decode_from(rest), "a\0"s);
  EXPECT_EQ(rest, "tail");
}

// ---------------------------------------------------------------------------------------------
// Prefix scans.
// ---------------------------------------------------------------------------------------------

std::string encoded_prefix(std::string_view prefix) {
  std::string out;
  cmap::key_traits<std::string>::encode_prefix(prefix, out);
  return out;
}

TEST(KeyTraits, EncodedPrefixSelectsExactlyTheStringsWithThatPrefix) {
  for (const std::uint64_t seed : seeds) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    std::vector<std::string> keys = adversarial<std::string>();
    for (int i = 0; i < 300; ++i) keys.push_back(source<std::string>::random(rng));
    // In the map's order: by encoding.
    std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
      return compare_bytes(encoded(a), encoded(b)) < 0;
    });

    // Every prefix of some keys, short random strings, and the awkward ones.
    std::vector<std::string> prefixes = {""s, "\0"s, "\xff"s, "a\0"s, "a\0\xff"s, "\0\0"s};
    for (std::size_t i = 0; i < keys.size(); i += 7) {
      for (std::size_t n = 0; n <= std::min<std::size_t>(keys[i].size(), 12); ++n) {
        prefixes.push_back(keys[i].substr(0, n));
      }
    }
    for (int i = 0; i < 100; ++i) prefixes.push_back(source<std::string>::random(rng).substr(0, 3));

    std::vector<std::string> enc;
    for (const std::string& key : keys) enc.push_back(encoded(key));

    for (const std::string& prefix : prefixes) {
      const std::string p = encoded_prefix(prefix);
      ASSERT_EQ(p + "\0\0"s, encoded(prefix)) << hex(prefix);
      std::size_t first = keys.size(), last = 0, matches = 0;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const bool brute = keys[i].starts_with(prefix);
        const bool by_bytes = enc[i].starts_with(p);
        ASSERT_EQ(by_bytes, brute) << "prefix " << hex(prefix) << " (encoded " << hex(p)
                                   << "), key " << describe(keys[i]);
        if (brute) {
          first = std::min(first, i);
          last = i;
          ++matches;
        }
      }
      // In the map's order the matches form one run, which a tree finds by descending p.
      if (matches > 0) {
        ASSERT_EQ(last - first + 1, matches) << "prefix " << hex(prefix) << " not contiguous";
      }
    }
  }
}

TEST(KeyTraits, PrefixOfAByteStringAndOfATuplesFirstPart) {
  std::mt19937_64 rng(seeds[0]);
  for (int i = 0; i < 2000; ++i) {
    const std::string key = source<std::string>::random(rng);
    const std::string prefix = source<std::string>::random(rng).substr(0, rng() % 3);
    const bool brute = key.starts_with(prefix);

    std::string p;
    cmap::key_traits<std::vector<std::uint8_t>>::encode_prefix(to_bytes<std::uint8_t>(prefix), p);
    ASSERT_EQ(encoded(to_bytes<std::uint8_t>(key)).starts_with(p), brute)
        << hex(key) << " / " << hex(prefix);
    const std::string tuple = encoded(std::pair<std::string, int>{key, i});
    ASSERT_EQ(tuple.starts_with(encoded_prefix(prefix)), brute)
        << hex(key) << " / " << hex(prefix);
  }
}

TEST(KeyTraits, ViewsAndLiteralsEncodeAsStrings) {
  for (const std::string& s : adversarial<std::string>()) {
    std::string from_view;
    cmap::key_traits<std::string_view>::encode(std::string_view(s), from_view);
    EXPECT_EQ(from_view, encoded(s));
    std::string prefix_from_view;
    cmap::key_traits<std::string_view>::encode_prefix(s, prefix_from_view);
    EXPECT_EQ(prefix_from_view, encoded_prefix(s));
  }
  std::string out;
  cmap::key_traits<std::string>::encode("uid:1", out);  // not the literal's terminating NUL
  EXPECT_EQ(out, "uid:1\0\0"s);
}

}  // namespace
