// Linearizability of the single-key calls of every map in all_map_families, and of
// durable_map (whose writes go through its log).
//
// Method. Many short runs: 2 to 4 threads (3 and 4 are more than this project's 2-core test
// machine has, on purpose), released together, each make 4 to 6 calls (at most 16 per run) on
// 2 or 3 keys of a fresh map<uint64_t, uint64_t>, chosen at random from find, insert,
// insert_or_assign, erase, extract, exchange, compare_exchange, upsert (increment) and
// find_or_insert. Each call records its arguments, its result, and two stamps from one
// shared atomic counter, taken just before the call and just after it returns: if a call's
// response stamp is below another's invocation stamp, the first returned before the second
// began, so the map must order them that way.
//
// A run lasts about a microsecond, far less than it takes to start or wake a thread, so one
// pool of threads does all runs of a thread count, meeting at a spinning barrier before each
// (the last to arrive makes the next run's map), each thread bound to one of the CPUs in
// turn (Linux): threads that are on a core then start the run together. How many runs had
// calls of different threads on one key overlapping in time is recorded as the test property
// runs_with_overlapping_calls (most runs do, even with other work on the machine).
//
// The checker (Wing & Gong's search, with Lowe's memoisation) looks for an order of the calls
// that respects those real-time constraints and in which a sequential map (per key: absent,
// or one value) gives every call exactly the result it recorded. At each step, a call that
// is not yet placed may go next only if it was invoked before the earliest response among
// the calls not yet placed; (set of placed calls, model state) pairs already explored are
// not explored again. Keys are independent (a history is linearizable if and only if each
// key's sub-history is), so each key is checked on its own, which keeps the search small.
//
// The checker itself is tested on hand-written histories, some linearizable and some not
// (a read of a value from the future, two inserts of one key, a lost increment, ...), so a
// failure of the maps' test means what it says.
//
// Reproducing a failure: the message shows the whole history and the run's seed, which fixes
// the calls each thread makes (not the interleaving). CMAP_TEST_SEED=<n> (decimal or 0x-hex)
// replaces the base seed; the runs use base, base + 1, ...

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <cmap/durable_map.hpp>

#include "durable/fault_file_system.hpp"
#include "durable/temp_directory.hpp"
#include "map_types.hpp"
#include "stress/watchdog.hpp"

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#include <cmap/detail/sanitizers.hpp>

