#include "generator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

namespace cmap_bench {

rng::result_type rng::operator()() noexcept {
  const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = std::rotl(s_[3], 45);
  return result;
}

namespace {
// log1p(x)/x and expm1(x)/x, continuous at 0.
double helper1(double x) noexcept {
  return std::fabs(x) > 1e-8 ? std::log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}
double helper2(double x) noexcept {
  return std::fabs(x) > 1e-8 ? std::expm1(x) / x
                             : 1 + x * 0.5 * (1 + x * (1.0 / 3.0) * (1 + 0.25 * x));
}
}  // namespace

zipf_sampler::zipf_sampler(std::uint64_t n, double theta) : n_(n), theta_(theta) {
  h_integral_x1_ = h_integral(1.5) - 1;
  h_integral_n_ = h_integral(static_cast<double>(n) + 0.5);
  s_ = 2 - h_integral_inverse(h_integral(2.5) - h(2));
}

double zipf_sampler::h(double x) const noexcept { return std::exp(-theta_ * std::log(x)); }

double zipf_sampler::h_integral(double x) const noexcept {
  const double log_x = std::log(x);
  return helper2((1 - theta_) * log_x) * log_x;
}

double zipf_sampler::h_integral_inverse(double x) const noexcept {
  double t = x * (1 - theta_);
  if (t < -1) t = -1;  // rounding near the lower end
  return std::exp(helper1(t) * x);
}

std::uint64_t zipf_sampler::operator()(rng& r) const noexcept {
  for (;;) {
    const double u = h_integral_n_ + r.uniform01() * (h_integral_x1_ - h_integral_n_);
    const double x = h_integral_inverse(u);
    double kd = std::floor(x + 0.5);
    if (kd < 1) kd = 1;
    if (kd > static_cast<double>(n_)) kd = static_cast<double>(n_);
    if (kd - x <= s_ || u >= h_integral(kd + 0.5) - h(kd)) return static_cast<std::uint64_t>(kd);
  }
}

double zipf_probability(std::uint64_t n, double theta, std::uint64_t k) {
  double norm = 0;
  for (std::uint64_t i = 1; i <= n; ++i) norm += std::pow(static_cast<double>(i), -theta);
  return std::pow(static_cast<double>(k), -theta) / norm;
}

bool preloaded(const workload& w, std::uint64_t index) noexcept {
  if (w.preload >= 1) return true;
  if (w.preload <= 0) return false;
  const double u =
      static_cast<double>(mix64(index ^ mix64(w.seed ^ 0x5bd1e995ULL)) >> 11) * 0x1.0p-53;
  return u < w.preload;
}

std::string string_key(std::uint64_t index, unsigned length, const std::string& prefix) {
  const std::size_t digits = length > prefix.size() ? length - prefix.size() : 1;
  return fmt::format("{}{:0{}}", prefix, index, digits);
}

streams generate(const workload& w, unsigned threads) {
  streams out;
  out.per_thread.resize(threads);
  const std::uint64_t universe = w.key_universe;
  const zipf_sampler zipf(universe, w.dist.type == key_dist::zipf ? w.dist.theta : 0.0);
  const auto hot_keys = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(static_cast<double>(universe) * w.dist.hot_fraction));

  // Cumulative thresholds of the operations in the mix; rounding falls to the last one.
  std::vector<std::pair<double, int>> cumulative;
  double acc = 0;
  for (int i = 0; i < op_kind_count; ++i)
    if (w.mix[i] > 0) cumulative.emplace_back(acc += w.mix[i] / 100.0, i);

  // shuffled: one seeded permutation of the universe, the same for every thread count.
  std::vector<std::uint64_t> order;
  if (w.dist.type == key_dist::shuffled) {
    order.resize(universe);
    std::iota(order.begin(), order.end(), std::uint64_t{0});
    rng shuffle_rng(mix64(w.seed ^ 0x5f3759dfULL));
    std::shuffle(order.begin(), order.end(), shuffle_rng);
  }

  std::uint64_t max_index = universe - 1;
  for (unsigned t = 0; t < threads; ++t) {
    const std::uint64_t count = w.duration_ms > 0 ? (std::uint64_t{1} << 20)
                                                  : w.ops / threads + (t < w.ops % threads ? 1 : 0);
    rng r(mix64(w.seed) ^ mix64(0x1000 + t) ^ (static_cast<std::uint64_t>(threads) << 48));
    std::uint64_t sequential = 0;
    auto& s = out.per_thread[t];
    s.resize(count);
    for (std::uint64_t j = 0; j < count; ++j) {
      const double pick = r.uniform01();
      int kind = cumulative.back().second;
      for (const auto& [threshold, k] : cumulative) {
        if (pick < threshold) {
          kind = k;
          break;
        }
      }
      std::uint64_t index = 0;
      switch (w.dist.type) {
        case key_dist::uniform:
          index = r() % universe;
          break;
        case key_dist::zipf:
          index = zipf(r) - 1;
          break;
        case key_dist::sequential:
          index = (t + sequential++ * threads) % universe;
          break;
        case key_dist::shuffled:
          index = order[(t + sequential++ * threads) % universe];
          break;
        case key_dist::hotset:
          index = r.uniform01() < w.dist.hot_probability || hot_keys == universe
                      ? r() % hot_keys
                      : hot_keys + r() % (universe - hot_keys);
          break;
      }
      if (static_cast<op_kind>(kind) == op_kind::find_miss) {
        index += universe;
        max_index = std::max(max_index, index);
      }
      s[j] = (static_cast<std::uint64_t>(kind) << op_shift) | index;
    }
  }
  out.max_index = max_index;
  return out;
}

}  // namespace cmap_bench
