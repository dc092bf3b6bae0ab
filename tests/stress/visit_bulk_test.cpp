// concurrent_hash_map::visit_bulk while writers insert, erase, update and grow the table,
// for inline slots (u64 -> u64) and node storage (a 32-byte struct, a heap-allocated
// std::string). Readers run batches that mix stable keys (present throughout, one value),
// keys the writers churn, keys they add to grow the table, and keys never inserted, and
// check every call:
//   - each reported index is within the batch, reported at most once, and the count
//     returned is the number of calls of f;
//   - every stable key in the batch is found, with its exact value;
//   - a churned key's value belongs to that key and is whole (values check themselves), and
//     no reader sees a key's version go back;
//   - a key never inserted is never found.
// The first call of each reader stays inside its callback until a grown table has been
// published: the rest of that batch is answered from the table the call started with,
// retired meanwhile (growth during a batch is certain, not left to the scheduler). Under
// AddressSanitizer that checks that a retired table, or node, outlives the calls pinned on it.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cinttypes>
#include <cmap/concurrent_hash_map.hpp>
#include <cmap/detail/concurrent_table.hpp>
#include <cmap/detail/sanitizers.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "stress/failure_log.hpp"
#include "stress/watchdog.hpp"

namespace {

using u64 = std::uint64_t;
using cmap_test::watchdog;

// Operations per writer: well under a second for all three value types unsanitised, and
// about as long under ThreadSanitizer or AddressSanitizer (5-15 times slower) with a fifth.
#if CMAP_DETAIL_TSAN || CMAP_DETAIL_ASAN
constexpr u64 ops_per_writer = 20000;
#else
constexpr u64 ops_per_writer = 100000;
#endif
constexpr int writers = 2;
constexpr int readers = 2;
constexpr u64 stable_keys = 512;
constexpr u64 churn_keys_per_writer = 256;
constexpr u64 absent_keys = 256;

// Key families, told apart by bits 40 and up.
enum class family : u64 { stable = 1, churn = 2, growth = 3, absent = 4 };
constexpr u64 make_key(family f, u64 writer, u64 i) {
  return (static_cast<u64>(f) << 40) | (writer << 32) | i;
}
constexpr family family_of(u64 key) { return static_cast<family>(key >> 40); }

u64 check_of(u64 key, u64 version) {  // splitmix64's finaliser over both
  u64 x = key * 0x9e3779b97f4a7c15ULL + version;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Each value type: make(key, version), whether a value is a whole value of that key, and
// its version. Version 0 is the only value of stable and growth keys.

// The version in the high 32 bits, 32 bits of the key's check in the low: a value written
// for another key, or half of one, fails the check.
struct u64_values {
  using type = u64;
  static type make(u64 key, u64 version) {
    return (version << 32) | (check_of(key, version) >> 32);
  }
  static bool belongs(u64 key, const type& v) {
    return (v & 0xffffffff) == check_of(key, v >> 32) >> 32;
  }
  static u64 version(const type& v) { return v >> 32; }
  static std::string show(const type& v) { return std::to_string(v); }
};

// Four words that must agree: a torn copy mixes two versions.
struct wide {
  u64 key, version, check, inverse;
  bool operator==(const wide&) const = default;
};
struct wide_values {
  using type = wide;
  static type make(u64 key, u64 version) {
    const u64 c = check_of(key, version);
    return wide{key, version, c, ~c};
  }
  static bool belongs(u64 key, const type& v) {
    return v.key == key && v.check == check_of(key, v.version) && v.inverse == ~v.check;
  }
  static u64 version(const type& v) { return v.version; }
  static std::string show(const type& v) {
    std::ostringstream out;
    out << "{" << v.key << ", " << v.version << ", " << v.check << ", " << v.inverse << "}";
    return out.str();
  }
};

// Key, version and check in 60 characters: on the heap (past any small-string buffer), so
// that a string freed while a reader can still see it is a use after free.
struct string_values {
  using type = std::string;
  static type make(u64 key, u64 version) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "key=%016" PRIx64 " version=%08" PRIx64 " check=%016" PRIx64,
                  key, version, check_of(key, version));
    return buf;
  }
  static bool belongs(u64 key, const type& v) {
    return v.size() == 60 && v == make(key, version(v));
  }
  // The version field, or 0 if it is not 8 hex digits (a torn string fails belongs()).
  static u64 version(const type& v) {
    if (v.size() != 60) return 0;
    u64 out = 0;
    const char* const field = v.data() + 29;
    const auto [end, error] = std::from_chars(field, field + 8, out, 16);
    return error == std::errc() && end == field + 8 ? out : 0;
  }
  static std::string show(const type& v) { return v; }
};

