#pragma once
// concurrent_group: the control bytes of one group of concurrent_table, and every atomic
// operation on them. The table's correctness rests on these few operations and on the
// memory order each one uses, so they live here, each with its reason, apart from the
// engine that combines them.
//
// Layout. A group has 16 control bytes in two atomic 64-bit words (so they can be read and
// changed atomically, little-endian: byte i is bits 8*(i%8).. of word i/8):
//   bytes 0..14  the slots' control bytes: group.hpp's ctrl_empty, ctrl_deleted or a 7-bit
//                tag, plus ctrl_busy (a slot claimed by a writer that has not published it)
//   byte 15      8 overflow bits: bit overflow_bit(h) set means some key of a hash like h
//                went on to a later group (the engine's invariant (1)); only ever set
// Readers take a snapshot of both words (ctrl_snapshot) and match it; writers change one
// byte at a time, with a CAS where another writer may race for that byte (set) and with one
// atomic add where no one else can change it (move).

#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>

#include "group.hpp"

namespace cmap::detail {

static_assert(std::endian::native == std::endian::little,
              "concurrent groups pack control bytes into words little-endian");

// Slots per concurrent group: byte 15 holds the overflow bits.
inline constexpr unsigned concurrent_group_slots = 15;
inline constexpr std::uint32_t concurrent_slot_bits =
    (std::uint32_t{1} << concurrent_group_slots) - 1;

// A slot claimed by a writer that has not yet published its entry; readers skip it.
inline constexpr ctrl_t ctrl_busy = static_cast<ctrl_t>(0xFF);

// The overflow bit of hash h: 1 of 8, from bits of the hash that pick neither the group nor
// the stripe (the tag's low bits).
[[nodiscard]] constexpr std::uint8_t overflow_bit(std::size_t h) noexcept {
  return static_cast<std::uint8_t>(1u << (h & 7));
}

// Control byte i of a control word.
[[nodiscard]] constexpr ctrl_t ctrl_byte_of(std::uint64_t word, unsigned i) noexcept {
  return static_cast<ctrl_t>(static_cast<std::uint8_t>(word >> (8 * (i % 8))));
}

// A snapshot of a group's control words: which slots hold a tag, are empty, deleted or
// full (bytes 0..14), and whether keys of a hash overflowed past it (byte 15).
class ctrl_snapshot {
 public:
  ctrl_snapshot(std::uint64_t low, std::uint64_t high) noexcept
      : bytes_(low, high), low_(low), high_(high) {}
  [[nodiscard]] bit_mask match(ctrl_t tag) const noexcept {
    return bytes_.match(tag).masked(concurrent_slot_bits);
  }
  [[nodiscard]] bit_mask match_empty() const noexcept {
    return bytes_.match_empty().masked(concurrent_slot_bits);
  }
  [[nodiscard]] bit_mask match_deleted() const noexcept {
    return bytes_.match_deleted().masked(concurrent_slot_bits);
  }
  [[nodiscard]] bit_mask match_full() const noexcept {
    return bytes_.match_full().masked(concurrent_slot_bits);
  }
  // Whether some key with hash h went on past this group.
  [[nodiscard]] bool overflowed(std::size_t h) const noexcept {
    return (static_cast<std::uint8_t>(high_ >> 56) & overflow_bit(h)) != 0;
  }
  // Slot i's control byte as it was in the snapshot.
  [[nodiscard]] ctrl_t byte(unsigned i) const noexcept {
    return ctrl_byte_of(i < 8 ? low_ : high_, i);
  }

 private:
  group bytes_;
  std::uint64_t low_, high_;
};

// The two control words of one group, and the operations on them. A view: copying it copies
// the address.
class group_ctrl {
 public:
  // Control words of a fresh group: every slot empty, no overflow bit.
  static constexpr std::uint64_t empty_low = 0x8080808080808080ULL;
  static constexpr std::uint64_t empty_high = 0x0080808080808080ULL;

  group_ctrl() noexcept = default;
  explicit group_ctrl(std::atomic<std::uint64_t>* words) noexcept : words_(words) {}
  [[nodiscard]] std::atomic<std::uint64_t>* words() const noexcept { return words_; }
  [[nodiscard]] bool valid() const noexcept { return words_ != nullptr; }

  // Makes the group empty. For a group no other thread can see yet (a table being built).
  void init() const noexcept {
    words_[0].store(empty_low, std::memory_order_relaxed);
    words_[1].store(empty_high, std::memory_order_relaxed);
  }

  // acquire: pairs with the release change that published a tag (move), so a reader that
  // sees the tag also sees the entry stored before it.
  [[nodiscard]] ctrl_snapshot load() const noexcept {
    return ctrl_snapshot(words_[0].load(std::memory_order_acquire),
                         words_[1].load(std::memory_order_acquire));
  }

