// art_map's own promises, beyond the common surface its typed suites check: the ordered calls
// against std::map over several key types (every scan, both directions, early stops, bounds of
// other types); scans while other threads insert and erase the neighbouring keys (strictly
// ascending or descending, no key twice, every key present throughout seen); whole values
// seen by readers while writers replace them; clear() racing writers; a key encoding that
// throws, alone and under concurrent writers; heterogeneous calls; stats().
// The stress tests run with more threads than the 2-core test machine has, on purpose, and
// under ThreadSanitizer in CI.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmap/art_map.hpp>
#include <cmap/detail/sanitizers.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "stress/failure_log.hpp"
#include "stress/watchdog.hpp"

namespace {

using u64 = std::uint64_t;

#if CMAP_DETAIL_TSAN || CMAP_DETAIL_ASAN
constexpr int work = 1;
#else
constexpr int work = 4;
#endif

// Records a failure seen on a worker thread (asserted on the test's thread after the join).
void check(cmap_test::failure_log& log, bool ok, const char* what) {
  if (!ok) log.add(what);
}

template <class K, class V>
std::vector<std::pair<K, V>> walk(const cmap::art_map<K, V>& m, bool ascending = true) {
  std::vector<std::pair<K, V>> out;
  auto f = [&](const K& k, const V& v) { out.emplace_back(k, v); };
  if (ascending) {
    m.for_each(f);
  } else {
    m.for_each_reverse(f);
  }
  return out;
}

// ---- the ordered calls against std::map -------------------------------------------------

// Every ordered call at random bounds, compared with what std::map's iterators give; the map
// changes between rounds.
template <class K, class Make>
void ordered_calls_match_std_map(Make make_key, std::uint64_t seed) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  cmap::art_map<K, u64> m;
  std::map<K, u64> model;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 50; ++i) {
      const K k = make_key(rng);
      if (rng() % 4 == 0) {
        ASSERT_EQ(m.erase(k), model.erase(k) == 1);
      } else {
        const u64 v = rng();
        ASSERT_EQ(m.insert_or_assign(k, v), model.insert_or_assign(k, v).second);
      }
    }
    ASSERT_EQ(m.size(), model.size());
    ASSERT_EQ(walk(m), (std::vector<std::pair<K, u64>>(model.begin(), model.end())));
    auto rev = walk(m, false);
    std::reverse(rev.begin(), rev.end());
    ASSERT_EQ(rev, (std::vector<std::pair<K, u64>>(model.begin(), model.end())));
    const auto as_entry = [](auto it, auto end) -> std::optional<std::pair<K, u64>> {
      if (it == end) return std::nullopt;
      return std::pair<K, u64>(it->first, it->second);
    };
    ASSERT_EQ(m.first(), as_entry(model.begin(), model.end()));
    ASSERT_EQ(m.last(), model.empty() ? std::nullopt : as_entry(std::prev(model.end()), model.end()));
    for (int q = 0; q < 20; ++q) {
      K lo = make_key(rng), hi = make_key(rng);
      if (hi < lo) std::swap(lo, hi);
      ASSERT_EQ(m.lower_bound(lo), as_entry(model.lower_bound(lo), model.end()));
      ASSERT_EQ(m.upper_bound(lo), as_entry(model.upper_bound(lo), model.end()));
      const std::size_t limit = rng() % 8;  // 0: no limit
      auto take = [limit](std::vector<K>& out) {
        return [&out, limit](const K& k, const u64&) {
          out.push_back(k);
          return limit == 0 || out.size() < limit;
        };
      };
      auto want_first = [limit](std::vector<K> all) {
        if (limit != 0 && all.size() > limit) all.resize(limit);
        return all;
      };
      std::vector<K> got, all;
      // for_range [lo, hi)
      const bool range_done = m.for_range(lo, hi, take(got));
      for (auto it = model.lower_bound(lo); it != model.end() && it->first < hi; ++it) {
        all.push_back(it->first);
      }
      ASSERT_EQ(got, want_first(all));
      ASSERT_EQ(range_done, limit == 0 || all.size() < limit);
      // for_range_reverse [lo, hi)
      got.clear();
      std::reverse(all.begin(), all.end());
      m.for_range_reverse(lo, hi, take(got));
      ASSERT_EQ(got, want_first(all));
      // for_each_from(lo)
      got.clear();
      all.clear();
      m.for_each_from(lo, take(got));
      for (auto it = model.lower_bound(lo); it != model.end(); ++it) all.push_back(it->first);
      ASSERT_EQ(got, want_first(all));
      // for_each_reverse_from(hi): keys <= hi
      got.clear();
      all.clear();
      m.for_each_reverse_from(hi, take(got));
      for (auto it = model.upper_bound(hi); it != model.begin();) all.push_back((--it)->first);
      ASSERT_EQ(got, want_first(all));
    }
  }
}

