#pragma once
// probe_names: the names of the codes that cmap's probes pass (probes.hpp), for tracers'
// reports: map kinds, lock kinds, and the operations of both checked_map (map_operation) and
// the common surface (probe_op), with which of them write.

#include <cstdint>
#include <iterator>
#include <string_view>

#include "access_checker.hpp"
#include "observation.hpp"
#include "probes.hpp"

namespace cmap::detail {

static_assert(static_cast<unsigned>(map_operation::count_) <= static_cast<unsigned>(probe_op::find),
              "checked_map's operation codes and the common surface's must not overlap");

constexpr std::string_view probe_map_kind_name(unsigned code) noexcept {
  return code < std::size(probe_map_kind_names) ? probe_map_kind_names[code] : "unknown";
}

/// lock_wait_begin and lock_wait_end's lock kind (probe_lock_kind).
constexpr std::string_view probe_lock_kind_name(unsigned code) noexcept {
  constexpr std::string_view names[] = {"unknown",        "spin_lock",    "rw_lock exclusive",
                                        "rw_lock shared", "table stripe", "parking_lock"};
  static_assert(std::size(names) == static_cast<std::size_t>(probe_lock_kind::parking_lock) + 1);
  return code < std::size(names) ? names[code] : "unknown";
}

constexpr std::string_view probe_op_name(unsigned code) noexcept {
  const unsigned first = static_cast<unsigned>(probe_op::find);
  if (code >= first) {
    return code - first < std::size(probe_op_names) ? probe_op_names[code - first] : "unknown";
  }
  return operation_name(static_cast<map_operation>(code));
}

/// Whether an operation code writes (the race detector's question): checked_map's codes
/// from insert to destroy, and the common surface's writes.
constexpr bool probe_op_writes(unsigned code) noexcept {
  if (code >= static_cast<unsigned>(probe_op::find)) {
    return code != static_cast<unsigned>(probe_op::find) &&
           code != static_cast<unsigned>(probe_op::contains) &&
           code != static_cast<unsigned>(probe_op::visit);
  }
  return code >= static_cast<unsigned>(map_operation::insert) &&
         code <= static_cast<unsigned>(map_operation::destroy);
}

}  // namespace cmap::detail