static_assert(cmap::detail::storage_policy_for<u64, u64_values::type>() ==
              cmap::detail::storage_policy::inline_slots);
static_assert(cmap::detail::storage_policy_for<u64, wide_values::type>() ==
              cmap::detail::storage_policy::nodes);
static_assert(cmap::detail::storage_policy_for<u64, string_values::type>() ==
              cmap::detail::storage_policy::nodes);

using cmap_test::failure_log;

template <class Values>
class VisitBulk : public ::testing::Test {};
using value_kinds = ::testing::Types<u64_values, wide_values, string_values>;
struct value_kind_names {
  template <class V>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<V, u64_values>) return "inline_u64";
    if constexpr (std::is_same_v<V, wide_values>) return "node_32_byte_struct";
    if constexpr (std::is_same_v<V, string_values>) return "node_string";
    return "unknown";
  }
};
TYPED_TEST_SUITE(VisitBulk, value_kinds, value_kind_names);

TYPED_TEST(VisitBulk, BatchesSeeWholeValuesWhileWritersChurnAndGrowTheTable) {
  using V = TypeParam;
  using T = typename V::type;
  watchdog dog;
  cmap::concurrent_hash_map<u64, T> m;  // the smallest table: it grows many times below
  for (u64 i = 0; i < stable_keys; ++i) {
    const u64 k = make_key(family::stable, 0, i);
    m.insert(k, V::make(k, 0));
  }
  const std::size_t start_bytes = m.table_bytes();
  const std::size_t start_rehashes = m.rehash_stats().rehashes;

  failure_log log;
  std::atomic<int> readers_inside{0};  // readers whose first call is waiting for a growth
  std::atomic<int> writers_done{0};
  std::atomic<int> grown_during_a_call{0};
  std::atomic<u64> batches{0};
  // Each writer's next growth key: readers look just behind and ahead of it, where keys are
  // being published.
  std::atomic<u64> frontier[writers] = {};

  std::vector<std::thread> threads;
  threads.reserve(writers + readers);
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      const u64 me = static_cast<u64>(w);
      // Writes begin once every reader is inside a call that has loaded the table.
      while (readers_inside.load() < readers) std::this_thread::yield();
      for (u64 i = 0; i < ops_per_writer; ++i) {
        const u64 version = i + 1;
        const u64 k = make_key(family::churn, me, i % churn_keys_per_writer);
        switch ((i / churn_keys_per_writer) % 4) {
          case 0:
            m.erase(k);
            break;
          case 1:
            m.insert(k, V::make(k, version));
            break;
          case 2:
            m.insert_or_assign(k, V::make(k, version));
            break;
          default:
            m.visit(k, [&](T& x) { x = V::make(k, version); });
            break;
        }
        const u64 g = make_key(family::growth, me, i);
        if (!m.insert(g, V::make(g, 0))) log.add("growth key ", g, " was already there");
        frontier[w].store(i + 1, std::memory_order_relaxed);
      }
      writers_done.fetch_add(1);
    });
  }
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937_64 rng(static_cast<u64>(r) + 1);
      std::unordered_map<u64, u64> last_version;  // churn key -> latest version seen
      std::vector<u64> batch;
      std::vector<unsigned char> seen;
      bool first_call = true;
      bool signalled = false;
      u64 calls = 0;
      // Until the writers are done, and at least a few calls after the first.
      while (calls < 4 || writers_done.load() < writers) {
        // 64 stable keys (8 of them twice), 96 churn keys, 48 growth keys (half of them near
        // a writer's frontier), 24 absent ones, shuffled: 240 keys, not a multiple of
        // visit_bulk's 16-key batches.
        batch.clear();
        for (int i = 0; i < 64; ++i)
          batch.push_back(make_key(family::stable, 0, rng() % stable_keys));
        for (int i = 0; i < 8; ++i) batch.push_back(batch[static_cast<std::size_t>(i)]);
        for (int i = 0; i < 96; ++i)
          batch.push_back(make_key(family::churn, rng() % writers, rng() % churn_keys_per_writer));
        for (int i = 0; i < 24; ++i)
          batch.push_back(make_key(family::growth, rng() % writers, rng() % ops_per_writer));
        for (int i = 0; i < 24; ++i) {
          const u64 w = rng() % writers;
          const u64 near = frontier[w].load(std::memory_order_relaxed) + rng() % 32;
          batch.push_back(make_key(family::growth, w, near < 24 ? near : near - 24));
        }
        for (int i = 0; i < 24; ++i)
          batch.push_back(make_key(family::absent, 0, rng() % absent_keys));
        std::shuffle(batch.begin(), batch.end(), rng);
        seen.assign(batch.size(), 0);

        std::size_t calls_of_f = 0;
        auto f = [&](std::size_t i, const T& v) {
          ++calls_of_f;
          if (i >= batch.size()) {
            log.add("index ", i, " reported for a batch of ", batch.size());
            return;
          }
          if (seen[i]++ != 0) log.add("index ", i, " reported twice in one call");
          const u64 k = batch[i];
          switch (family_of(k)) {
            case family::stable:
            case family::growth:
              if (!(v == V::make(k, 0)))
                log.add("key ", k, ": ", V::show(v), " instead of ", V::show(V::make(k, 0)));
              break;
            case family::churn: {
              if (!V::belongs(k, v)) {
                log.add("key ", k, ": torn or foreign value ", V::show(v));
                break;
              }
              u64& last = last_version[k];
              if (V::version(v) < last)
                log.add("key ", k, ": version ", V::version(v), " after ", last);
              last = std::max(last, V::version(v));
              break;
            }
            default:
              log.add("key ", k, ", never inserted, found");
          }
          if (first_call && !signalled) {
            // The call has loaded its table; keep it inside until a grown one is published.
            signalled = true;
            const std::size_t bytes = m.table_bytes();
            readers_inside.fetch_add(1);
            while (m.table_bytes() <= bytes && writers_done.load() < writers)
              std::this_thread::yield();
            if (m.table_bytes() > bytes) {
              grown_during_a_call.fetch_add(1);
            } else {
              log.add("the writers' inserts never grew the table");
            }
          }
        };
        const std::size_t found = m.visit_bulk(batch.cbegin(), batch.cend(), f);
        if (found != calls_of_f)
          log.add("visit_bulk returned ", found, " for ", calls_of_f, " calls");
        for (std::size_t i = 0; i < batch.size(); ++i) {
          if (family_of(batch[i]) == family::stable && seen[i] != 1)
            log.add("stable key ", batch[i], " at index ", i, " not found");
        }
        if (first_call && !signalled) {
          // f never ran (a bug reported above): let the writers go all the same.
          log.add("the first call found nothing");
          signalled = true;
          readers_inside.fetch_add(1);
        }
        first_call = false;
        ++calls;
      }
      batches.fetch_add(calls);
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(log.count(), 0u) << "failures on worker threads; the first ones:" << log.summary();
  EXPECT_EQ(grown_during_a_call.load(), readers);
  EXPECT_GT(m.table_bytes(), start_bytes);
  EXPECT_GT(m.rehash_stats().rehashes, start_rehashes + 2);
  EXPECT_GE(batches.load(), 4u * readers);

  // Quiet now: every stable and growth key with its value, every churned key whole, and
  // visit_bulk over everything agreeing with for_each and size().
  std::vector<u64> all;
  for (u64 i = 0; i < stable_keys; ++i) all.push_back(make_key(family::stable, 0, i));
  for (u64 w = 0; w < writers; ++w) {
    for (u64 i = 0; i < ops_per_writer; ++i) all.push_back(make_key(family::growth, w, i));
    for (u64 i = 0; i < churn_keys_per_writer; ++i) all.push_back(make_key(family::churn, w, i));
  }
  for (u64 i = 0; i < absent_keys; ++i) all.push_back(make_key(family::absent, 0, i));
  std::size_t churned = 0, wrong = 0;
  const std::size_t found = m.visit_bulk(all.begin(), all.end(), [&](std::size_t i, const T& v) {
    const u64 k = all[i];
    if (family_of(k) == family::churn) {
      ++churned;
      if (!V::belongs(k, v)) ++wrong;
    } else if (family_of(k) == family::absent || !(v == V::make(k, 0))) {
      ++wrong;
    }
  });
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(found, stable_keys + writers * ops_per_writer + churned);
  EXPECT_EQ(m.size(), found);
  std::size_t walked = 0;
  m.for_each([&](const u64&, const T&) { ++walked; });
  EXPECT_EQ(walked, found);
}

}  // namespace
