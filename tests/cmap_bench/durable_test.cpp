// The durable stores in cmap-bench: each store's adapter (durable_map in its three sync modes,
// and RocksDB, LevelDB and LMDB where this build found them) keeps what it is given, scans in
// key order, survives a reopen and leaves no files; every durable-* preset runs tiny for every
// store in the build and reports throughput, bytes on disk and write amplification; a listed
// store that this build lacks gets a skip line; durable-recovery reports a reopening time.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "adapters/durable_map.hpp"
#include "registry.hpp"
#include "runner.hpp"
#include "test_util.hpp"
#include "workload.hpp"
#ifdef CMAP_BENCH_HAVE_ROCKSDB
#include "adapters/rocksdb.hpp"
#endif
#ifdef CMAP_BENCH_HAVE_LEVELDB
#include "adapters/leveldb.hpp"
#endif
#ifdef CMAP_BENCH_HAVE_LMDB
#include "adapters/lmdb.hpp"
#endif

namespace cmap_bench {
namespace {

using testing::run_cli;
using testing::slurp;
using testing::temp_dir;

// Random keys (so that insertion order is not key order), every call of the adapter checked
// against a std::map, a scan from random points compared with the model's, a reopen that
// keeps everything, and the store's directory gone with the adapter.
template <template <class, class> class Adapter, class Value>
void check_store() {
  std::filesystem::path dir;
  {
    Adapter<std::uint64_t, Value> store(0);
    dir = store.directory();
    ASSERT_TRUE(std::filesystem::is_directory(dir));
    std::map<std::uint64_t, std::uint64_t> model;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 150; ++i) {
      const std::uint64_t k = rng() | 1;  // never 0: the scan below starts at 0
      ASSERT_TRUE(store.insert(k, Value(k * 3)));
      model[k] = k * 3;
    }
    const std::uint64_t some = model.begin()->first;
    EXPECT_FALSE(store.insert(some, Value(1)));  // present: not replaced
    EXPECT_TRUE(store.find(some));
    EXPECT_FALSE(store.find(some + 1));
    store.insert_or_assign(some, Value(5));
    store.update(some);  // 5 -> 6
    model[some] = 6;
    store.update(2);  // absent: inserted as 1
    model[2] = 1;
    EXPECT_TRUE(store.erase(2));
    EXPECT_FALSE(store.erase(2));
    model.erase(2);
    EXPECT_EQ(store.size(), model.size());
    EXPECT_EQ(store.for_each(), model.size());

    auto check_scans = [&] {
      // In key order, from the key on, at most n, with the values written.
      std::mt19937_64 starts(11);
      for (int s = 0; s < 20; ++s) {
        const std::uint64_t from = s == 0 ? 0 : starts();
        std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
        store.visit_from(from, 100, [&](std::uint64_t k, const Value& v) {
          if constexpr (std::is_same_v<Value, std::uint64_t>)
            seen.emplace_back(k, v);
          else
            seen.emplace_back(k, v.counter());
        });
        std::vector<std::pair<std::uint64_t, std::uint64_t>> expected;
        for (auto it = model.lower_bound(from); it != model.end() && expected.size() < 100; ++it)
          expected.emplace_back(*it);
        ASSERT_EQ(seen, expected) << "from " << from;
        EXPECT_EQ(store.scan(from, 100), expected.size());
      }
    };
    check_scans();
    EXPECT_EQ(store.scan(0, 0), 0u);

    // A reopen finds everything again, and takes some time.
    const auto took = store.reopen();
    EXPECT_GT(took.count(), 0);
    EXPECT_EQ(store.size(), model.size());
    check_scans();

    // Bytes on disk: the files hold at least the entries' keys, before and after the flush
    // (random keys do not compress; the zero bytes of the values do, in LevelDB's and
    // RocksDB's tables).
    EXPECT_GE(directory_bytes(store.directory()), model.size() * 8) << dir;
    store.flush();
    EXPECT_GE(directory_bytes(store.directory()), model.size() * 8) << dir;
    EXPECT_EQ(store.size(), model.size());
  }
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
}

template <template <class, class> class Adapter>
void check_store_both_sizes() {
  {
    SCOPED_TRACE("8-byte values");
    check_store<Adapter, std::uint64_t>();
  }
  {
    SCOPED_TRACE("100-byte values");
    check_store<Adapter, byte_payload<100>>();
  }
}

TEST(Durable, ByteKeysSortAsTheNumbers) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t a = rng();
    const std::uint64_t b = i % 2 ? rng() : a + 1;
    EXPECT_EQ(be_key(a).view() < be_key(b).view(), a < b) << a << " " << b;
    EXPECT_EQ(key_from_be(be_key(a).view()), a);
  }
  static_assert(sizeof(byte_payload<100>) == 100);
  byte_payload<100> p(41);
  ++p;
  EXPECT_EQ(p.counter(), 42u);
}

