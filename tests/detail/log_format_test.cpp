// log_format: the record framing, varints and the payload of writes round-trip; the reader
// finds every kind of damage, reports a torn tail only where the format allows one, and names
// the byte offset of what it rejects.
#include <cmap/detail/durable_files.hpp>
#include <cmap/detail/log_format.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "durable/memory_file.hpp"

namespace {

namespace lf = cmap::detail::log_format;
using cmap::testing::memory_file;

std::string record(lf::record_type type, std::string_view payload) {
  std::string out;
  const std::size_t at = lf::begin_record(out);
  out.append(payload);
  lf::finish_record(out, at, type);
  return out;
}

std::string batch_payload(const std::vector<std::pair<std::string, std::string>>& puts) {
  std::string p;
  lf::put_varint(p, puts.size());
  for (const auto& [k, v] : puts) lf::put_write(p, lf::write_kind::put, k, v);
  return p;
}

// A segment numbered n holding one batch record per element.
std::string segment(std::uint64_t n, const std::vector<std::string>& payloads) {
  std::string s = lf::file_header(lf::log_magic, n);
  for (const auto& p : payloads) s += record(lf::record_type::batch, p);
  return s;
}

struct collect final : cmap::detail::replay_sink {
  std::vector<std::string> seen;
  void put(std::string_view k, std::string_view v) override {
    seen.push_back("put " + std::string(k) + "=" + std::string(v));
  }
  void erase(std::string_view k) override { seen.push_back("erase " + std::string(k)); }
  void clear() override { seen.push_back("clear"); }
};

cmap::detail::segment_replay replay(const std::string& bytes, bool torn_ok, collect& c,
                                    std::uint64_t number = 1) {
  memory_file f(bytes);
  return cmap::detail::replay_segment(f, "wal-test.log", number, torn_ok, c);
}

TEST(LogFormat, VarintsRoundTripAndRejectOverlong) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 35, ~0ull}) {
    std::string s;
    lf::put_varint(s, v);
    std::string_view in = s;
    std::uint64_t got = 0;
    ASSERT_TRUE(lf::get_varint(in, got));
    EXPECT_EQ(got, v);
    EXPECT_TRUE(in.empty());
  }
  std::string eleven(11, '\x80');
  std::string_view in = eleven;
  std::uint64_t v;
  EXPECT_FALSE(lf::get_varint(in, v));
  std::string cut = "\x80\x80";
  in = cut;
  EXPECT_FALSE(lf::get_varint(in, v));
}

TEST(LogFormat, FileHeaderIsAsDocumented) {
  const std::string h = lf::file_header(lf::log_magic, 0x0102030405060708ull);
  ASSERT_EQ(h.size(), 32u);
  EXPECT_EQ(h.substr(0, 8), "cmap-log");
  EXPECT_EQ(lf::get_u32(h.data() + 8), 1u);
  EXPECT_EQ(lf::get_u32(h.data() + 12), 32u);
  EXPECT_EQ(lf::get_u64(h.data() + 16), 0x0102030405060708ull);
  EXPECT_EQ(lf::get_u32(h.data() + 28), cmap::detail::crc32c(h.data(), 28));
}

TEST(LogFormat, RecordsRoundTripInOrder) {
  std::string erase_payload;
  lf::put_varint(erase_payload, 2);
  lf::put_write(erase_payload, lf::write_kind::erase, "k1", {});
  lf::put_write(erase_payload, lf::write_kind::put, "k2", std::string("\0v", 2));
  std::string bytes = segment(7, {batch_payload({{"a", "1"}, {"b", "22"}}), erase_payload});
  bytes += record(lf::record_type::clear, {});
  collect c;
  const auto r = replay(bytes, false, c, 7);
  EXPECT_EQ(r.records, 3u);
  EXPECT_EQ(r.writes, 4u);
  EXPECT_FALSE(r.torn);
  const std::vector<std::string> want = {"put a=1", "put b=22", "erase k1",
                                         "put k2=" + std::string("\0v", 2), "clear"};
  EXPECT_EQ(c.seen, want);
}

TEST(LogFormat, EveryCutOfTheLastRecordIsATornTailOrCorruption) {
  const std::string first = segment(1, {batch_payload({{"a", "1"}})});
  const std::string last = record(lf::record_type::batch, batch_payload({{"key", "value"}}));
  for (std::size_t keep = 1; keep < last.size(); ++keep) {
    const std::string bytes = first + last.substr(0, keep);
    collect c;
    const auto r = replay(bytes, true, c);
    EXPECT_TRUE(r.torn) << keep;
    EXPECT_EQ(r.torn_at, first.size()) << keep;
    EXPECT_EQ(r.records, 1u);
    collect strict;
    try {
      replay(bytes, false, strict);
      ADD_FAILURE() << "absolute consistency accepted a cut record, keep " << keep;
    } catch (const cmap::corruption_error& e) {
      EXPECT_EQ(e.offset(), first.size()) << keep;
    }
  }
}