TEST(ArtMapOrdered, U64KeysMatchStdMap) {
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    ordered_calls_match_std_map<u64>(
        [](std::mt19937_64& r) { return r() % 2 == 0 ? r() % 5000 : r(); }, seed);
  }
}

TEST(ArtMapOrdered, SignedKeysMatchStdMap) {
  ordered_calls_match_std_map<std::int32_t>(
      [](std::mt19937_64& r) { return static_cast<std::int32_t>(r() % 2001) - 1000; }, 4);
}

std::string adversarial_string(std::mt19937_64& r) {
  // Long shared stems (past the 8 inline prefix bytes), 00 and FF bytes, the empty string
  // and strings that are prefixes of others.
  static const std::string stems[] = {"", "uid:", "uid:10", std::string(20, 'x'),
                                      std::string("a\0b", 3), "\xff\xff"};
  std::string s = stems[r() % std::size(stems)];
  const std::size_t extra = r() % 6;
  for (std::size_t i = 0; i < extra; ++i) s.push_back("\0\x01" "a\xff" "9"[r() % 5]);
  return s;
}

TEST(ArtMapOrdered, StringKeysMatchStdMap) {
  for (const std::uint64_t seed : {5u, 6u}) {
    ordered_calls_match_std_map<std::string>(adversarial_string, seed);
  }
}

TEST(ArtMapOrdered, PairKeysMatchStdMap) {
  ordered_calls_match_std_map<std::pair<std::uint32_t, std::string>>(
      [](std::mt19937_64& r) {
        return std::pair<std::uint32_t, std::string>(static_cast<std::uint32_t>(r() % 5),
                                                     adversarial_string(r));
      },
      7);
}

TEST(ArtMapOrdered, PrefixScansBothWays) {
  cmap::art_map<std::string, int> m;
  const std::vector<std::string> keys = {"",       "u",     "uid",    "uid:",  "uid:1",
                                         "uid:10", "uid:100", "uid:11", "uie",   "v",
                                         std::string("uid:\0", 5), "uid:\xff", "\xff\xff"};
  for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], static_cast<int>(i));
  for (const std::string_view p :
       {std::string_view(""), std::string_view("u"), std::string_view("uid:"),
        std::string_view("uid:1"), std::string_view("uid:\0", 5), std::string_view("\xff"),
        std::string_view("w"), std::string_view("uid:\xff")}) {
    SCOPED_TRACE(std::string(p));
    std::vector<std::string> want;
    for (const auto& k : std::set<std::string>(keys.begin(), keys.end())) {
      if (k.starts_with(p)) want.push_back(k);
    }
    std::vector<std::string> got;
    EXPECT_TRUE(m.for_prefix(p, [&](const std::string& k, int) { got.push_back(k); }));
    EXPECT_EQ(got, want);
    got.clear();
    m.for_prefix_reverse(p, [&](const std::string& k, int) { got.push_back(k); });
    std::reverse(want.begin(), want.end());
    EXPECT_EQ(got, want);
  }
  // Stopped early: false, and no key after the stop.
  int calls = 0;
  EXPECT_FALSE(m.for_prefix(std::string_view("uid"), [&](const std::string&, int) {
    return ++calls < 2;
  }));
  EXPECT_EQ(calls, 2);
}

