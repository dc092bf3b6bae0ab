#pragma once
// What cmap::checked_map reports when it catches two threads inside one map: the violation
// (which calls, which threads), the error thrown under the throw_error policy, and the policy
// that decides what a detection does (abort, throw, or call a handler). See checked_map.hpp
// for the detector itself.

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "detail/thread_number.hpp"

namespace cmap {

/// A small number naming the calling thread, assigned on its first call (1, 2, 3, ... in the
/// order threads first ask). checked_map's reports name threads by these numbers; call it from
/// your own threads (e.g. log it when a thread starts) to tell which thread a report means.
inline std::uint32_t this_thread_number() noexcept { return detail::thread_number(); }

/// What kind of concurrent use was detected (Go's three fatal errors).
enum class violation_kind : std::uint8_t {
  concurrent_writes,       ///< "concurrent map writes"
  read_during_write,       ///< "concurrent map read and map write"
  iteration_during_write,  ///< "concurrent map iteration and map write"
};

/// Go's words for a violation kind.
constexpr std::string_view describe(violation_kind kind) noexcept {
  switch (kind) {
    case violation_kind::concurrent_writes:
      return "concurrent map writes";
    case violation_kind::read_during_write:
      return "concurrent map read and map write";
    case violation_kind::iteration_during_write:
      return "concurrent map iteration and map write";
  }
  return "concurrent map access";
}

/// One detected misuse. `operation` / `thread` name the call that detected it (on the thread
/// that receives the report); `other_operation` / `other_thread` name the last writer recorded
/// in the map, the one it collided with (empty / 0 if no writer was ever recorded).
struct access_violation {
  violation_kind kind{};
  std::string_view operation;        ///< e.g. "insert", "find", "iteration"
  std::uint32_t thread = 0;          ///< this_thread_number() of the detecting thread
  std::string_view other_operation;  ///< e.g. "erase"; empty when unknown
  std::uint32_t other_thread = 0;    ///< 0 when unknown
  /// true: the other write was still in progress when detected; false: it ran (began or ended)
  /// during this operation.
  bool other_in_progress = false;

  /// Writes the message (without the "cmap: fatal error: " prefix) into buf, NUL-terminated and
  /// truncated to fit; returns the length it wanted. Allocates nothing, so it still works when
  /// the race has already damaged the heap.
  std::size_t format(char* buf, std::size_t size) const noexcept {
    const auto what = describe(kind);
    const int w = static_cast<int>(what.size());
    const int o = static_cast<int>(operation.size());
    const int p = static_cast<int>(other_operation.size());
    const char* same = (other_thread == thread) ? ", re-entered from the same thread" : "";
    int n = 0;
    if (other_thread == 0) {
      n = std::snprintf(buf, size, "%.*s (%.*s on thread %" PRIu32 ")", w, what.data(), o,
                        operation.data(), thread);
    } else if (other_in_progress) {
      n = std::snprintf(
          buf, size,
          "%.*s (%.*s on thread %" PRIu32 " while %.*s on thread %" PRIu32 " was in progress%s)", w,
          what.data(), o, operation.data(), thread, p, other_operation.data(), other_thread, same);
    } else {
      n = std::snprintf(
          buf, size, "%.*s (%.*s on thread %" PRIu32 " ran during %.*s on thread %" PRIu32 "%s)", w,
          what.data(), p, other_operation.data(), other_thread, o, operation.data(), thread, same);
    }
    return n < 0 ? 0 : static_cast<std::size_t>(n);
  }

  /// e.g. "concurrent map writes (insert on thread 3 while erase on thread 2 was in progress)"
  std::string message() const {
    char buf[256];
    const std::size_t n = format(buf, sizeof buf);
    if (n < sizeof buf) return std::string(buf, n);
    std::string s(n, '\0');
    format(s.data(), n + 1);
    return s;
  }
};

/// Thrown by the throw_error policy; what() is "cmap: " followed by the violation's message().
class concurrent_access_error : public std::logic_error {
 public:
  explicit concurrent_access_error(const access_violation& v)
      : std::logic_error("cmap: " + v.message()), violation_(v) {}
  const access_violation& violation() const noexcept { return violation_; }

 private:
  access_violation violation_;
};

using violation_handler = std::function<void(const access_violation&)>;

/// What a checked object does when it detects concurrent use.
///  - abort() (the default): print "cmap: fatal error: <message>" to stderr, std::abort().
///  - throw_error(): throw cmap::concurrent_access_error from the detecting call. Where a call
///    cannot throw (destructor, noexcept moves and swaps) it acts as abort().
///  - call(h): call h(violation) on the detecting thread. If h returns, the operation goes on,
///    and the object's state is then as undefined as after any data race; h may also throw
///    (where the call cannot throw, a throwing handler means abort()), abort, or _exit.
/// Copying a policy is cheap and noexcept (the handler is shared).
class violation_policy {
 public:
  enum class action : std::uint8_t { abort, throw_error, call_handler };

  violation_policy() noexcept = default;
  static violation_policy abort() noexcept { return violation_policy(action::abort, nullptr); }
  static violation_policy throw_error() noexcept {
    return violation_policy(action::throw_error, nullptr);
  }
  /// An empty handler means abort().
  static violation_policy call(violation_handler handler) {
    if (!handler) return abort();
    return violation_policy(action::call_handler,
                            std::make_shared<const violation_handler>(std::move(handler)));
  }

  action what() const noexcept { return action_; }

  /// Applies the policy. MayThrow is false in calls that cannot throw (destructor, noexcept
  /// moves and swaps): there the throwing policy, and a handler that throws, abort instead.
  template <bool MayThrow>
  void handle(const access_violation& v) const noexcept(!MayThrow) {
    if (action_ == action::call_handler) {
      if constexpr (MayThrow) {
        (*handler_)(v);
        return;
      } else {
        try {
          (*handler_)(v);
          return;
        } catch (...) {  // NOLINT(bugprone-empty-catch): falls through to abort
        }
      }
    }
    if constexpr (MayThrow) {
      if (action_ == action::throw_error) throw concurrent_access_error(v);
    }
    abort_with(v);
  }

  /// Prints "cmap: fatal error: <message>" to stderr and aborts; allocates nothing.
  [[noreturn]] static void abort_with(const access_violation& v) noexcept {
    char buf[320];
    v.format(buf, sizeof buf);
    std::fprintf(stderr, "cmap: fatal error: %s\n", buf);
    std::fflush(stderr);
    std::abort();
  }

 private:
  violation_policy(action a, std::shared_ptr<const violation_handler> h) noexcept
      : action_(a), handler_(std::move(h)) {}

  action action_ = action::abort;
  std::shared_ptr<const violation_handler> handler_;
};

}  // namespace cmap
