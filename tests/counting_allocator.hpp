#pragma once
// A stateless allocator that counts what it hands out (bytes, allocations, blocks still live),
// for tests that check where a map's memory goes and that all of it comes back.

#include <cstddef>
#include <memory>

namespace cmap_test {

struct alloc_stats {
  static inline long live_bytes = 0;
  static inline long allocations = 0;
  static inline long live_blocks = 0;
};

template <class T>
struct counting_allocator {
  using value_type = T;
  counting_allocator() = default;
  template <class U>
  counting_allocator(const counting_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    alloc_stats::live_bytes += static_cast<long>(n * sizeof(T));
    ++alloc_stats::allocations;
    ++alloc_stats::live_blocks;
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    alloc_stats::live_bytes -= static_cast<long>(n * sizeof(T));
    --alloc_stats::live_blocks;
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const counting_allocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace cmap_test