namespace {

using cmap_test::all_map_families;
using cmap_test::family_names;
using cmap_test::watchdog;
using u64 = std::uint64_t;
using slot = std::optional<u64>;  // the sequential model of one key: absent, or its value

// Runs per map type and thread count, and a time limit on making them (the histories are
// checked afterwards): on a machine busy with other work a run can wait for a time slice,
// and the limit keeps the test's time bounded. The whole binary takes about 1.5 s
// unsanitised on a 2-core machine and 4 to 12 s under ThreadSanitizer.
#if CMAP_DETAIL_TSAN || CMAP_DETAIL_ASAN
constexpr std::size_t runs_per_thread_count = 2000;
constexpr std::chrono::milliseconds run_time_limit{1000};
#else
constexpr std::size_t runs_per_thread_count = 5000;
constexpr std::chrono::milliseconds run_time_limit{250};
#endif

constexpr u64 default_base_seed = 0x11ea7e5eedULL;

// ---- histories -------------------------------------------------------------------------

enum class op_kind : std::uint8_t {
  find,
  insert,
  insert_or_assign,
  erase,
  extract,
  exchange,
  compare_exchange,
  upsert_increment,  // upsert(k, [](auto& v) { ++v; }, 1)
  find_or_insert,
};
constexpr op_kind all_op_kinds[] = {
    op_kind::find,
    op_kind::insert,
    op_kind::insert_or_assign,
    op_kind::erase,
    op_kind::extract,
    op_kind::exchange,
    op_kind::compare_exchange,
    op_kind::upsert_increment,
    op_kind::find_or_insert,
};
constexpr std::size_t op_kind_count = sizeof(all_op_kinds) / sizeof(all_op_kinds[0]);

const char* name_of(op_kind k) {
  switch (k) {
    case op_kind::find:
      return "find";
    case op_kind::insert:
      return "insert";
    case op_kind::insert_or_assign:
      return "insert_or_assign";
    case op_kind::erase:
      return "erase";
    case op_kind::extract:
      return "extract";
    case op_kind::exchange:
      return "exchange";
    case op_kind::compare_exchange:
      return "compare_exchange";
    case op_kind::upsert_increment:
      return "upsert_increment";
    case op_kind::find_or_insert:
      return "find_or_insert";
  }
  return "?";
}

// One completed call: what was asked, what came back, and when.
struct operation {
  int thread = 0;
  op_kind kind = op_kind::find;
  std::size_t key = 0;  // the map's key (small: 0, 1, 2)
  u64 value = 0;        // the value written: insert, insert_or_assign, exchange,
                        // compare_exchange (desired), find_or_insert
  u64 expected = 0;     // compare_exchange only
  bool ok = false;      // the bool result (find_or_insert: "inserted")
  slot found;           // the optional result: find, extract, exchange (previous value),
                        // find_or_insert (the value now in the map)
  u64 invoked = 0;      // stamp taken just before the call
  u64 responded = 0;    // stamp taken just after it returned
};

struct history {
  std::vector<slot> initial;  // per key, the map's contents before the threads start
  std::vector<operation> ops;
};

std::string to_string(const slot& s) { return s ? std::to_string(*s) : std::string("none"); }

std::string describe(const operation& op) {
  std::ostringstream out;
  out << "thread " << op.thread << ": " << name_of(op.kind) << "(k" << op.key;
  switch (op.kind) {
    case op_kind::find:
    case op_kind::erase:
    case op_kind::extract:
    case op_kind::upsert_increment:
      break;
    case op_kind::compare_exchange:
      out << ", expected " << op.expected << ", desired " << op.value;
      break;
    default:
      out << ", " << op.value;
  }
  out << ") -> ";
  switch (op.kind) {
    case op_kind::find:
    case op_kind::extract:
    case op_kind::exchange:
      out << to_string(op.found);
      break;
    case op_kind::find_or_insert:
      out << "{" << to_string(op.found) << ", " << std::boolalpha << op.ok << "}";
      break;
    default:
      out << std::boolalpha << op.ok;
  }
  out << "   [invoked " << op.invoked << ", responded " << op.responded << "]";
  return out.str();
}

// The whole history, calls in invocation order.
std::string describe(const history& h) {
  std::ostringstream out;
  out << "initial:";
  for (std::size_t k = 0; k < h.initial.size(); ++k)
    out << " k" << k << "=" << to_string(h.initial[k]);
  std::vector<const operation*> by_invocation;
  for (const auto& op : h.ops) by_invocation.push_back(&op);
  std::sort(by_invocation.begin(), by_invocation.end(),
            [](const operation* a, const operation* b) { return a->invoked < b->invoked; });
  for (const operation* op : by_invocation) out << "\n    " << describe(*op);
  return out.str();
}

// ---- the checker -----------------------------------------------------------------------

// Applies op to the sequential model of its key. False if a sequential map would not have
// returned op's recorded result from state s (s is then unspecified).
bool apply(const operation& op, slot& s) {
  switch (op.kind) {
    case op_kind::find:
      return op.found == s;
    case op_kind::insert:
      if (op.ok != !s) return false;
      if (!s) s = op.value;
      return true;
    case op_kind::insert_or_assign:
      if (op.ok != !s) return false;
      s = op.value;
      return true;
    case op_kind::erase:
      if (op.ok != s.has_value()) return false;
      s.reset();
      return true;
    case op_kind::extract:
      if (op.found != s) return false;
      s.reset();
      return true;
    case op_kind::exchange:
      if (op.found != s) return false;
      s = op.value;
      return true;
    case op_kind::compare_exchange: {
      const bool matches = s && *s == op.expected;
      if (op.ok != matches) return false;
      if (matches) s = op.value;
      return true;
    }
    case op_kind::upsert_increment:
      if (op.ok != !s) return false;
      s = s ? *s + 1 : u64{1};
      return true;
    case op_kind::find_or_insert:
      if (op.ok != !s) return false;
      if (!s) s = op.value;
      return op.found == s;
  }
  return false;
}

// Wing & Gong's search over the calls on one key, with Lowe's memoisation.
class key_checker {
 public:
  key_checker(std::vector<const operation*> ops, slot initial)
      : ops_(std::move(ops)), initial_(initial) {}

