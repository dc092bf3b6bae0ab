#pragma once
// The operation streams: generated before timing, one per thread, from the workload's seed,
// so that every map runs exactly the same operations on the same keys.
//
// An operation is one 64-bit word: the op_kind in the top 4 bits, a key index in the low 60.
// Key indices [0, U) form the key universe; find_miss uses [U, 2U), keys never inserted.
// A u64 key is index + 1 (so Boost's parallel load reads [1, N] and misses [N+1, 2N]); a string
// key is the index in decimal, zero-padded to the key length.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mix.hpp"
#include "workload.hpp"

namespace cmap_bench {

// xoshiro256**: small, fast, and good enough for workload generation.
class rng {
 public:
  using result_type = std::uint64_t;
  explicit rng(std::uint64_t seed) noexcept {
    for (auto& w : s_) w = mix64(seed += 0x9e3779b97f4a7c15ULL);
  }
  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type{0}; }
  result_type operator()() noexcept;
  double uniform01() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_[4];
};

// Zipf over ranks [1, n]: P(k) proportional to 1 / k^theta (theta >= 0), by Hörmann and
// Derflinger's rejection-inversion, O(1) per sample with no table.
class zipf_sampler {
 public:
  zipf_sampler(std::uint64_t n, double theta);
  std::uint64_t operator()(rng& r) const noexcept;

 private:
  [[nodiscard]] double h(double x) const noexcept;
  [[nodiscard]] double h_integral(double x) const noexcept;
  [[nodiscard]] double h_integral_inverse(double x) const noexcept;
  std::uint64_t n_;
  double theta_;
  double h_integral_x1_;
  double h_integral_n_;
  double s_;
};

// Theoretical probability of rank k (1-based) under Zipf(n, theta): for the tests.
double zipf_probability(std::uint64_t n, double theta, std::uint64_t k);

constexpr unsigned op_shift = 60;
static_assert(op_kind_count <= (1 << (64 - op_shift)), "an op_kind fits the top bits");
constexpr std::uint64_t index_mask = (std::uint64_t{1} << op_shift) - 1;
inline op_kind op_of(std::uint64_t op) noexcept { return static_cast<op_kind>(op >> op_shift); }
inline std::uint64_t index_of(std::uint64_t op) noexcept { return op & index_mask; }

struct streams {
  std::vector<std::vector<std::uint64_t>> per_thread;
  std::uint64_t max_index = 0;  // the largest key index any stream (or the preload) uses
};

// The streams of w for `threads` threads: ops / threads each (the first ops % threads get
// one more). With duration_ms, each thread gets a stream of 2^20 ops that it cycles through.
streams generate(const workload& w, unsigned threads);

// Whether key index i (< U) is inserted before timing: a seeded pseudo-random subset of the
// universe holding the preload fraction.
bool preloaded(const workload& w, std::uint64_t index) noexcept;

// The string key of an index: prefix, then the index in decimal zero-padded so that the key
// has length characters (so keys sort as their indices do).
std::string string_key(std::uint64_t index, unsigned length, const std::string& prefix = {});

}  // namespace cmap_bench
