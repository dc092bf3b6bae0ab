#pragma once
// probes: cmap's USDT probes (user-level statically defined tracing, provider "cmap"), the
// points where a tracer such as bpftrace or SystemTap attaches to a running process without a
// restart. docs/probes.md lists every probe with its arguments; tools/cmap-watch reads them.
//
// How a probe costs nothing when nobody watches. Each probe has an is-enabled semaphore: a
// 16-bit counter in the ELF section .probes that a tracer increments in the process's memory
// when it attaches and decrements when it leaves. Code tests the semaphore (one load and a
// not-taken branch) and computes the probe's arguments and fires it only when it is non-zero;
// the probe itself is a single nop whose address and argument locations sys/sdt.h records in
// an ELF note (.note.stapsdt). With CMAP_NO_PROBES defined, or where <sys/sdt.h> is absent
// (Debian: systemtap-sdt-dev) or the object format is not ELF, every probe compiles to
// nothing and probes_enabled is false.
//
// Why the arguments are integers and addresses only: a tracer reads a string argument from the
// process's memory without faulting pages in, so a literal on a page the program never touched
// reads as empty. Kinds and operations are therefore codes, which
// probe_names.hpp turns into names (cmap-watch's tables come from it).
//
// Semaphores are C-linkage inline variables (the note names them by symbol), so every
// translation unit that includes this header shares one per probe per executable or shared
// object. If <sys/sdt.h> was included before this header without _SDT_HAS_SEMAPHORES, its
// macros no longer record semaphores and the probes are compiled out here: include cmap
// first, or define _SDT_HAS_SEMAPHORES before including <sys/sdt.h>.

#include <cstdint>
#include <iterator>
#include <string_view>

#if !defined(CMAP_NO_PROBES) && defined(__ELF__) && defined(__has_include)
#if __has_include(<sys/sdt.h>) && (!defined(_SYS_SDT_H) || defined(_SDT_HAS_SEMAPHORES))
#ifndef _SDT_HAS_SEMAPHORES
#define _SDT_HAS_SEMAPHORES 1
#endif
#include <sys/sdt.h>
#define CMAP_DETAIL_PROBES 1
#endif
#endif

#ifndef CMAP_DETAIL_PROBES
#define CMAP_DETAIL_PROBES 0
#endif

#if CMAP_DETAIL_PROBES
// cmap_<name>_semaphore: the counter a tracer raises while it is attached to probe <name>.
#define CMAP_DETAIL_PROBE_SEMAPHORE(name)                                                 \
  extern "C" {                                                                            \
  [[gnu::section(".probes")]] inline volatile unsigned short cmap_##name##_semaphore = 0; \
  }
CMAP_DETAIL_PROBE_SEMAPHORE(op_begin)
CMAP_DETAIL_PROBE_SEMAPHORE(op_end)
CMAP_DETAIL_PROBE_SEMAPHORE(lock_wait_begin)
CMAP_DETAIL_PROBE_SEMAPHORE(lock_wait_end)
CMAP_DETAIL_PROBE_SEMAPHORE(resize_begin)
CMAP_DETAIL_PROBE_SEMAPHORE(resize_end)
CMAP_DETAIL_PROBE_SEMAPHORE(reclaim)
CMAP_DETAIL_PROBE_SEMAPHORE(violation)
CMAP_DETAIL_PROBE_SEMAPHORE(serial_batch)
CMAP_DETAIL_PROBE_SEMAPHORE(log_sync)
#undef CMAP_DETAIL_PROBE_SEMAPHORE

/// True while a tracer is attached to probe `name`: one load, expected false.
#define CMAP_PROBE_ENABLED(name) __builtin_expect(cmap_##name##_semaphore != 0, 0)
/// Fires probe `name` with 1 to 6 integer or pointer arguments (test CMAP_PROBE_ENABLED
/// first when the arguments cost anything to compute).
#define CMAP_PROBE(name, ...) \
  CMAP_DETAIL_PROBE_CAT(STAP_PROBE, CMAP_DETAIL_PROBE_NARG(__VA_ARGS__))(cmap, name, __VA_ARGS__)