  bool linearizable() {
    if (ops_.size() > 63) {
      ADD_FAILURE() << "key_checker: " << ops_.size() << " calls on one key; at most 63";
      return false;
    }
    all_ = (u64{1} << ops_.size()) - 1;
    explored_.clear();
    return search(0, initial_);
  }

 private:
  // True if the calls not in `placed` can follow, in some order, from model state s.
  bool search(u64 placed, slot s) {
    if (placed == all_) return true;
    if (!explored_.insert({placed, s}).second) return false;  // explored before: fails
    u64 earliest_response = std::numeric_limits<u64>::max();
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (!is_placed(placed, i))
        earliest_response = std::min(earliest_response, ops_[i]->responded);
    }
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (is_placed(placed, i) || ops_[i]->invoked > earliest_response) continue;
      slot next = s;
      if (apply(*ops_[i], next) && search(placed | (u64{1} << i), next)) return true;
    }
    return false;
  }
  static bool is_placed(u64 placed, std::size_t i) { return ((placed >> i) & 1) != 0; }

  std::vector<const operation*> ops_;
  slot initial_;
  u64 all_ = 0;
  std::set<std::pair<u64, slot>> explored_;
};

// The first key whose calls cannot be linearized, or none if the whole history can be.
std::optional<std::size_t> first_non_linearizable_key(const history& h) {
  for (std::size_t k = 0; k < h.initial.size(); ++k) {
    std::vector<const operation*> on_key;
    for (const auto& op : h.ops) {
      if (op.key == k) on_key.push_back(&op);
    }
    if (!key_checker(std::move(on_key), h.initial[k]).linearizable()) return k;
  }
  return std::nullopt;
}

bool linearizable(const history& h) { return !first_non_linearizable_key(h).has_value(); }

// ---- tests of the checker --------------------------------------------------------------

// Builders for hand-written histories: (thread, key, arguments, result, invoked, responded).
operation call(int thread, op_kind kind, std::size_t key, u64 invoked, u64 responded) {
  operation op;
  op.thread = thread;
  op.kind = kind;
  op.key = key;
  op.invoked = invoked;
  op.responded = responded;
  return op;
}
operation find_op(int t, std::size_t k, slot found, u64 inv, u64 resp) {
  operation op = call(t, op_kind::find, k, inv, resp);
  op.found = found;
  return op;
}
operation write_op(int t, op_kind kind, std::size_t k, u64 v, bool ok, u64 inv, u64 resp) {
  operation op = call(t, kind, k, inv, resp);
  op.value = v;
  op.ok = ok;
  return op;
}
operation insert_op(int t, std::size_t k, u64 v, bool ok, u64 inv, u64 resp) {
  return write_op(t, op_kind::insert, k, v, ok, inv, resp);
}
operation assign_op(int t, std::size_t k, u64 v, bool ok, u64 inv, u64 resp) {
  return write_op(t, op_kind::insert_or_assign, k, v, ok, inv, resp);
}
operation erase_op(int t, std::size_t k, bool ok, u64 inv, u64 resp) {
  return write_op(t, op_kind::erase, k, 0, ok, inv, resp);
}
operation upsert_op(int t, std::size_t k, bool inserted, u64 inv, u64 resp) {
  return write_op(t, op_kind::upsert_increment, k, 0, inserted, inv, resp);
}
operation extract_op(int t, std::size_t k, slot found, u64 inv, u64 resp) {
  operation op = call(t, op_kind::extract, k, inv, resp);
  op.found = found;
  return op;
}
operation exchange_op(int t, std::size_t k, u64 v, slot previous, u64 inv, u64 resp) {
  operation op = call(t, op_kind::exchange, k, inv, resp);
  op.value = v;
  op.found = previous;
  return op;
}
operation cas_op(int t, std::size_t k, u64 expected, u64 desired, bool ok, u64 inv, u64 resp) {
  operation op = write_op(t, op_kind::compare_exchange, k, desired, ok, inv, resp);
  op.expected = expected;
  return op;
}
operation find_or_insert_op(int t, std::size_t k, u64 v, u64 now, bool inserted, u64 inv,
                            u64 resp) {
  operation op = write_op(t, op_kind::find_or_insert, k, v, inserted, inv, resp);
  op.found = now;
  return op;
}