TEST(LogFormat, ZeroFilledTailIsTorn) {
  const std::string first = segment(1, {batch_payload({{"a", "1"}})});
  collect c;
  const auto r = replay(first + std::string(4096, '\0'), true, c);
  EXPECT_TRUE(r.torn);
  EXPECT_EQ(r.torn_at, first.size());
}

TEST(LogFormat, DamageBeforeTheEndIsCorruptionAtItsOffset) {
  const std::string good = segment(1, {batch_payload({{"a", "1"}}), batch_payload({{"b", "2"}}),
                                       batch_payload({{"c", "3"}})});
  const std::size_t second = 32 + 11 + batch_payload({{"a", "1"}}).size();
  // Every single-bit flip in the first two records is caught: never silently accepted, never
  // taken for a torn tail.
  for (std::size_t byte = 32; byte < second + 11 + 5; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      collect c;
      try {
        const auto r = replay(bad, true, c);
        ADD_FAILURE() << "a flip at byte " << byte << " bit " << bit << " was accepted"
                      << (r.torn ? " as a torn tail" : "");
      } catch (const cmap::corruption_error& e) {
        EXPECT_TRUE(e.offset() == 32 || e.offset() == second || e.offset() == 32 + 4 ||
                    e.offset() == second + 4 || e.offset() == 32 + 8 || e.offset() == second + 8)
            << "byte " << byte << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("wal-test.log"), std::string::npos);
      }
    }
  }
}

TEST(LogFormat, HeaderDamageIsNamed) {
  const std::string good = segment(1, {});
  auto expect_error = [&](std::string bytes, std::uint64_t offset, const char* words) {
    collect c;
    try {
      replay(bytes, true, c);
      ADD_FAILURE() << words;
    } catch (const cmap::corruption_error& e) {
      EXPECT_EQ(e.offset(), offset) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  std::string foreign = good;
  foreign.replace(0, 8, "SQLite f");
  expect_error(foreign, 0, "does not start with");
  std::string flipped = good;
  flipped[20] ^= 1;
  expect_error(flipped, 28, "checksum");
  std::string v2 = lf::file_header(lf::log_magic, 1);
  v2[8] = 2;
  lf::store_u32(v2.data() + 28, cmap::detail::crc32c(v2.data(), 28));
  expect_error(v2, 8, "format version 2");
  expect_error(segment(9, {}), 16, "names segment 9");
  // A file shorter than its header: torn where allowed, corruption otherwise.
  collect c;
  EXPECT_TRUE(replay(good.substr(0, 20), true, c).torn);
  EXPECT_THROW(replay(good.substr(0, 20), false, c), cmap::corruption_error);
  EXPECT_TRUE(replay(std::string(), false, c).torn);  // created, never written
}

TEST(LogFormat, HugeLengthsAreRejectedWithoutAllocating) {
  std::string bytes = segment(1, {});
  std::string h(11, '\0');
  lf::store_u32(h.data() + 4, 0xFFFFFFF0u);
  h[8] = 1;
  const std::uint32_t check = lf::header_check(h.data());
  h[9] = static_cast<char>(check & 0xFF);
  h[10] = static_cast<char>(check >> 8);
  collect c;
  try {
    replay(bytes + h + "xx", true, c);
    ADD_FAILURE();
  } catch (const cmap::corruption_error& e) {
    EXPECT_NE(std::string(e.what()).find("above the limit"), std::string::npos);
  }
}

TEST(LogFormat, MalformedPayloadsAreCorruption) {
  for (const std::string& p : {std::string("\x05"), std::string("\x01\x07\x01k"),
                               std::string("\x01\x01\x05k"), std::string("\x01\x02\x01kextra"),
                               std::string("\xFF\xFF\xFF\xFF\x0F")}) {
    collect c;
    EXPECT_THROW(replay(segment(1, {p}), false, c), cmap::corruption_error) << p.size();
  }
  collect c;
  const std::string bad_type = lf::file_header(lf::log_magic, 1) + record(lf::record_type::end, "");
  EXPECT_THROW(replay(bad_type, true, c), cmap::corruption_error);
}

TEST(LogFormat, NumberedNames) {
  EXPECT_EQ(cmap::detail::numbered_name("wal-00000000000000ff.log", "wal-", ".log"), 255u);
  EXPECT_FALSE(cmap::detail::numbered_name("wal-00000000000000FF.log", "wal-", ".log"));
  EXPECT_FALSE(cmap::detail::numbered_name("wal-0ff.log", "wal-", ".log"));
  EXPECT_FALSE(cmap::detail::numbered_name("wal-00000000000000ff.log.bak", "wal-", ".log"));
  EXPECT_EQ(cmap::detail::segment_name(255), "wal-00000000000000ff.log");
  EXPECT_EQ(cmap::detail::checkpoint_name(2), "checkpoint-0000000000000002.ckpt");
}

}  // namespace
