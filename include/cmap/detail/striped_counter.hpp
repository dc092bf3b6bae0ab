#pragma once
// striped_counters<N>: N signed counters that many threads add to without sharing a cache
// line, summed on read. For counts that every write changes (a map's size, its allocated
// bytes) where one shared atomic would make every writer on every core bounce one line:
// each thread adds to the cell its thread number picks, and a read adds up the cells.
//
// A sum read while adds run is not a snapshot: it reads the cells one after another, so it
// may count an add made after an earlier one that it misses (an insert on one cell and the
// erase of the same key on another can show as -1 + 0). It is exact once the adds it should
// see happen before the read; the reader clamps what must not be negative.
//
// Memory orders: relaxed throughout. The counters publish nothing; a caller that needs the
// exact figure orders its adds before the read by other means (joining the writers).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cache_line.hpp"
#include "thread_number.hpp"

namespace cmap::detail {

template <std::size_t N>
class striped_counters {
 public:
  // Cells: enough that up to 16 threads rarely share one (thread numbers are handed out in
  // order, so the first 16 threads to use any cmap map get distinct cells).
  static constexpr std::size_t cells = 16;

  striped_counters() noexcept = default;
  striped_counters(const striped_counters&) = delete;
  striped_counters& operator=(const striped_counters&) = delete;

  void add(std::size_t counter, std::int64_t delta) noexcept {
    cell_[thread_number() % cells].value[counter].fetch_add(delta, std::memory_order_relaxed);
  }

  [[nodiscard]] std::int64_t sum(std::size_t counter) const noexcept {
    std::int64_t s = 0;
    for (const auto& c : cell_) s += c.value[counter].load(std::memory_order_relaxed);
    return s;
  }

  // Sets every cell of every counter to zero. Only while no thread adds.
  void reset() noexcept {
    for (auto& c : cell_) {
      for (auto& v : c.value) v.store(0, std::memory_order_relaxed);
    }
  }

 private:
  struct alignas(cache_line_size) cell {
    std::array<std::atomic<std::int64_t>, N> value{};
  };
  std::array<cell, cells> cell_{};
};

}  // namespace cmap::detail
