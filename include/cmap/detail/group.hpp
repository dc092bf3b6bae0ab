#pragma once
// Metadata groups: 16 control bytes matched at once, with SSE2 where available.
//
// Each slot of an open-addressing table has one control byte:
//   ctrl_empty   (0x80)  never used since the last rehash; a lookup may stop at a group
//                        that holds one (see flat_table.hpp for why)
//   ctrl_deleted (0xFE)  a tombstone: erased, but probes must continue past it
//   0x00..0x7F           full; the byte is the slot's tag, 7 bits of the key's hash
// Empty and deleted both have the high bit set and full bytes never do, so "is this slot
// free" is just the byte's sign bit.
//
// A group answers, as a 16-bit mask (bit i for slot i), which slots hold a given tag, which
// are empty, which are free (empty or deleted) and which are full. One group is one 16-byte
// load, so a lookup reads the metadata of 16 slots with one instruction and then touches
// only the slots whose tag matches (on average 16/128 false candidates per group).

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "hash.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cmap::detail {

using ctrl_t = std::int8_t;
inline constexpr ctrl_t ctrl_empty = static_cast<ctrl_t>(0x80);
inline constexpr ctrl_t ctrl_deleted = static_cast<ctrl_t>(0xFE);
inline constexpr std::size_t group_width = 16;

// Shared by the tables: at most 7/8 of the slots may be used.
[[nodiscard]] constexpr std::size_t max_load(std::size_t capacity) noexcept {
  return capacity - capacity / 8;
}

// The groups a hash h visits in a table of `count` groups, in order (concurrent_table).
// The home group is h scaled to the count (h * count / 2^64, mul_high): one
// multiplication, and any count works, so a table can grow by 1.5x instead of 2x; it uses
// the hash's high bits, independent of the tag's low 7. Then triangular steps (home + 1,
// + 3, + 6, ...), wrapping at the end, as in Boost's foa and Abseil: they spread a group's
// overflow instead of piling it onto the next group, as linear steps do. Triangular steps
// reach every group only when the count is a power of two (with 3 groups they cycle over
// two), so once a step would be count long the sequence goes on in steps of 1, which reach
// every group within count more steps: an insert that needs a free group always finds one
// (no probe gets that far in practice). Scaling keeps order (a smaller hash never has a
// later home group), so a rebuild that walks the old table in order writes the new one
// nearly in order too.
class scaled_probe_sequence {
 public:
  scaled_probe_sequence(std::size_t h, std::size_t count) noexcept
      : group_(home_group(h, count)), count_(count) {}
  [[nodiscard]] std::size_t group() const noexcept { return group_; }
  void next() noexcept {
    if (step_ < count_) ++step_;             // steps 1 .. count - 1, then count for good
    group_ += step_ < count_ ? step_ : 1;    // group_ and the step are < count: one
    if (group_ >= count_) group_ -= count_;  // subtraction wraps the sum
  }
  [[nodiscard]] static std::size_t home_group(std::size_t h, std::size_t count) noexcept {
    // A 32-bit hash is scaled from its own top bits, as a 64-bit one.
    constexpr int pad = 64 - std::numeric_limits<std::size_t>::digits;
    return static_cast<std::size_t>(mul_high(static_cast<std::uint64_t>(h) << pad, count));
  }

 private:
  std::size_t group_;
  std::size_t count_;
  std::size_t step_ = 0;
};

// The tag of a hash: its low 7 bits. flat_table takes the group index from the bits above
// them; concurrent_table scales the whole hash (scaled_probe_sequence), mostly its high bits.
[[nodiscard]] constexpr ctrl_t tag_of(std::size_t hash) noexcept {
  return static_cast<ctrl_t>(hash & 0x7F);
}
[[nodiscard]] constexpr bool is_full(ctrl_t c) noexcept { return c >= 0; }

// A set of slot positions within a group; iterate with `for (unsigned i : mask)`.
class bit_mask {
 public:
  constexpr explicit bit_mask(std::uint32_t bits) noexcept : bits_(bits) {}
  [[nodiscard]] constexpr bool any() const noexcept { return bits_ != 0; }
  [[nodiscard]] constexpr unsigned lowest() const noexcept {
    return static_cast<unsigned>(std::countr_zero(bits_));
  }
  [[nodiscard]] constexpr unsigned count() const noexcept {
    return static_cast<unsigned>(std::popcount(bits_));
  }
  // The positions of this set that are also in `keep` (bit i: position i).
  [[nodiscard]] constexpr bit_mask masked(std::uint32_t keep) const noexcept {
    return bit_mask(bits_ & keep);
  }