#define CMAP_DETAIL_PROBE_NARG(...) CMAP_DETAIL_PROBE_NARG_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define CMAP_DETAIL_PROBE_NARG_(a1, a2, a3, a4, a5, a6, n, ...) n
#define CMAP_DETAIL_PROBE_CAT(a, b) CMAP_DETAIL_PROBE_CAT_(a, b)
#define CMAP_DETAIL_PROBE_CAT_(a, b) a##b
#else
#define CMAP_PROBE_ENABLED(name) false
#define CMAP_PROBE(name, ...) static_cast<void>(0)
#endif

namespace cmap::detail {

inline constexpr bool probes_enabled = CMAP_DETAIL_PROBES != 0;

/// The map a probe fires in: op_begin and op_end's second argument.
enum class probe_map_kind : std::uint8_t {
  unknown,
  checked_map,
  locked_map,
  sharded_map,
  concurrent_hash_map,  // and read_mostly_map, the same engine
  snapshot_map,
  serial_map,
  art_map,
  durable_map,
  count_  // keep last
};

inline constexpr std::string_view probe_map_kind_names[] = {
    "unknown",      "checked_map", "locked_map", "sharded_map", "concurrent_hash_map",
    "snapshot_map", "serial_map",  "art_map",    "durable_map"};
static_assert(std::size(probe_map_kind_names) == static_cast<std::size_t>(probe_map_kind::count_));

/// The operation in op_begin and op_end's third argument. checked_map reports its own
/// operations (map_operation in access_checker.hpp, codes below 64); the concurrent maps'
/// common surface has the codes from 64 on. probe_names.hpp names both.
enum class probe_op : std::uint8_t {
  find = 64,
  contains,
  visit,
  visit_mut,
  emplace,
  insert_or_assign,
  find_or_insert,
  upsert,
  exchange,
  compare_exchange,
  erase,
  extract,
  compare_erase,
  end_  // keep last
};

inline constexpr std::string_view probe_op_names[] = {
    "find",           "contains", "visit",    "visit_mut",        "emplace", "insert_or_assign",
    "find_or_insert", "upsert",   "exchange", "compare_exchange", "erase",   "extract",
    "compare_erase"};
static_assert(std::size(probe_op_names) ==
              static_cast<std::size_t>(probe_op::end_) - static_cast<std::size_t>(probe_op::find));

/// True while a tracer is attached to op_begin or op_end: the test every observed
/// operation makes before it computes a probe argument.
[[gnu::always_inline]] inline bool op_probes_enabled() noexcept {
#if CMAP_DETAIL_PROBES
  // One branch for both: the two counters are read together.
  return __builtin_expect((cmap_op_begin_semaphore | cmap_op_end_semaphore) != 0, 0);
#else
  return false;
#endif
}

/// op_end's fourth argument: 1 if the call found, inserted, replaced or erased something
/// (its bool, or an optional that holds a value, or find_or_insert's inserted flag), 0 if
/// not, 2 if it threw.
template <class R>
std::uint64_t probe_result(const R& r) noexcept {
  if constexpr (requires { r.has_value(); }) {
    return r.has_value() ? 1 : 0;
  } else if constexpr (requires { r.second; }) {
    return r.second ? 1 : 0;
  } else {
    return r ? 1 : 0;
  }
}

/// A common-surface call with op_begin and op_end around it: the path taken only while a
/// tracer is attached, kept out of line so that the inlined fast path stays one test.
template <class Call>
[[gnu::noinline, gnu::cold]] auto probed_call([[maybe_unused]] const void* map,
                                              probe_map_kind kind, probe_op op,
                                              [[maybe_unused]] std::uint64_t key_hash, Call& call)
    -> decltype(call()) {
  [[maybe_unused]] const auto k = static_cast<unsigned>(kind);
  [[maybe_unused]] const auto o = static_cast<unsigned>(op);
  if (CMAP_PROBE_ENABLED(op_begin)) CMAP_PROBE(op_begin, map, k, o, key_hash);
  try {
    decltype(call()) result = call();
    if (CMAP_PROBE_ENABLED(op_end)) CMAP_PROBE(op_end, map, k, o, probe_result(result));
    return result;
  } catch (...) {
    if (CMAP_PROBE_ENABLED(op_end)) CMAP_PROBE(op_end, map, k, o, std::uint64_t{2});
    throw;
  }
}

}  // namespace cmap::detail