history make_history(std::vector<slot> initial, std::vector<operation> ops) {
  return history{std::move(initial), std::move(ops)};
}

// Twelve upserts of one key, all overlapping, the first of them inserting, then a find that
// returns `found`. Without memoisation the search would try the 11! orders of the others.
history twelve_overlapping_upserts_then_find(u64 found) {
  std::vector<operation> ops;
  ops.reserve(13);
  for (int t = 0; t < 12; ++t) {
    ops.push_back(upsert_op(t, 0, t == 0, 1 + static_cast<u64>(t), 100 + static_cast<u64>(t)));
  }
  ops.push_back(find_op(0, 0, found, 200, 201));
  return make_history({slot()}, std::move(ops));
}

TEST(LinearizabilityChecker, AcceptsLinearizableHistories) {
  const slot none;
  const std::vector<std::pair<const char*, history>> cases = {
      {"a find overlapping an insert sees nothing",
       make_history({none}, {insert_op(0, 0, 5, true, 1, 4), find_op(1, 0, none, 2, 3)})},
      {"a find overlapping an insert sees its value",
       make_history({none}, {insert_op(0, 0, 5, true, 1, 4), find_op(1, 0, 5, 2, 3)})},
      {"a find invoked before an insert's invocation, overlapping it, sees its value",
       make_history({none}, {find_op(1, 0, 5, 1, 4), insert_op(0, 0, 5, true, 2, 3)})},
      {"sequential insert, find, erase, find",
       make_history({none}, {insert_op(0, 0, 7, true, 1, 2), find_op(1, 0, 7, 3, 4),
                             erase_op(0, 0, true, 5, 6), find_op(1, 0, none, 7, 8)})},
      {"concurrent inserts: the later-invoked one wins, and a later find agrees",
       make_history({none}, {insert_op(0, 0, 1, false, 1, 4), insert_op(1, 0, 2, true, 2, 3),
                             find_op(2, 0, 2, 5, 6)})},
      {"two concurrent upserts: one inserts, the other increments",
       make_history({none}, {upsert_op(0, 0, false, 1, 4), upsert_op(1, 0, true, 2, 3),
                             find_op(2, 0, 2, 5, 6)})},
      {"concurrent exchanges, each returning the other's value in some order",
       make_history({10}, {exchange_op(0, 0, 1, 2, 1, 6), exchange_op(1, 0, 2, 10, 2, 5),
                           find_op(2, 0, 1, 7, 8)})},
      {"compare_exchange succeeds only after the assignment it overlaps",
       make_history({3}, {assign_op(0, 0, 4, false, 1, 4), cas_op(1, 0, 4, 9, true, 2, 5),
                          cas_op(2, 0, 3, 8, false, 6, 7), find_op(2, 0, 9, 8, 9)})},
      {"find_or_insert and extract",
       make_history({none}, {find_or_insert_op(0, 0, 6, 6, true, 1, 2),
                             find_or_insert_op(1, 0, 7, 6, false, 3, 6), extract_op(2, 0, 6, 4, 5),
                             find_op(0, 0, none, 7, 8)})},
      {"twelve overlapping upserts, none lost", twelve_overlapping_upserts_then_find(12)},
      {"keys are independent",
       make_history({none, 1}, {insert_op(0, 0, 5, true, 1, 2), find_op(1, 1, 1, 3, 4),
                                erase_op(1, 1, true, 5, 6), find_op(0, 0, 5, 7, 8),
                                find_op(0, 1, none, 9, 10)})},
  };
  for (const auto& [name, h] : cases) {
    EXPECT_TRUE(linearizable(h)) << name << "\n  " << describe(h);
  }
}

