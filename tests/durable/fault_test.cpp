// Faults of the disk under a durable_map: a failing fdatasync, a full disk, a short write, a
// segment that cannot be created at rotation, a failing directory sync, and failures in each
// step of a checkpoint.
//
// A fault in the log is final: the call that met it throws cmap::durable_error carrying the
// errno, every later write throws, failed() is true, reads go on, and the live map holds no
// write that threw. Reopening with the real file system finds every write that returned
// before the fault (the one that failed may or may not be there).
//
// A fault in a checkpoint's own files (not in the log's rotation) does not touch the log: the
// checkpoint throws, the store goes on taking writes, and nothing is lost, even if the power
// goes out right after; a later checkpoint succeeds.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <cmap/durable_map.hpp>

#include "durable/fault_file_system.hpp"
#include "durable/temp_directory.hpp"

namespace {

using map_type = cmap::durable_map<std::uint64_t, std::uint64_t>;
using cmap_test::fault_file_system;
using cmap_test::temp_directory;

std::uint64_t value_of(std::uint64_t k) { return k * 10 + 1; }

struct store {
  explicit store(cmap::sync mode = cmap::sync::group, std::uint64_t segment_bytes = 1 << 20)
      : dir("fault"), fs(std::make_shared<fault_file_system>()) {
    options.fs = fs;
    options.default_sync = mode;
    options.segment_bytes = segment_bytes;
    options.checkpoint_log_bytes = 0;
    m = std::make_unique<map_type>(dir.path(), options);
  }
  // Closes the store (its destructor swallows the dead log's errors) and opens it again
  // from the disk with the real file system.
  std::unique_ptr<map_type> reopen(
      cmap::recovery_mode recovery = cmap::recovery_mode::tolerate_torn_tail) {
    m.reset();
    cmap::durable_options plain;
    plain.recovery = recovery;
    plain.checkpoint_log_bytes = 0;
    return std::make_unique<map_type>(dir.path(), plain);
  }

