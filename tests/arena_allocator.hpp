#pragma once
// A stateful allocator for tests: every copy (and rebind) draws from one arena, which counts
// what is live and can be told to fail: the Nth allocation from now throws std::bad_alloc
// (and, if asked, every one after it), or every Mth allocation of at least some size does
// (so that a test running many threads can make a map's table allocations fail now and then
// while its small ones succeed). Thread-safe, since maps free retired memory on whichever
// thread collects it. Two allocators are equal when they share an arena.

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>

namespace cmap_test {

struct arena {
  explicit arena(int id_) : id(id_) {}
  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;

  const int id;
  std::atomic<long> live_bytes{0};
  std::atomic<long> live_blocks{0};
  std::atomic<long> allocations{0};  // successful ones
  std::atomic<long> failures{0};     // thrown bad_allocs
  // Allocations still to succeed before one throws; negative: none throws.
  std::atomic<long> countdown{-1};
  // Whether every allocation after the first failure throws too (else only that one).
  std::atomic<bool> stay_failed{false};
  std::atomic<bool> failed_once{false};
  // fail_every: every period-th allocation of at least period_min_bytes throws; 0: none.
  std::atomic<long> period{0};
  std::atomic<std::size_t> period_min_bytes{0};
  std::atomic<long> period_count{0};  // allocations of that size since fail_every

  // The n-th allocation from now (0: the next one) throws.
  void fail_after(long n, bool and_after = false) {
    failed_once.store(false);
    stay_failed.store(and_after);
    countdown.store(n);
  }
  // Every m-th allocation of at least min_bytes from now throws (the others succeed), until
  // never_fail(). Independent of fail_after.
  void fail_every(long m, std::size_t min_bytes = 0) {
    period.store(0);
    period_count.store(0);
    period_min_bytes.store(min_bytes);
    period.store(m);
  }
  void never_fail() {
    countdown.store(-1);
    stay_failed.store(false);
    failed_once.store(false);
    period.store(0);
  }

  void take(std::size_t bytes) {
    if (stay_failed.load() && failed_once.load()) throw_now();
    if (const long m = period.load(); m > 0 && bytes >= period_min_bytes.load()) {
      if ((period_count.fetch_add(1) + 1) % m == 0) throw_now();
    }
    long left = countdown.load();
    while (left >= 0) {
      if (countdown.compare_exchange_weak(left, left - 1)) {
        if (left == 0) throw_now();
        break;
      }
    }
    live_bytes += static_cast<long>(bytes);
    ++live_blocks;
    ++allocations;
  }
  void give(std::size_t bytes) noexcept {
    live_bytes -= static_cast<long>(bytes);
    --live_blocks;
  }

 private:
  [[noreturn]] void throw_now() {
    failed_once.store(true);
    ++failures;
    throw std::bad_alloc();
  }
};

template <class T>
struct arena_allocator {
  using value_type = T;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;

  explicit arena_allocator(arena& a) noexcept : source(&a) {}
  template <class U>
  arena_allocator(const arena_allocator<U>& o) noexcept : source(o.source) {}

  T* allocate(std::size_t n) {
    source->take(n * sizeof(T));
    try {
      return std::allocator<T>{}.allocate(n);
    } catch (...) {
      source->give(n * sizeof(T));
      throw;
    }
  }
  void deallocate(T* p, std::size_t n) noexcept {
    source->give(n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const arena_allocator<U>& o) const noexcept {
    return source == o.source;
  }

  arena* source;
};

}  // namespace cmap_test
