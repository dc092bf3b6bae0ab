// detail::advise_huge_pages: on Linux, the whole 2 MiB blocks inside a large range are marked
// for transparent huge pages (the VMA's "hg" flag in /proc/self/smaps); small ranges and
// ranges holding no whole block are left alone.

#include <gtest/gtest.h>

#include <cmap/detail/huge_pages.hpp>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace {

#if defined(__linux__)

// The VmFlags line of the mapping that contains address a, or "" if none was found.
std::string vm_flags_of(const void* a) {
  std::ifstream smaps("/proc/self/smaps");
  const auto addr = reinterpret_cast<std::uintptr_t>(a);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= addr && addr < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line + " ";
  }
  return "";
}

// An anonymous mapping of `bytes`, never touched; unmapped at scope exit.
struct mapping {
  explicit mapping(std::size_t n) : bytes(n) {
    void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    base = p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
  }
  ~mapping() {
    if (base != nullptr) ::munmap(base, bytes);
  }
  mapping(const mapping&) = delete;
  mapping& operator=(const mapping&) = delete;
  std::size_t bytes;
  std::byte* base;
};

constexpr std::size_t huge = cmap::detail::huge_page_size;

TEST(HugePages, WholeBlocksOfALargeRangeAreMarked) {
  mapping m(8 * huge);
  ASSERT_NE(m.base, nullptr);
  // A range starting at an odd offset: the blocks fully inside it are marked.
  std::byte* const start = m.base + 4096;
  cmap::detail::advise_huge_pages(start, 6 * huge);
  const auto first_block = (reinterpret_cast<std::uintptr_t>(start) + huge - 1) & ~(huge - 1);
  const std::string flags = vm_flags_of(reinterpret_cast<const void*>(first_block + 4096));
  ASSERT_FALSE(flags.empty()) << "no mapping found in /proc/self/smaps";
  EXPECT_NE(flags.find(" hg "), std::string::npos) << flags;
  // The part before the first whole block was not marked.
  const std::string before = vm_flags_of(m.base);
  EXPECT_EQ(before.find(" hg "), std::string::npos) << before;
}

TEST(HugePages, ARangeWithNoWholeBlockIsLeftAlone) {
  mapping m(4 * huge);
  ASSERT_NE(m.base, nullptr);
  const auto aligned = (reinterpret_cast<std::uintptr_t>(m.base) + huge - 1) & ~(huge - 1);
  // Crosses a block boundary but holds no whole block.
  std::byte* const start = reinterpret_cast<std::byte*>(aligned) + huge / 2;
  cmap::detail::advise_huge_pages(start, huge);
  const std::string flags = vm_flags_of(start);
  ASSERT_FALSE(flags.empty());
  EXPECT_EQ(flags.find(" hg "), std::string::npos) << flags;
  cmap::detail::advise_huge_pages(nullptr, 0);  // nothing to do, no crash
}

#endif  // __linux__

}  // namespace