TEST(ArtMapOrdered, EmptyRangesAndBoundsOfOtherTypes) {
  cmap::art_map<std::string, int> m{{"a", 1}, {"b", 2}, {"c", 3}};
  int calls = 0;
  auto count = [&](const std::string&, int) { ++calls; };
  EXPECT_TRUE(m.for_range("b", "b", count));
  EXPECT_TRUE(m.for_range("c", "a", count));
  EXPECT_TRUE(m.for_range_reverse("c", "a", count));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(m.for_range(std::string_view("a"), "c", count));  // a view and a literal
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(m.lower_bound("bb")->first, "c");
  EXPECT_EQ(m.upper_bound(std::string_view("c")), std::nullopt);
  cmap::art_map<std::string, int> empty;
  EXPECT_EQ(empty.first(), std::nullopt);
  EXPECT_EQ(empty.last(), std::nullopt);
  EXPECT_TRUE(empty.for_prefix(std::string_view(""), count));
}

TEST(ArtMap, HeterogeneousCallsTakeViewsAndLiterals) {
  cmap::art_map<std::string, int> m;
  const std::string long_key(40, 'k');
  EXPECT_TRUE(m.emplace(std::string_view(long_key), 1));
  EXPECT_FALSE(m.try_emplace(std::string_view(long_key), 2));
  EXPECT_EQ(m.find(std::string_view(long_key)), std::optional<int>(1));
  EXPECT_TRUE(m.contains(long_key.c_str()));
  EXPECT_TRUE(m.compare_exchange(std::string_view(long_key), 1, 5));
  EXPECT_EQ(m.extract(std::string_view(long_key)), std::optional<int>(5));
  EXPECT_TRUE(m.empty());
}

TEST(ArtMap, StatsReportThePathLengths) {
  cmap::art_map<u64, u64> m;
  EXPECT_EQ(m.stats().longest_probe, 0u);
  for (u64 k = 0; k < 100000; ++k) m.insert(k, k);
  const cmap::map_stats s = m.stats();
  EXPECT_EQ(s.size, 100000u);
  EXPECT_EQ(s.capacity, s.size);
  EXPECT_EQ(s.slots, 0u);
  EXPECT_EQ(s.allocated_bytes, m.allocated_bytes());
  // Dense keys 0..99999 branch on their last three bytes: three inner nodes and the leaf.
  EXPECT_EQ(s.longest_probe, 4u);
  EXPECT_GT(s.mean_probe, 3.0);
  EXPECT_LE(s.mean_probe, 4.0);
  // About 32 bytes a key (24-byte leaves, a node256 per 256 keys).
  EXPECT_LT(m.allocated_bytes(), 100000u * 40);
}

// ---- a key encoding that throws ---------------------------------------------------------

// A key whose encoding throws for the poisoned value, as a user's encoding may (bad input).
struct touchy {
  u64 v;
  auto operator<=>(const touchy&) const = default;
};
struct touchy_error : std::runtime_error {
  touchy_error() : std::runtime_error("touchy") {}
};
inline std::atomic<u64> poisoned_touchy{~u64{0}};

}  // namespace

template <>
struct cmap::key_traits<touchy> : cmap::key_traits_base<cmap::key_traits<touchy>> {
  [[maybe_unused]] static constexpr bool prefix_free = true;
  static void encode(const touchy& k, std::string& out) {
    if (k.v == poisoned_touchy.load(std::memory_order_relaxed)) throw touchy_error();
    cmap::key_traits<u64>::encode(k.v, out);
  }
  static touchy decode_from(std::string_view& rest) {
    return touchy{cmap::key_traits<u64>::decode_from(rest)};
  }
};

