#pragma once
// optimistic_lock: the version lock of one node in an optimistic-lock-coupling tree (Leis,
// Scheibner, Kemper, Neumann, "The ART of Practical Synchronization", DaMoN 2016), and
// optimistic_field, the atomic wrapper for every node field a reader reads under it.
//
// Readers never write: a reader takes the node's version, reads the fields it needs, and
// validates that the version has not changed; if it has, what it read may be torn and it
// restarts. Writers take the version word as an exclusive lock, change the fields, and
// unlock by advancing the version, which makes every reader that overlapped them restart.
// A writer that unlinks the node unlocks it as obsolete instead: from then on every read and
// every lock attempt on it fails, for good, and the tree retires the node through epoch.hpp
// (the lock frees nothing; the epoch pin the tree holds is what keeps an obsolete node's
// memory readable by the readers that still reach it).
//
// Layout of the 64-bit word:
//   bit  0      obsolete: the node was unlinked; set once, never cleared
//   bit  1      locked: a writer holds the node
//   bits 2..63  version: how many write critical sections have ended on the node
// A write lock adds 0b10 (sets the lock bit); the unlock adds 0b10 again, which clears the
// lock bit and carries into the version, so a lock-unlock pair adds one to the version and
// a word never takes the same value twice (2^62 writes to one node do not happen). A read
// version is the whole word as read, lock and obsolete bits clear; validation compares
// words, so any write, finished or in progress, and the obsolete mark all fail it.
//
// Restart signal: read_lock_or_restart() returns std::optional<version_type>, the others a
// bool, all [[nodiscard]]: false (or no version) means "restart the operation". Every member
// is inline and a handful of instructions, so after inlining the optional's flag is the
// branch on the word's bits and costs nothing over the paper's `bool& restart`
// out-parameter; unlike the out-parameter, a result that is never checked is a compiler
// warning, and the version of a failed read lock cannot be used by mistake.
//
// Waiting: read_lock_or_restart() and write_lock_or_restart() wait, spinning then yielding
// (backoff.hpp), while the node is locked, because the holder is usually about to finish and
// restarting from the root would redo the whole descent; they fail at once on an obsolete
// node, which no wait can fix. upgrade_to_write_lock_or_restart() never waits. So a thread
// that holds a lock must not wait for another node's lock except in the tree's lock order
// (parent before child), and must never read-lock a node it holds itself.
//
// Memory orders, made once here (Hans Boehm, "Can seqlocks get along with programming
// language memory models?", MSPC 2012):
//   read_lock        acquire load of the word: pairs with the release store of the unlock
//                    that wrote that version, so the reader's field loads (sequenced after)
//                    see every store of the critical sections before it.
//   field loads      relaxed (optimistic_field::load): atomics, so a read that overlaps a
//                    writer is a torn value, not a data race.
//   check            acquire fence, then a relaxed load of the word. If a field load read a
//                    value stored by a writer whose lock came after the reader's version,
//                    that store followed the release fence in the writer's lock (below), and
//                    the fence-to-fence synchronisation makes the writer's lock change happen
//                    before the re-load, which therefore reads the locked word or a later
//                    one: the versions differ and the reader restarts. The fence keeps the
//                    field loads before the re-load; an acquire load alone would not (it
//                    orders what follows it, not what precedes it).
//   write lock       CAS from an unlocked version to the locked word, acquire on success
//                    (pairs with the previous holder's release unlock, so the new holder sees
//                    its stores), followed by a release fence: the writer's field stores that
//                    follow (relaxed) are ordered after the lock bit for any reader whose
//                    acquire fence follows a load of one of them. An acquire CAS alone would
//                    let a field store become visible before the lock bit (ARM does that).
//   upgrade          the same CAS from the reader's version: its success is also the
//                    validation of everything the writer read optimistically before it (a
//                    writer whose lock came later in the word's order started after this
//                    one's unlock, so none of its stores can have been read).
//   unlock           release store of the bumped word (only the holder changes a locked
//                    word, so no read-modify-write is needed): the critical section's stores
//                    happen before every reader and writer that acquires the new version.
//
// ThreadSanitizer does not model std::atomic_thread_fence. That costs no false report here:
// every field a reader loads before validating is an atomic, so an overlapping read is never
// a race in TSan's eyes, and what a reader uses after a successful validation (the contents
// of a node it reached through a validated pointer) happens-before through the version word
// itself: the writer's release unlock and the reader's acquire read lock, both of which TSan
// sees. The fences matter only for rejecting torn reads, which TSan does not check at all:
// a missing fence is a bug that TSan cannot find, and the stress test's invariant checks are
// what catch it.

#include <atomic>
#include <cassert>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "backoff.hpp"

namespace cmap::detail {

class optimistic_lock {
 public:
  using version_type = std::uint64_t;

  static constexpr version_type obsolete_bit = 0b01;
  static constexpr version_type locked_bit = 0b10;

  optimistic_lock() noexcept = default;
  optimistic_lock(const optimistic_lock&) = delete;
  optimistic_lock& operator=(const optimistic_lock&) = delete;

  // Begins an optimistic read: the current version, once the node is unlocked (waits with
  // backoff while a writer holds it); no version if the node is obsolete.
  [[nodiscard]] std::optional<version_type> read_lock_or_restart() const noexcept {
    // acquire: pairs with the release store in write_unlock()/write_unlock_obsolete().
    version_type w = word_.load(std::memory_order_acquire);
    if ((w & locked_bit) != 0) w = await_unlocked();
    if ((w & obsolete_bit) != 0) return std::nullopt;
    return w;
  }