  // Control bytes read by a writer holding every stripe lock (nothing changes them then),
  // by a rehash chunk in a table not yet published (a stale read only makes its CAS fail and
  // retry; the table's publication orders everything), or only as a prefetch hint: relaxed.
  [[nodiscard]] ctrl_snapshot load_relaxed() const noexcept {
    return ctrl_snapshot(words_[0].load(std::memory_order_relaxed),
                         words_[1].load(std::memory_order_relaxed));
  }

  // Changes control byte i from `from` to `to`; false if it was not `from`. A CAS loop on
  // the word, since writers of other stripes may change its other bytes meanwhile.
  // acq_rel: release publishes the slot store made before (see load); acquire orders a
  // claim before the claimer's later stores, and after the release change (move) that freed
  // the byte, such as an erase's.
  bool set(unsigned i, ctrl_t from, ctrl_t to) const noexcept {
    std::atomic<std::uint64_t>& word = words_[i / 8];
    const unsigned shift = 8 * (i % 8);
    std::uint64_t w = word.load(std::memory_order_relaxed);
    for (;;) {
      if (ctrl_byte_of(w, i) != from) return false;
      const std::uint64_t next = (w & ~(std::uint64_t{0xFF} << shift)) |
                                 (std::uint64_t{static_cast<std::uint8_t>(to)} << shift);
      if (word.compare_exchange_weak(w, next, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
        return true;
      }
    }
  }

  // Changes control byte i from `from` to `to` where no other thread can change that byte
  // meanwhile (a busy byte is its claimer's; a tag or tombstone is its key's, changed only
  // under the key's stripe lock): one fetch_add of the difference, no CAS loop. Adding
  // (to - from) << shift modulo 2^64 to a word whose byte i is `from` leaves exactly `to`
  // there (no carry or borrow past the byte) and the other bytes as they are, whatever
  // other stripes' writers do to them at the same time.
  // release: publishes what the writer stored before (a slot's key and value, or a node
  // pointer, or the null an erase stored; see load and set). No acquire: the byte is this
  // writer's own, so there is no other thread's change of it to synchronise with, and the
  // writes that follow are ordered by their own release stores (the value, the next tag) or
  // by the stripe lock.
  void move(unsigned i, ctrl_t from, ctrl_t to) const noexcept {
    const unsigned shift = 8 * (i % 8);
    const std::uint64_t delta = (std::uint64_t{static_cast<std::uint8_t>(to)} << shift) -
                                (std::uint64_t{static_cast<std::uint8_t>(from)} << shift);
    [[maybe_unused]] const std::uint64_t before =
        words_[i / 8].fetch_add(delta, std::memory_order_release);
    assert(ctrl_byte_of(before, i) == from);
  }

  // Sets control byte i to `to` with plain (relaxed) loads and stores: for a table not yet
  // published that one thread alone fills (a rebuild nobody helps), where no other thread
  // reads or writes the word.
  void set_private(unsigned i, ctrl_t to) const noexcept {
    std::atomic<std::uint64_t>& word = words_[i / 8];
    const unsigned shift = 8 * (i % 8);
    word.store((word.load(std::memory_order_relaxed) & ~(std::uint64_t{0xFF} << shift)) |
                   (std::uint64_t{static_cast<std::uint8_t>(to)} << shift),
               std::memory_order_relaxed);
  }

  // Marks that a key of hash h goes on past this group, before that key is placed in a
  // later group. Skipped if the bit is set already (bits are only ever set). relaxed: the
  // key's publication that follows (the release change of its tag, or the release store of
  // the new table) orders this bit before it, so a reader that acquires the key's tag sees
  // the bit; a reader that loads the group without the bit read it before the key was
  // placed.
  void mark_overflow(std::size_t h) const noexcept {
    const std::uint64_t bit = std::uint64_t{overflow_bit(h)} << 56;
    if ((words_[1].load(std::memory_order_relaxed) & bit) == 0)
      words_[1].fetch_or(bit, std::memory_order_relaxed);
  }

  // Whether slot i still shows tag, read after the slot's value (whose acquire load keeps
  // this load after it). A slot reused for its own key (erase, then insert of the same key)
  // holds, between the two, a value the key does not have yet; a reader that read the tag
  // before the erase and the value after the new store must not return it. If the tag is
  // still (or again) there, the value read is one the key had during the read; if not, the
  // key was erased during the read, and "absent" is a correct answer for that moment.
  [[nodiscard]] bool still_tagged(unsigned i, ctrl_t tag) const noexcept {
    return ctrl_byte_of(words_[i / 8].load(std::memory_order_acquire), i) == tag;
  }

 private:
  std::atomic<std::uint64_t>* words_ = nullptr;
};

}  // namespace cmap::detail