  temp_directory dir;
  std::shared_ptr<fault_file_system> fs;
  cmap::durable_options options;
  std::unique_ptr<map_type> m;
};

// Writes key k -> value_of(k) for k = first, first + 1, ... until a write throws; returns
// the keys whose writes returned, and sets failed_key and error.
std::vector<std::uint64_t> write_until_failure(map_type& m, std::uint64_t first,
                                               std::uint64_t& failed_key, int& error,
                                               std::uint64_t limit = 100000) {
  std::vector<std::uint64_t> acked;
  for (std::uint64_t k = first; k < first + limit; ++k) {
    try {
      m.insert_or_assign(k, value_of(k));
    } catch (const cmap::durable_error& e) {
      failed_key = k;
      error = e.code().value();
      return acked;
    }
    acked.push_back(k);
  }
  ADD_FAILURE() << "no write failed in " << limit << " writes";
  return acked;
}

void write_keys(map_type& m, std::uint64_t first, std::uint64_t n) {
  for (std::uint64_t k = first; k < first + n; ++k) m.insert_or_assign(k, value_of(k));
}

// After a fault in the log: every kind of write throws and changes nothing, reads go on, and
// the live map holds exactly the writes that returned.
void expect_failed_store(map_type& m, const std::vector<std::uint64_t>& acked,
                         std::uint64_t failed_key) {
  EXPECT_TRUE(m.failed());
  EXPECT_FALSE(m.contains(failed_key)) << "a write that threw is visible";
  EXPECT_EQ(m.size(), acked.size());
  for (const std::uint64_t k : acked) EXPECT_EQ(m.find(k), value_of(k)) << k;
  const std::uint64_t fresh = 1u << 30;
  EXPECT_THROW(m.insert_or_assign(fresh, 1), cmap::durable_error);
  EXPECT_THROW(m.with(cmap::sync::none).insert_or_assign(fresh, 1), cmap::durable_error);
  EXPECT_THROW(m.with(cmap::sync::every_write).insert_or_assign(fresh, 1), cmap::durable_error);
  EXPECT_THROW(m.upsert(fresh, [](std::uint64_t& v) { ++v; }, 1), cmap::durable_error);
  if (!acked.empty()) {
    EXPECT_THROW(m.erase(acked.front()), cmap::durable_error);
    EXPECT_EQ(m.find(acked.front()), value_of(acked.front()));
  }
  map_type::batch b;
  b.insert_or_assign(fresh, 1);
  b.insert_or_assign(fresh + 1, 1);
  EXPECT_THROW(m.write(b), cmap::durable_error);
  EXPECT_THROW((void)m.checkpoint(), cmap::durable_error);
  EXPECT_FALSE(m.contains(fresh));
  EXPECT_FALSE(m.contains(fresh + 1));
  EXPECT_TRUE(m.failed());
}

// The reopened store holds every write that returned, and perhaps the one that failed.
void expect_recovered(map_type& r, const std::vector<std::uint64_t>& acked,
                      std::optional<std::uint64_t> failed_key) {
  for (const std::uint64_t k : acked) EXPECT_EQ(r.find(k), value_of(k)) << k;
  std::size_t extra = 0;
  if (failed_key && r.contains(*failed_key)) {
    EXPECT_EQ(r.find(*failed_key), value_of(*failed_key));
    extra = 1;
  }
  EXPECT_EQ(r.size(), acked.size() + extra);
  EXPECT_FALSE(r.failed());
  // And it takes writes again.
  r.insert_or_assign(1u << 31, 7);
  EXPECT_EQ(r.find(1u << 31), 7u);
}

// ---- the log ------------------------------------------------------------------------------

TEST(log_fault, a_failed_fdatasync_fails_the_store) {
  for (const auto mode : {cmap::sync::group, cmap::sync::every_write}) {
    store s(mode);
    write_keys(*s.m, 0, 10);
    s.fs->fail_sync_after(5, "wal-");
    std::uint64_t failed = 0;
    int error = 0;
    auto acked = write_until_failure(*s.m, 10, failed, error);
    for (std::uint64_t k = 0; k < 10; ++k) acked.insert(acked.begin() + k, k);
    EXPECT_EQ(error, EIO);
    EXPECT_EQ(acked.size(), 14u);  // one sync per write when writes come one at a time
    expect_failed_store(*s.m, acked, failed);
    auto r = s.reopen();
    expect_recovered(*r, acked, failed);
  }
}

TEST(log_fault, a_full_disk_fails_the_store) {
  for (const auto mode : {cmap::sync::none, cmap::sync::group, cmap::sync::every_write}) {
    store s(mode);
    s.fs->no_space_after(1000, false, "wal-");
    std::uint64_t failed = 0;
    int error = 0;
    const auto acked = write_until_failure(*s.m, 0, failed, error);
    EXPECT_EQ(error, ENOSPC);
    EXPECT_GT(acked.size(), 10u);
    expect_failed_store(*s.m, acked, failed);
    // Nothing of the failed record reached the file, so even a strict recovery opens.
    auto r = s.reopen(cmap::recovery_mode::absolute_consistency);
    expect_recovered(*r, acked, failed);
    EXPECT_FALSE(r->contains(failed));
  }
}

TEST(log_fault, a_short_write_is_taken_back_out_of_the_log) {
  store s;
  s.fs->no_space_after(1000, /*short_write=*/true, "wal-");
  std::uint64_t failed = 0;
  int error = 0;
  const auto acked = write_until_failure(*s.m, 0, failed, error);
  EXPECT_EQ(error, ENOSPC);
  expect_failed_store(*s.m, acked, failed);
  // The store truncated the part of the record that was written: the log is clean.
  auto r = s.reopen(cmap::recovery_mode::absolute_consistency);
  EXPECT_EQ(r->recovery().torn_bytes_dropped, 0u);
  expect_recovered(*r, acked, failed);
  EXPECT_FALSE(r->contains(failed));
}

TEST(log_fault, a_short_write_that_cannot_be_taken_back_is_a_torn_tail) {
  store s;
  s.fs->no_space_after(1000, /*short_write=*/true, "wal-");
  s.fs->fail_truncates();
  std::uint64_t failed = 0;
  int error = 0;
  const auto acked = write_until_failure(*s.m, 0, failed, error);
  EXPECT_EQ(error, ENOSPC);
  expect_failed_store(*s.m, acked, failed);
  // Part of a record is left at the end of the log: corruption to a strict recovery (which
  // changes nothing), a torn tail to the default one.
  EXPECT_THROW((void)s.reopen(cmap::recovery_mode::absolute_consistency),
               cmap::corruption_error);
  auto r = s.reopen();
  EXPECT_GT(r->recovery().torn_bytes_dropped, 0u);
  expect_recovered(*r, acked, failed);
  EXPECT_FALSE(r->contains(failed));
}

TEST(log_fault, a_segment_that_cannot_be_created_at_rotation_fails_the_store) {
  for (const int error_in : {EIO, ENOSPC}) {
    store s(cmap::sync::group, 512);
    s.fs->fail_create_after(2, "wal-", error_in);  // the second rotation
    std::uint64_t failed = 0;
    int error = 0;
    const auto acked = write_until_failure(*s.m, 0, failed, error);
    EXPECT_EQ(error, error_in);
    EXPECT_GT(acked.size(), 10u);
    expect_failed_store(*s.m, acked, failed);
    auto r = s.reopen(cmap::recovery_mode::absolute_consistency);
    EXPECT_EQ(r->recovery().segments_replayed, 2u);
    // The failed write's record was synced in the closed segment before the rotation: it is
    // found, though the call threw.
    expect_recovered(*r, acked, failed);
  }
}

TEST(log_fault, a_failed_directory_sync_at_rotation_fails_the_store) {
  store s(cmap::sync::group, 512);
  s.fs->fail_directory_sync_after(1);
  std::uint64_t failed = 0;
  int error = 0;
  const auto acked = write_until_failure(*s.m, 0, failed, error);
  EXPECT_EQ(error, EIO);
  expect_failed_store(*s.m, acked, failed);
  auto r = s.reopen();
  expect_recovered(*r, acked, failed);
}

TEST(log_fault, the_power_goes_out_after_a_fault) {
  // The fault's aftermath must not make the store lose acknowledged writes on a power cut.
  store s(cmap::sync::group, 512);
  s.fs->fail_sync_after(30, "wal-");
  std::uint64_t failed = 0;
  int error = 0;
  const auto acked = write_until_failure(*s.m, 0, failed, error);
  expect_failed_store(*s.m, acked, failed);
  s.fs->power_loss();
  auto r = s.reopen();
  expect_recovered(*r, acked, failed);
}

TEST(log_fault, concurrent_writers_that_meet_a_failed_sync_leave_nothing_in_memory) {
  store s(cmap::sync::group, 4096);
  constexpr int threads = 4;
  std::vector<std::vector<std::uint64_t>> acked(threads);
  std::vector<std::optional<std::uint64_t>> failed(threads);
  std::vector<int> errors(threads, 0);
  s.fs->fail_sync_after(40, "wal-");
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < 100000; ++i) {
        const std::uint64_t k = std::uint64_t(t) << 32 | i;
        try {
          if (i % 5 == 4) {
            // A batch: this key and one beyond the thread's sequence.
            map_type::batch b;
            b.insert_or_assign(k, value_of(k));
            b.insert_or_assign(k | std::uint64_t{1} << 31, value_of(k | std::uint64_t{1} << 31));
            s.m->write(b);
            acked[t].push_back(k | std::uint64_t{1} << 31);
          } else {
            s.m->insert_or_assign(k, value_of(k));
          }
        } catch (const cmap::durable_error& e) {
          failed[t] = k;
          errors[t] = e.code().value();
          return;
        }
        acked[t].push_back(k);
      }
    });
  }
  for (auto& w : workers) w.join();
  std::vector<std::uint64_t> all;
  for (int t = 0; t < threads; ++t) {
    ASSERT_TRUE(failed[t].has_value()) << t;
    EXPECT_EQ(errors[t], EIO) << t;
    EXPECT_FALSE(s.m->contains(*failed[t])) << "thread " << t << "'s failed write is visible";
    EXPECT_FALSE(s.m->contains(*failed[t] | std::uint64_t{1} << 31));
    all.insert(all.end(), acked[t].begin(), acked[t].end());
  }
  EXPECT_TRUE(s.m->failed());
  EXPECT_EQ(s.m->size(), all.size());
  for (const std::uint64_t k : all) EXPECT_EQ(s.m->find(k), value_of(k)) << k;
  auto r = s.reopen();
  for (const std::uint64_t k : all) EXPECT_EQ(r->find(k), value_of(k)) << k;
  // Beyond the acknowledged writes, only the failed ones (whole batches) may be found.
  std::size_t extra = 0;
  for (int t = 0; t < threads; ++t) {
    const std::uint64_t k = *failed[t];
    const bool batch = (k & 0xffffffffu) % 5 == 4;
    const bool found = r->contains(k);
    if (batch) {
      EXPECT_EQ(r->contains(k | std::uint64_t{1} << 31), found) << "a batch split";
    }
    extra += found ? (batch ? 2 : 1) : 0;
  }
  EXPECT_EQ(r->size(), all.size() + extra);
}