TEST(LinearizabilityChecker, RejectsNonLinearizableHistories) {
  const slot none;
  const std::vector<std::pair<const char*, history>> cases = {
      {"a find returns a value inserted only after the find returned",
       make_history({none}, {find_op(1, 0, 5, 1, 2), insert_op(0, 0, 5, true, 3, 4)})},
      {"two successful inserts of one key, no erase between them",
       make_history({none}, {insert_op(0, 0, 1, true, 1, 2), insert_op(1, 0, 2, true, 3, 4)})},
      {"two overlapping successful inserts of one key",
       make_history({none}, {insert_op(0, 0, 1, true, 1, 4), insert_op(1, 0, 2, true, 2, 3)})},
      {"a lost upsert increment",
       make_history({none}, {upsert_op(0, 0, true, 1, 3), upsert_op(1, 0, false, 2, 4),
                             find_op(2, 0, 1, 5, 6)})},
      {"a stale read after a completed assignment",
       make_history({1}, {assign_op(0, 0, 2, false, 1, 2), find_op(1, 0, 1, 3, 4)})},
      {"two extracts of one value",
       make_history({9}, {extract_op(0, 0, 9, 1, 4), extract_op(1, 0, 9, 2, 3)})},
      {"a find sees an erased key come back with nothing re-inserting it",
       make_history({none}, {insert_op(0, 0, 3, true, 1, 2), erase_op(0, 0, true, 3, 4),
                             find_op(1, 0, 3, 5, 6)})},
      {"a failed compare_exchange although the expected value was there",
       make_history({4}, {cas_op(0, 0, 4, 5, false, 1, 2)})},
      {"find_or_insert inserts into a present key",
       make_history({4}, {find_or_insert_op(0, 0, 6, 6, true, 1, 2)})},
      {"reads in an order no single write order explains",
       make_history({none}, {assign_op(0, 0, 1, true, 1, 20), assign_op(1, 0, 2, false, 2, 21),
                             find_op(2, 0, 1, 3, 4), find_op(2, 0, 2, 7, 8), find_op(3, 0, 2, 5, 6),
                             find_op(3, 0, 1, 9, 10)})},
      {"a lost increment among twelve overlapping upserts",
       twelve_overlapping_upserts_then_find(11)},
      {"a violation on the second key only",
       make_history({none, none}, {insert_op(0, 0, 1, true, 1, 2), insert_op(0, 1, 2, true, 3, 4),
                                   find_op(1, 1, none, 5, 6)})},
  };
  for (const auto& [name, h] : cases) {
    EXPECT_FALSE(linearizable(h)) << name << "\n  " << describe(h);
  }
}

// ---- runs against the maps -------------------------------------------------------------

u64 base_seed() {
  // Read on the test's only thread. NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (const char* env = std::getenv("CMAP_TEST_SEED"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const unsigned long long s = std::strtoull(env, &end, 0);
    if (end != nullptr && *end == '\0') return static_cast<u64>(s);
    ADD_FAILURE() << "CMAP_TEST_SEED='" << env << "' is not a number";
  }
  return default_base_seed;
}

