// Allocation failure, once over every map in all_map_families. docs/api.md promises that
// "allocation failure propagates std::bad_alloc and leaves the map unchanged (strong
// guarantee for single-key calls)". Every map takes a stateful allocator and allocates all
// it owns through it, so a test arena (arena_allocator.hpp) can make any one of a call's
// allocations fail: each call of the common surface (and snapshot_map's batches, serial_map's
// asynchronous and fire-and-forget writes) is swept over every allocation it makes, N = 0,
// 1, 2, ...: the N-th throws, and the map must then hold exactly what it held before, keep
// working, and give every byte back to the arena once destroyed; at the first N that the
// call completes without a failure, its effect must be the right one.
//
// Values come in three kinds: u64 (concurrent_hash_map keeps them inline in its table, so
// only the table allocates); strings whose characters come from the map's own arena, so that
// every copy of a value (a node of concurrent_hash_map, the entries a trie node copies, the
// copy a call returns) is an allocation that can fail too; and such strings with a move that
// may throw, which the maps copy where they would move.
//
// Memory a map does not own does not come from the arena: serial_map's queued commands and
// their promises (operator new), the epoch's retire lists (std::vector), the scratch arrays of
// a walk. Their failure is not simulated here.
//
// Last, growth under concurrency: threads fill one concurrent_hash_map (or read_mostly_map)
// that starts with one group, while every other table allocation (or every seventh
// allocation of any kind) fails; the writers that a growth stops help copy the table (the
// cooperative rehash of detail/concurrent_table.hpp), and the map must end holding exactly
// the inserts that returned true.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmap/detail/sanitizers.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <iterator>
#include <latch>
#include <map>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "arena_allocator.hpp"
#include "map_types.hpp"
#include "stress/watchdog.hpp"

