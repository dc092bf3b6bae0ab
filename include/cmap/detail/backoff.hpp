#pragma once
// Backoff for spin-waits: spin briefly (the holder is usually running on another core and
// about to finish), then yield the processor.
//
// Why yield at all: with more threads than cores (this project tests 8 threads on 2 cores on
// purpose), the thread holding a lock may have been preempted. A waiter that only spins
// burns its whole time slice while the holder cannot run; libcuckoo's never-yielding
// spinlocks lose two thirds of their throughput that way. After a short, exponentially
// growing spin the waiter calls std::this_thread::yield(), which lets the holder run.

#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

namespace cmap::detail {

// One "pause" hint: tells the core this is a spin-wait loop (saves power, and on x86 avoids
// the memory-order mis-speculation penalty when the awaited line finally changes).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  std::this_thread::yield();
#endif
}

class backoff {
 public:
  // Spin rounds double from 1 pause up to 2^spin_limit_log2 pauses (about 1-4 us in all on
  // current x86), then every further wait yields.
  static constexpr std::uint32_t spin_limit_log2 = 6;

  void wait() noexcept {
    if (step_ <= spin_limit_log2) {
      for (std::uint32_t i = 0, n = 1u << step_; i < n; ++i) cpu_relax();
      ++step_;
    } else {
      std::this_thread::yield();
    }
  }

  // True once the waiter has moved on to yielding.
  [[nodiscard]] bool is_yielding() const noexcept { return step_ > spin_limit_log2; }

  void reset() noexcept { step_ = 0; }

 private:
  std::uint32_t step_ = 0;
};

}  // namespace cmap::detail