TEST(Durable, DurableMapAdapters) {
  check_store_both_sizes<durable_map_group_adapter>();
  check_store_both_sizes<durable_map_none_adapter>();
  check_store<durable_map_every_write_adapter, std::uint64_t>();
}

#ifdef CMAP_BENCH_HAVE_ROCKSDB
TEST(Durable, RocksDbAdapters) {
  check_store_both_sizes<rocksdb_nosync_adapter>();
  check_store<rocksdb_sync_adapter, std::uint64_t>();
}
#endif
#ifdef CMAP_BENCH_HAVE_LEVELDB
TEST(Durable, LevelDbAdapters) {
  check_store_both_sizes<leveldb_nosync_adapter>();
  check_store<leveldb_sync_adapter, std::uint64_t>();
}
#endif
#ifdef CMAP_BENCH_HAVE_LMDB
TEST(Durable, LmdbAdapters) {
  check_store_both_sizes<lmdb_nosync_adapter>();
  check_store<lmdb_sync_adapter, std::uint64_t>();
}
#endif

TEST(Durable, UserBytesCountWhatWasStored) {
  EXPECT_EQ(user_bytes_of(op_kind::insert, 1, 8, 100), 108u);
  EXPECT_EQ(user_bytes_of(op_kind::insert, 0, 8, 100), 0u);  // present: nothing stored
  EXPECT_EQ(user_bytes_of(op_kind::insert_or_assign, 1, 8, 8), 16u);
  EXPECT_EQ(user_bytes_of(op_kind::update, 1, 8, 8), 16u);
  EXPECT_EQ(user_bytes_of(op_kind::erase, 1, 8, 8), 8u);
  EXPECT_EQ(user_bytes_of(op_kind::erase, 0, 8, 8), 0u);
  EXPECT_EQ(user_bytes_of(op_kind::find, 1, 8, 8), 0u);
  EXPECT_EQ(user_bytes_of(op_kind::scan, 100, 8, 8), 0u);
}

bool built(const std::string& name) {
  return std::any_of(registry().begin(), registry().end(),
                     [&](const map_info& m) { return m.name == name; });
}

// Each durable preset, tiny: every listed store this build has runs and reports finite,
// positive figures; every listed store it lacks is named in a skip line.
TEST(Durable, EveryDurablePresetRunsTiny) {
  const std::vector<std::string> presets = {
      "durable-fill", "durable-fill-100", "durable-overwrite", "durable-overwrite-100",
      "durable-read", "durable-90-10",    "durable-scan100",   "durable-recovery"};
  for (const auto& name : presets) {
    SCOPED_TRACE(name);
    ASSERT_NE(std::find(preset_names().begin(), preset_names().end(), name),
              preset_names().end());
    const workload w = preset(name);
    EXPECT_NO_THROW(validate(w));
    EXPECT_TRUE(w.random_u64_keys);
    EXPECT_EQ(w.value_size, name.ends_with("-100") ? 100u : 8u);
    temp_dir dir;
    std::vector<std::string> args = {"--preset", name, "--keys", "2000", "--json",
                                     dir.file("r.json")};
    if (w.duration_ms > 0) args.insert(args.end(), {"--duration-ms", "20"});
    if (w.duration_ms == 0 && !w.recovery) args.insert(args.end(), {"--ops", "2000"});
    if (!w.recovery) args.insert(args.end(), {"--threads", "2"});
    const auto r = run_cli(args);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(slurp(dir.file("r.json")));
    ASSERT_EQ(j["workloads"].size(), 1u);
    std::set<std::string> ran;
    for (const auto& res : j["results"]) {
      const std::string map = res["map"];
      SCOPED_TRACE(map);
      ran.insert(map);
      ASSERT_EQ(res["status"], "ok") << res["note"];
      EXPECT_GT(res["median_mops"].get<double>(), 0);
      ASSERT_TRUE(res.contains("durable")) << res.dump();
      const auto& d = res["durable"];
      if (w.recovery) {
        // Every key written before the close is there after the reopen.
        EXPECT_EQ(res["entries"], 2000);
        const double t = d["recovery_seconds"].get<double>();
        EXPECT_GT(t, 0);
        EXPECT_TRUE(std::isfinite(t));
        EXPECT_NE(r.out.find("disk: " + map + ": reopened in"), std::string::npos) << r.out;
        continue;
      }
      EXPECT_GT(res["latency_ns"]["p99"].get<double>(), 0);
      for (const char* field : {"disk_bytes_per_entry", "compacted_disk_bytes_per_entry"}) {
        const double v = d[field].get<double>();
        EXPECT_GT(v, 0) << field;
        EXPECT_TRUE(std::isfinite(v)) << field;
        // A key and its value take at least some bytes, and nowhere near a megabyte, even
        // with every overwrite still in a log.
        EXPECT_LT(v, 1 << 20) << field;
      }
      if (w.writes()) {
        EXPECT_GT(d["user_bytes_written"].get<std::uint64_t>(), 0u);
        const double os = d["os_write_amplification"].get<double>();
        EXPECT_TRUE(std::isfinite(os));
        // Every store writes at least the bytes it was given (a log record holds the key
        // and the value).
        EXPECT_GE(os, 1.0);
        EXPECT_TRUE(std::isfinite(d["device_write_amplification"].get<double>()));
      } else {
        EXPECT_EQ(d["user_bytes_written"], 0);
      }
      EXPECT_NE(r.out.find("disk: " + map + " @"), std::string::npos) << r.out;
    }
    EXPECT_TRUE(ran.count(w.recovery ? "durable_map_none" : "durable_map_group"));
    for (const auto& listed : w.maps) {
      if (built(listed)) {
        EXPECT_TRUE(ran.count(listed)) << listed;
        continue;
      }
      EXPECT_FALSE(ran.count(listed)) << listed;
      bool named = false;
      for (const auto& line : j["skipped"]) {
        const std::string s = line;
        named = named || (s.find(listed) != std::string::npos &&
                          s.find("skipped: not installed") != std::string::npos);
      }
      EXPECT_TRUE(named) << listed << " " << j["skipped"].dump();
    }
  }
}

