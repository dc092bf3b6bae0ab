#pragma once
// counting_allocator: wraps a map's default allocator and, while counting is switched on,
// adds up the bytes it holds, so that a peer's bytes per entry are the heap bytes its
// containers asked for (malloc's own per-chunk overhead is not included). cmap maps report
// allocated_bytes() themselves and do not need it.
//
// Counting is switched on only for the single-threaded memory pass (the runner's
// measure_memory), never during timed phases, so the timed code pays one relaxed load.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace cmap_bench {

struct allocation_counter {
  static inline std::atomic<bool> enabled{false};
  static inline std::atomic<std::int64_t> bytes{0};
};

template <class T, template <class> class Base = std::allocator>
struct counting_allocator : Base<T> {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = counting_allocator<U, Base>;
  };
  counting_allocator() = default;
  template <class U>
  counting_allocator(const counting_allocator<U, Base>& /*other*/) noexcept {
  }  // NOLINT: converting

  T* allocate(std::size_t n) {
    T* p = Base<T>::allocate(n);
    if (allocation_counter::enabled.load(std::memory_order_relaxed))
      allocation_counter::bytes.fetch_add(static_cast<std::int64_t>(n * sizeof(T)),
                                          std::memory_order_relaxed);
    return p;
  }
  void deallocate(T* p, std::size_t n) {
    if (allocation_counter::enabled.load(std::memory_order_relaxed))
      allocation_counter::bytes.fetch_sub(static_cast<std::int64_t>(n * sizeof(T)),
                                          std::memory_order_relaxed);
    Base<T>::deallocate(p, n);
  }
  template <class U>
  friend bool operator==(const counting_allocator&, const counting_allocator<U, Base>&) noexcept {
    return true;
  }
};

}  // namespace cmap_bench
