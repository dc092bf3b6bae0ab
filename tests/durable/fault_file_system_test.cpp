// The fault-injecting file system the durability tests rely on: what a power loss keeps and
// drops, and that each injected fault fires when, and only when, configured.
#include "durable/fault_file_system.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>

#include "durable/temp_directory.hpp"

namespace {

using cmap_test::fault_file_system;
using cmap_test::temp_directory;
using cmap_test::unsynced_bytes;

std::string contents(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

int error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cmap::durable_error& e) {
    return e.code().value();
  }
  return 0;
}

TEST(fault_file_system, power_loss_drops_unsynced_bytes_and_keeps_synced_ones) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  const auto p = dir.path() / "a";
  auto f = fs->create(p);
  f->append("synced-");
  f->sync();
  fs->sync_directory(dir.path());
  f->append("lost");
  EXPECT_EQ(contents(p), "synced-lost");  // readable at once, as the contract says
  fs->power_loss();
  EXPECT_EQ(contents(p), "synced-");
}

TEST(fault_file_system, truncate_counts_as_synced) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  const auto p = dir.path() / "a";
  auto f = fs->create(p);
  fs->sync_directory(dir.path());
  f->append("0123456789");
  fs->truncate(p, 4);
  fs->power_loss();
  EXPECT_EQ(contents(p), "0123");
}

TEST(fault_file_system, every_call_fails_after_power_loss) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  auto f = fs->create(dir.path() / "a");
  fs->sync_directory(dir.path());
  write_file(dir.path() / "b", "x");
  auto r = fs->open_read(dir.path() / "b");
  fs->power_loss();
  EXPECT_TRUE(fs->dead());
  EXPECT_EQ(error_of([&] { f->append("x"); }), EIO);
  EXPECT_EQ(error_of([&] { f->sync(); }), EIO);
  char c;
  EXPECT_EQ(error_of([&] { (void)r->read(&c, 1); }), EIO);
  EXPECT_EQ(error_of([&] { (void)fs->exists(dir.path()); }), EIO);
  EXPECT_EQ(error_of([&] { (void)fs->list(dir.path()); }), EIO);
  EXPECT_EQ(error_of([&] { (void)fs->create(dir.path() / "c"); }), EIO);
  EXPECT_EQ(error_of([&] { fs->rename(dir.path() / "b", dir.path() / "c"); }), EIO);
  EXPECT_EQ(error_of([&] { fs->remove(dir.path() / "b"); }), EIO);
  EXPECT_EQ(error_of([&] { fs->sync_directory(dir.path()); }), EIO);
  EXPECT_EQ(error_of([&] { fs->truncate(dir.path() / "b", 0); }), EIO);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "c"));
}

TEST(fault_file_system, an_unsynced_create_is_undone) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  auto kept = fs->create(dir.path() / "kept");
  kept->append("k");
  kept->sync();
  fs->sync_directory(dir.path());
  auto lost = fs->create(dir.path() / "lost");
  lost->append("synced data, but its name never reached the directory");
  lost->sync();
  fs->power_loss();
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "kept"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "lost"));
}

TEST(fault_file_system, an_unsynced_rename_is_undone_and_a_synced_one_kept) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  write_file(dir.path() / "a", "A");
  write_file(dir.path() / "b", "B");
  write_file(dir.path() / "target", "old");
  fs->rename(dir.path() / "a", dir.path() / "a2");
  fs->sync_directory(dir.path());
  fs->rename(dir.path() / "b", dir.path() / "target");  // replaces "old", unsynced
  EXPECT_EQ(contents(dir.path() / "target"), "B");
  fs->power_loss();
  EXPECT_EQ(contents(dir.path() / "a2"), "A");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "a"));
  EXPECT_EQ(contents(dir.path() / "b"), "B");
  EXPECT_EQ(contents(dir.path() / "target"), "old");
}

TEST(fault_file_system, an_unsynced_remove_is_undone_and_a_synced_one_kept) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  write_file(dir.path() / "gone", "G");
  write_file(dir.path() / "back", "B");
  fs->remove(dir.path() / "gone");
  fs->sync_directory(dir.path());
  fs->remove(dir.path() / "back");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "back"));
  EXPECT_EQ(fs->list(dir.path()).size(), 0u);
  fs->power_loss();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "gone"));
  EXPECT_EQ(contents(dir.path() / "back"), "B");
}

TEST(fault_file_system, a_synced_file_renamed_keeps_its_bytes_under_the_new_name) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  auto f = fs->create(dir.path() / "x.tmp");
  f->append("data");
  f->sync();
  f->append("more");  // never synced
  f.reset();
  fs->rename(dir.path() / "x.tmp", dir.path() / "x");
  fs->sync_directory(dir.path());
  fs->power_loss();
  EXPECT_EQ(contents(dir.path() / "x"), "data");
}

