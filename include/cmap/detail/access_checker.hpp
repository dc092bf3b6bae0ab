#pragma once

// The machinery behind cmap::checked_map: a fail-fast detector of concurrent use of an object
// that must be used by one thread at a time (Go's "concurrent map writes" check). What a
// detection then does is the object's policy: the checker builds a Violation (the public
// cmap::access_violation, <cmap/access_violation.hpp>) and hands it to its Policy
// (cmap::violation_policy).
//
// State word. Each checked object owns one std::atomic<std::uint64_t>:
//
//     bit  0       write in progress
//     bits 1..7    operation code of the last writer (map_operation)
//     bits 8..31   write sequence number, incremented each time a write begins
//     bits 32..63  thread number of the last writer (thread_number(), 0 = none yet)
//
// Protocol. No path performs an atomic read-modify-write: an RMW costs 5-20 ns, a plain load
// or store of a line already in L1 costs nothing measurable, and the detector only has to be
// right with high probability, like Go's (which uses plain, non-atomic flag updates).
//
//   writer entry   w = load; if w has the write bit: report "concurrent map writes".
//                  store mine = {write bit, op, seq(w)+1, my thread}; then a release fence,
//                  so the flag is visible before any store to the table (seqlock writer).
//   writer exit    w = load; if w != mine another writer entered meanwhile: report.
//                  else store mine without the write bit (release): the op, seq and thread
//                  stay for later reports, and the table's stores are visible before it.
//   reader entry   w = load (acquire); if w has the write bit: report "read and map write".
//   reader exit    acquire fence (the table loads complete first), load again; a different
//                  word means a write began or ended during the read (the sequence number
//                  makes a whole write in between visible): report.
//   iteration      operator++ tests the write bit (relaxed load) before it moves, with the
//                  "iteration and map write" wording, as Go's mapiternext does.
//
// Two writers that both pass entry before either stores are normally caught at exit: the two
// stores are ordered, and the writer whose store came first finds the other's word (or the
// other finds the first one's cleared word). Concurrent readers never store, so
// they never report each other. Correctly synchronised use never reports, whatever the memory
// orders: an external mutex or a thread join orders every access to the word, and coherence
// then makes each load see the latest store.
//
// ThreadSanitizer builds use relaxed accesses and no fences. TSan does not model fences (GCC
// warns with -Wtsan), and an acquire load reading a release store would be a real
// happens-before edge: the checker would "synchronise" two threads that use the map at
// different times without a lock, and hide from TSan exactly the race it is there to find.
//
// Exceptions. write() and write_scope restore the word (write bit cleared, no check) when the
// operation throws, so a throwing hash, comparison or allocation never leaves the object marked
// as being written; the exit check runs after the operation returns (write_scope: in finish()),
// never during unwinding, so a report under the throwing policy is never raised there.

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

#include "map_metrics.hpp"
#include "probes.hpp"
#include "sanitizers.hpp"
#include "thread_number.hpp"

// The checks wrap each std::unordered_map call in a lambda; forcing these few small functions
// inline keeps the compiler's inlining decision for the std call the same as without the
// checker (otherwise read()/write() absorb the std call and are themselves left out of line).
#define CMAP_DETAIL_INLINE [[gnu::always_inline]] inline