using rng_t = std::mt19937_64;
u64 below(rng_t& rng, u64 n) { return std::uniform_int_distribution<u64>(0, n - 1)(rng); }

// What one thread will do: its calls (arguments only) and a pause before each, to vary how
// the threads' calls line up.
struct thread_plan {
  std::vector<operation> ops;
  std::vector<unsigned> pauses;
};

struct run_plan {
  std::vector<slot> initial;
  std::vector<thread_plan> threads;
};

// The number of threads of the run with this seed: 2, 3 or 4.
int threads_of(u64 seed) { return 2 + static_cast<int>(seed % 3); }

// threads_of(seed) threads, 2 or 3 keys, at most 16 calls. Written values are distinct:
// 1000 * (thread + 1) + call index; initial values are 100 + key.
run_plan make_plan(u64 seed) {
  rng_t rng(seed);
  run_plan plan;
  const int threads = threads_of(seed);
  const std::size_t keys = 2 + static_cast<std::size_t>(below(rng, 2));
  const std::size_t calls_per_thread =
      std::min<std::size_t>(6, 16 / static_cast<std::size_t>(threads));
  for (std::size_t k = 0; k < keys; ++k) {
    plan.initial.push_back(below(rng, 2) == 0 ? slot() : slot(100 + k));
  }
  for (int t = 0; t < threads; ++t) {
    thread_plan tp;
    for (std::size_t i = 0; i < calls_per_thread; ++i) {
      operation op;
      op.thread = t;
      op.kind = all_op_kinds[below(rng, op_kind_count)];
      op.key = static_cast<std::size_t>(below(rng, keys));
      op.value = 1000 * static_cast<u64>(t + 1) + i;
      tp.ops.push_back(op);
      tp.pauses.push_back(below(rng, 3) == 0 ? static_cast<unsigned>(below(rng, 200)) : 0u);
    }
    plan.threads.push_back(std::move(tp));
  }
  // compare_exchange's fallback expected value, used when its thread has seen no value of
  // the key yet: some value another call may have written there (or the initial one).
  for (auto& tp : plan.threads) {
    for (auto& op : tp.ops) {
      if (op.kind != op_kind::compare_exchange) continue;
      std::vector<u64> candidates = {1};
      if (plan.initial[op.key]) candidates.push_back(*plan.initial[op.key]);
      for (const auto& other : plan.threads) {
        for (const auto& w : other.ops) {
          if (w.key == op.key && w.kind != op_kind::find && &w != &op)
            candidates.push_back(w.value);
        }
      }
      op.expected = candidates[below(rng, candidates.size())];
    }
  }
  return plan;
}

// Makes op's call on m, recording its result and its invocation and response stamps.
template <class Map>
void perform(Map& m, operation& op, std::atomic<u64>& clock) {
  const u64 k = op.key;
  const auto increment = [](auto& v) { ++v; };
  op.invoked = clock.fetch_add(1);
  switch (op.kind) {
    case op_kind::find:
      op.found = m.find(k);
      break;
    case op_kind::insert:
      op.ok = m.insert(k, op.value);
      break;
    case op_kind::insert_or_assign:
      op.ok = m.insert_or_assign(k, op.value);
      break;
    case op_kind::erase:
      op.ok = m.erase(k);
      break;
    case op_kind::extract:
      op.found = m.extract(k);
      break;
    case op_kind::exchange:
      op.found = m.exchange(k, op.value);
      break;
    case op_kind::compare_exchange:
      op.ok = m.compare_exchange(k, op.expected, op.value);
      break;
    case op_kind::upsert_increment:
      op.ok = m.upsert(k, increment, u64{1});
      break;
    case op_kind::find_or_insert: {
      auto [now, inserted] = m.find_or_insert(k, op.value);
      op.found = now;
      op.ok = inserted;
      break;
    }
  }
  op.responded = clock.fetch_add(1);
}

