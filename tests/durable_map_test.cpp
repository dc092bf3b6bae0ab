// durable_map: every write call survives a reopen as a model says it should; batches, scans,
// checkpoints (by hand and in the background), segment rotation, the lock, the recovery modes,
// and bad directories (foreign, truncated, bit-flipped files) that must fail with a clear
// error and change nothing. Crash, power-loss and fault tests are in tests/durable/.
#include <cmap/durable_map.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "durable/temp_directory.hpp"

namespace {

namespace fs = std::filesystem;
using u64 = std::uint64_t;
using store = cmap::durable_map<u64, u64>;
using string_store = cmap::durable_map<std::string, std::string>;

// A fresh directory per test (the store's, inside a temporary one removed afterwards).
class DurableMap : public ::testing::Test {
 protected:
  cmap_test::temp_directory tmp_{"durable-map"};
  fs::path dir_ = tmp_.path() / "store";
};

std::map<std::string, std::string> snapshot_files(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    files[e.path().filename().string()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return files;
}

std::map<u64, u64> contents(const store& m) {
  std::map<u64, u64> out;
  m.for_each([&](u64 k, u64 v) { out[k] = v; });
  return out;
}

void flip_byte(const fs::path& p, std::uint64_t offset) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x10));
}

fs::path only_file(const fs::path& dir, const std::string& prefix) {
  fs::path found;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with(prefix)) found = e.path();
  }
  return found;
}

TEST_F(DurableMap, EveryWriteCallSurvivesReopenAsTheModelSays) {
  std::map<u64, u64> model;
  std::mt19937_64 rng(42);
  {
    store m(dir_);
    for (int i = 0; i < 3000; ++i) {
      const u64 k = rng() % 200;
      const u64 v = rng() % 1000;
      const auto present = model.find(k);
      switch (rng() % 11) {
        case 0:
          EXPECT_EQ(m.insert(k, v), present == model.end());
          model.emplace(k, v);
          break;
        case 1:
          EXPECT_EQ(m.emplace(k, v), present == model.end());
          model.emplace(k, v);
          break;
        case 2:
          EXPECT_EQ(m.insert_or_assign(k, v), present == model.end());
          model[k] = v;
          break;
        case 3: {
          const auto [now, inserted] = m.find_or_insert(k, v);
          EXPECT_EQ(inserted, present == model.end());
          model.emplace(k, v);
          EXPECT_EQ(now, model[k]);
          break;
        }
        case 4:
          EXPECT_EQ(m.upsert(k, [](u64& x) { x += 3; }, v), present == model.end());
          if (present == model.end()) {
            model[k] = v;
          } else {
            present->second += 3;
          }
          break;
        case 5: {
          const auto old = m.exchange(k, v);
          EXPECT_EQ(old.has_value(), present != model.end());
          model[k] = v;
          break;
        }
        case 6: {
          const u64 expected = present != model.end() && rng() % 2 ? present->second : v;
          const bool swapped = present != model.end() && present->second == expected;
          EXPECT_EQ(m.compare_exchange(k, expected, v + 1), swapped);
          if (swapped) model[k] = v + 1;
          break;
        }
        case 7:
          EXPECT_EQ(m.erase(k), present != model.end());
          model.erase(k);
          break;
        case 8: {
          const auto got = m.extract(k);
          EXPECT_EQ(got.has_value(), present != model.end());
          model.erase(k);
          break;
        }
        case 9: {
          const u64 expected = present != model.end() && rng() % 2 ? present->second : v;
          const bool erased = present != model.end() && present->second == expected;
          EXPECT_EQ(m.compare_erase(k, expected), erased);
          if (erased) model.erase(k);
          break;
        }
        default:
          EXPECT_EQ(m.visit(k, [](u64& x) { x *= 2; }), present != model.end());
          if (present != model.end()) present->second *= 2;
      }
    }
    EXPECT_EQ(contents(m), model);
    const std::size_t erased = m.erase_if([](u64 k, u64) { return k % 7 == 0; });
    std::size_t want = 0;
    for (auto it = model.begin(); it != model.end();) {
      if (it->first % 7 == 0) {
        it = model.erase(it);
        ++want;
      } else {
        ++it;
      }
    }
    EXPECT_EQ(erased, want);
  }
  store again(dir_);
  EXPECT_EQ(contents(again), model);
  EXPECT_EQ(again.size(), model.size());
  EXPECT_GT(again.recovery().records_replayed, 1000u);
}

