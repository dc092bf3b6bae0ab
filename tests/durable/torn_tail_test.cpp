// A power loss can leave the end of the last log segment as zeros from anywhere inside its
// last record on: the file's new size reached the disk, and the page holding the record's end
// did not (or reached it only in part). The record was never acknowledged under any sync
// mode (its sync had not returned), so recovery in tolerate_torn_tail mode must drop it and
// open, not refuse the store as corrupt. Damage that is followed by data stays corruption.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <cmap/durable_map.hpp>

#include "durable/temp_directory.hpp"

namespace {

using map_type = cmap::durable_map<std::uint64_t, std::uint64_t>;
using cmap_test::temp_directory;

// A u64 -> u64 write: an 11-byte header, then count, kind, key length, 8 key bytes, value
// length, 8 value bytes.
constexpr std::uint64_t record_bytes = 31;

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_all(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// A store whose only segment holds keys 1..5 (key k -> 10 k), closed cleanly; returns the
// segment's path.
std::filesystem::path five_writes(const std::filesystem::path& dir) {
  cmap::durable_options o;
  o.checkpoint_log_bytes = 0;
  {
    map_type m(dir, o);
    for (std::uint64_t k = 1; k <= 5; ++k) m.insert_or_assign(k, 10 * k);
  }
  const auto p = dir / "wal-0000000000000001.log";
  EXPECT_EQ(std::filesystem::file_size(p), 32 + 5 * record_bytes);
  return p;
}

// Keeps `keep` bytes of the last record and makes the rest of it, and `extra` bytes after
// it, zeros.
// (The last record is key 5 -> 50: its bytes from offset 29 on are zeros already.)
void zero_last_record_from(const std::filesystem::path& p, std::uint64_t keep,
                           std::uint64_t extra) {
  std::string bytes = read_all(p);
  const std::size_t start = bytes.size() - record_bytes;
  bytes.resize(start + keep);
  bytes.append(record_bytes - keep + extra, '\0');
  write_all(p, bytes);
}

void expect_first_four(const std::filesystem::path& dir) {
  map_type m(dir);
  EXPECT_EQ(m.size(), 4u);
  for (std::uint64_t k = 1; k <= 4; ++k) EXPECT_EQ(m.find(k), 10 * k);
  EXPECT_FALSE(m.contains(5));
  EXPECT_GT(m.recovery().torn_bytes_dropped, 0u);
  m.insert_or_assign(6, 60);  // and the store goes on
}

TEST(torn_tail, zeros_from_inside_the_last_payload_to_the_end_are_a_torn_tail) {
  for (const std::uint64_t extra : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{500}}) {
    // Each cut zeroes a non-zero byte: the key 5 ends at byte 21, the value 50 starts at 23.
    for (const std::uint64_t keep : {std::uint64_t{12}, std::uint64_t{16}, std::uint64_t{21},
                                     std::uint64_t{23}}) {
      temp_directory dir("torn");
      const auto p = five_writes(dir.path());
      zero_last_record_from(p, keep, extra);
      SCOPED_TRACE("kept " + std::to_string(keep) + " bytes, then zeros " +
                   std::to_string(extra) + " bytes past the record");
      expect_first_four(dir.path());
      map_type again(dir.path());
      EXPECT_EQ(again.find(6), 60u);
    }
  }
}

TEST(torn_tail, zeros_from_inside_the_last_header_to_the_end_are_a_torn_tail) {
  for (const std::uint64_t keep : {std::uint64_t{1}, std::uint64_t{8}, std::uint64_t{10}}) {
    temp_directory dir("torn");
    const auto p = five_writes(dir.path());
    zero_last_record_from(p, keep, 100);
    SCOPED_TRACE("kept " + std::to_string(keep) + " bytes of the header");
    expect_first_four(dir.path());
  }
}

TEST(torn_tail, a_new_segment_whose_header_is_partly_zeros_holds_nothing) {
  for (const std::uint64_t keep : {std::uint64_t{0}, std::uint64_t{5}, std::uint64_t{31}}) {
    temp_directory dir("torn");
    five_writes(dir.path());
    // The next segment's entry reached the directory, its header only in part.
    std::string header = read_all(dir.path() / "wal-0000000000000001.log").substr(0, 32);
    header[16] = 2;  // its number
    header.resize(keep);
    header.append(32 - keep, '\0');
    write_all(dir.path() / "wal-0000000000000002.log", header);
    SCOPED_TRACE("kept " + std::to_string(keep) + " bytes of the header");
    map_type m(dir.path());
    EXPECT_EQ(m.size(), 5u);
    EXPECT_EQ(m.find(5), 50u);
    m.insert_or_assign(6, 60);
  }
}

TEST(torn_tail, damage_followed_by_data_is_still_corruption) {
  temp_directory dir("torn");
  const auto p = five_writes(dir.path());
  std::string bytes = read_all(p);
  // The fourth record's payload damaged, with the fifth record intact after it.
  bytes[bytes.size() - record_bytes - 5] ^= 0x40;
  write_all(p, bytes);
  EXPECT_THROW(map_type m(dir.path()), cmap::corruption_error);
  // And zeros after a damaged payload are corruption when no torn tail is tolerated.
  temp_directory strict("torn");
  const auto q = five_writes(strict.path());
  zero_last_record_from(q, 20, 100);
  cmap::durable_options o;
  o.recovery = cmap::recovery_mode::absolute_consistency;
  EXPECT_THROW(map_type m(strict.path(), o), cmap::corruption_error);
}

}  // namespace