// The value of op's key as op's thread last saw it, if op tells.
void remember(const operation& op, std::vector<slot>& seen) {
  slot& s = seen[op.key];
  switch (op.kind) {
    case op_kind::find:
      if (op.found) s = op.found;
      break;
    case op_kind::erase:
    case op_kind::extract:
      break;  // gone; keep the last value seen, which may come back
    case op_kind::insert:
    case op_kind::compare_exchange:
      if (op.ok) s = op.value;
      break;
    case op_kind::insert_or_assign:
    case op_kind::exchange:
      s = op.value;
      break;
    case op_kind::upsert_increment:
      if (op.ok) {
        s = 1;
      } else if (s) {
        ++*s;
      }
      break;
    case op_kind::find_or_insert:
      s = op.found;
      break;
  }
}

// Spins for a few iterations: the pauses shift the threads' calls against each other.
void pause_for(unsigned iterations, const std::atomic<u64>& clock) {
  for (unsigned i = 0; i < iterations; ++i) (void)clock.load(std::memory_order_relaxed);
}

// Where the OS allows it, binds the calling thread (the index-th of a pool) to one of the
// CPUs the process may use, round-robin. Left to itself, Linux soon packs threads that
// yield as often as these onto one core when the other is busy, and then the threads of a
// run take turns instead of overlapping; bound, they share each core with whatever else runs
// there. A hint only: if it fails, the test still runs, with fewer overlaps.
void spread_over_cpus(std::size_t index) {
#if defined(__linux__)
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  }
  if (cpus.size() < 2) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpus[index % cpus.size()], &one);
  (void)pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
#else
  (void)index;
#endif
}

// A barrier for a fixed set of threads that spins (yielding after a while) instead of
// sleeping, so that the threads that are on a core leave it together; the last to arrive
// runs `completion` first.
class spin_barrier {
 public:
  explicit spin_barrier(int threads) : threads_(threads) {}

  template <class F>
  void arrive_and_wait(F&& completion) {
    const u64 phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
      completion();
      arrived_.store(0, std::memory_order_relaxed);
      phase_.store(phase + 1, std::memory_order_release);
      return;
    }
    for (unsigned spins = 0; phase_.load(std::memory_order_acquire) == phase; ++spins) {
      if (spins > 1000) std::this_thread::yield();
    }
  }

 private:
  const int threads_;
  std::atomic<int> arrived_{0};
  std::atomic<u64> phase_{0};
};