namespace cmap::detail {

/// The operations a checked container names in its reports. Codes fit in 7 bits.
enum class map_operation : std::uint8_t {
  none,
  // writes
  insert,
  insert_or_assign,
  emplace,
  emplace_hint,
  try_emplace,
  subscript,
  erase,
  erase_if,
  extract,
  merge,
  clear,
  swap,
  assign,
  move,
  rehash,
  reserve,
  max_load_factor,
  set_policy,
  destroy,
  // reads
  find,
  count,
  contains,
  equal_range,
  at,
  size,
  empty,
  begin,
  iteration,
  copy,
  compare,
  bucket_count,
  max_bucket_count,
  bucket_size,
  bucket,
  load_factor,
  hash_function,
  key_eq,
  get_allocator,
  get_policy,
  count_  // number of codes; keep last
};

inline constexpr std::string_view operation_names[] = {"unknown",
                                                       "insert",
                                                       "insert_or_assign",
                                                       "emplace",
                                                       "emplace_hint",
                                                       "try_emplace",
                                                       "operator[]",
                                                       "erase",
                                                       "erase_if",
                                                       "extract",
                                                       "merge",
                                                       "clear",
                                                       "swap",
                                                       "operator=",
                                                       "move",
                                                       "rehash",
                                                       "reserve",
                                                       "max_load_factor",
                                                       "set_violation_policy",
                                                       "destructor",
                                                       "find",
                                                       "count",
                                                       "contains",
                                                       "equal_range",
                                                       "at",
                                                       "size",
                                                       "empty",
                                                       "begin",
                                                       "iteration",
                                                       "copy",
                                                       "operator==",
                                                       "bucket_count",
                                                       "max_bucket_count",
                                                       "bucket_size",
                                                       "bucket",
                                                       "load_factor",
                                                       "hash_function",
                                                       "key_eq",
                                                       "get_allocator",
                                                       "get_violation_policy"};
static_assert(std::size(operation_names) == static_cast<std::size_t>(map_operation::count_));
static_assert(static_cast<unsigned>(map_operation::count_) <= 128, "op codes have 7 bits");

constexpr std::string_view operation_name(map_operation op) noexcept {
  const auto i = static_cast<std::size_t>(op);
  return i < std::size(operation_names) ? operation_names[i] : operation_names[0];
}

/// Whether a report may leave the call by exception. Writes inside noexcept calls use
/// nothrow: their report path is noexcept, and the throwing policy acts as abort there.
enum class reporting : bool { nothrow = false, may_throw = true };

/// The state word, its protocol (see the top of this file) and the object's policy.
/// Policy: `template <bool MayThrow> void handle(const Violation&) const noexcept(!MayThrow)`.
/// Violation: an aggregate with members kind (an enum with the enumerators concurrent_writes,
/// read_during_write and iteration_during_write), operation, thread, other_operation,
/// other_thread and other_in_progress.
template <class Policy, class Violation>
class access_checker {
  using violation_kind = decltype(Violation::kind);

 public:
  using word = std::uint64_t;
  using policy_type = Policy;

  static constexpr word write_bit = 1;
  static constexpr unsigned op_shift = 1;
  static constexpr word op_mask = word{0x7f} << op_shift;
  static constexpr word seq_one = word{1} << 8;
  static constexpr word seq_mask = word{0xffffff} << 8;
  static constexpr unsigned thread_shift = 32;

  access_checker() noexcept = default;
  explicit access_checker(Policy p) noexcept : policy_(std::move(p)) {}
  /// A copy takes the policy, not the state: the state describes accesses to one object.
  access_checker(const access_checker& other) noexcept : policy_(other.policy_) {}
  access_checker& operator=(const access_checker&) = delete;

  const Policy& policy() const noexcept { return policy_; }
  /// Callers hold a write scope: replacing the policy is a write to the object.
  void set_policy(Policy p) noexcept { policy_ = std::move(p); }

  // ---- writers -------------------------------------------------------------------------

  template <reporting R = reporting::may_throw>
  CMAP_DETAIL_INLINE word enter_write(map_operation op) noexcept(R == reporting::nothrow) {
    const word seen = state_.load(std::memory_order_relaxed);
    if (seen & write_bit) [[unlikely]]
      report<R>(seen, what(violation_kind::concurrent_writes, op));
    const word mine = write_bit | (static_cast<word>(op) << op_shift) |
                      ((seen + seq_one) & seq_mask) |
                      (static_cast<word>(thread_number()) << thread_shift);
    state_.store(mine, std::memory_order_relaxed);
    // Seqlock writer: publish the flag before the first store to the table (orders the store
    // above before the table's stores; a reader's fence in leave_read pairs with it). A
    // compiler barrier on x86; a dmb on Arm.
    fence(std::memory_order_release);
    return mine;
  }

  template <reporting R = reporting::may_throw>
  CMAP_DETAIL_INLINE void leave_write(word mine) noexcept(R == reporting::nothrow) {
    const word now = state_.load(std::memory_order_relaxed);
    if (now != mine) [[unlikely]] {
      // Another writer stored its word after ours. Leave its word in place: if it is still
      // inside, its own exit check then passes or catches a third writer.
      report<R>(now, what(violation_kind::concurrent_writes, op_of(mine)));
      return;
    }
    // Release: the table's stores become visible before the cleared flag; pairs with the
    // acquire load in enter_read.
    state_.store(mine & ~write_bit, tsan_or(std::memory_order_release));
  }

  /// Unwinding: clear the write bit without checking (noexcept, never reports). If another
  /// writer overwrote the word meanwhile, its exit check finds the change and reports.
  void abandon_write(word mine) noexcept {
    state_.store(mine & ~write_bit, tsan_or(std::memory_order_release));
  }

  // ---- readers -------------------------------------------------------------------------

  CMAP_DETAIL_INLINE word enter_read(map_operation op) const {
    // Acquire pairs with the release store in leave_write: a read that starts after a write
    // ended sees the finished table.
    const word seen = state_.load(tsan_or(std::memory_order_acquire));
    if (seen & write_bit) [[unlikely]]
      report<reporting::may_throw>(seen, what(violation_kind::read_during_write, op));
    return seen;
  }