namespace {

using cmap_test::all_map_families;
using cmap_test::arena;
using cmap_test::arena_allocator;
using cmap_test::family_names;
using u64 = std::uint64_t;

// A transparent hash, so that a std::uint32_t (which Key can be built from) serves as the
// heterogeneous key of emplace/try_emplace; it hashes a key of either type alike.
struct key_hash {
  using is_transparent = void;
  template <std::integral K>
  std::size_t operator()(K k) const noexcept {
    return cmap::hash<u64>{0}(static_cast<u64>(k));
  }
};
using key_equal = std::equal_to<>;

// A string whose characters come from an arena: the map's own, so that copying a value can
// fail like any other allocation of the map.
using text = std::basic_string<char, std::char_traits<char>, arena_allocator<char>>;

// What the tests do with each kind of value: make the value of key k at a version (from the
// arena, before it is armed), the same as the model's std::string, show a value that way,
// and the change that upsert's and visit's callbacks make.
template <class V>
struct values;

template <>
struct values<u64> {
  static u64 make(arena&, u64 k, unsigned version) { return k * 100 + version; }
  static std::string text_of(u64 k, unsigned version) { return std::to_string(k * 100 + version); }
  static std::string show(u64 v) { return std::to_string(v); }
  static u64 parse(arena&, const std::string& s) { return std::stoull(s); }
  static void touch(u64& v) noexcept { v += 50; }
  static std::string touched(const std::string& s) { return std::to_string(std::stoull(s) + 50); }
};

template <>
struct values<text> {
  static std::string text_of(u64 k, unsigned version) {
    return "the value of key " + std::to_string(k) + ", version " + std::to_string(version);
  }
  static text make(arena& a, u64 k, unsigned version) { return parse(a, text_of(k, version)); }
  static std::string show(const text& v) { return std::string(v.data(), v.size()); }
  static text parse(arena& a, const std::string& s) {
    return text(s.data(), s.size(), arena_allocator<char>(a));
  }
  // Longer than the room a value has: the append allocates from the arena, and it gives the
  // standard's strong guarantee, so a callback that throws has changed nothing (docs/api.md
  // excepts only "what a throwing visit/upsert callback itself changed" from the promise).
  static constexpr std::string_view suffix = ", then touched by a callback";
  static void touch(text& v) { v.append(suffix.data(), suffix.size()); }
  static std::string touched(const std::string& s) { return s + std::string(suffix); }
};

// A text whose move constructor and assignment may throw (they never do; they are only not
// noexcept): locked_map and sharded_map then copy the entries when they rehash, so that a
// copy that fails leaves the old table whole, and serial_map runs the writes that change a
// value in place under a savepoint.
struct fragile_text {
  text s;
  explicit fragile_text(text t) : s(std::move(t)) {}
  fragile_text(const fragile_text&) = default;
  fragile_text(fragile_text&& o) noexcept(false) : s(std::move(o.s)) {}
  fragile_text& operator=(const fragile_text&) = default;
  fragile_text& operator=(fragile_text&& o) noexcept(false) {
    s = std::move(o.s);
    return *this;
  }
  bool operator==(const fragile_text&) const = default;
};
static_assert(!std::is_nothrow_move_constructible_v<fragile_text>);

template <>
struct values<fragile_text> {
  using base = values<text>;
  static std::string text_of(u64 k, unsigned version) { return base::text_of(k, version); }
  static fragile_text make(arena& a, u64 k, unsigned version) {
    return fragile_text(base::make(a, k, version));
  }
  static fragile_text parse(arena& a, const std::string& s) {
    return fragile_text(base::parse(a, s));
  }
  static std::string show(const fragile_text& v) { return base::show(v.s); }
  static void touch(fragile_text& v) { base::touch(v.s); }
  static std::string touched(const std::string& s) { return base::touched(s); }
};

// Plain std::string values, for the concurrent test: concurrent_hash_map keeps them in
// nodes, which come from the arena; their characters do not.
template <>
struct values<std::string> {
  static std::string text_of(u64 k, unsigned version) { return values<text>::text_of(k, version); }
  static std::string make(arena&, u64 k, unsigned version) { return text_of(k, version); }
  static const std::string& show(const std::string& v) { return v; }
};

template <class Family, class V>
using map_of = typename Family::template map<u64, V, key_hash, key_equal,
                                             arena_allocator<std::pair<const u64, V>>>;

template <class Map>
Map make_map(arena& a) {
  return Map(arena_allocator<std::pair<const u64, typename Map::mapped_type>>(a));
}

// The contents of a map, or of a batch, as the model keeps them.
using model = std::map<u64, std::string>;

template <class M>
model contents(const M& m) {
  using V = typename M::mapped_type;
  model out;
  m.for_each([&](const u64& k, const V& v) { out.emplace(k, values<V>::show(v)); });
  return out;
}

// A short account of how got differs from want (a whole model would bury it).
std::string difference(const model& want, const model& got) {
  std::ostringstream out;
  out << "expected " << want.size() << " entries, found " << got.size();
  int shown = 0;
  for (const auto& [k, v] : want) {
    if (shown == 6) break;
    const auto it = got.find(k);
    if (it == got.end()) {
      out << "\n  key " << k << " is missing";
      ++shown;
    } else if (it->second != v) {
      out << "\n  key " << k << " holds \"" << it->second << "\", not \"" << v << "\"";
      ++shown;
    }
  }
  for (const auto& [k, v] : got) {
    if (shown == 6) break;
    if (!want.contains(k)) {
      out << "\n  key " << k << " should not be there";
      ++shown;
    }
  }
  return out.str();
}

// Failures recorded in the running test so far: a sweep stops after its first failing step,
// one report per call being enough.
int failures_so_far() {
  return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
}

// The keys a sweep works with, on a map filled with keys [0, n) at version 0.
struct layout {
  std::size_t n;
  u64 present;  // in the map; not 0 or 1, which batches change too
  u64 fresh;    // n: absent, and the map grows when it goes in
  u64 absent;   // beyond every key a call inserts
};

// Keys [0, n) at version 0, inserted in that order: as a range, which is one batch (one
// round trip to serial_map's owner) on the maps that take a range at once and key by key
// on the others, which then fill as growth_boundary's map did.
template <class Map>
void fill(Map& m, arena& a, std::size_t n) {
  using V = typename Map::mapped_type;
  std::vector<std::pair<u64, V>> entries;
  entries.reserve(n);
  for (u64 k = 0; k < n; ++k) entries.emplace_back(k, values<V>::make(a, k, 0));
  m.insert(std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
}

template <class V>
model filled_model(std::size_t n) {
  model out;
  for (u64 k = 0; k < n; ++k) out.emplace(k, values<V>::text_of(k, 0));
  return out;
}

// The smallest n >= at_least such that a map filled with keys [0, n) grows its table to
// take key n (the maps are deterministic: a map filled the same way grows at the same
// insert). A trie has no table to grow (every write allocates its path): at_least.
template <class Family, class V>
std::size_t growth_boundary(std::size_t at_least) {
  if constexpr (Family::persistent) {
    return at_least;
  } else {
    using map_t = map_of<Family, V>;
    arena a(0);
    map_t m = make_map<map_t>(a);
    for (u64 k = 0;; ++k) {
      const std::size_t before = cmap_test::table_bytes(m);
      m.insert(k, values<V>::make(a, k, 0));
      if (k >= at_least && cmap_test::table_bytes(m) != before) return k;
    }
  }
}

// ---- the calls --------------------------------------------------------------------------

enum case_flags : unsigned {
  no_flags = 0,
  must_allocate = 1,  // the call allocates on every map: the sweep must see a failure
  grows = 2 | 1,      // and a map with a table grows it (checked once the call succeeds)
};

// One call of the sweep. prepare builds its arguments in the arena (not yet armed) and
// returns the call, which checks its own result; effect is what it does to the contents
// when it succeeds; after_failure, if set, says which contents are right after it threw
// (else exactly those before).
template <class Map>
struct call_case {
  std::string name;
  std::function<std::function<void(Map&)>(arena&)> prepare;
  std::function<void(model&)> effect;
  std::function<bool(const model& before, const model& after)> after_failure;
  unsigned flags = no_flags;
};

template <class M>
concept has_update = requires(M& m) {
  m.update([](typename M::transient&) {});
};
template <class M>
concept has_queue = requires(M& m) {
  m.failed_submissions();
};

// The batch that update(), apply_async() and submit() run: inserts, an erase, an assignment
// and an upsert over several nodes. One step: all of it or nothing.
template <class V, class Transient>
int edit_batch(Transient& t, const layout& at, const V& v1, const V& v2, const V& v3) {
  EXPECT_TRUE(t.insert(at.fresh, v1));
  EXPECT_TRUE(t.insert(at.fresh + 1, v2));
  EXPECT_TRUE(t.erase(at.present));
  EXPECT_FALSE(t.insert_or_assign(u64{0}, v3));
  EXPECT_FALSE(t.upsert(
      u64{1}, [](V& v) { values<V>::touch(v); }, v3));
  return 42;
}
template <class V>
void edit_batch_effect(model& e, const layout& at) {
  e[at.fresh] = values<V>::text_of(at.fresh, 3);
  e[at.fresh + 1] = values<V>::text_of(at.fresh + 1, 3);
  e.erase(at.present);
  e[0] = values<V>::text_of(0, 4);
  e[1] = values<V>::touched(e[1]);
}

// The range insert(first, last) gets: 20 new keys from `fresh` on (the first grows the
// table), with a present key and repeats of new keys among them (the first of equal keys
// wins). As the model's entries, and in a map's values.
template <class V>
std::vector<std::pair<u64, std::string>> range_entries(const layout& at) {
  std::vector<std::pair<u64, std::string>> out;
  const u64 count = 20;
  for (u64 i = 0; i < count; ++i) {
    out.emplace_back(at.fresh + i, values<V>::text_of(at.fresh + i, 2));
    if (i % 5 == 0) out.emplace_back(at.present, values<V>::text_of(at.present, 9));
    if (i % 7 == 3) out.emplace_back(at.fresh + i, values<V>::text_of(at.fresh + i, 8));
  }
  return out;
}
// The model after inserting entries [0, count) of the range.
inline model after_inserting(model m, const std::vector<std::pair<u64, std::string>>& range,
                             std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) m.emplace(range[i]);
  return m;
}

template <class Family, class V>
std::vector<call_case<map_of<Family, V>>> every_call(const layout& at) {
  using Map = map_of<Family, V>;
  using vals = values<V>;
  using call_t = std::function<void(Map&)>;
  const u64 fresh = at.fresh, present = at.present, absent = at.absent;
  const std::string old_value = vals::text_of(present, 0);
  std::vector<call_case<Map>> cases;
  const auto add = [&cases](
                       std::string name, std::function<std::function<void(Map&)>(arena&)> prepare,
                       std::function<void(model&)> effect, unsigned flags = no_flags,
                       std::function<bool(const model&, const model&)> after_failure = nullptr) {
    cases.push_back(call_case<Map>{std::move(name), std::move(prepare), std::move(effect),
                                   std::move(after_failure), flags});
  };
  const auto unchanged = [](model&) {};

  // ---- inserts of a new key: each grows the table --------------------------------------
  add(
      "insert(const Key&, const T&) of a new key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, fresh, 1)](Map& m) { EXPECT_TRUE(m.insert(fresh, v)); };
      },
      [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);
  add(
      "insert(Key&&, T&&) of a new key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, fresh, 1)](Map& m) mutable {
          EXPECT_TRUE(m.insert(u64{fresh}, std::move(v)));
        };
      },
      [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);
  add(
      "emplace of a new key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, fresh, 1)](Map& m) { EXPECT_TRUE(m.emplace(fresh, v)); };
      },
      [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);
  add(
      "try_emplace of a new transparent key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, fresh, 1)](Map& m) {
          EXPECT_TRUE(m.try_emplace(static_cast<std::uint32_t>(fresh), v));
        };
      },
      [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);
  add(
      "insert_or_assign of a new key",
      [=](arena& a) -> call_t {
        return
            [=, v = vals::make(a, fresh, 1)](Map& m) { EXPECT_TRUE(m.insert_or_assign(fresh, v)); };
      },
      [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);
  add(
      "find_or_insert of a new key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, fresh, 1)](Map& m) {
          const auto [value, inserted] = m.find_or_insert(fresh, v);
          EXPECT_TRUE(inserted);
          EXPECT_EQ(vals::show(value), vals::text_of(fresh, 1));
        };
      },
      [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);
  add(
      "upsert of a new key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, fresh, 1)](Map& m) {
          EXPECT_TRUE(m.upsert(
              fresh, [](V&) { ADD_FAILURE() << "f on an absent key"; }, v));
        };
      },
      [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);
  add(
      "exchange of a new key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, fresh, 1)](Map& m) {
          EXPECT_FALSE(m.exchange(fresh, v).has_value());
        };
      },
      [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);

  // ---- calls on a present key ----------------------------------------------------------
  // Those that change nothing may allocate (a copy of an argument, say), but must then
  // leave the map as it was, like every other call.
  add(
      "insert of a present key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, present, 1)](Map& m) { EXPECT_FALSE(m.insert(present, v)); };
      },
      unchanged);
  add(
      "try_emplace of a present transparent key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, present, 1)](Map& m) {
          EXPECT_FALSE(m.try_emplace(static_cast<std::uint32_t>(present), v));
        };
      },
      unchanged);
  add(
      "insert_or_assign of a present key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, present, 1)](Map& m) {
          EXPECT_FALSE(m.insert_or_assign(present, v));
        };
      },
      [=](model& e) { e[present] = vals::text_of(present, 1); });
  add(
      "find_or_insert of a present key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, present, 1)](Map& m) {
          const auto [value, inserted] = m.find_or_insert(present, v);
          EXPECT_FALSE(inserted);
          EXPECT_EQ(vals::show(value), old_value);
        };
      },
      unchanged);
  add(
      "upsert of a present key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, present, 1)](Map& m) {
          EXPECT_FALSE(m.upsert(
              present, [](V& x) { vals::touch(x); }, v));
        };
      },
      [=](model& e) { e[present] = vals::touched(e[present]); });
  add(
      "exchange of a present key",
      [=](arena& a) -> call_t {
        return [=, v = vals::make(a, present, 1)](Map& m) {
          const std::optional<V> old = m.exchange(present, v);
          ASSERT_TRUE(old.has_value());
          EXPECT_EQ(vals::show(*old), old_value);
        };
      },
      [=](model& e) { e[present] = vals::text_of(present, 1); });
  add(
      "compare_exchange that matches",
      [=](arena& a) -> call_t {
        return [=, expected = vals::make(a, present, 0), desired = vals::make(a, present, 1)](
                   Map& m) { EXPECT_TRUE(m.compare_exchange(present, expected, desired)); };
      },
      [=](model& e) { e[present] = vals::text_of(present, 1); });
  add(
      "compare_exchange that does not match",
      [=](arena& a) -> call_t {
        return [=, expected = vals::make(a, present, 5), desired = vals::make(a, present, 1)](
                   Map& m) { EXPECT_FALSE(m.compare_exchange(present, expected, desired)); };
      },
      unchanged);
  add(
      "visit(k, f) that changes the value",
      [=](arena&) -> call_t {
        return [=](Map& m) { EXPECT_TRUE(m.visit(present, [](V& x) { vals::touch(x); })); };
      },
      [=](model& e) { e[present] = vals::touched(e[present]); });
  add(
      "erase of a present key",
      [=](arena&) -> call_t { return [=](Map& m) { EXPECT_TRUE(m.erase(present)); }; },
      [=](model& e) { e.erase(present); });
  add(
      "erase of an absent key",
      [=](arena&) -> call_t { return [=](Map& m) { EXPECT_FALSE(m.erase(absent)); }; }, unchanged);
  add(
      "extract",
      [=](arena&) -> call_t {
        return [=](Map& m) {
          const std::optional<V> old = m.extract(present);
          ASSERT_TRUE(old.has_value());
          EXPECT_EQ(vals::show(*old), old_value);
        };
      },
      [=](model& e) { e.erase(present); });
  add(
      "compare_erase that matches",
      [=](arena& a) -> call_t {
        return [=, expected = vals::make(a, present, 0)](Map& m) {
          EXPECT_TRUE(m.compare_erase(present, expected));
        };
      },
      [=](model& e) { e.erase(present); });

  // ---- whole map -------------------------------------------------------------------------
  // Entry by entry on the locking and concurrent maps; none of them allocates from the
  // arena to erase. One batch on snapshot_map and serial_map.
  add(
      "erase_if",
      [=](arena&) -> call_t {
        return [=](Map& m) {
          EXPECT_EQ(m.erase_if([](const u64& k, const V&) { return k % 8 == 0; }), (at.n + 7) / 8);
        };
      },
      [](model& e) { std::erase_if(e, [](const auto& kv) { return kv.first % 8 == 0; }); });
  // concurrent_hash_map publishes a fresh table; snapshot_map an empty root.
  add(
      "clear", [=](arena&) -> call_t { return [=](Map& m) { m.clear(); }; },
      [](model& e) { e.clear(); });
  constexpr unsigned with_table = Family::has_table ? grows : no_flags;
  add(
      "reserve beyond the capacity",
      [=](arena&) -> call_t { return [=](Map& m) { m.reserve(4 * at.n + 64); }; }, unchanged,
      with_table);
  add(
      "rehash to a larger table",
      [=](arena&) -> call_t { return [=](Map& m) { m.rehash(4 * at.n + 64); }; }, unchanged,
      with_table);
  add(
      "rehash(0)", [=](arena&) -> call_t { return [=](Map& m) { m.rehash(0); }; }, unchanged);
  add(
      "shrink_to_fit", [=](arena&) -> call_t { return [=](Map& m) { m.shrink_to_fit(); }; },
      unchanged);

  // insert(first, last): common_surface.hpp says "Entry by entry unless the map says
  // otherwise in its header (snapshot_map and serial_map insert the range as one batch): if
  // an insert throws, the entries before it stay." So after a failure the map holds what it
  // held plus the entries of some prefix of the range, and nothing else; snapshot_map and
  // serial_map ("A range goes in as one batch: one new version, all of it or (if an insert
  // throws) nothing") hold what they held.
  const auto range = range_entries<V>(at);
  std::size_t new_keys = 0;
  {
    model probe;
    for (const auto& e : range) new_keys += probe.emplace(e).second ? 1 : 0;
    new_keys -= 1;  // the present key
  }
  std::function<bool(const model&, const model&)> range_failure = nullptr;
  if constexpr (!Family::persistent) {
    range_failure = [range](const model& before, const model& after) {
      // The prefix ends at the first entry of a new key that is not in the map.
      std::size_t kept = 0;
      while (kept < range.size() &&
             (before.contains(range[kept].first) || after.contains(range[kept].first))) {
        ++kept;
      }
      return after_inserting(before, range, kept) == after;
    };
  }
  add(
      "insert(first, last)",
      [=](arena& a) -> call_t {
        std::vector<std::pair<u64, V>> entries;
        for (const auto& [k, s] : range) entries.emplace_back(k, vals::parse(a, s));
        return [=](Map& m) { EXPECT_EQ(m.insert(entries.begin(), entries.end()), new_keys); };
      },
      [=](model& e) { e = after_inserting(e, range, range.size()); }, grows, range_failure);

  // ---- snapshot_map: a batch is all or nothing ----------------------------------------
  if constexpr (has_update<Map>) {
    add(
        "update(f), a batch",
        [=](arena& a) -> call_t {
          return [=, v1 = vals::make(a, fresh, 3), v2 = vals::make(a, fresh + 1, 3),
                  v3 = vals::make(a, 0, 4)](Map& m) {
            EXPECT_EQ(m.update([&](typename Map::transient& t) {
              return edit_batch<V>(t, at, v1, v2, v3);
            }),
                      42);
          };
        },
        [=](model& e) { edit_batch_effect<V>(e, at); }, must_allocate);
  }

  // ---- serial_map: futures and fire-and-forget writes ---------------------------------
  // A write that fails changes nothing; its future holds the bad_alloc (get() rethrows it
  // to the sweep); failed_submissions() counts only fire-and-forget writes that failed.
  if constexpr (has_queue<Map>) {
    // Waits for the future, checks that no fire-and-forget failure was counted, and returns
    // get() (which rethrows the write's exception).
    const auto resolve = [](Map& m, auto future) {
      const auto failed = m.failed_submissions();
      future.wait();
      EXPECT_EQ(m.failed_submissions(), failed);
      return future.get();
    };
    add(
        "insert_async of a new key",
        [=](arena& a) -> call_t {
          return [=, v = vals::make(a, fresh, 1)](Map& m) mutable {
            EXPECT_TRUE(resolve(m, m.insert_async(fresh, std::move(v))));
          };
        },
        [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);
    add(
        "insert_or_assign_async of a present key",
        [=](arena& a) -> call_t {
          return [=, v = vals::make(a, present, 1)](Map& m) mutable {
            EXPECT_FALSE(resolve(m, m.insert_or_assign_async(present, std::move(v))));
          };
        },
        [=](model& e) { e[present] = vals::text_of(present, 1); });
    add(
        "erase_async of a present key",
        [=](arena&) -> call_t {
          return [=](Map& m) { EXPECT_TRUE(resolve(m, m.erase_async(present))); };
        },
        [=](model& e) { e.erase(present); });
    add(
        "upsert_async of a present key",
        [=](arena& a) -> call_t {
          return [=, v = vals::make(a, present, 1)](Map& m) mutable {
            EXPECT_FALSE(resolve(m, m.upsert_async(
                                        present, [](V& x) { vals::touch(x); }, std::move(v))));
          };
        },
        [=](model& e) { e[present] = vals::touched(e[present]); });
    add(
        "apply_async(f), a batch",
        [=](arena& a) -> call_t {
          return [=, v1 = vals::make(a, fresh, 3), v2 = vals::make(a, fresh + 1, 3),
                  v3 = vals::make(a, 0, 4)](Map& m) {
            EXPECT_EQ(resolve(m, m.apply_async([=](typename Map::transient& t) {
                        return edit_batch<V>(t, at, v1, v2, v3);
                      })),
                      42);
          };
        },
        [=](model& e) { edit_batch_effect<V>(e, at); }, must_allocate);

    // Fire-and-forget: flush(), then a failure counted means the write failed, which the
    // sweep is told by a bad_alloc (it checks that an allocation did fail).
    const auto settle = [](Map& m, std::uint64_t failed_before) {
      m.flush();
      const std::uint64_t failed = m.failed_submissions() - failed_before;
      EXPECT_LE(failed, 1u);
      if (failed != 0) throw std::bad_alloc();
    };
    add(
        "submit_insert of a new key",
        [=](arena& a) -> call_t {
          return [=, v = vals::make(a, fresh, 1)](Map& m) mutable {
            const auto failed = m.failed_submissions();
            m.submit_insert(fresh, std::move(v));
            settle(m, failed);
          };
        },
        [=](model& e) { e[fresh] = vals::text_of(fresh, 1); }, grows);
    add(
        "submit_insert_or_assign of a present key",
        [=](arena& a) -> call_t {
          return [=, v = vals::make(a, present, 1)](Map& m) mutable {
            const auto failed = m.failed_submissions();
            m.submit_insert_or_assign(present, std::move(v));
            settle(m, failed);
          };
        },
        [=](model& e) { e[present] = vals::text_of(present, 1); });
    add(
        "submit_erase of a present key",
        [=](arena&) -> call_t {
          return [=](Map& m) {
            const auto failed = m.failed_submissions();
            m.submit_erase(present);
            settle(m, failed);
          };
        },
        [=](model& e) { e.erase(present); });
    add(
        "submit_upsert of a present key",
        [=](arena& a) -> call_t {
          return [=, v = vals::make(a, present, 1)](Map& m) mutable {
            const auto failed = m.failed_submissions();
            m.submit_upsert(
                present, [](V& x) { vals::touch(x); }, std::move(v));
            settle(m, failed);
          };
        },
        [=](model& e) { e[present] = vals::touched(e[present]); });
    add(
        "submit(f), a batch",
        [=](arena& a) -> call_t {
          return [=, v1 = vals::make(a, fresh, 3), v2 = vals::make(a, fresh + 1, 3),
                  v3 = vals::make(a, 0, 4)](Map& m) {
            const auto failed = m.failed_submissions();
            m.submit([=](typename Map::transient& t) { edit_batch<V>(t, at, v1, v2, v3); });
            settle(m, failed);
          };
        },
        [=](model& e) { edit_batch_effect<V>(e, at); }, must_allocate);
  }
  return cases;
}

