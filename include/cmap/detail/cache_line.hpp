#pragma once
// Cache-line size and padding, so that data written by different threads never shares a
// line (false sharing turns independent writes into a line ping-pong between cores); and
// prefetch hints.

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace cmap::detail {

// std::hardware_destructive_interference_size where the standard library provides it;
// clang 14 with libstdc++ does not, so fall back to 64 bytes, the line size of every current
// x86-64 and most ARM64 cores. GCC warns that the standard value follows -mtune and so can
// differ between translation units: every part of a program must then be compiled with the
// same tuning, or define CMAP_CACHE_LINE_SIZE to pin the value (it shapes class layouts).
#if defined(CMAP_CACHE_LINE_SIZE)
inline constexpr std::size_t cache_line_size = CMAP_CACHE_LINE_SIZE;
#elif defined(__cpp_lib_hardware_interference_size)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winterference-size"
#endif
inline constexpr std::size_t cache_line_size = std::hardware_destructive_interference_size;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
inline constexpr std::size_t cache_line_size = 64;
#endif

// A T alone on its own cache line(s): aligned to the line and padded to a whole number of
// lines, so neither its neighbour before nor after can share a line with it.
template <class T>
struct alignas(cache_line_size) cache_padded {
  T value;

  template <class... Args>
  explicit cache_padded(Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args...>)
      : value(std::forward<Args>(args)...) {}

  T& operator*() noexcept { return value; }
  const T& operator*() const noexcept { return value; }
  T* operator->() noexcept { return &value; }
  const T* operator->() const noexcept { return &value; }
};

// Hints that the line holding p will soon be read (prefetch) or written (prefetch_for_write),
// so that its miss overlaps other work. A hint only: p need not be dereferenceable.
inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__GNUC__)
  __builtin_prefetch(p, 1);
#else
  (void)p;
#endif
}

}  // namespace cmap::detail