  CMAP_DETAIL_INLINE void leave_read(word seen, map_operation op) const {
    // The table's loads complete before the re-check (pairs with the release fence in
    // enter_write: a read that saw any store of a writer sees that writer's word).
    fence(std::memory_order_acquire);
    const word now = state_.load(std::memory_order_relaxed);
    if (now != seen) [[unlikely]]
      report<reporting::may_throw>(now, what(violation_kind::read_during_write, op));
  }

  /// The iterator's check, before each step: Go's flag test in mapiternext. Relaxed, like Go's
  /// plain test: a plain load everywhere (ordering it before the step's own load would cost
  /// a barrier per element on Arm, for a slightly wider detection window).
  CMAP_DETAIL_INLINE void check_iteration() const {
    const word seen = state_.load(std::memory_order_relaxed);
    if (seen & write_bit) [[unlikely]]
      report<reporting::may_throw>(
          seen, what(violation_kind::iteration_during_write, map_operation::iteration));
  }

  /// Runs f() as a write (enter, f, exit check); f's result is returned. If f throws, the
  /// write bit is cleared without a check (abandon_write) and the exception propagates.
  template <class F>
  CMAP_DETAIL_INLINE decltype(auto) write(map_operation op, F&& f);

  /// Runs f() as a read (enter, f, exit check); f's result is returned. If f throws, nothing
  /// needs restoring: readers never store to the word.
  template <class F>
  CMAP_DETAIL_INLINE decltype(auto) read(map_operation op, F&& f) const {
    if (op_probes_enabled()) [[unlikely]]
      return probed(op, [&]() -> decltype(auto) { return checked_read(op, f); });
    return checked_read(op, f);
  }

  static map_operation op_of(word w) noexcept {
    return static_cast<map_operation>((w & op_mask) >> op_shift);
  }
  static std::uint32_t thread_of(word w) noexcept {
    return static_cast<std::uint32_t>(w >> thread_shift);
  }

 private:
  template <class F>
  CMAP_DETAIL_INLINE decltype(auto) checked_read(map_operation op, F& f) const {
    const word seen = enter_read(op);
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      f();
      leave_read(seen, op);
    } else {
      decltype(auto) result = f();
      leave_read(seen, op);
      return result;
    }
  }
  template <class F>
  CMAP_DETAIL_INLINE decltype(auto) checked_write(map_operation op, F& f);

  // A call with op_begin and op_end around it (the object's address, kind checked_map, op,
  // and 0 for the key hash and the result): the path taken only while a tracer is attached,
  // out of line so that the inlined check stays one more not-taken branch. The probes fire
  // outside the check, so a tracer sees both calls of a race even when this object's own
  // policy lets it pass (cmap-watch --races).
  template <class Call>
  [[gnu::noinline, gnu::cold]] decltype(auto) probed(map_operation op, Call&& call) const {
    [[maybe_unused]] const auto kind = static_cast<unsigned>(probe_map_kind::checked_map);
    [[maybe_unused]] const auto code = static_cast<unsigned>(op);
    if (CMAP_PROBE_ENABLED(op_begin)) CMAP_PROBE(op_begin, this, kind, code, 0);
    struct end_probe {
      const void* object;
      unsigned kind, code;
      ~end_probe() {
        if (CMAP_PROBE_ENABLED(op_end)) CMAP_PROBE(op_end, object, kind, code, 0);
      }
    } end{this, kind, code};
    return call();
  }
  template <class F>
  CMAP_DETAIL_INLINE decltype(auto) abandon_on_throw(word mine, F& f);

  static void fence(std::memory_order o) noexcept {
#if CMAP_DETAIL_TSAN
    (void)o;
#else
    std::atomic_thread_fence(o);
#endif
  }
  static constexpr std::memory_order tsan_or(std::memory_order o) noexcept {
    return CMAP_DETAIL_TSAN ? std::memory_order_relaxed : o;
  }

  // The report's arguments packed in one constant, so each (cold) call site stays small.
  static constexpr std::uint32_t what(violation_kind kind, map_operation op) noexcept {
    return static_cast<std::uint32_t>(kind) | static_cast<std::uint32_t>(op) << 8;
  }