// After a call, with the arena disarmed: the map still inserts, finds and erases, and then
// holds what it held.
template <class Map>
void check_still_works(Map& m, arena& a, const model& held) {
  using V = typename Map::mapped_type;
  const u64 k = 1'000'000;
  EXPECT_TRUE(m.insert(k, values<V>::make(a, k, 1)));
  const std::optional<V> got = m.find(k);
  EXPECT_TRUE(got.has_value() && values<V>::show(*got) == values<V>::text_of(k, 1));
  EXPECT_TRUE(m.erase(k));
  EXPECT_EQ(m.size(), held.size());
  EXPECT_TRUE(contents(m) == held) << difference(held, contents(m));
}

// Sweeps one call over every allocation it makes (see the top of this file). and_after:
// every allocation after the failing one fails too (else only that one).
template <class Family, class V>
void sweep(const call_case<map_of<Family, V>>& c, std::size_t n, bool and_after) {
  using Map = map_of<Family, V>;
  const model base = filled_model<V>(n);
  model expected = base;
  c.effect(expected);
  long injected_total = 0;
  const int failures_before = failures_so_far();
  for (long nth = 0;; ++nth) {
    SCOPED_TRACE(c.name + ", a map of " + std::to_string(n) + " entries, allocation " +
                 std::to_string(nth) + " fails" + (and_after ? ", and every one after it" : ""));
    ASSERT_LT(nth, 100000) << "the call never completed";
    arena a(1);
    bool done = false;
    {
      Map m = make_map<Map>(a);
      fill(m, a, n);
      const auto call = c.prepare(a);
      const std::size_t table_before = cmap_test::table_bytes(m);
      const long failed_before = a.failures.load();
      a.fail_after(nth, and_after);
      bool threw = false;
      try {
        call(m);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      a.never_fail();
      const bool injected = a.failures.load() != failed_before;
      injected_total += injected ? 1 : 0;
      const model after = contents(m);
      if (threw) {
        EXPECT_TRUE(injected) << "bad_alloc, but no allocation failed";
        if (c.after_failure) {
          EXPECT_TRUE(c.after_failure(base, after)) << difference(base, after);
        } else {
          EXPECT_TRUE(after == base)
              << "the failed call changed the map: " << difference(base, after);
        }
      } else {
        // A failure the call absorbed must not show either; the sweep goes on.
        EXPECT_TRUE(after == expected) << difference(expected, after);
        if ((c.flags & grows) == grows && Family::has_table) {
          EXPECT_NE(cmap_test::table_bytes(m), table_before) << "the call did not grow the table";
        }
        done = !injected;
      }
      EXPECT_EQ(m.size(), after.size());
      check_still_works(m, a, after);
    }
    EXPECT_EQ(a.live_bytes.load(), 0) << "the map did not give all its memory back";
    EXPECT_EQ(a.live_blocks.load(), 0);
    if (done || failures_so_far() != failures_before) break;
  }
  if (c.flags & must_allocate) {
    EXPECT_GT(injected_total, 0) << c.name << " allocated nothing: the sweep tested nothing";
  }
}

// Every call, on a small map and on one of a few hundred entries, each at a growth
// boundary, with one failing allocation and with every allocation failing from the N-th.
// The sanitizer builds take a smaller larger map: there a step costs far more (a growth of
// locked_map with values whose move may throw copies every entry, one allocation each, and
// is swept over all of them), and the unsanitised build runs the full sweeps. Under
// ThreadSanitizer, which checks the synchronisation rather than the guarantee, only one
// allocation fails (a step of serial_map there costs milliseconds: its owner thread's start
// and join).
#if CMAP_DETAIL_TSAN || CMAP_DETAIL_ASAN
constexpr std::size_t larger_map = 64;
#else
constexpr std::size_t larger_map = 200;
#endif
constexpr bool also_every_one_after = !CMAP_DETAIL_TSAN;

template <class Family, class V>
void sweep_every_call() {
  for (const std::size_t at_least : {std::size_t{4}, larger_map}) {
    const std::size_t n = growth_boundary<Family, V>(at_least);
    const layout at{n, n / 2, n, 10 * n + 10000};
    for (const auto& c : every_call<Family, V>(at)) {
      sweep<Family, V>(c, n, false);
      if (also_every_one_after) sweep<Family, V>(c, n, true);
    }
  }
}

template <class Family>
class AllocationFailure : public ::testing::Test {};
TYPED_TEST_SUITE(AllocationFailure, all_map_families, family_names);

TYPED_TEST(AllocationFailure, EveryCallOnU64ValuesIsAllOrNothing) {
  sweep_every_call<TypeParam, u64>();
}

TYPED_TEST(AllocationFailure, EveryCallOnValuesThatAllocateIsAllOrNothing) {
  sweep_every_call<TypeParam, text>();
}

TYPED_TEST(AllocationFailure, EveryCallOnValuesWhoseMoveMayThrowIsAllOrNothing) {
  sweep_every_call<TypeParam, fragile_text>();
}

// A constructor that throws has no map to destroy: whatever it had allocated must be back.
TYPED_TEST(AllocationFailure, AConstructorThatFailsGivesEverythingBack) {
  using Map = map_of<TypeParam, text>;
  using alloc_t = arena_allocator<std::pair<const u64, text>>;
  constexpr std::size_t n = 40;
  const model want = filled_model<text>(n);
  for (const bool from_range : {false, true}) {
    bool done = false;
    for (long nth = 0; !done; ++nth) {
      SCOPED_TRACE(std::string(from_range ? "from a range" : "with a capacity") + ", allocation " +
                   std::to_string(nth) + " fails");
      ASSERT_LT(nth, 100000);
      arena a(2);
      {
        std::vector<std::pair<u64, text>> entries;
        for (u64 k = 0; k < n; ++k) entries.emplace_back(k, values<text>::make(a, k, 0));
        a.fail_after(nth);
        try {
          if (from_range) {
            const Map m(entries.begin(), entries.end(), 0, alloc_t(a));
            a.never_fail();
            EXPECT_TRUE(contents(m) == want) << difference(want, contents(m));
          } else {
            const Map m(10 * n, alloc_t(a));
            a.never_fail();
            EXPECT_EQ(m.size(), 0u);
          }
          done = a.failures.load() == 0;
        } catch (const std::bad_alloc&) {
          EXPECT_EQ(a.failures.load(), 1);
        }
        a.never_fail();
      }
      EXPECT_EQ(a.live_bytes.load(), 0);
      EXPECT_EQ(a.live_blocks.load(), 0);
    }
  }
}

// ---- snapshot_map's batch editor -----------------------------------------------------

// The transient that update() hands out offers "the single-key calls of the common surface"
// (snapshot_map.hpp), whose promise is the strong guarantee (docs/api.md). So a call that
// throws bad_alloc inside a batch that catches it must leave the batch as it was: the same
// entries, and a size() that counts them. Swept over every allocation of each call, for
// every key of a trie deep enough to have nodes that an erase folds into their parent.
template <class V>
void every_transient_call_is_all_or_nothing() {
  using Map = map_of<cmap_test::snapshot_family, V>;
  using transient = typename Map::transient;
  using vals = values<V>;
  constexpr std::size_t n = 300;
  struct discard {};  // thrown out of update() so that no step publishes anything
  struct op {
    std::string name;
    u64 key_step;  // the keys it is tried on: every key_step-th
    std::function<void(transient&, u64 k, const V& v)> call;
    std::function<void(model&, u64 k)> effect;
  };
  const std::vector<op> ops = {
      {"erase", 1, [](transient& t, u64 k, const V&) { EXPECT_TRUE(t.erase(k)); },
       [](model& e, u64 k) { e.erase(k); }},
      {"extract", 1, [](transient& t, u64 k, const V&) { EXPECT_TRUE(t.extract(k).has_value()); },
       [](model& e, u64 k) { e.erase(k); }},
      {"compare_erase", 3,
       [](transient& t, u64 k, const V&) { EXPECT_TRUE(t.compare_erase(k, *t.find(k))); },
       [](model& e, u64 k) { e.erase(k); }},
      {"insert of a new key", 7,
       [](transient& t, u64 k, const V& v) { EXPECT_TRUE(t.insert(k + n, v)); },
       [](model& e, u64 k) { e[k + n] = vals::text_of(k, 1); }},
      {"insert_or_assign", 7,
       [](transient& t, u64 k, const V& v) { EXPECT_FALSE(t.insert_or_assign(k, v)); },
       [](model& e, u64 k) { e[k] = vals::text_of(k, 1); }},
      {"exchange", 7,
       [](transient& t, u64 k, const V& v) { EXPECT_TRUE(t.exchange(k, v).has_value()); },
       [](model& e, u64 k) { e[k] = vals::text_of(k, 1); }},
      {"upsert", 7,
       [](transient& t, u64 k, const V& v) {
         EXPECT_FALSE(t.upsert(
             k, [](V& x) { vals::touch(x); }, v));
       },
       [](model& e, u64 k) { e[k] = vals::touched(e[k]); }},
  };
  arena a(3);
  {
    Map m = make_map<Map>(a);
    fill(m, a, n);
    const model published = contents(m);
    for (const op& o : ops) {
      const int failures_before = failures_so_far();
      for (u64 k = 0; k < n && failures_so_far() == failures_before; k += o.key_step) {
        model expected = published;
        o.effect(expected, k);
        for (long nth = 0;; ++nth) {
          SCOPED_TRACE(o.name + " of key " + std::to_string(k) + " in a batch, allocation " +
                       std::to_string(nth) + " fails");
          ASSERT_LT(nth, 100000);
          const V v = vals::make(a, k, 1);
          const long failed_before = a.failures.load();
          try {
            m.update([&](transient& t) {
              a.fail_after(nth);
              bool threw = false;
              try {
                o.call(t, k, v);
              } catch (const std::bad_alloc&) {
                threw = true;
              }
              a.never_fail();
              const model now = contents(t);
              if (threw) {
                EXPECT_EQ(t.size(), now.size()) << "the batch's size() does not count its entries";
                EXPECT_TRUE(now == published)
                    << "the failed call changed the batch: " << difference(published, now);
              } else {
                EXPECT_TRUE(now == expected) << difference(expected, now);
                EXPECT_EQ(t.size(), now.size());
              }
              throw discard{};
            });
          } catch (const discard&) {
          }
          if (a.failures.load() == failed_before || failures_so_far() != failures_before) break;
        }
      }
    }
    EXPECT_TRUE(contents(m) == published) << "a discarded batch was published";
  }
  EXPECT_EQ(a.live_bytes.load(), 0);
  EXPECT_EQ(a.live_blocks.load(), 0);
}

TEST(SnapshotMapBatchUnderAllocationFailure, ACallThatThrowsLeavesTheBatchAsItWas) {
  every_transient_call_is_all_or_nothing<u64>();
}

TEST(SnapshotMapBatchUnderAllocationFailure,
     ACallOnValuesThatAllocateThatThrowsLeavesTheBatchAsItWas) {
  every_transient_call_is_all_or_nothing<text>();
}

// ---- serial_map: one failing write among a batch of them --------------------------------

// serial_map.hpp: "a write that throws ... leaves the map as if it had not been submitted;
// its exception goes to its caller (a synchronous call rethrows it, a future holds it) and to
// no other write: the other writes of its batch are applied", and "A fire-and-forget write
// that throws is counted in failed_submissions()". Ten writes of every kind are queued while
// the owner thread is held by an earlier command, so that they form one batch, and each
// allocation of that batch is made to fail in turn.
TEST(SerialMapUnderAllocationFailure, AWriteThatFailsInABatchChangesNothingAndTheOthersAreApplied) {
  using V = text;
  using Map = map_of<cmap_test::serial_family, V>;
  using vals = values<V>;
  cmap_test::watchdog dog(std::chrono::seconds(120));
  constexpr std::size_t n = 100;
  const model base = filled_model<V>(n);

  // The batch's writes in submission order, as the model sees them: each changes the model
  // and returns the result its future should hold (fire-and-forget writes: none).
  const auto touch = [](model& e, u64 k) { e[k] = vals::touched(e[k]); };
  const std::vector<std::function<std::optional<long>(model&)>> writes = {
      /* 0 insert_async */ [](model& e) -> std::optional<long> {
        return e.emplace(200, vals::text_of(200, 1)).second;
      },
      /* 1 erase_async */ [](model& e) -> std::optional<long> { return e.erase(10) == 1; },
      /* 2 submit_insert */
      [](model& e) -> std::optional<long> {
        e.emplace(201, vals::text_of(201, 1));
        return std::nullopt;
      },
      /* 3 insert_or_assign_async */
      [](model& e) -> std::optional<long> {
        e[20] = vals::text_of(20, 1);
        return 0;
      },
      /* 4 upsert_async */
      [&](model& e) -> std::optional<long> {
        touch(e, 30);
        return 0;
      },
      /* 5 submit_erase */
      [](model& e) -> std::optional<long> {
        e.erase(40);
        return std::nullopt;
      },
      /* 6 insert_async of the key of write 0 */
      [](model& e) -> std::optional<long> { return e.emplace(200, vals::text_of(200, 2)).second; },
      /* 7 apply_async */
      [](model& e) -> std::optional<long> {
        e.emplace(202, vals::text_of(202, 1));
        e.erase(50);
        return 7;
      },
      /* 8 submit_upsert */
      [&](model& e) -> std::optional<long> {
        touch(e, 60);
        return std::nullopt;
      },
      /* 9 erase_async of the key of write 0 */
      [](model& e) -> std::optional<long> { return e.erase(200) == 1; },
  };
  const std::vector<std::size_t> submits = {2, 5, 8};
  // The model and results if every write but `skipped` is applied.
  const auto simulate = [&](std::optional<std::size_t> skipped) {
    model e = base;
    std::vector<std::optional<long>> results;
    for (std::size_t i = 0; i < writes.size(); ++i) {
      results.push_back(skipped == i ? std::nullopt : writes[i](e));
    }
    return std::pair(e, results);
  };

  for (long nth = 0;; ++nth) {
    SCOPED_TRACE("allocation " + std::to_string(nth) + " of the batch fails");
    ASSERT_LT(nth, 100000);
    arena a(4);
    bool done = false;
    {
      Map m = make_map<Map>(a);
      fill(m, a, n);
      std::atomic<bool> started{false}, go{false};
      // Holds the owner thread until the writes below are queued: they then make one batch.
      auto holder = m.apply_async([&](typename Map::transient&) {
        started.store(true);
        while (!go.load()) std::this_thread::yield();
        return 0;
      });
      while (!started.load()) std::this_thread::yield();
      const auto batches_before = m.batches();
      const auto failed_before = m.failed_submissions();
      const auto touch_value = [](V& x) { vals::touch(x); };
      std::vector<std::future<bool>> futures;
      futures.push_back(m.insert_async(200, vals::make(a, 200, 1)));
      futures.push_back(m.erase_async(10));
      m.submit_insert(201, vals::make(a, 201, 1));
      futures.push_back(m.insert_or_assign_async(20, vals::make(a, 20, 1)));
      futures.push_back(m.upsert_async(30, touch_value, vals::make(a, 30, 1)));
      m.submit_erase(40);
      futures.push_back(m.insert_async(200, vals::make(a, 200, 2)));
      auto applied = m.apply_async([v = vals::make(a, 202, 1)](typename Map::transient& t) {
        t.insert(202, v);
        t.erase(50);
        return 7;
      });
      m.submit_upsert(60, touch_value, vals::make(a, 60, 1));
      futures.push_back(m.erase_async(200));

      const long injected_before = a.failures.load();
      a.fail_after(nth);
      go.store(true);
      EXPECT_EQ(holder.get(), 0);
      // Results by write index; nullopt: the future held bad_alloc (or a fire-and-forget).
      std::vector<std::optional<long>> got(writes.size());
      std::vector<std::size_t> failed_futures;
      const std::size_t future_of[] = {0, 1, 3, 4, 6, 9};
      for (std::size_t i = 0; i < futures.size(); ++i) {
        try {
          got[future_of[i]] = futures[i].get() ? 1 : 0;
        } catch (const std::bad_alloc&) {
          failed_futures.push_back(future_of[i]);
        }
      }
      try {
        got[7] = applied.get();
      } catch (const std::bad_alloc&) {
        failed_futures.push_back(7);
      }
      m.flush();
      a.never_fail();
      const long injected = a.failures.load() - injected_before;
      const auto failed_submits = static_cast<long>(m.failed_submissions() - failed_before);
      EXPECT_EQ(m.batches() - batches_before, 2u) << "the writes did not make one batch";
      // One allocation failed, or none: exactly one write failed with it, or none.
      EXPECT_LE(injected, 1);
      EXPECT_EQ(static_cast<long>(failed_futures.size()) + failed_submits, injected);

      // Which write failed: the one whose future says so, or one of the fire-and-forget
      // writes (the contents tell which), or none.
      std::vector<std::optional<std::size_t>> candidates;
      if (!failed_futures.empty()) {
        candidates.assign(failed_futures.begin(), failed_futures.end());
      } else if (failed_submits != 0) {
        candidates.assign(submits.begin(), submits.end());
      } else {
        candidates.push_back(std::nullopt);
      }
      const model now = contents(m);
      bool matched = false;
      for (const auto& skipped : candidates) {
        auto [want, results] = simulate(skipped);
        if (want != now) continue;
        matched = true;
        for (std::size_t i = 0; i < writes.size(); ++i) {
          if (std::find(submits.begin(), submits.end(), i) != submits.end()) continue;
          EXPECT_EQ(got[i], results[i]) << "the result of write " << i;
        }
      }
      EXPECT_TRUE(matched) << "the map is not the batch minus its failed write: "
                           << difference(simulate(candidates.front()).first, now);
      EXPECT_EQ(m.size(), now.size());
      done = injected == 0;
    }
    EXPECT_EQ(a.live_bytes.load(), 0);
    EXPECT_EQ(a.live_blocks.load(), 0);
    if (done || ::testing::Test::HasFailure()) break;
  }
}

// ---- growth under concurrency -------------------------------------------------------------

template <class Family>
class ConcurrentGrowthUnderAllocationFailure : public ::testing::Test {};
using concurrent_families =
    ::testing::Types<cmap_test::concurrent_family, cmap_test::compact_concurrent_family,
                     cmap_test::read_mostly_family>;
TYPED_TEST_SUITE(ConcurrentGrowthUnderAllocationFailure, concurrent_families, family_names);

// Threads insert disjoint key ranges into one map that starts with a single group, so that
// the table grows many times, each growth holding every stripe lock while the writers that
// wait for theirs help copy the table (rehash_locked, help_rehash); meanwhile the arena
// fails every `every`-th allocation of at least min_bytes (256: the tables, not the nodes).
// An insert that returns true is recorded; one that throws bad_alloc is recorded as not
// inserted. The map must end holding exactly the recorded inserts.
template <class Family, class V>
void fill_from_threads_while_allocations_fail(long every, std::size_t min_bytes) {
  using Map = map_of<Family, V>;
  constexpr u64 threads = 4;
#if CMAP_DETAIL_TSAN
  constexpr u64 per_thread = 3000;
#elif CMAP_DETAIL_ASAN
  constexpr u64 per_thread = 20000;
#else
  constexpr u64 per_thread = 60000;
#endif
  cmap_test::watchdog dog(std::chrono::seconds(240));  // a hung writer fails the run
  arena a(5);
  {
    Map m = make_map<Map>(a);
    std::vector<std::vector<u64>> inserted(threads);
    std::vector<u64> threw(threads, 0), refused(threads, 0);
    a.fail_every(every, min_bytes);
    {
      std::latch start(threads);
      std::vector<std::thread> writers;
      for (u64 t = 0; t < threads; ++t) {
        writers.emplace_back([&, t] {
          start.arrive_and_wait();
          for (u64 k = t * per_thread; k < (t + 1) * per_thread; ++k) {
            try {
              if (m.insert(k, values<V>::make(a, k, 0))) {
                inserted[t].push_back(k);
              } else {
                ++refused[t];
              }
            } catch (const std::bad_alloc&) {
              ++threw[t];
            }
          }
        });
      }
      for (auto& w : writers) w.join();
    }
    a.never_fail();

    model want;
    u64 failed_inserts = 0;
    for (u64 t = 0; t < threads; ++t) {
      EXPECT_EQ(refused[t], 0u) << "an insert of a new key returned false";
      failed_inserts += threw[t];
      for (const u64 k : inserted[t]) want.emplace(k, values<V>::text_of(k, 0));
    }
    EXPECT_GT(a.failures.load(), 0) << "no allocation failed: the test tested nothing";
    EXPECT_EQ(static_cast<long>(failed_inserts), a.failures.load())
        << "each failed allocation fails exactly one insert";
    EXPECT_GT(m.rehash_stats().rehashes, 0u);
    const model got = contents(m);
    EXPECT_TRUE(got == want) << difference(want, got);
    EXPECT_EQ(m.size(), want.size());

    // The map still works: the keys that failed go in now.
    for (u64 k = 0; k < threads * per_thread; ++k) {
      if (!want.contains(k)) {
        EXPECT_TRUE(m.insert(k, values<V>::make(a, k, 0))) << k;
      }
    }
    EXPECT_EQ(m.size(), threads * per_thread);
  }
  EXPECT_EQ(a.live_bytes.load(), 0) << "the map did not give all its memory back";
  EXPECT_EQ(a.live_blocks.load(), 0);
}

TYPED_TEST(ConcurrentGrowthUnderAllocationFailure, EveryOtherTableAllocationFailsInlineSlots) {
  fill_from_threads_while_allocations_fail<TypeParam, u64>(2, 256);
}

TYPED_TEST(ConcurrentGrowthUnderAllocationFailure, EveryOtherTableAllocationFailsNodes) {
  fill_from_threads_while_allocations_fail<TypeParam, std::string>(2, 256);
}

TYPED_TEST(ConcurrentGrowthUnderAllocationFailure, EverySeventhAllocationFailsNodes) {
  fill_from_threads_while_allocations_fail<TypeParam, std::string>(7, 0);
}

}  // namespace