  // Whether nothing changed since `version` was read: the fields read since are a consistent
  // snapshot of the node at that version. False: the caller restarts and uses nothing it
  // read. Also used in the middle of a read, before acting on a value read so far (before
  // following a child pointer).
  [[nodiscard]] bool check_or_restart(version_type version) const noexcept {
    // acquire fence: the field loads before it happen before the re-load, and a store that
    // one of them read synchronises (fence to fence) with the release fence in lock_from().
    std::atomic_thread_fence(std::memory_order_acquire);
    return word_.load(std::memory_order_relaxed) == version;
  }

  // Ends an optimistic read: the same validation as check_or_restart(), named for where it
  // stands in the code.
  [[nodiscard]] bool read_unlock_or_restart(version_type version) const noexcept {
    return check_or_restart(version);
  }

  // Turns an optimistic read at `version` into the write lock, if nothing changed since
  // (which also validates what was read). Never waits: false if another writer holds or
  // held the node since, or it is obsolete.
  [[nodiscard]] bool upgrade_to_write_lock_or_restart(version_type version) noexcept {
    assert((version & (locked_bit | obsolete_bit)) == 0);
    return lock_from(version);
  }

  // Takes the write lock, waiting with backoff while another writer holds it; false if the
  // node is (or becomes, while waiting) obsolete.
  [[nodiscard]] bool write_lock_or_restart() noexcept {
    backoff b;
    for (;;) {
      const std::optional<version_type> v = read_lock_or_restart();
      if (!v) return false;
      if (lock_from(*v)) return true;
      b.wait();  // another writer took it between the two: wait for it again
    }
  }

  // Releases the write lock and advances the version.
  void write_unlock() noexcept { unlock_adding(locked_bit); }

  // Releases the write lock and marks the node obsolete: it was unlinked, and every later
  // read lock, validation, upgrade and write lock on it fails. The caller retires the node.
  void write_unlock_obsolete() noexcept { unlock_adding(locked_bit | obsolete_bit); }

  // For assertions and tests: a snapshot, stale as soon as it is returned.
  [[nodiscard]] bool is_locked() const noexcept {
    return (word_.load(std::memory_order_relaxed) & locked_bit) != 0;
  }
  [[nodiscard]] bool is_obsolete() const noexcept {
    return (word_.load(std::memory_order_relaxed) & obsolete_bit) != 0;
  }

 private:
  // CAS from the unlocked word `from` to the same word locked.
  bool lock_from(version_type from) noexcept {
    // acquire on success: pairs with the release store of the unlock that wrote `from`.
    // relaxed on failure: the caller restarts and reads nothing on the strength of it.
    // strong: a spurious failure would cost a restart of the whole operation.
    if (!word_.compare_exchange_strong(from, from | locked_bit, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return false;
    }
    // release fence: the field stores that follow are ordered after the lock bit for a
    // reader's acquire fence in check_or_restart() (see the header comment).
    std::atomic_thread_fence(std::memory_order_release);
    return true;
  }

  void unlock_adding(version_type delta) noexcept {
    // relaxed load: only the holder changes a locked word, so this reads the holder's own
    // lock. release store: pairs with the acquire of read_lock_or_restart() and lock_from().
    const version_type w = word_.load(std::memory_order_relaxed);
    assert((w & locked_bit) != 0 && (w & obsolete_bit) == 0);
    word_.store(w + delta, std::memory_order_release);
  }

  // Waits until the lock bit is clear; returns that word (acquire, as in read_lock).
  [[gnu::noinline]] version_type await_unlocked() const noexcept {
    backoff b;
    version_type w;
    do {
      b.wait();
      w = word_.load(std::memory_order_acquire);
    } while ((w & locked_bit) != 0);
    return w;
  }

  std::atomic<version_type> word_{0};
};

// One field of a node that optimistic readers read: a std::atomic<T> whose loads are relaxed
// (for readers between read_lock and check, and for the lock holder) and whose stores are
// relaxed (for the lock holder, ordered by the release fence of its lock and the release of
// its unlock; or for whoever builds a node no other thread can reach yet, ordered by the
// unlock that publishes it).
//
// A value read optimistically may be torn across fields (one field from before a write,
// another from after it) and is usable only once the read has been validated. In
// particular, a pointer read optimistically is dereferenced only after check_or_restart()
// succeeded, or inside the epoch pin the tree holds (which keeps an obsolete node's memory
// readable, not its contents meaningful).
template <class T>
class optimistic_field {
  static_assert(std::is_trivially_copyable_v<T>);
  static_assert(std::atomic<T>::is_always_lock_free,
                "a field read optimistically must be a lock-free atomic");

 public:
  constexpr optimistic_field() noexcept = default;
  constexpr explicit optimistic_field(T value) noexcept : value_(value) {}
  optimistic_field(const optimistic_field&) = delete;
  optimistic_field& operator=(const optimistic_field&) = delete;

  // relaxed: ordered by the node's version (see optimistic_lock).
  [[nodiscard]] T load() const noexcept { return value_.load(std::memory_order_relaxed); }

  // relaxed: by the node's lock holder, or before the node is published.
  void store(T value) noexcept { value_.store(value, std::memory_order_relaxed); }

 private:
  std::atomic<T> value_{};
};

}  // namespace cmap::detail