TEST_F(DurableMap, ChangesNothingLogsNothing) {
  store m(dir_);
  m.insert(1, 1);
  const auto before = m.stats().records;
  EXPECT_FALSE(m.insert(1, 2));
  EXPECT_FALSE(m.erase(2));
  EXPECT_FALSE(m.compare_exchange(1, 5, 6));
  EXPECT_FALSE(m.visit(3, [](u64&) {}));
  EXPECT_EQ(m.stats().records, before);
}

TEST_F(DurableMap, StringsScansAndTransparentLookups) {
  {
    string_store m(dir_);
    for (int i = 0; i < 300; ++i) {
      m.insert_or_assign("uid:" + std::to_string(i), std::string(i % 40, 'x') + "!");
    }
    m.erase(std::string_view("uid:17"));
  }
  string_store m(dir_);
  EXPECT_EQ(m.size(), 299u);
  EXPECT_FALSE(m.contains(std::string_view("uid:17")));
  EXPECT_EQ(m.find(std::string_view("uid:18")), std::string(18, 'x') + "!");
  std::vector<std::string> keys;
  m.for_prefix(std::string_view("uid:2"), [&](const std::string& k, const std::string&) {
    keys.push_back(k);
  });
  EXPECT_EQ(keys.size(), 111u);  // uid:2, uid:20..29, uid:200..299
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(m.first()->first, "uid:0");
}

TEST_F(DurableMap, PerWriteSyncModes) {
  cmap::durable_options o;
  o.default_sync = cmap::sync::none;
  store m(dir_, o);
  for (u64 i = 0; i < 50; ++i) m.insert_or_assign(i, i);
  EXPECT_EQ(m.stats().syncs, 0u);
  EXPECT_EQ(m.stats().writes_to_os, 50u);
  for (u64 i = 0; i < 20; ++i) m.with(cmap::sync::every_write).insert_or_assign(i, i + 1);
  EXPECT_EQ(m.stats().syncs, 20u);
  m.with(cmap::sync::group).erase(3);
  EXPECT_EQ(m.stats().syncs, 21u);
  EXPECT_EQ(m.find(4), 5u);
  EXPECT_EQ(m.stats().records, 71u);
}

TEST_F(DurableMap, GroupCommitSharesSyncsBetweenWriters) {
  store m(dir_);
  constexpr int threads = 8;
  constexpr int writes = 60;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < writes; ++i) m.insert_or_assign(u64(t) * 1000 + i, i);
    });
  }
  for (auto& t : ts) t.join();
  const auto s = m.stats();
  EXPECT_EQ(s.records, u64(threads * writes));
  // Eight writers that wait for the disk together share its syncs.
  EXPECT_LT(s.syncs, s.records);
  EXPECT_EQ(m.size(), u64(threads * writes));
}

TEST_F(DurableMap, ConcurrentWritersSumsAddUpAfterReopen) {
  constexpr int threads = 4;
  constexpr int rounds = 400;
  {
    cmap::durable_options o;
    o.default_sync = cmap::sync::none;
    o.segment_bytes = 4096;
    store m(dir_, o);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; i < rounds; ++i) m.upsert(u64(i % 16), [](u64& v) { ++v; }, 1);
      });
    }
    std::thread checkpointer([&] {
      for (int i = 0; i < 5; ++i) {
        m.checkpoint();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
    for (auto& t : ts) t.join();
    checkpointer.join();
    u64 sum = 0;
    m.for_each([&](u64, u64 v) { sum += v; });
    EXPECT_EQ(sum, u64(threads * rounds));
  }
  store m(dir_);
  u64 sum = 0;
  m.for_each([&](u64, u64 v) { sum += v; });
  EXPECT_EQ(sum, u64(threads * rounds));
}

TEST_F(DurableMap, BatchesAreOneRecordAndAllOrNothing) {
  {
    store m(dir_);
    store::batch b;
    for (u64 k = 0; k < 10; ++k) b.insert_or_assign(k, 7);
    b.erase(3);
    m.write(b);
    EXPECT_EQ(m.stats().records, 1u);
    EXPECT_EQ(m.size(), 9u);
    store::batch second;
    for (u64 k = 100; k < 110; ++k) second.insert_or_assign(k, 8);
    m.write(second, cmap::sync::none);
  }
  // Cut the log inside the second batch's record: recovery keeps the first batch whole and
  // none of the second.
  const fs::path seg = only_file(dir_, "wal-0000000000000001");
  const auto size = fs::file_size(seg);
  fs::resize_file(seg, size - 5);
  store m(dir_);
  EXPECT_EQ(m.size(), 9u);
  EXPECT_FALSE(m.contains(105));
  EXPECT_EQ(m.recovery().records_replayed, 1u);
  EXPECT_GT(m.recovery().torn_bytes_dropped, 0u);
}

TEST_F(DurableMap, CheckpointReplacesTheLogAndRecoveryUsesIt) {
  {
    store m(dir_);
    for (u64 i = 0; i < 1000; ++i) m.with(cmap::sync::none).insert_or_assign(i, i);
    const auto info = m.checkpoint();
    EXPECT_EQ(info.entries, 1000u);
    EXPECT_EQ(info.number, 2u);
    EXPECT_GE(info.segments_deleted, 1u);
    EXPECT_FALSE(fs::exists(dir_ / "wal-0000000000000001.log"));
    m.erase(5);
    m.insert_or_assign(2000, 1);
  }
  store m(dir_);
  EXPECT_EQ(m.recovery().checkpoint_number, 2u);
  EXPECT_EQ(m.recovery().checkpoint_entries, 1000u);
  EXPECT_EQ(m.recovery().records_replayed, 2u);
  EXPECT_EQ(m.size(), 1000u);
  EXPECT_FALSE(m.contains(5));
  EXPECT_EQ(m.find(2000), 1u);
  // A second checkpoint replaces the first.
  m.checkpoint();
  int checkpoints = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    checkpoints += e.path().extension() == ".ckpt" ? 1 : 0;
  }
  EXPECT_EQ(checkpoints, 1);
}

