// The workload generator: Zipf frequencies against theory, reproducibility from the seed,
// the other distributions, the mix, the preload subset; and the latency histogram.

#include "generator.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "measures.hpp"
#include "workload.hpp"

namespace cmap_bench {
namespace {

// |observed - expected| within 5 standard deviations of a binomial count, plus 0.1% slack.
void expect_frequency(double observed, double p, double samples, const std::string& what) {
  const double sd = std::sqrt(p * (1 - p) / samples);
  EXPECT_NEAR(observed, p, 5 * sd + 0.001) << what;
}

TEST(Zipf, FrequenciesMatchTheory) {
  for (double theta : {0.0, 0.5, 0.8, 0.99, 1.2}) {
    const std::uint64_t n = 200;
    const zipf_sampler zipf(n, theta);
    rng r(7);
    const int samples = 200'000;
    std::vector<int> counts(n + 1, 0);
    for (int i = 0; i < samples; ++i) {
      const auto k = zipf(r);
      ASSERT_GE(k, 1u);
      ASSERT_LE(k, n);
      ++counts[k];
    }
    for (std::uint64_t k : {1u, 2u, 3u, 5u, 10u, 50u, 200u})
      expect_frequency(static_cast<double>(counts[k]) / samples, zipf_probability(n, theta, k),
                       samples, "theta " + std::to_string(theta) + " rank " + std::to_string(k));
  }
}

TEST(Zipf, LargeUniverseHeadMatchesTheory) {
  const std::uint64_t n = 1'000'000;
  const zipf_sampler zipf(n, 0.99);
  rng r(11);
  const int samples = 300'000;
  std::map<std::uint64_t, int> counts;
  for (int i = 0; i < samples; ++i) ++counts[zipf(r)];
  for (std::uint64_t k : {1u, 2u, 10u, 100u})
    expect_frequency(static_cast<double>(counts[k]) / samples, zipf_probability(n, 0.99, k),
                     samples, "rank " + std::to_string(k));
}

workload small(const std::string& dist, const std::string& mix) {
  workload w;
  w.key_universe = 1000;
  w.ops = 100'000;
  w.dist = parse_distribution(dist);
  parse_mix(mix, w);
  validate(w);
  return w;
}

TEST(Streams, ReproducibleFromTheSeed) {
  const auto w = small("zipf:0.9", "find=80,update=10,insert=5,erase=5");
  const auto a = generate(w, 3);
  const auto b = generate(w, 3);
  ASSERT_EQ(a.per_thread.size(), 3u);
  EXPECT_EQ(a.per_thread, b.per_thread);
  auto other = w;
  other.seed = w.seed + 1;
  EXPECT_NE(generate(other, 3).per_thread, a.per_thread);
  std::uint64_t total = 0;
  for (const auto& s : a.per_thread) total += s.size();
  EXPECT_EQ(total, w.ops);
  EXPECT_NE(a.per_thread[0], a.per_thread[1]);  // each thread has its own stream
}

TEST(Streams, MixProportions) {
  const auto w = small("uniform", "find=50,update=25,insert=15,erase=10");
  const auto s = generate(w, 2);
  std::map<op_kind, double> counts;
  double total = 0;
  for (const auto& t : s.per_thread)
    for (auto op : t) {
      counts[op_of(op)] += 1;
      total += 1;
    }
  expect_frequency(counts[op_kind::find] / total, 0.50, total, "find");
  expect_frequency(counts[op_kind::update] / total, 0.25, total, "update");
  expect_frequency(counts[op_kind::insert] / total, 0.15, total, "insert");
  expect_frequency(counts[op_kind::erase] / total, 0.10, total, "erase");
  EXPECT_EQ(counts[op_kind::for_each], 0);
}

TEST(Streams, UniformKeys) {
  const auto w = small("uniform", "find=100");
  const auto s = generate(w, 1);
  std::vector<int> counts(w.key_universe, 0);
  for (auto op : s.per_thread[0]) {
    ASSERT_LT(index_of(op), w.key_universe);
    ++counts[index_of(op)];
  }
  // 100 per key expected; the first decile of the keys gets about 10%.
  int head = 0;
  for (int i = 0; i < 100; ++i) head += counts[i];
  expect_frequency(head / 100'000.0, 0.1, 100'000, "first decile");
}

TEST(Streams, SequentialKeysAreDisjointAndComplete) {
  workload w = preset("insert-only");
  w.key_universe = 10'000;
  w.ops = 10'000;
  validate(w);
  const auto s = generate(w, 4);
  std::set<std::uint64_t> seen;
  for (const auto& t : s.per_thread)
    for (auto op : t) {
      EXPECT_EQ(op_of(op), op_kind::insert);
      EXPECT_TRUE(seen.insert(index_of(op)).second) << "key index repeated: " << index_of(op);
    }
  EXPECT_EQ(seen.size(), 10'000u);
}

TEST(Streams, HotSet) {
  const auto w = small("hotset:0.05:0.9", "find=100");
  const auto s = generate(w, 1);
  double hot = 0;
  for (auto op : s.per_thread[0]) hot += index_of(op) < 50 ? 1 : 0;
  expect_frequency(hot / 100'000.0, 0.9, 100'000, "hot share");
}

TEST(Streams, ParallelLoadMissesAreOutsideTheUniverse) {
  workload w = preset("parallel-load");
  w.key_universe = 1000;
  w.ops = 10'000;
  validate(w);
  const auto s = generate(w, 2);
  double misses = 0;
  for (const auto& t : s.per_thread)
    for (auto op : t) {
      if (op_of(op) == op_kind::find_miss) {
        ++misses;
        EXPECT_GE(index_of(op), w.key_universe);
        EXPECT_LT(index_of(op), 2 * w.key_universe);
      } else {
        EXPECT_LT(index_of(op), w.key_universe);
      }
    }
  expect_frequency(misses / 10'000.0, 0.45, 10'000, "misses");
  EXPECT_GE(s.max_index, w.key_universe);
}

TEST(Streams, PreloadSubsetHasTheFraction) {
  workload w = preset("mixed");
  w.key_universe = 100'000;
  int in = 0;
  for (std::uint64_t i = 0; i < w.key_universe; ++i) in += preloaded(w, i) ? 1 : 0;
  expect_frequency(in / 100'000.0, 0.5, 100'000, "preloaded share");
}

TEST(StringKeys, FixedLengthAndDistinct) {
  EXPECT_EQ(string_key(42, 16).size(), 16u);
  EXPECT_NE(string_key(1, 8), string_key(10, 8));
}

TEST(Histogram, PercentilesWithinBucketPrecision) {
  latency_histogram h;
  for (std::uint64_t v = 1; v <= 10'000; ++v) h.record(v);
  EXPECT_EQ(h.total(), 10'000u);
  EXPECT_NEAR(h.percentile(0.5), 5000, 5000 * 0.125);
  EXPECT_NEAR(h.percentile(0.99), 9900, 9900 * 0.125);
  EXPECT_NEAR(h.percentile(0.999), 9990, 9990 * 0.125);
  latency_histogram other;
  other.record(1'000'000);
  h.merge(other);
  EXPECT_EQ(h.total(), 10'001u);
  EXPECT_LE(latency_histogram::bucket_of(1'000'000), latency_histogram::bucket_count - 1);
  for (std::uint64_t v : {0ULL, 7ULL, 15ULL, 16ULL, 17ULL, 1000ULL, 123456789ULL, ~0ULL}) {
    const auto b = latency_histogram::bucket_of(v);
    EXPECT_LE(latency_histogram::lower_bound(b), v);
    if (b + 1 < latency_histogram::bucket_count) {
      EXPECT_GT(latency_histogram::lower_bound(b + 1), v);
    }
  }
}

}  // namespace
}  // namespace cmap_bench