  class iterator {
   public:
    constexpr explicit iterator(std::uint32_t bits) noexcept : bits_(bits) {}
    constexpr unsigned operator*() const noexcept {
      return static_cast<unsigned>(std::countr_zero(bits_));
    }
    constexpr iterator& operator++() noexcept {
      bits_ &= bits_ - 1;  // clear the lowest set bit
      return *this;
    }
    constexpr bool operator==(const iterator&) const noexcept = default;

   private:
    std::uint32_t bits_;
  };
  [[nodiscard]] constexpr iterator begin() const noexcept { return iterator(bits_); }
  [[nodiscard]] constexpr iterator end() const noexcept { return iterator(0); }

 private:
  std::uint32_t bits_;
};

// A snapshot of one group's 16 control bytes (a copy: later writes to the table do not
// change it).
class group {
 public:
  // From two 64-bit words holding the 16 bytes in memory order (the concurrent table keeps
  // its control bytes in atomic words).
  group(std::uint64_t low, std::uint64_t high) noexcept {
#if defined(__SSE2__)
    bytes_ = _mm_set_epi64x(static_cast<long long>(high), static_cast<long long>(low));
#else
    std::memcpy(bytes_, &low, 8);
    std::memcpy(bytes_ + 8, &high, 8);
#endif
  }

  explicit group(const ctrl_t* ctrl) noexcept {
#if defined(__SSE2__)
    bytes_ = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ctrl));
#else
    std::memcpy(bytes_, ctrl, group_width);
#endif
  }

  [[nodiscard]] bit_mask match(ctrl_t tag) const noexcept {
#if defined(__SSE2__)
    return mask_of(_mm_cmpeq_epi8(bytes_, _mm_set1_epi8(tag)));
#else
    return match_portable([tag](ctrl_t c) { return c == tag; });
#endif
  }
  [[nodiscard]] bit_mask match_empty() const noexcept {
#if defined(__SSE2__)
    return mask_of(_mm_cmpeq_epi8(bytes_, _mm_set1_epi8(ctrl_empty)));
#else
    return match_portable([](ctrl_t c) { return c == ctrl_empty; });
#endif
  }
  [[nodiscard]] bit_mask match_deleted() const noexcept {
#if defined(__SSE2__)
    return mask_of(_mm_cmpeq_epi8(bytes_, _mm_set1_epi8(ctrl_deleted)));
#else
    return match_portable([](ctrl_t c) { return c == ctrl_deleted; });
#endif
  }
  // Empty or deleted (or any other byte with the sign bit set): the sign bit of each byte.
  [[nodiscard]] bit_mask match_free() const noexcept {
#if defined(__SSE2__)
    return mask_of(bytes_);
#else
    return match_portable([](ctrl_t c) { return c < 0; });
#endif
  }
  [[nodiscard]] bit_mask match_full() const noexcept {
    return bit_mask(~match_free_bits() & 0xFFFFu);
  }

 private:
#if defined(__SSE2__)
  static bit_mask mask_of(__m128i v) noexcept {
    return bit_mask(static_cast<std::uint32_t>(_mm_movemask_epi8(v)));
  }
  [[nodiscard]] std::uint32_t match_free_bits() const noexcept {
    return static_cast<std::uint32_t>(_mm_movemask_epi8(bytes_));
  }
  __m128i bytes_;
#else
  template <class P>
  [[nodiscard]] bit_mask match_portable(P p) const noexcept {
    std::uint32_t bits = 0;
    for (unsigned i = 0; i < group_width; ++i)
      bits |= static_cast<std::uint32_t>(p(bytes_[i])) << i;
    return bit_mask(bits);
  }
  [[nodiscard]] std::uint32_t match_free_bits() const noexcept {
    std::uint32_t bits = 0;
    for (unsigned i = 0; i < group_width; ++i)
      bits |= static_cast<std::uint32_t>(bytes_[i] < 0) << i;
    return bits;
  }
  ctrl_t bytes_[group_width];
#endif
};

}  // namespace cmap::detail
