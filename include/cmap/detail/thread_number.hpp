#pragma once
// thread_number(): a small number naming the calling thread, 1, 2, 3, ... in the order threads
// first ask; 0 is never handed out, so it can mean "no thread". The numbers checked_map's
// reports use (cmap::this_thread_number() in <cmap/access_violation.hpp> is this function).

#include <atomic>
#include <cstdint>

namespace cmap::detail {

// Thread numbers are handed out from here in order of first use.
inline std::atomic<std::uint32_t> next_thread_number{1};

inline std::uint32_t thread_number() noexcept {
  // Constant-initialised, so access is one TLS load with no guard or wrapper call.
  thread_local std::uint32_t number = 0;
  if (number == 0) [[unlikely]] {
    // relaxed: the RMW alone makes the numbers unique; nothing else is published with them.
    number = next_thread_number.fetch_add(1, std::memory_order_relaxed);
  }
  return number;
}

}  // namespace cmap::detail