// Runs the plans (all for `threads` threads) one after another on one pool of threads,
// each on a fresh map that the last thread to reach the barrier prepares, and returns
// their histories: all of them, or those of the runs started within time_limit.
template <class Map>
std::vector<history> execute(const std::vector<run_plan>& plans, int threads,
                             std::chrono::milliseconds time_limit) {
  const auto deadline = std::chrono::steady_clock::now() + time_limit;
  const std::size_t n = static_cast<std::size_t>(threads);
  // results[run][thread]: each thread writes only its own vectors.
  std::vector<std::vector<std::vector<operation>>> results(plans.size(),
                                                           std::vector<std::vector<operation>>(n));
  std::optional<Map> map;
  std::atomic<u64> clock{1};
  std::latch start(threads);
  spin_barrier next_run(threads);
  std::size_t runs = plans.size();  // written only by prepare(), while the others wait
  auto prepare = [&](std::size_t run) {
    if (run > 0 && std::chrono::steady_clock::now() > deadline) {
      runs = run;
      return;
    }
    map.emplace();
    const auto& initial = plans[run].initial;
    for (std::size_t k = 0; k < initial.size(); ++k) {
      if (initial[k]) map->insert(static_cast<u64>(k), *initial[k]);
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < n; ++t) {
    pool.emplace_back([&, t] {
      spread_over_cpus(t);
      start.arrive_and_wait();
      for (std::size_t run = 0; run < plans.size(); ++run) {
        next_run.arrive_and_wait([&] { prepare(run); });
        if (run == runs) break;
        const thread_plan& tp = plans[run].threads[t];
        std::vector<operation>& mine = results[run][t];
        std::vector<slot> seen = plans[run].initial;
        for (std::size_t i = 0; i < tp.ops.size(); ++i) {
          operation op = tp.ops[i];
          if (op.kind == op_kind::compare_exchange && seen[op.key]) op.expected = *seen[op.key];
          pause_for(tp.pauses[i], clock);
          perform(*map, op, clock);
          remember(op, seen);
          mine.push_back(op);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  std::vector<history> histories;
  for (std::size_t run = 0; run < runs; ++run) {
    history h{plans[run].initial, {}};
    for (auto& ops : results[run]) h.ops.insert(h.ops.end(), ops.begin(), ops.end());
    histories.push_back(std::move(h));
  }
  return histories;
}

// True if two calls of different threads on one key overlap in time.
bool has_overlap(const history& h) {
  for (const auto& a : h.ops) {
    for (const auto& b : h.ops) {
      if (a.thread != b.thread && a.key == b.key && a.invoked < b.invoked &&
          b.invoked < a.responded) {
        return true;
      }
    }
  }
  return false;
}

// Runs the plans of every thread count on maps of type Map and checks every history.
template <class Map>
void check_single_key_calls() {
  watchdog dog;
  const u64 base = base_seed();
  int failures = 0;
  int runs = 0;
  int overlapping = 0;
  for (const int threads : {2, 3, 4}) {
    std::vector<u64> seeds;
    std::vector<run_plan> plans;
    for (u64 seed = base; seeds.size() < runs_per_thread_count; ++seed) {
      if (threads_of(seed) != threads) continue;
      seeds.push_back(seed);
      plans.push_back(make_plan(seed));
    }
    const auto histories = execute<Map>(plans, threads, run_time_limit);
    for (std::size_t run = 0; run < histories.size(); ++run) {
      const history& h = histories[run];
      ++runs;
      if (has_overlap(h)) ++overlapping;
      const auto key = first_non_linearizable_key(h);
      if (key && ++failures <= 3) {
        ADD_FAILURE() << "not linearizable on key k" << *key << ", seed " << seeds[run]
                      << " (CMAP_TEST_SEED=" << seeds[run] << " starts the runs from it)\n  "
                      << describe(h);
      }
    }
  }
  EXPECT_EQ(failures, 0) << "non-linearizable runs";
  ::testing::Test::RecordProperty("runs", runs);
  ::testing::Test::RecordProperty("runs_with_overlapping_calls", overlapping);
}

template <class Family>
class Linearizability : public ::testing::Test {
 protected:
  using u64_map = typename Family::template map<u64, u64>;
};
TYPED_TEST_SUITE(Linearizability, all_map_families, family_names);

TYPED_TEST(Linearizability, SingleKeyCallsAreLinearizable) {
  check_single_key_calls<typename TestFixture::u64_map>();
}

// durable_map in this test's shape: default-constructible, each map in a fresh directory.
// Its file system never waits for the disk (the fault-injecting one with no fault set: its
// syncs are bookkeeping), so that thousands of maps open in seconds, while each call still
// goes the whole way: stripe, log append with group commit (sync::group), apply.
struct durable_directory {
  cmap_test::temp_directory dir{"linearizability"};
};
class durable_u64_map : private durable_directory, public cmap::durable_map<u64, u64> {
 public:
  durable_u64_map() : cmap::durable_map<u64, u64>(dir.path() / "store", options()) {}

 private:
  static cmap::durable_options options() {
    static const auto fs = std::make_shared<cmap_test::fault_file_system>();
    cmap::durable_options o;
    o.fs = fs;
    o.checkpoint_log_bytes = 0;
    return o;
  }
};

TEST(Linearizability, DurableMapSingleKeyCallsAreLinearizable) {
  check_single_key_calls<durable_u64_map>();
}

}  // namespace
