#pragma once
// Measures: a log-bucketed latency histogram (HdrHistogram's idea at 1/8 precision: each
// power of two split into 8 buckets, so a percentile is within 12.5% of the true value) and
// the process's resident memory, read from /proc.

#include <array>
#include <bit>
#include <cstdint>
#include <optional>

namespace cmap_bench {

class latency_histogram {
 public:
  static constexpr unsigned sub_bits = 3;
  static constexpr unsigned sub_buckets = 1u << sub_bits;
  static constexpr unsigned linear = 2 * sub_buckets;  // values below 16 get a bucket each
  static constexpr unsigned bucket_count = linear + (64 - (sub_bits + 1)) * sub_buckets;

  static unsigned bucket_of(std::uint64_t ns) noexcept {
    if (ns < linear) return static_cast<unsigned>(ns);
    const unsigned exponent = static_cast<unsigned>(std::bit_width(ns)) - 1;  // >= sub_bits + 1
    const auto sub = static_cast<unsigned>((ns >> (exponent - sub_bits)) & (sub_buckets - 1));
    return linear + (exponent - (sub_bits + 1)) * sub_buckets + sub;
  }
  // The smallest value of bucket b.
  static std::uint64_t lower_bound(unsigned b) noexcept {
    if (b < linear) return b;
    const unsigned exponent = (b - linear) / sub_buckets + sub_bits + 1;
    const unsigned sub = (b - linear) % sub_buckets;
    return (std::uint64_t{1} << exponent) +
           (static_cast<std::uint64_t>(sub) << (exponent - sub_bits));
  }

  void record(std::uint64_t ns) noexcept {
    ++counts_[bucket_of(ns)];
    ++total_;
  }
  void merge(const latency_histogram& other) noexcept {
    for (unsigned i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
  }
  [[nodiscard]] std::uint64_t total() const noexcept { return total_; }
  // The value at quantile q in [0, 1]: the midpoint of the bucket holding it; 0 if empty.
  [[nodiscard]] double percentile(double q) const noexcept {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    std::uint64_t seen = 0;
    for (unsigned b = 0; b < bucket_count; ++b) {
      seen += counts_[b];
      if (seen > rank) {
        if (b < linear) return static_cast<double>(b);
        const double lo = static_cast<double>(lower_bound(b));
        const double hi =
            b + 1 < bucket_count ? static_cast<double>(lower_bound(b + 1)) : lo * 1.125;
        return (lo + hi) / 2;
      }
    }
    return 0;
  }

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t total_ = 0;
};

// Resident set size of this process now, in bytes; nullopt where /proc is unavailable.
std::optional<std::uint64_t> current_rss_bytes();
// Peak resident set size (VmHWM) in bytes.
std::optional<std::uint64_t> peak_rss_bytes();
// Resets VmHWM to the current RSS (Linux: /proc/self/clear_refs); false if not possible.
bool reset_peak_rss();
// This process's I/O counters (/proc/self/io): wchar, the bytes passed to write(2), pwrite(2)
// and their kin; write_bytes, the bytes of page-cache pages it dirtied for the device.
struct io_counters {
  std::uint64_t wchar = 0;
  std::uint64_t write_bytes = 0;
};
std::optional<io_counters> read_io_counters();
// Returns freed heap memory to the system (glibc malloc_trim), so RSS deltas start clean.
void trim_heap();

}  // namespace cmap_bench