// ---- checkpoints --------------------------------------------------------------------------

// A checkpoint fault: the checkpoint throws with `error`, the store goes on, nothing is lost
// across a power loss right after, and a later checkpoint succeeds.
template <class Inject, class Lift>
void expect_checkpoint_fault_harmless(Inject inject, Lift lift, int error) {
  store s(cmap::sync::group, 2048);
  write_keys(*s.m, 0, 300);
  (void)s.m->checkpoint();  // an earlier checkpoint, which the failed one would replace
  write_keys(*s.m, 300, 300);
  inject(*s.fs);
  try {
    (void)s.m->checkpoint();
    ADD_FAILURE() << "the checkpoint did not fail";
  } catch (const cmap::durable_error& e) {
    EXPECT_EQ(e.code().value(), error) << e.what();
  }
  // The checkpoint's files are not the log: writes go on.
  EXPECT_FALSE(s.m->failed());
  write_keys(*s.m, 600, 100);
  std::vector<std::uint64_t> acked;
  for (std::uint64_t k = 0; k < 700; ++k) acked.push_back(k);
  for (const std::uint64_t k : acked) ASSERT_EQ(s.m->find(k), value_of(k)) << k;

  // The power goes out with the failed checkpoint's leftovers on the disk.
  s.fs->power_loss();
  {
    auto r = s.reopen(cmap::recovery_mode::absolute_consistency);
    expect_recovered(*r, acked, std::nullopt);
    // No leftover of the failed checkpoint survives the open.
    for (const auto& e : std::filesystem::directory_iterator(s.dir.path())) {
      EXPECT_NE(e.path().extension(), ".tmp") << "left behind: " << e.path();
    }
  }

  // The same fault again, then the fault lifted: the next checkpoint succeeds and replaces
  // the log before it.
  auto fs = std::make_shared<fault_file_system>();
  cmap::durable_options o;
  o.fs = fs;
  o.segment_bytes = 2048;
  o.checkpoint_log_bytes = 0;
  auto m = std::make_unique<map_type>(s.dir.path(), o);
  write_keys(*m, 700, 100);
  inject(*fs);
  EXPECT_THROW((void)m->checkpoint(), cmap::durable_error);
  lift(*fs);
  const cmap::checkpoint_info info = m->checkpoint();
  EXPECT_EQ(info.entries, 801u);  // 0..799 and the key expect_recovered wrote
  EXPECT_GT(info.segments_deleted, 0u);
  m.reset();
  cmap::durable_options plain;
  plain.checkpoint_log_bytes = 0;
  map_type r(s.dir.path(), plain);
  EXPECT_EQ(r.recovery().checkpoint_number, info.number);
  EXPECT_EQ(r.size(), 801u);
  for (std::uint64_t k = 0; k < 800; ++k) ASSERT_EQ(r.find(k), value_of(k)) << k;
}

