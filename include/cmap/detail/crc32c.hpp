#pragma once
// crc32c(): the CRC-32C (Castagnoli) checksum that guards every record of durable_map's log
// and checkpoints (docs/durability.md).
//
// Why Castagnoli: it detects more of the error patterns that storage produces than the
// IEEE polynomial does, and x86-64 computes it in hardware (SSE 4.2's crc32 instruction,
// 8 bytes per instruction), as do ext4, iSCSI, LevelDB and RocksDB for the same purpose.
// Where the instruction is missing (checked once, at run time) a table-driven version
// computes the same values, 8 bytes per step ("slicing by 8").
//
// crc32c(data, n) is the standard CRC-32C: reflected polynomial 0x82F63B78, initial value and
// final XOR 0xFFFFFFFF; crc32c("123456789") == 0xE3069283. crc32c_extend(crc, data, n) goes
// on from an earlier result, so crc32c_extend(crc32c(a), b) == crc32c(a + b).

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <nmmintrin.h>
#define CMAP_CRC32C_X86 1
#endif

namespace cmap::detail {

inline constexpr std::uint32_t crc32c_polynomial = 0x82F63B78u;  // reflected 0x1EDC6F41

// table[k][b]: the CRC of byte b followed by k zero bytes, for slicing by 8.
inline constexpr auto crc32c_tables = [] {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1u) ? crc32c_polynomial : 0u);
    t[0][b] = c;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
  return t;
}();

// On the raw (not inverted) CRC state.
[[nodiscard]] inline std::uint32_t crc32c_portable(std::uint32_t c, const unsigned char* p,
                                                   std::size_t n) noexcept {
  const auto& t = crc32c_tables;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint32_t lo;
    std::uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    if constexpr (std::endian::native == std::endian::big) {
      lo = __builtin_bswap32(lo);
      hi = __builtin_bswap32(hi);
    }
    lo ^= c;
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
  }
  for (; n > 0; --n, ++p) c = (c >> 8) ^ t[0][(c ^ *p) & 0xFF];
  return c;
}

#ifdef CMAP_CRC32C_X86
[[gnu::target("sse4.2")]] inline std::uint32_t crc32c_sse42(std::uint32_t c,
                                                            const unsigned char* p,
                                                            std::size_t n) noexcept {
  std::uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    c64 = _mm_crc32_u64(c64, w);
  }
  auto c32 = static_cast<std::uint32_t>(c64);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

[[nodiscard]] inline bool cpu_has_sse42() noexcept {
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_SSE4_2) != 0;
  }();
  return has;
}
#endif

[[nodiscard]] inline std::uint32_t crc32c_extend(std::uint32_t crc, const void* data,
                                                 std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = ~crc;
#ifdef CMAP_CRC32C_X86
  if (cpu_has_sse42()) return ~crc32c_sse42(c, p, n);
#endif
  return ~crc32c_portable(c, p, n);
}

[[nodiscard]] inline std::uint32_t crc32c(const void* data, std::size_t n) noexcept {
  return crc32c_extend(0, data, n);
}

}  // namespace cmap::detail