TEST_F(DurableMap, BackgroundCheckpointsAndSegmentRotation) {
  cmap::durable_options o;
  o.default_sync = cmap::sync::none;
  o.segment_bytes = 2048;
  o.checkpoint_log_bytes = 16384;
  {
    store m(dir_, o);
    for (u64 i = 0; i < 3000; ++i) m.insert_or_assign(i % 500, i);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (m.stats().checkpoints == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GT(m.stats().checkpoints, 0u);
    EXPECT_EQ(m.background_error(), "");
    for (u64 i = 0; i < 500; ++i) m.insert_or_assign(i, i + 1);
  }
  store m(dir_);
  EXPECT_GT(m.recovery().checkpoint_number, 0u);
  EXPECT_EQ(m.size(), 500u);
  for (u64 i = 0; i < 500; ++i) ASSERT_EQ(m.find(i), i + 1);
}

TEST_F(DurableMap, OneOwnerAtATime) {
  store m(dir_);
  try {
    store second(dir_);
    FAIL() << "a second open of a locked store succeeded";
  } catch (const cmap::durable_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
}

TEST_F(DurableMap, CreateAndExistOptions) {
  cmap::durable_options o;
  o.create_if_missing = false;
  EXPECT_THROW(store(dir_, o), cmap::durable_error);
  EXPECT_FALSE(fs::exists(dir_));
  { store m(dir_); }
  o.create_if_missing = true;
  o.error_if_exists = true;
  EXPECT_THROW(store(dir_, o), cmap::durable_error);
}

// Opening a damaged or foreign directory throws and leaves every file as it was.
template <class Check>
void expect_refused_unchanged(const fs::path& dir, Check&& check) {
  const auto before = snapshot_files(dir);
  try {
    store m(dir);
    ADD_FAILURE() << "opened a damaged store";
  } catch (const cmap::durable_error& e) {
    check(e);
  }
  auto after = snapshot_files(dir);
  after.erase("LOCK");
  auto want = before;
  want.erase("LOCK");
  EXPECT_EQ(after, want);
}

TEST_F(DurableMap, ForeignFilesAreRefused) {
  { store m(dir_); m.insert(1, 1); }
  { std::ofstream(dir_ / "notes.txt") << "hello"; }
  expect_refused_unchanged(dir_, [](const cmap::durable_error& e) {
    EXPECT_NE(std::string(e.what()).find("notes.txt"), std::string::npos) << e.what();
  });
  fs::remove(dir_ / "notes.txt");
  // A file with a segment's name but other contents.
  { std::ofstream(dir_ / "wal-0000000000000002.log") << "PK\x03\x04 not a log at all, a zip file"; }
  expect_refused_unchanged(dir_, [](const cmap::durable_error& e) {
    const auto* c = dynamic_cast<const cmap::corruption_error*>(&e);
    ASSERT_NE(c, nullptr) << e.what();
    EXPECT_NE(std::string(e.what()).find("wal-0000000000000002.log"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("cmap-log"), std::string::npos) << e.what();
  });
}

TEST_F(DurableMap, BitFlipInAnEarlierSegmentIsCorruptionAtItsOffset) {
  cmap::durable_options o;
  o.segment_bytes = 1024;
  o.default_sync = cmap::sync::none;
  { store m(dir_, o); for (u64 i = 0; i < 200; ++i) m.insert_or_assign(i, i); }
  const fs::path first = dir_ / "wal-0000000000000001.log";
  flip_byte(first, 32 + 11 + 3);  // inside the first record's payload
  expect_refused_unchanged(dir_, [&](const cmap::durable_error& e) {
    const auto* c = dynamic_cast<const cmap::corruption_error*>(&e);
    ASSERT_NE(c, nullptr) << e.what();
    EXPECT_EQ(c->offset(), 32u);
    EXPECT_EQ(c->file(), first);
  });
}

TEST_F(DurableMap, DamageInTheLastSegmentsMiddleIsNotATornTail) {
  { store m(dir_); for (u64 i = 0; i < 20; ++i) m.with(cmap::sync::none).insert_or_assign(i, i); }
  const fs::path seg = dir_ / "wal-0000000000000001.log";
  flip_byte(seg, 32 + 5 * 31 + 20);  // the sixth record's payload, with records after it
  expect_refused_unchanged(dir_, [&](const cmap::durable_error& e) {
    const auto* c = dynamic_cast<const cmap::corruption_error*>(&e);
    ASSERT_NE(c, nullptr) << e.what();
    EXPECT_EQ(c->offset(), 32u + 5 * 31);
  });
}

TEST_F(DurableMap, TruncatedOrFlippedCheckpointIsRefused) {
  {
    store m(dir_);
    for (u64 i = 0; i < 5000; ++i) m.with(cmap::sync::none).insert_or_assign(i, i);
    m.checkpoint();
  }
  const fs::path ckpt = only_file(dir_, "checkpoint-");
  const auto size = fs::file_size(ckpt);
  const auto whole = snapshot_files(dir_);
  fs::resize_file(ckpt, size - 10);
  expect_refused_unchanged(dir_, [&](const cmap::durable_error& e) {
    EXPECT_NE(dynamic_cast<const cmap::corruption_error*>(&e), nullptr) << e.what();
    EXPECT_EQ(e.file(), ckpt);
  });
  {
    std::ofstream out(ckpt, std::ios::binary | std::ios::trunc);
    out << whole.at(ckpt.filename().string());
  }
  flip_byte(ckpt, size / 2);
  expect_refused_unchanged(dir_, [&](const cmap::durable_error& e) {
    EXPECT_NE(dynamic_cast<const cmap::corruption_error*>(&e), nullptr) << e.what();
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  });
}

TEST_F(DurableMap, MissingSegmentIsRefused) {
  cmap::durable_options o;
  o.segment_bytes = 512;
  o.default_sync = cmap::sync::none;
  { store m(dir_, o); for (u64 i = 0; i < 100; ++i) m.insert_or_assign(i, i); }
  fs::remove(dir_ / "wal-0000000000000002.log");
  expect_refused_unchanged(dir_, [&](const cmap::durable_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
    EXPECT_EQ(e.file(), dir_ / "wal-0000000000000002.log");
  });
}

TEST_F(DurableMap, TornTailIsTruncatedOrRefusedByMode) {
  { store m(dir_); for (u64 i = 0; i < 10; ++i) m.with(cmap::sync::none).insert_or_assign(i, i); }
  const fs::path seg = dir_ / "wal-0000000000000001.log";
  const auto size = fs::file_size(seg);
  fs::resize_file(seg, size - 7);  // the last record loses its end
  cmap::durable_options strict;
  strict.recovery = cmap::recovery_mode::absolute_consistency;
  const auto before = snapshot_files(dir_);
  EXPECT_THROW(store(dir_, strict), cmap::corruption_error);
  auto after = snapshot_files(dir_);
  EXPECT_EQ(after.at(seg.filename().string()), before.at(seg.filename().string()));
  {
    store m(dir_);
    EXPECT_EQ(m.size(), 9u);
    EXPECT_EQ(m.recovery().torn_bytes_dropped, 31u - 7u);
    m.insert_or_assign(100, 100);
  }
  EXPECT_EQ(fs::file_size(seg), size - 31);
  store m(dir_, strict);  // the torn record is gone: now consistent
  EXPECT_EQ(m.size(), 10u);
}

TEST_F(DurableMap, ValuesThatDoNotDecodeAreCorruption) {
  { string_store m(dir_); m.insert_or_assign(std::string(8, '\0'), "abc"); }
  try {
    cmap::durable_map<std::string, u64> m(dir_);
    FAIL() << "a 3-byte value decoded as a u64";
  } catch (const cmap::corruption_error& e) {
    EXPECT_EQ(e.offset(), 32u);
    EXPECT_NE(std::string(e.what()).find("does not decode"), std::string::npos) << e.what();
  }
}

}  // namespace