TEST(checkpoint_fault, no_space_for_the_checkpoint_file) {
  expect_checkpoint_fault_harmless(
      [](fault_file_system& fs) { fs.no_space_after(3000, false, "checkpoint"); },
      [](fault_file_system& fs) { fs.no_space_after(std::numeric_limits<std::uint64_t>::max()); },
      ENOSPC);
}

TEST(checkpoint_fault, a_short_write_of_the_checkpoint_file) {
  expect_checkpoint_fault_harmless(
      [](fault_file_system& fs) { fs.no_space_after(3000, true, "checkpoint"); },
      [](fault_file_system& fs) { fs.no_space_after(std::numeric_limits<std::uint64_t>::max()); },
      ENOSPC);
}

TEST(checkpoint_fault, the_checkpoint_file_cannot_be_created) {
  expect_checkpoint_fault_harmless(
      [](fault_file_system& fs) { fs.fail_create_after(1, "checkpoint"); },
      [](fault_file_system&) {}, EIO);
}

TEST(checkpoint_fault, the_checkpoint_file_cannot_be_synced) {
  expect_checkpoint_fault_harmless(
      [](fault_file_system& fs) { fs.fail_sync_after(1, "checkpoint"); },
      [](fault_file_system&) {}, EIO);
}

TEST(checkpoint_fault, the_checkpoint_file_cannot_be_renamed) {
  expect_checkpoint_fault_harmless(
      [](fault_file_system& fs) { fs.fail_rename_after(1, "checkpoint"); },
      [](fault_file_system&) {}, EIO);
}

