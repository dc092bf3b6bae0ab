// crc32c: the published check values, the hardware and table versions against each other,
// and extension equal to one pass.
#include <cmap/detail/crc32c.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace {

using cmap::detail::crc32c;
using cmap::detail::crc32c_extend;

TEST(Crc32c, CheckValues) {
  // The check value of the CRC catalogue (CRC-32/ISCSI), and RFC 3720's examples: 32 bytes
  // of zeros, of 0xFF, and ascending 0..31.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  std::string ones(32, '\xFF');
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending.data(), ascending.size()), 0x46DD794Eu);
}

TEST(Crc32c, PortableEqualsHardwareAtEveryLengthAndAlignment) {
  std::mt19937_64 rng(7);
  std::string data(300, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t n = 0; n + start <= data.size(); n += 7) {
      const auto* p = reinterpret_cast<const unsigned char*>(data.data() + start);
      const std::uint32_t portable = ~cmap::detail::crc32c_portable(~0u, p, n);
      EXPECT_EQ(crc32c(p, n), portable) << start << " " << n;
    }
  }
}

TEST(Crc32c, ExtendEqualsOnePass) {
  const std::string s = "the quick brown fox jumps over the lazy dog, twice over";
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(crc32c_extend(crc32c(s.data(), cut), s.data() + cut, s.size() - cut),
              crc32c(s.data(), s.size()));
  }
}

TEST(Crc32c, DetectsEverySingleBitFlip) {
  std::string s(64, 'a');
  const std::uint32_t good = crc32c(s.data(), s.size());
  for (std::size_t bit = 0; bit < s.size() * 8; ++bit) {
    s[bit / 8] = static_cast<char>(s[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(crc32c(s.data(), s.size()), good) << bit;
    s[bit / 8] = static_cast<char>(s[bit / 8] ^ (1 << (bit % 8)));
  }
}

}  // namespace
