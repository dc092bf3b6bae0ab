// The libcds peers (split list, skip list): listed (or skipped with the package to install),
// each adapter exact under concurrent upserts from threads that attach themselves through
// thread_scope, and the command line running them at 1, 2 and 8 threads over u64 and string
// keys with every operation (for_each with writers at 1 thread only); the skip list, named
// only, with the ordered preset's mix n/a (no scan) and the same mix without scans.

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#ifdef CMAP_BENCH_HAVE_LIBCDS
#include "adapters/libcds_skip_list.hpp"
#include "adapters/libcds_split_list.hpp"
#endif

namespace cmap_bench {
namespace {

using testing::run_cli;
using testing::slurp;
using testing::temp_dir;

TEST(Libcds, ListedOrSkippedWithThePackage) {
  const auto r = run_cli({"--list"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("no adapter yet"), std::string::npos) << r.out;
#ifdef CMAP_BENCH_HAVE_LIBCDS
  EXPECT_NE(r.out.find("libcds_split_list"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("libcds_skip_list"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("skipped: not installed (libcds-dev)"), std::string::npos) << r.out;
#elif defined(CMAP_BENCH_LIBCDS_SKIPPED_TSAN)
  EXPECT_NE(r.out.find("libcds_split_list, libcds_skip_list: skipped: not built under "
                       "ThreadSanitizer"),
            std::string::npos)
      << r.out;
#else
  EXPECT_NE(r.out.find("libcds_split_list, libcds_skip_list: skipped: not installed (libcds-dev)"),
            std::string::npos)
      << r.out;
#endif
}

#ifdef CMAP_BENCH_HAVE_LIBCDS
template <class Key>
Key key_of(std::uint64_t i) {
  if constexpr (std::is_same_v<Key, std::string>)
    return "key-" + std::to_string(i) + "-padding-past-sso";
  else
    return i + 1;
}

// The counter word of a value.
template <class V>
std::uint64_t counter_of(V v) {
  return libcds_detail::words_of(v)[0];
}

// 8 threads upsert-increment 64 shared keys, insert and erase private ones; every increment
// must land (update is one atomic add on the live value) and the private keys must be gone.
template <template <class, class> class Adapter, class Key, class Value>
void concurrent_upserts_are_exact() {
  using adapter = Adapter<Key, Value>;
  constexpr unsigned threads = 8;
  constexpr std::uint64_t shared_keys = 64;
  constexpr std::uint64_t rounds = 2000;
  adapter map(0);
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const typename adapter::thread_scope scope;
      for (std::uint64_t r = 0; r < rounds; ++r) {
        map.update(key_of<Key>(r % shared_keys));
        const auto mine = key_of<Key>(1'000'000 + t * rounds + r);
        EXPECT_TRUE(map.insert(mine, Value(r)));
        EXPECT_TRUE(map.find(mine));
        EXPECT_TRUE(map.erase(mine));
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(map.size(), shared_keys);
  EXPECT_EQ(map.for_each(), shared_keys);
  // Key k was incremented once per round with r % shared_keys == k, by every thread.
  std::uint64_t total = 0;
  for (std::uint64_t k = 0; k < shared_keys; ++k) {
    auto v = map.value_of(key_of<Key>(k));
    ASSERT_TRUE(v.has_value()) << k;
    const std::uint64_t count = counter_of(*v);
    EXPECT_EQ(count, threads * (rounds / shared_keys + (k < rounds % shared_keys ? 1 : 0))) << k;
    total += count;
  }
  EXPECT_EQ(total, threads * rounds);
  // insert_or_assign replaces a present value and inserts an absent one.
  map.insert_or_assign(key_of<Key>(0), Value(7));
  map.insert_or_assign(key_of<Key>(9'000'000), Value(8));
  EXPECT_EQ(counter_of(*map.value_of(key_of<Key>(0))), 7u);
  EXPECT_EQ(counter_of(*map.value_of(key_of<Key>(9'000'000))), 8u);
  EXPECT_FALSE(map.value_of(key_of<Key>(1'000'000)).has_value());  // erased
  EXPECT_EQ(map.size(), shared_keys + 1);
}

TEST(Libcds, ConcurrentUpsertsU64) {
  concurrent_upserts_are_exact<libcds_split_list_adapter, std::uint64_t, std::uint64_t>();
  concurrent_upserts_are_exact<libcds_skip_list_adapter, std::uint64_t, std::uint64_t>();
}
TEST(Libcds, ConcurrentUpsertsStringKeysPayload) {
  concurrent_upserts_are_exact<libcds_split_list_adapter, std::string, payload<64>>();
  concurrent_upserts_are_exact<libcds_skip_list_adapter, std::string, payload<64>>();
}

// Each peer at 1, 2 and 8 threads; --maps libcds* is the split list alone (the skip list runs
// only when named).
TEST(Libcds, RunsEveryOperationAt1_2_8Threads) {
  for (const std::string map : {"libcds_split_list", "libcds_skip_list"}) {
    for (const char* key_type : {"u64", "string:16"}) {
      temp_dir dir;
      const auto r =
          run_cli({"--maps", map == "libcds_split_list" ? "libcds*" : map, "--mix",
                   "find=40,insert=15,insert_or_assign=10,update=15,erase=20", "--keys", "2000",
                   "--ops", "16000", "--threads", "1,2,8", "--reps", "3", "--preload", "0.5",
                   "--key-type", key_type, "--json", dir.file("r.json")});
      ASSERT_EQ(r.status, 0) << r.err;
      const auto j = nlohmann::json::parse(slurp(dir.file("r.json")));
      ASSERT_EQ(j["results"].size(), 3u) << map << " " << key_type;
      for (const auto& res : j["results"]) {
        EXPECT_EQ(res["map"], map);
        EXPECT_EQ(res["status"], "ok") << res.dump();
        EXPECT_EQ(res["repetitions"].size(), 3u);
        EXPECT_GT(res["median_mops"].get<double>(), 0);
        EXPECT_EQ(res["memory_method"], "counting_allocator");
        // About half of the 2000 keys preloaded (a seeded subset, not exactly half).
        EXPECT_GT(res["entries"].get<int>(), 900);
        EXPECT_LT(res["entries"].get<int>(), 1100);
        EXPECT_GT(res["bytes_per_entry"].get<double>(), 16);
      }
    }
  }
}
// for_each with writers is n/a above 1 thread (libcds's iterator is not safe against erase);
// at 1 thread it runs.
TEST(Libcds, ForEachWithWritersOnlyAtOneThread) {
  for (const char* map : {"libcds_split_list", "libcds_skip_list"}) {
    temp_dir dir;
    const auto r =
        run_cli({"--maps", map, "--mix", "find=50,erase=25,insert=24,for_each=1", "--keys", "2000",
                 "--ops", "4000", "--threads", "1,2", "--reps", "3", "--json", dir.file("r.json")});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(slurp(dir.file("r.json")));
    ASSERT_EQ(j["results"].size(), 2u) << map;
    EXPECT_EQ(j["results"][0]["status"], "ok") << map;
    EXPECT_EQ(j["results"][1]["status"], "n/a") << map;
    EXPECT_NE(j["results"][1]["note"].get<std::string>().find("not safe while other threads write"),
              std::string::npos)
        << map;
  }
}

// The ordered preset's mix on the skip list, named (a workload file that starts from the
// preset: the preset itself runs its own maps): n/a at every thread count, with the reason,
// since it has no scan. The same mix with the scans' share given to finds runs.
TEST(Libcds, SkipListOrderedMixNeedsScan) {
  temp_dir dir;
  {
    std::ofstream f(dir.file("w.json"));
    f << nlohmann::json{{"preset", "ordered"},
                        {"maps", nlohmann::json::array({"libcds_skip_list"})}};
  }
  auto r = run_cli({"--workload", dir.file("w.json"), "--keys", "2000", "--ops", "4000",
                    "--threads", "1,2", "--json", dir.file("r.json")});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(slurp(dir.file("r.json")));
  ASSERT_EQ(j["results"].size(), 2u);
  for (const auto& res : j["results"]) {
    EXPECT_EQ(res["status"], "n/a") << res.dump();
    EXPECT_EQ(res["note"], "no ordered scan: libcds's skip list iterates only from its first key")
        << res.dump();
  }
  // Otherwise the preset's workload: half preloaded, uniform keys.
  r = run_cli({"--workload", dir.file("w.json"), "--mix", "find=90,insert=10", "--keys", "2000",
               "--ops", "4000", "--threads", "1,2", "--json", dir.file("r.json")});
  ASSERT_EQ(r.status, 0) << r.err;
  j = nlohmann::json::parse(slurp(dir.file("r.json")));
  ASSERT_EQ(j["results"].size(), 2u);
  for (const auto& res : j["results"]) {
    EXPECT_EQ(res["map"], "libcds_skip_list");
    EXPECT_EQ(res["status"], "ok") << res.dump();
    EXPECT_GT(res["median_mops"].get<double>(), 0);
  }
}
#endif

}  // namespace
}  // namespace cmap_bench