TEST(checkpoint_fault, the_directory_cannot_be_synced_after_the_rename) {
  // The checkpoint's rotation syncs the directory first (the new segment); the second sync
  // is the one that would make the renamed checkpoint durable.
  expect_checkpoint_fault_harmless(
      [](fault_file_system& fs) { fs.fail_directory_sync_after(2); },
      [](fault_file_system&) {}, EIO);
}

TEST(checkpoint_fault, a_failed_rotation_fails_the_store) {
  // The checkpoint's first step moves the log to a new segment: a fault there is a fault of
  // the log, and final.
  store s(cmap::sync::group, 1 << 20);
  write_keys(*s.m, 0, 200);
  s.fs->fail_create_after(1, "wal-");
  try {
    (void)s.m->checkpoint();
    ADD_FAILURE() << "the checkpoint did not fail";
  } catch (const cmap::durable_error& e) {
    EXPECT_EQ(e.code().value(), EIO);
  }
  std::vector<std::uint64_t> acked;
  for (std::uint64_t k = 0; k < 200; ++k) acked.push_back(k);
  expect_failed_store(*s.m, acked, 1u << 29);
  s.fs->power_loss();
  auto r = s.reopen(cmap::recovery_mode::absolute_consistency);
  EXPECT_EQ(r->recovery().checkpoint_number, 0u);
  expect_recovered(*r, acked, std::nullopt);
}

TEST(checkpoint_fault, a_failed_background_checkpoint_is_reported_and_the_store_goes_on) {
  temp_directory dir("fault");
  auto fs = std::make_shared<fault_file_system>();
  cmap::durable_options o;
  o.fs = fs;
  o.segment_bytes = 2048;
  o.checkpoint_log_bytes = 4096;
  fs->no_space_after(0, false, "checkpoint");
  auto m = std::make_unique<map_type>(dir.path(), o);
  std::uint64_t k = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (m->background_error().empty() && std::chrono::steady_clock::now() < deadline) {
    write_keys(*m, k, 50);
    k += 50;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_NE(m->background_error().find("No space"), std::string::npos) << m->background_error();
  EXPECT_EQ(m->stats().checkpoints, 0u);
  EXPECT_FALSE(m->failed());
  write_keys(*m, k, 50);
  k += 50;
  fs->power_loss();
  m.reset();
  cmap::durable_options plain;
  plain.checkpoint_log_bytes = 0;
  map_type r(dir.path(), plain);
  EXPECT_EQ(r.size(), k);
  for (std::uint64_t i = 0; i < k; ++i) ASSERT_EQ(r.find(i), value_of(i)) << i;
}

}  // namespace
