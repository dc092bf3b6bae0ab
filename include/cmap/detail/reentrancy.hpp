#pragma once
// Debug detection of re-entrant callbacks: a visit/upsert/for_each/erase_if callback (or a
// with_*_lock callback) that calls back into the same locking map would deadlock on the
// map's non-recursive lock. In debug builds (NDEBUG not defined), or wherever
// CMAP_CHECK_REENTRANCY is defined to 1, each thread keeps a short list of the maps whose
// locks it holds, and a re-entrant call fails fast with a message instead of hanging.
// Release builds pay nothing. Define the macro the same way in every translation unit of a
// program.

#include <cstdio>
#include <cstdlib>

#if !defined(CMAP_CHECK_REENTRANCY)
#if defined(NDEBUG)
#define CMAP_CHECK_REENTRANCY 0
#else
#define CMAP_CHECK_REENTRANCY 1
#endif
#endif

namespace cmap::detail {

// Fails fast with the message the tests and users look for. Also used, in every build, by
// serial_map, whose callbacks run on its owner thread: a synchronous call from there would
// wait for the very thread that makes it.
[[noreturn]] inline void report_reentrant_call(const char* why) noexcept {
  std::fputs("cmap: fatal error: a callback called back into the map that is running it (", stderr);
  std::fputs(why, stderr);
  std::fputs(")\n", stderr);
  std::abort();
}

#if CMAP_CHECK_REENTRANCY

// The maps whose locks this thread holds, innermost last. Nesting deeper than the list
// (a callback of one map using another, 16 levels deep) goes unchecked, never misreported.
struct held_maps {
  static constexpr int capacity = 16;
  const void* maps[capacity] = {};
  int depth = 0;
};
inline thread_local held_maps this_thread_held_maps;

class reentrancy_guard {
 public:
  explicit reentrancy_guard(const void* map) noexcept {
    held_maps& held = this_thread_held_maps;
    for (int i = 0; i < held.depth && i < held_maps::capacity; ++i) {
      if (held.maps[i] == map) {
        report_reentrant_call("the map's lock is held and not recursive: this would deadlock");
      }
    }
    if (held.depth < held_maps::capacity) held.maps[held.depth] = map;
    ++held.depth;
  }
  ~reentrancy_guard() { --this_thread_held_maps.depth; }
  reentrancy_guard(const reentrancy_guard&) = delete;
  reentrancy_guard& operator=(const reentrancy_guard&) = delete;
};

#else

class reentrancy_guard {
 public:
  explicit reentrancy_guard(const void*) noexcept {}
};

#endif

}  // namespace cmap::detail
