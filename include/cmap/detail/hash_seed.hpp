#pragma once
// fresh_hash_seed(): a new secret 64-bit seed for each default-constructed cmap::hash, so
// that every map hashes with a key of its own (<cmap/hash.hpp> says why per map).
//
// Where the secret comes from: each thread draws three words from the operating system
// (std::random_device, which reads getrandom or /dev/urandom on Linux) the first time it
// asks, never from the clock or an address. Each later seed costs a thread-local add and
// one 64x64->128-bit multiply, no system call: maps may be made by the million.
//
// What it does not promise: it is no cryptographic generator. One seed that leaks does not
// give the thread's state away (the folded multiply below loses half of each product),
// but nothing here has been analysed against an attacker who sees many seeds; keep seeds
// secret. A child made by fork() continues its parent's sequence.

#include <cstdint>
#include <random>

#include "hash.hpp"

namespace cmap::detail {

// One word from the operating system's random source.
[[nodiscard]] inline std::uint64_t os_random_word() {
  std::random_device device;  // libstdc++ and libc++: getrandom, else /dev/urandom
  static_assert(sizeof(std::random_device::result_type) >= 4);
  const std::uint64_t hi = device();
  return hi << 32 ^ device();
}

class hash_seed_source {
 public:
  hash_seed_source() : counter_(os_random_word()), key_a_(os_random_word()), key_b_(os_random_word() | 1) {}

  // The Weyl sequence counter_ + i * golden never repeats within 2^64 steps; the keyed folded
  // multiply turns it into seeds that do not show the counter.
  [[nodiscard]] std::uint64_t next() noexcept {
    counter_ += 0x9e3779b97f4a7c15ULL;
    return folded_multiply(counter_ ^ key_a_, key_b_);
  }

 private:
  std::uint64_t counter_;
  std::uint64_t key_a_;
  std::uint64_t key_b_;
};

// A new seed from the calling thread's source (made on its first call; throws what
// std::random_device throws when the system has no random source).
[[nodiscard]] inline std::uint64_t fresh_hash_seed() {
  thread_local hash_seed_source source;
  return source.next();
}

}  // namespace cmap::detail
