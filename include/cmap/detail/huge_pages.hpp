#pragma once
// advise_huge_pages: asks the OS to back a large, not yet touched allocation with huge pages.
//
// Why: a lookup in a large table lands on a random page. With 4 KiB pages a table of tens of
// MiB spans more pages than the TLB holds, so nearly every lookup also pays a page walk, and
// filling a fresh table (growth) takes one page fault per 4 KiB. Linux's transparent huge
// pages (2 MiB) remove most of both, but Debian's default mode ("madvise") gives them only to
// ranges marked with madvise(MADV_HUGEPAGE).
//
// A hint only: nothing changes in what the memory holds, and failure (another OS, THP off,
// no huge page free) leaves 4 KiB pages. Only whole aligned 2 MiB blocks inside the range can
// become huge pages, so small ranges are left alone. Call it before the first write to the
// range: pages already faulted in stay small until the kernel's background collapse.

#include <cstddef>
#include <cstdint>

#if defined(__linux__) && __has_include(<sys/mman.h>)
#include <sys/mman.h>
#define CMAP_DETAIL_HUGE_PAGES 1
#endif

namespace cmap::detail {

inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;

inline void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#if defined(CMAP_DETAIL_HUGE_PAGES) && defined(MADV_HUGEPAGE)
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (begin + huge_page_size - 1) & ~(huge_page_size - 1);
  const std::uintptr_t last = (begin + bytes) & ~(huge_page_size - 1);
  if (last <= first) return;  // no whole huge page inside
  (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace cmap::detail