TEST(fault_file_system, partial_writeback_keeps_a_prefix_or_zeros_the_rest_of_the_page) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    for (const auto how : {unsynced_bytes::keep_prefix, unsynced_bytes::zero_tail}) {
      temp_directory dir("ffs");
      auto fs = std::make_shared<fault_file_system>(fault_file_system::options{how, seed});
      const auto p = dir.path() / "a";
      auto f = fs->create(p);
      fs->sync_directory(dir.path());
      const std::string synced(100, 's');
      std::string unsynced;
      for (int i = 0; i < 10000; ++i) unsynced.push_back(static_cast<char>('a' + i % 26));
      f->append(synced);
      f->sync();
      f->append(unsynced);
      fs->power_loss();
      const std::string got = contents(p);
      ASSERT_GE(got.size(), synced.size());
      ASSERT_LE(got.size(), synced.size() + unsynced.size());
      EXPECT_EQ(got.substr(0, synced.size()), synced);
      // What follows is a prefix of the unsynced bytes, then (zero_tail) zeros up to the end
      // of that page at most.
      std::size_t i = synced.size();
      while (i < got.size() && got[i] == unsynced[i - synced.size()]) ++i;
      if (how == unsynced_bytes::keep_prefix) {
        EXPECT_EQ(i, got.size()) << "seed " << seed;
      } else {
        for (std::size_t z = i; z < got.size(); ++z) ASSERT_EQ(got[z], '\0') << z;
        EXPECT_LE(got.size(), (i / 4096 + 1) * 4096);
      }
    }
  }
}

TEST(fault_file_system, a_sync_fails_on_the_nth_call_with_eio) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  auto other = fs->create(dir.path() / "other");
  auto f = fs->create(dir.path() / "wal-1");
  fs->fail_sync_after(2, "wal-");
  other->sync();  // not counted: the name does not match
  f->append("1");
  f->sync();
  f->append("2");
  EXPECT_EQ(error_of([&] { f->sync(); }), EIO);
  fs->sync_directory(dir.path());
  fs->power_loss();
  EXPECT_EQ(contents(dir.path() / "wal-1"), "1");  // the failed sync made nothing durable
}

TEST(fault_file_system, no_space_with_and_without_a_short_write) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  const auto p = dir.path() / "a";
  auto f = fs->create(p);
  fs->no_space_after(10);
  f->append("12345");
  EXPECT_EQ(error_of([&] { f->append("678901"); }), ENOSPC);
  EXPECT_EQ(contents(p), "12345");  // nothing of the refused append
  EXPECT_EQ(error_of([&] { f->append("6"); }), ENOSPC);  // the disk stays full
  EXPECT_EQ(f->size(), 5u);

  fs->no_space_after(3, /*short_write=*/true);
  EXPECT_EQ(error_of([&] { f->append("abcdef"); }), ENOSPC);
  EXPECT_EQ(contents(p), "12345abc");
  EXPECT_EQ(f->size(), 8u);
}

TEST(fault_file_system, create_rename_directory_sync_and_truncate_faults) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  fs->fail_create_after(2, "wal-", ENOSPC);
  (void)fs->create(dir.path() / "checkpoint");  // does not match
  (void)fs->create(dir.path() / "wal-1");
  EXPECT_EQ(error_of([&] { (void)fs->create(dir.path() / "wal-2"); }), ENOSPC);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "wal-2"));
  (void)fs->create(dir.path() / "wal-3");  // fired once only

  fs->fail_rename_after(1, "checkpoint");
  EXPECT_EQ(error_of([&] { fs->rename(dir.path() / "checkpoint", dir.path() / "c2"); }), EIO);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "checkpoint"));

  fs->fail_directory_sync_after(1);
  EXPECT_EQ(error_of([&] { fs->sync_directory(dir.path()); }), EIO);
  fs->sync_directory(dir.path());

  fs->fail_truncates();
  EXPECT_EQ(error_of([&] { fs->truncate(dir.path() / "wal-1", 0); }), EIO);
}

TEST(fault_file_system, a_failed_directory_sync_makes_nothing_durable) {
  temp_directory dir("ffs");
  auto fs = std::make_shared<fault_file_system>();
  auto f = fs->create(dir.path() / "a");
  fs->fail_directory_sync_after(1);
  EXPECT_EQ(error_of([&] { fs->sync_directory(dir.path()); }), EIO);
  fs->power_loss();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "a"));
}

}  // namespace