// A recorded durable-recovery workload reads back as the recovery measurement.
TEST(Durable, RecoveryWorkloadReadsBack) {
  const workload w = preset("durable-recovery");
  const workload back = parse_workload_json(to_json(w), "recorded");
  EXPECT_TRUE(back.recovery);
  EXPECT_EQ(back.key_universe, 1'000'000u);
  EXPECT_EQ(back.maps, w.maps);
  EXPECT_FALSE(preset("durable-read").recovery);
}

// 100-byte values run on the durable stores only; the other maps say why not, and a durable
// store says which sizes it takes.
TEST(Durable, ValueSizesOfTheDurableStores) {
  const auto r = run_cli({"--mix", "find=100", "--keys", "500", "--ops", "1000", "--threads", "1",
                          "--value-size", "100", "--maps", "art_map,durable_map_none"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("art_map at 1 thr: 100-byte values: the durable stores only"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("disk: durable_map_none @1thr"), std::string::npos) << r.out;
  const auto r64 = run_cli({"--mix", "find=100", "--keys", "500", "--ops", "1000", "--threads",
                            "1", "--value-size", "64", "--maps", "durable_map_none"});
  ASSERT_EQ(r64.status, 0) << r64.err;
  EXPECT_NE(r64.out.find("the durable stores take 8- or 100-byte values only"), std::string::npos)
      << r64.out;
  EXPECT_EQ(run_cli({"--value-size", "100", "--keys", "10", "--ops", "10", "--maps", "art_map",
                     "--key-type", "string"})
                .status,
            0);
  EXPECT_EQ(run_cli({"--value-size", "99", "--keys", "10", "--ops", "10"}).status, 2);
}

// The durable stores run only when named or by their presets: a glob leaves them out.
TEST(Durable, StoresRunOnlyWhenNamed) {
  temp_dir dir;
  const auto r = run_cli({"--mix", "find=100", "--keys", "500", "--ops", "1000", "--threads", "1",
                          "--maps", "*", "--json", dir.file("r.json")});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(dir.file("r.json")));
  ASSERT_FALSE(j["results"].empty());
  for (const auto& res : j["results"]) {
    EXPECT_FALSE(res.contains("durable")) << res["map"];
    const std::string map = res["map"];
    EXPECT_FALSE(map.starts_with("durable_map") || map.starts_with("rocksdb") ||
                 map.starts_with("leveldb") || map.starts_with("lmdb"))
        << map;
  }
}

}  // namespace
}  // namespace cmap_bench