namespace {

TEST(ArtMap, ThrowingKeyEncodingLeavesMapUnchangedAndUnlocked) {
  cmap::art_map<touchy, u64> m;
  for (u64 k = 0; k < 100; ++k) m.insert(touchy{k}, k);
  poisoned_touchy = 1000;
  EXPECT_THROW(m.insert(touchy{1000}, 1), touchy_error);
  EXPECT_THROW((void)m.find(touchy{1000}), touchy_error);
  EXPECT_THROW(m.upsert(touchy{1000}, [](u64&) {}, 1), touchy_error);
  EXPECT_THROW(m.erase(touchy{1000}), touchy_error);
  poisoned_touchy = ~u64{0};
  EXPECT_EQ(m.size(), 100u);
  std::thread other([&] { EXPECT_TRUE(m.erase(touchy{5})); });  // nothing left locked
  other.join();
  EXPECT_EQ(m.size(), 99u);
}

// Writers on their own key ranges whose calls throw (a poisoned key's encoding, an upsert
// callback, a value's copy) while other writers go on: each thread's model skips a call that
// threw; at the end the map is the union of the models.
struct brittle {
  static inline std::atomic<bool> armed{false};
  u64 v = 0;
  std::string pad = std::string(24, 'p');  // not an atomic value: updates build new leaves
  explicit brittle(u64 x) : v(x) {}
  brittle(const brittle& o) : v(o.v), pad(o.pad) {
    if (armed.load(std::memory_order_relaxed) && (v % 5 == 3)) throw touchy_error();
  }
  brittle& operator=(const brittle&) = default;
  bool operator==(const brittle& o) const { return v == o.v; }
};

TEST(ArtMapStress, ThrowingEncodingsCopiesAndCallbacksLoseNothing) {
  cmap_test::watchdog dog;
  constexpr int threads = 6;
  const u64 range = 3000;
  cmap::art_map<touchy, brittle> m;
  cmap_test::failure_log log;
  std::vector<std::map<u64, u64>> models(threads);
  std::atomic<u64> throws{0};
  poisoned_touchy = 7;  // one key of thread 0's range
  brittle::armed = true;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<u64>(t) + 11);
      auto& model = models[static_cast<std::size_t>(t)];
      for (int i = 0; i < 4000 * work; ++i) {
        const u64 k = static_cast<u64>(t) * range + rng() % range;
        const u64 v = rng() % 1000;
        try {
          switch (rng() % 4) {
            case 0: {
              const bool inserted = m.insert_or_assign(touchy{k}, brittle(v));
              check(log, inserted == !model.contains(k), "insert_or_assign's result");
              model[k] = v;
              break;
            }
            case 1: {
              const bool inserted = m.upsert(
                  touchy{k},
                  [&](brittle& b) {
                    if (rng() % 4 == 0) throw touchy_error();
                    b.v += 1;
                  },
                  v);
              check(log, inserted == !model.contains(k), "upsert's result");
              if (inserted) {
                model[k] = v;
              } else {
                model[k] += 1;
              }
              break;
            }
            case 2:
              check(log, m.erase(touchy{k}) == (model.erase(k) == 1), "erase's result");
              break;
            default: {
              const auto found = m.find(touchy{k});
              check(log, found.has_value() == model.contains(k), "find's presence");
              if (found) check(log, found->v == model[k], "find's value");
            }
          }
        } catch (const touchy_error&) {
          throws.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  brittle::armed = false;
  poisoned_touchy = ~u64{0};
  EXPECT_EQ(log.count(), 0u) << log.summary();
  EXPECT_GT(throws.load(), 0u);
  std::map<u64, u64> want;
  for (const auto& model : models) want.insert(model.begin(), model.end());
  std::map<u64, u64> got;
  m.for_each([&](const touchy& k, const brittle& b) { got.emplace(k.v, b.v); });
  EXPECT_EQ(got, want);
  EXPECT_EQ(m.size(), want.size());
}

// ---- scans while others write -------------------------------------------------------------

// Even keys are inserted first and never touched; writers insert and erase the odd keys
// between them (the neighbours every scan must step over), which splits, grows, shrinks and
// merges the nodes the scanners are in. Every scan must come out strictly ordered, with each
// key once, and must see every even key in its range.
template <class K, class MakeKey>
void scans_during_neighbour_churn(MakeKey key_of) {
  cmap_test::watchdog dog;
  constexpr u64 keys = 4000;
  cmap::art_map<K, u64> m;
  for (u64 i = 0; i < keys; i += 2) m.insert(key_of(i), i);
  cmap_test::failure_log log;
  std::atomic<bool> stop{false};
  std::atomic<u64> scans{0}, writes{0};
  std::vector<std::thread> ts;
  constexpr int writers = 3, scanners = 3;  // more threads than the machine's 2 cores
  for (int w = 0; w < writers; ++w) {
    ts.emplace_back([&, w] {
      std::mt19937_64 rng(static_cast<u64>(w) + 100);
      while (!stop.load(std::memory_order_relaxed)) {
        const u64 odd = (rng() % (keys / 2)) * 2 + 1;
        if (rng() % 2 == 0) {
          m.insert_or_assign(key_of(odd), odd);
        } else {
          m.erase(key_of(odd));
        }
        writes.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (int s = 0; s < scanners; ++s) {
    ts.emplace_back([&, s] {
      std::mt19937_64 rng(static_cast<u64>(s) + 200);
      for (int round = 0; round < 60 * work; ++round) {
        u64 lo = rng() % keys, hi = rng() % keys;
        if (hi < lo) std::swap(lo, hi);
        const int kind = static_cast<int>(rng() % 4);
        std::vector<u64> seen;
        auto collect = [&](const K& k, const u64& v) {
          check(log, key_of(v) == k, "a key's value is not the one its writer stored");
          seen.push_back(v);
        };
        u64 from = 0, to = keys;  // the range the scan covers: [from, to)
        switch (kind) {
          case 0:
            m.for_each(collect);
            break;
          case 1:
            m.for_each_reverse(collect);
            break;
          case 2:
            m.for_range(key_of(lo), key_of(hi), collect);
            from = lo, to = hi;
            break;
          default:
            m.for_range_reverse(key_of(lo), key_of(hi), collect);
            from = lo, to = hi;
        }
        const bool descending = kind == 1 || kind == 3;
        for (std::size_t i = 1; i < seen.size(); ++i) {
          const bool ordered = descending ? seen[i - 1] > seen[i] : seen[i - 1] < seen[i];
          if (!ordered) {
            log.add("scan out of order or a key twice: " + std::to_string(seen[i - 1]) +
                     " then " + std::to_string(seen[i]));
            break;
          }
        }
        std::size_t evens = 0;
        for (const u64 v : seen) {
          check(log, v >= from && v < to, "a key outside the scan's range");
          evens += v % 2 == 0 ? 1 : 0;
        }
        const u64 first_even = (from + 1) / 2 * 2;
        const std::size_t want = to > first_even ? static_cast<std::size_t>((to - first_even + 1) / 2) : 0;
        check(log, evens == want, "a key present throughout the scan was missed");
        scans.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (int i = writers; i < writers + scanners; ++i) ts[static_cast<std::size_t>(i)].join();
  stop = true;
  for (int i = 0; i < writers; ++i) ts[static_cast<std::size_t>(i)].join();
  EXPECT_EQ(log.count(), 0u) << log.summary();
  EXPECT_GT(writes.load(), 0u);
  // The map is consistent afterwards: every even key, odd keys once each, size agrees.
  std::size_t walked = 0;
  m.for_each([&](const K&, const u64&) { ++walked; });
  EXPECT_EQ(walked, m.size());
  for (u64 i = 0; i < keys; i += 2) ASSERT_EQ(m.find(key_of(i)), std::optional<u64>(i)) << i;
}

TEST(ArtMapStress, U64ScansDuringNeighbourChurn) {
  // Keys spread over two bytes so that nodes of every size form and change.
  scans_during_neighbour_churn<u64>([](u64 i) { return (i / 64) << 8 | (i % 64) * 4; });
}

TEST(ArtMapStress, StringScansDuringNeighbourChurn) {
  // Long shared prefixes (past the inline 8 bytes) that splits and merges rewrite.
  scans_during_neighbour_churn<std::string>([](u64 i) {
    // Zero-padded, so that the strings sort as the numbers do.
    std::string s = "user/region-7/uid:";
    s += std::to_string(1000 + i / 100);
    s += '/';
    s += std::to_string(10000 + i % 100);
    return s;
  });
}

// Readers of values that are not atomics see each value whole while writers replace them:
// every value is one character repeated, and a reader checks that it is.
TEST(ArtMapStress, ReadersSeeWholeValuesWhileWritersReplaceThem) {
  cmap_test::watchdog dog;
  cmap::art_map<u64, std::string> m;
  for (u64 k = 0; k < 64; ++k) m.insert(k, std::string(100, 'a'));
  cmap_test::failure_log log;
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int w = 0; w < 2; ++w) {
    ts.emplace_back([&, w] {
      std::mt19937_64 rng(static_cast<u64>(w));
      for (int i = 0; i < 20000 * work; ++i) {
        const char c = static_cast<char>('a' + rng() % 26);
        const u64 k = rng() % 64;
        if (i % 3 == 0) {
          m.upsert(k, [c](std::string& s) { s.assign(100 + static_cast<std::size_t>(c % 7), c); },
                   std::string(100, c));
        } else {
          m.insert_or_assign(k, std::string(100 + static_cast<std::size_t>(c % 5), c));
        }
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    ts.emplace_back([&] {
      auto whole = [&](const std::string& s) {
        check(log, !s.empty() && s.find_first_not_of(s[0]) == std::string::npos, "a torn value");
      };
      while (!stop.load(std::memory_order_relaxed)) {
        for (u64 k = 0; k < 64; ++k) m.visit(k, whole);
        m.for_each([&](const u64&, const std::string& s) { whole(s); });
      }
    });
  }
  ts[0].join();
  ts[1].join();
  stop = true;
  for (std::size_t i = 2; i < ts.size(); ++i) ts[i].join();
  EXPECT_EQ(log.count(), 0u) << log.summary();
  EXPECT_EQ(m.size(), 64u);
}

// clear() while writers insert and erase: it is one step, so afterwards size() matches a walk
// and every key a writer inserted after the last clear it saw finish is still there.
TEST(ArtMapStress, ClearRacingWritersLeavesAConsistentMap) {
  cmap_test::watchdog dog;
  cmap::art_map<u64, u64> m;
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int w = 0; w < 3; ++w) {
    ts.emplace_back([&, w] {
      std::mt19937_64 rng(static_cast<u64>(w) + 7);
      while (!stop.load(std::memory_order_relaxed)) {
        const u64 k = rng() % 20000;
        if (rng() % 3 == 0) {
          m.erase(k);
        } else {
          m.insert(k, k);
        }
      }
    });
  }
  for (int i = 0; i < 30 * work; ++i) {
    m.clear();
    std::this_thread::yield();
  }
  stop = true;
  for (auto& t : ts) t.join();
  std::size_t walked = 0;
  bool values_match = true;
  m.for_each([&](const u64& k, const u64& v) {
    ++walked;
    values_match = values_match && k == v;
  });
  EXPECT_EQ(walked, m.size());
  EXPECT_TRUE(values_match);
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(m.first().has_value());
}

}  // namespace