  template <reporting R>
  [[gnu::cold, gnu::noinline]] void report(word other, std::uint32_t what) const
      noexcept(R == reporting::nothrow) {
    Violation v{};
    v.kind = static_cast<violation_kind>(what & 0xff);
    v.operation = operation_name(static_cast<map_operation>((what >> 8) & 0xff));
    v.thread = thread_number();
    v.other_thread = thread_of(other);
    v.other_operation = v.other_thread != 0 ? operation_name(op_of(other)) : std::string_view{};
    v.other_in_progress = (other & write_bit) != 0;
    count_checked_violation(this, static_cast<unsigned>(v.kind));
    if (CMAP_PROBE_ENABLED(violation)) {
      CMAP_PROBE(violation, this, static_cast<unsigned>(v.kind), (what >> 8) & 0xff, v.thread,
                 static_cast<unsigned>(op_of(other)), v.other_thread);
    }
    policy_.template handle<R == reporting::may_throw>(v);
  }

  std::atomic<word> state_{0};
  Policy policy_;
};

/// A write in progress: the constructor enters, finish() runs the exit check, and the
/// destructor, if finish() was not reached (an exception), clears the flag without checking.
template <class Checker, reporting R = reporting::may_throw>
class write_scope {
 public:
  write_scope(Checker& c, map_operation op) noexcept(R == reporting::nothrow)
      : checker_(&c), mine_(c.template enter_write<R>(op)) {}
  write_scope(const write_scope&) = delete;
  write_scope& operator=(const write_scope&) = delete;
  ~write_scope() {
    if (checker_ != nullptr) checker_->abandon_write(mine_);
  }

  void finish() noexcept(R == reporting::nothrow) {
    std::exchange(checker_, nullptr)->template leave_write<R>(mine_);
  }

 private:
  Checker* checker_;
  typename Checker::word mine_;
};

template <class Policy, class Violation>
template <class F>
CMAP_DETAIL_INLINE decltype(auto) access_checker<Policy, Violation>::write(map_operation op,
                                                                           F&& f) {
  if (op_probes_enabled()) [[unlikely]]
    return probed(op, [&]() -> decltype(auto) { return checked_write(op, f); });
  return checked_write(op, f);
}

template <class Policy, class Violation>
template <class F>
CMAP_DETAIL_INLINE decltype(auto) access_checker<Policy, Violation>::checked_write(map_operation op,
                                                                                   F& f) {
  const word mine = enter_write(op);
  if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
    abandon_on_throw(mine, f);
    leave_write(mine);
  } else {
    decltype(auto) result = abandon_on_throw(mine, f);
    leave_write(mine);
    return result;
  }
}

template <class Policy, class Violation>
template <class F>
CMAP_DETAIL_INLINE decltype(auto) access_checker<Policy, Violation>::abandon_on_throw(word mine,
                                                                                      F& f) {
  // A handler, not a write_scope: a scope's "finished?" flag stays live across f() and is
  // tested after it, where a handler adds nothing to the path that does not throw.
  try {
    return f();
  } catch (...) {
    abandon_write(mine);
    throw;
  }
}

/// A forward iterator over a checked object: the underlying iterator plus the object's
/// checker. operator++ first checks the write flag, like Go's mapiternext: advancing while
/// another thread is inside a write reports "concurrent map iteration and map write".
/// Dereferencing and comparing are not checked, and the iterator does not know about writes
/// made between two increments, so the single-thread patterns the standard allows
/// (it = m.erase(it); keeping an iterator across a write that does not invalidate it) never
/// report.
template <class Base, class Checker>
class checked_iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using iterator_concept = std::forward_iterator_tag;
  using value_type = typename std::iterator_traits<Base>::value_type;
  using difference_type = typename std::iterator_traits<Base>::difference_type;
  using pointer = typename std::iterator_traits<Base>::pointer;
  using reference = typename std::iterator_traits<Base>::reference;

  checked_iterator() = default;
  checked_iterator(Base it, const Checker* checker) noexcept : it_(it), checker_(checker) {}
  /// iterator -> const_iterator
  template <class Other>
  requires(!std::is_same_v<Other, Base> && std::is_convertible_v<Other, Base>)
      checked_iterator(const checked_iterator<Other, Checker>& other)
  noexcept  // NOLINT(google-explicit-constructor)
      : it_(other.base()), checker_(other.checker()) {}

  reference operator*() const { return *it_; }
  pointer operator->() const { return std::addressof(*it_); }

  checked_iterator& operator++() {
    // Entry check only, as Go's mapiternext: a write that both begins and ends within one
    // step is not worth a second load per element.
    checker_->check_iteration();
    ++it_;
    return *this;
  }
  checked_iterator operator++(int) {
    checked_iterator old = *this;
    ++*this;
    return old;
  }

  template <class Other>
  requires std::equality_comparable_with<Base, Other>
  bool operator==(const checked_iterator<Other, Checker>& other) const {
    return it_ == other.base();
  }

  const Base& base() const noexcept { return it_; }
  const Checker* checker() const noexcept { return checker_; }

 private:
  Base it_{};
  const Checker* checker_ = nullptr;
};

}  // namespace cmap::detail
