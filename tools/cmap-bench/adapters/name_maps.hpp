#pragma once
// --name-maps: every cmap map a run builds is named for cmap::metrics (<cmap/metrics.hpp>), so
// that its operations are counted, to measure what counting costs against a run without it.

#include <atomic>
#include <cstdint>
#include <string>

namespace cmap_bench {

// Read through name_maps(). relaxed: set by the command line before it builds any map, on the
// thread that then starts the workers.
inline std::atomic<bool> name_maps_setting{false};

[[nodiscard]] inline bool name_maps() noexcept {
  return name_maps_setting.load(std::memory_order_relaxed);
}
inline void set_name_maps(bool on) noexcept { name_maps_setting.store(on, std::memory_order_relaxed); }

// A distinct name per map built (two maps alive at once must not share their series).
[[nodiscard]] inline std::string next_map_name() {
  static std::atomic<std::uint64_t> next{0};
  return "cmap-bench-" + std::to_string(next.fetch_add(1, std::memory_order_relaxed));
}

}  // namespace cmap_bench
