// checked_map: interface parity with std::unordered_map, exception safety of the check state,
// and no false positives under correct synchronisation. The misuse scenarios and the detection
// rate are in checked_map_detection_test.cpp.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmap/checked_map.hpp>
#include <cstdint>
#include <iterator>
#include <latch>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using std_map = std::unordered_map<int, std::string>;
using map = cmap::checked_map<int, std::string>;

static_assert(std::forward_iterator<map::iterator>);
static_assert(std::forward_iterator<map::const_iterator>);
static_assert(std::is_convertible_v<map::iterator, map::const_iterator>);
static_assert(!std::is_convertible_v<map::const_iterator, map::iterator>);
static_assert(std::is_same_v<map::node_type, std_map::node_type>);
static_assert(std::is_nothrow_move_constructible_v<map> ==
              std::is_nothrow_move_constructible_v<std_map>);
static_assert(std::is_nothrow_swappable_v<map> == std::is_nothrow_swappable_v<std_map>);

// A policy whose handler counts reports instead of aborting, so a false positive fails the test
// with a count rather than ending the test binary.
struct report_counter {
  std::atomic<int> reports{0};
  cmap::violation_policy policy() {
    return cmap::violation_policy::call(
        [this](const cmap::access_violation&) { reports.fetch_add(1, std::memory_order_relaxed); });
  }
};

template <class M>
std_map contents(const M& m) {
  std_map out;
  for (const auto& [k, v] : m) EXPECT_TRUE(out.emplace(k, v).second) << "duplicate key " << k;
  return out;
}

TEST(checked_map, constructors_match_std) {
  const std::vector<std::pair<const int, std::string>> src{{1, "a"}, {2, "b"}, {3, "c"}};
  const std_map expected(src.begin(), src.end());

  EXPECT_TRUE(map().empty());
  EXPECT_GE(map(64).bucket_count(), 64u);
  EXPECT_EQ(contents(map(src.begin(), src.end())), expected);
  EXPECT_EQ(contents(map(src.begin(), src.end(), 8, std::allocator<map::value_type>())), expected);
  EXPECT_EQ(contents(map({{1, "a"}, {2, "b"}, {3, "c"}})), expected);
  EXPECT_EQ(contents(map({{1, "a"}, {2, "b"}, {3, "c"}}, 16, cmap::hash<int>(7))), expected);
  EXPECT_TRUE(map(std::allocator<map::value_type>()).empty());
  EXPECT_TRUE(map(8, std::allocator<map::value_type>()).empty());

  map original(src.begin(), src.end());
  map copy(original);
  EXPECT_EQ(contents(copy), expected);
  EXPECT_EQ(contents(map(original, std::allocator<map::value_type>())), expected);
  map moved(std::move(copy));
  EXPECT_EQ(contents(moved), expected);
  EXPECT_EQ(contents(map(std::move(moved), std::allocator<map::value_type>())), expected);

  map with_policy(cmap::violation_policy::throw_error(), src.begin(), src.end());
  EXPECT_EQ(contents(with_policy), expected);
  EXPECT_EQ(with_policy.get_violation_policy().what(), cmap::violation_policy::action::throw_error);
  map list_with_policy(cmap::violation_policy::throw_error(), {{1, "a"}, {2, "b"}, {3, "c"}});
  EXPECT_EQ(contents(list_with_policy), expected);
  // Copy and move construction take the policy; assignment keeps the target's.
  EXPECT_EQ(map(with_policy).get_violation_policy().what(),
            cmap::violation_policy::action::throw_error);
  map assigned;
  assigned = with_policy;
  EXPECT_EQ(assigned.get_violation_policy().what(), cmap::violation_policy::action::abort);
  EXPECT_EQ(contents(assigned), expected);
  assigned = {{7, "x"}};
  EXPECT_EQ(contents(assigned), (std_map{{7, "x"}}));
  assigned = std::move(with_policy);
  EXPECT_EQ(contents(assigned), expected);

  cmap::checked_map deduced{std::pair{1, 2.5}, std::pair{2, 3.5}};
  static_assert(std::is_same_v<decltype(deduced), cmap::checked_map<int, double>>);
  cmap::checked_map deduced_range(src.begin(), src.end());
  static_assert(std::is_same_v<decltype(deduced_range), map>);
}

TEST(checked_map, modifiers_match_std) {
  std_map s;
  map m;
  auto same = [&] {
    EXPECT_EQ(contents(m), s);
    EXPECT_EQ(m.size(), s.size());
  };

  const std::pair<const int, std::string> one{1, "one"};
  EXPECT_EQ(m.insert(one).second, s.insert(one).second);
  EXPECT_EQ(m.insert(one).second, s.insert(one).second);  // present: not inserted
  EXPECT_EQ(m.insert(map::value_type{2, "two"}).second, s.insert({2, "two"}).second);
  EXPECT_EQ(m.insert(std::pair<int, const char*>{3, "three"}).second,
            s.insert(std::pair<int, const char*>{3, "three"}).second);
  EXPECT_EQ(m.insert(m.cbegin(), one)->second, "one");
  EXPECT_EQ(m.insert(m.cend(), map::value_type{4, "four"})->second, "four");
  s.insert({4, "four"});
  EXPECT_EQ(m.insert(m.begin(), std::pair<int, const char*>{5, "five"})->first, 5);
  s.insert({5, "five"});
  const std::vector<map::value_type> more{{6, "six"}, {7, "seven"}};
  m.insert(more.begin(), more.end());
  s.insert(more.begin(), more.end());
  m.insert({{8, "eight"}, {9, "nine"}});
  s.insert({{8, "eight"}, {9, "nine"}});
  same();

  auto ia = m.insert_or_assign(1, "uno");
  auto ib = s.insert_or_assign(1, "uno");
  EXPECT_EQ(ia.second, ib.second);
  EXPECT_EQ(ia.first->second, "uno");
  int ten = 10;
  EXPECT_TRUE(m.insert_or_assign(ten, "ten").second);
  s.insert_or_assign(ten, "ten");
  EXPECT_EQ(m.insert_or_assign(m.cbegin(), 11, "eleven")->second, "eleven");
  s.insert_or_assign(11, "eleven");
  EXPECT_EQ(m.insert_or_assign(m.cbegin(), ten, "TEN")->second, "TEN");
  s.insert_or_assign(10, "TEN");
  same();

  EXPECT_EQ(m.emplace(12, "twelve").second, s.emplace(12, "twelve").second);
  EXPECT_EQ(m.emplace(12, "again").second, s.emplace(12, "again").second);
  EXPECT_EQ(m.emplace_hint(m.cbegin(), 13, "thirteen")->second, "thirteen");
  s.emplace_hint(s.cbegin(), 13, "thirteen");
  EXPECT_EQ(m.try_emplace(14, 3, 'x').second, s.try_emplace(14, 3, 'x').second);
  EXPECT_EQ(m.try_emplace(14, 3, 'y').second, s.try_emplace(14, 3, 'y').second);
  const int fifteen = 15;
  EXPECT_TRUE(m.try_emplace(fifteen, "fifteen").second);
  s.try_emplace(fifteen, "fifteen");
  EXPECT_EQ(m.try_emplace(m.cbegin(), 16, "sixteen")->second, "sixteen");
  s.try_emplace(16, "sixteen");
  EXPECT_EQ(m.try_emplace(m.cbegin(), fifteen, "no")->second, "fifteen");
  same();

  m[17] = "seventeen";
  s[17] = "seventeen";
  int eighteen = 18;
  m[eighteen] += "x";
  s[eighteen] += "x";
  EXPECT_EQ(m.at(17), "seventeen");
  EXPECT_THROW((void)m.at(-1), std::out_of_range);
  same();

  EXPECT_EQ(m.erase(1), s.erase(1));
  EXPECT_EQ(m.erase(1), s.erase(1));
  auto next = m.erase(m.find(2));  // iterator overload
  EXPECT_TRUE(next == m.end() || m.contains(next->first));
  s.erase(2);
  m.erase(map::const_iterator(m.find(3)));  // const_iterator overload
  s.erase(3);
  auto first = m.find(4);
  auto last = std::next(first);
  EXPECT_EQ(m.erase(first, last), last);
  s.erase(4);
  same();

  // Node handles: extract by key and by iterator, reinsert, move between maps.
  auto nh = m.extract(5);
  s.erase(5);
  ASSERT_FALSE(nh.empty());
  EXPECT_EQ(nh.key(), 5);
  nh.key() = 50;
  auto ir = m.insert(std::move(nh));
  s.emplace(50, "five");
  EXPECT_TRUE(ir.inserted);
  EXPECT_TRUE(ir.node.empty());
  EXPECT_EQ(ir.position->first, 50);
  auto again = m.extract(m.find(50));
  auto dup = m.insert(m.cbegin(), std::move(again));
  EXPECT_EQ(dup->first, 50);
  auto clash = m.extract(50);
  m.emplace(50, "other");
  auto rejected = m.insert(std::move(clash));
  EXPECT_FALSE(rejected.inserted);
  EXPECT_FALSE(rejected.node.empty());
  EXPECT_EQ(rejected.position->second, "other");
  m[50] = "five";
  EXPECT_TRUE(m.extract(-5).empty());
  same();

  // merge: from a checked_map (lvalue and rvalue), from std maps.
  map other{{50, "dup"}, {60, "sixty"}};
  m.merge(other);
  s.merge(std_map{{60, "sixty"}});
  EXPECT_EQ(contents(other), (std_map{{50, "dup"}}));
  m.merge(map{{61, "sixty-one"}});
  s.emplace(61, "sixty-one");
  std_map plain{{62, "sixty-two"}};
  m.merge(plain);
  s.emplace(62, "sixty-two");
  EXPECT_TRUE(plain.empty());
  std::unordered_multimap<int, std::string> multi{{63, "a"}, {63, "b"}};
  m.merge(multi);
  EXPECT_EQ(multi.size(), 1u);
  s.emplace(63, m.at(63));
  m.merge(m);
  same();

  map swapped{{100, "hundred"}};
  m.swap(swapped);
  EXPECT_EQ(contents(m), (std_map{{100, "hundred"}}));
  swap(m, swapped);
  using std::swap;
  swap(m, m);
  same();

  m.clear();
  s.clear();
  same();
  EXPECT_TRUE(m.empty());
}

TEST(checked_map, lookup_and_buckets_match_std) {
  std_map s;
  for (int i = 0; i < 100; ++i) s.emplace(i, std::to_string(i));
  map m(s.begin(), s.end());
  const map& cm = m;
  for (int k = -5; k < 105; ++k) {
    EXPECT_EQ(m.count(k), s.count(k));
    EXPECT_EQ(m.contains(k), s.contains(k));
    EXPECT_EQ(m.find(k) == m.end(), s.find(k) == s.end());
    EXPECT_EQ(cm.find(k) == cm.end(), s.find(k) == s.end());
    auto [b, e] = m.equal_range(k);
    auto [cb, ce] = cm.equal_range(k);
    EXPECT_EQ(std::distance(b, e), static_cast<std::ptrdiff_t>(s.count(k)));
    EXPECT_EQ(std::distance(cb, ce), static_cast<std::ptrdiff_t>(s.count(k)));
    if (s.contains(k)) {
      EXPECT_EQ(m.find(k)->second, s.at(k));
      EXPECT_EQ(cm.at(k), s.at(k));
      EXPECT_EQ(m.bucket(k) < m.bucket_count(), true);
    }
  }
  std::size_t in_buckets = 0;
  for (std::size_t b = 0; b < m.bucket_count(); ++b) in_buckets += m.bucket_size(b);
  EXPECT_EQ(in_buckets, m.size());
  EXPECT_GE(m.max_bucket_count(), m.bucket_count());
  EXPECT_GT(m.max_size(), 0u);
  EXPECT_FLOAT_EQ(m.load_factor(), static_cast<float>(m.size()) / m.bucket_count());
  std_map r(s.begin(), s.end());  // built as m was: same bucket counts
  EXPECT_EQ(m.bucket_count(), r.bucket_count());
  m.max_load_factor(0.5f);
  r.max_load_factor(0.5f);
  EXPECT_FLOAT_EQ(m.max_load_factor(), 0.5f);
  EXPECT_EQ(m.bucket_count(), r.bucket_count());
  m.rehash(1000);
  r.rehash(1000);
  EXPECT_GE(m.bucket_count(), 1000u);
  EXPECT_EQ(m.bucket_count(), r.bucket_count());
  m.reserve(5000);
  r.reserve(5000);
  EXPECT_EQ(m.bucket_count(), r.bucket_count());
  EXPECT_EQ(contents(m), s);
  // The hasher in use: cmap::hash (seeded; std::unordered_map's is std::hash).
  EXPECT_EQ(m.hash_function()(7), cmap::hash<int>(m.hash_function().seed())(7));
  EXPECT_TRUE(m.key_eq()(7, 7));
  EXPECT_EQ(m.get_allocator(), std::allocator<map::value_type>());

  // Iterators: const conversion, post-increment, mixed comparison, arrow.
  map::const_iterator ci = m.begin();
  EXPECT_TRUE(ci == m.begin());
  EXPECT_TRUE(m.begin() == ci);
  EXPECT_TRUE(ci != m.end());
  auto it = m.begin();
  auto old = it++;
  EXPECT_EQ(std::next(old), it);
  it->second = "changed";
  EXPECT_EQ(m.at(it->first), "changed");
  EXPECT_EQ(std::distance(m.cbegin(), m.cend()), 100);
  EXPECT_EQ(std::distance(cm.begin(), cm.end()), 100);
}

TEST(checked_map, equality_and_erase_if_match_std) {
  map a{{1, "a"}, {2, "b"}};
  map b{{2, "b"}, {1, "a"}};
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a != b);
  b[3] = "c";
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a == a);

  std_map s;
  map m;
  for (int i = 0; i < 50; ++i) {
    s.emplace(i, std::to_string(i));
    m.emplace(i, std::to_string(i));
  }
  auto odd = [](const auto& kv) { return kv.first % 2 != 0; };
  EXPECT_EQ(erase_if(m, odd), std::erase_if(s, odd));
  EXPECT_EQ(cmap::erase_if(m, odd), 0u);
  EXPECT_EQ(contents(m), s);
}

// A transparent hash, so std::string keys can be found by std::string_view without a copy.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

template <class M, class K>
concept can_find = requires(M& m, const K& k) {
  m.find(k);
};

TEST(checked_map, heterogeneous_lookup_with_transparent_hash) {
  using smap = cmap::checked_map<std::string, int, string_hash, std::equal_to<>>;
  std::unordered_map<std::string, int, string_hash, std::equal_to<>> s{{"alpha", 1}, {"beta", 2}};
  smap m{{"alpha", 1}, {"beta", 2}};
  const smap& cm = m;
  for (std::string_view k : {"alpha", "beta", "gamma"}) {
    EXPECT_EQ(m.contains(k), s.contains(k)) << k;
    EXPECT_EQ(m.count(k), s.count(k)) << k;
    EXPECT_EQ(m.find(k) == m.end(), s.find(k) == s.end()) << k;
    EXPECT_EQ(cm.find(k) == cm.end(), s.find(k) == s.end()) << k;
    auto [b, e] = m.equal_range(k);
    auto [cb, ce] = cm.equal_range(k);
    EXPECT_EQ(std::distance(b, e), static_cast<std::ptrdiff_t>(s.count(k)));
    EXPECT_EQ(std::distance(cb, ce), static_cast<std::ptrdiff_t>(s.count(k)));
  }
  EXPECT_EQ(m.find(std::string_view("beta"))->second, 2);
  EXPECT_TRUE(m.contains("alpha"));  // const char*, no std::string built
  static_assert(can_find<smap, std::string_view>);
  // Without transparency only key_type is accepted (as for std::unordered_map).
  static_assert(!can_find<cmap::checked_map<std::string, int>, std::string_view>);
}

TEST(checked_map, erase_while_iterating_reports_nothing) {
  report_counter counter;
  map m(counter.policy());
  std_map s;
  for (int i = 0; i < 1000; ++i) {
    m.emplace(i, std::to_string(i));
    s.emplace(i, std::to_string(i));
  }
  // The loop the standard allows: erase returns the next iterator.
  for (auto it = m.begin(); it != m.end();) {
    if (it->first % 3 == 0)
      it = m.erase(it);
    else
      ++it;
  }
  std::erase_if(s, [](const auto& kv) { return kv.first % 3 == 0; });
  EXPECT_EQ(contents(m), s);
  // An iterator kept across writes that do not invalidate it (inserts without rehash, erase of
  // other elements, assignment through operator[]).
  m.reserve(m.size() + 10);
  auto kept = m.find(1);
  m.emplace(-1, "new");
  m.erase(2);
  m[4] = "four";
  ++kept;
  EXPECT_EQ(counter.reports.load(), 0);
}

// A differential test: random operations on both maps, compared after each step.
TEST(checked_map, random_operations_match_std) {
  report_counter counter;
  cmap::checked_map<int, int> m(counter.policy());
  std::unordered_map<int, int> s;
  std::mt19937 rng(12345);
  for (int step = 0; step < 20000; ++step) {
    const int k = static_cast<int>(rng() % 300);
    switch (rng() % 9) {
      case 0:
        EXPECT_EQ(m.insert({k, step}).second, s.insert({k, step}).second);
        break;
      case 1:
        EXPECT_EQ(m.erase(k), s.erase(k));
        break;
      case 2:
        m[k] += step;
        s[k] += step;
        break;
      case 3:
        EXPECT_EQ(m.insert_or_assign(k, step).second, s.insert_or_assign(k, step).second);
        break;
      case 4:
        EXPECT_EQ(m.try_emplace(k, step).second, s.try_emplace(k, step).second);
        break;
      case 5: {
        auto a = m.find(k);
        auto b = s.find(k);
        ASSERT_EQ(a == m.end(), b == s.end());
        if (b != s.end()) {
          EXPECT_EQ(a->second, b->second);
        }
        break;
      }
      case 6: {
        auto nh = m.extract(k);
        EXPECT_EQ(nh.empty(), s.extract(k).empty());
        if (!nh.empty() && step % 2 == 0) {
          m.insert(std::move(nh));
          s.insert({k, m.at(k)});
        }
        break;
      }
      case 7:
        if (step % 1000 == 0) {
          m.clear();
          s.clear();
        }
        break;
      default:
        EXPECT_EQ(m.contains(k), s.contains(k));
        break;
    }
    ASSERT_EQ(m.size(), s.size());
  }
  std::unordered_map<int, int> back(m.begin(), m.end());
  EXPECT_EQ(back, s);
  EXPECT_EQ(counter.reports.load(), 0);
}

TEST(checked_map, violation_message_and_thread_numbers) {
  cmap::access_violation v{cmap::violation_kind::concurrent_writes, "insert", 3, "erase", 2, true};
  EXPECT_EQ(v.message(),
            "concurrent map writes (insert on thread 3 while erase on thread 2 was in progress)");
  v = {cmap::violation_kind::read_during_write, "find", 4, "insert", 2, false};
  EXPECT_EQ(v.message(),
            "concurrent map read and map write (insert on thread 2 ran during find "
            "on thread 4)");
  v = {cmap::violation_kind::iteration_during_write, "iteration", 5, "clear", 5, true};
  EXPECT_EQ(v.message(),
            "concurrent map iteration and map write (iteration on thread 5 while "
            "clear on thread 5 was in progress, re-entered from the same thread)");
  v = {cmap::violation_kind::concurrent_writes, "insert", 3, {}, 0, false};
  EXPECT_EQ(v.message(), "concurrent map writes (insert on thread 3)");
  EXPECT_STREQ(cmap::concurrent_access_error(v).what(),
               "cmap: concurrent map writes (insert on thread 3)");
  // Truncation never overruns.
  char small[10];
  volatile std::size_t small_size = sizeof small;  // opaque, or GCC warns of the truncation
  EXPECT_GT(v.format(small, small_size), sizeof small);
  EXPECT_EQ(std::string_view(small), "concurren");

  const auto mine = cmap::this_thread_number();
  EXPECT_NE(mine, 0u);
  EXPECT_EQ(cmap::this_thread_number(), mine);
  std::uint32_t theirs = 0;
  std::thread([&] { theirs = cmap::this_thread_number(); }).join();
  EXPECT_NE(theirs, 0u);
  EXPECT_NE(theirs, mine);
}

// A throwing hash or constructor must not leave the map marked as "being written": later
// writes and reads, from this thread or another, report nothing.
struct throwing_hash {
  std::size_t operator()(int k) const {
    if (k < 0) throw std::runtime_error("negative key");
    return std::hash<int>()(k);
  }
};
struct throwing_value {
  throwing_value() = default;
  explicit throwing_value(bool fail) {
    if (fail) throw std::runtime_error("value");
  }
};

TEST(checked_map, exceptions_leave_the_map_usable) {
  report_counter counter;
  cmap::checked_map<int, int, throwing_hash> m(counter.policy());
  m.insert({1, 1});
  m.insert({2, 2});
  EXPECT_THROW(m.insert({-1, 1}), std::runtime_error);
  EXPECT_THROW(m[-2] = 1, std::runtime_error);
  EXPECT_THROW(m.erase(-3), std::runtime_error);
  EXPECT_THROW((void)m.find(-4), std::runtime_error);  // a read that throws
  EXPECT_THROW((void)m.at(5), std::out_of_range);
  cmap::checked_map<int, throwing_value> v(counter.policy());
  EXPECT_THROW(v.try_emplace(1, true), std::runtime_error);
  EXPECT_TRUE(v.try_emplace(1, false).second);
  std::thread([&] {
    m.insert({3, 3});
    v.erase(1);
  }).join();
  EXPECT_EQ(m.size(), 3u);
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(counter.reports.load(), 0);
}

// ---- no false positives under correct synchronisation -----------------------------------

TEST(checked_map, threads_sharing_under_a_mutex_never_report) {
  for (int threads : {2, 4, 8}) {
    report_counter counter;
    cmap::checked_map<std::uint64_t, std::uint64_t> m(counter.policy());
    std::mutex mu;
    std::latch start(threads);
    std::vector<std::thread> pool;
    pool.reserve(static_cast<std::size_t>(threads));
    constexpr std::uint64_t per_thread = 2000;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        start.arrive_and_wait();
        std::uint64_t sum = 0;
        for (std::uint64_t i = 0; i < per_thread; ++i) {
          const std::uint64_t k = i * 64 + static_cast<std::uint64_t>(t);
          std::lock_guard lock(mu);
          m.insert({k, i});
          m[k + 1000000] += 1;
          if (auto it = m.find(k); it != m.end()) sum += it->second;
          sum += m.count(k - 64) + m.size();
          if (i % 3 == 0) m.erase(k);
          if (i % 500 == 0)
            for (const auto& kv : m) sum += kv.second;
        }
        EXPECT_GT(sum, 0u);
      });
    }
    for (auto& th : pool) th.join();
    EXPECT_EQ(counter.reports.load(), 0) << threads << " threads";
    std::uint64_t expected = 0;
    for (int t = 0; t < threads; ++t)
      for (std::uint64_t i = 0; i < per_thread; ++i) expected += (i % 3 == 0) ? 1 : 2;
    EXPECT_EQ(m.size(), expected);
  }
}

TEST(checked_map, map_handed_over_by_join_never_reports) {
  report_counter counter;
  cmap::checked_map<int, int> m(counter.policy());
  std::thread builder([&] {
    for (int i = 0; i < 10000; ++i) m.emplace(i, i * 2);
    m.erase(0);
  });
  builder.join();
  EXPECT_EQ(m.size(), 9999u);
  for (int i = 1; i < 10000; ++i) ASSERT_EQ(m.at(i), i * 2);
  m.clear();
  // And back again: handed to a second thread and returned.
  std::thread([&] { m[1] = 1; }).join();
  EXPECT_EQ(m.at(1), 1);
  EXPECT_EQ(counter.reports.load(), 0);
}

TEST(checked_map, concurrent_readers_never_report) {
  report_counter counter;
  cmap::checked_map<int, int> m(counter.policy());
  for (int i = 0; i < 5000; ++i) m.emplace(i, i);
  const auto& cm = m;
  constexpr int readers = 4;
  std::latch start(readers);
  std::vector<std::thread> pool;
  pool.reserve(readers);
  std::atomic<std::uint64_t> total{0};
  for (int t = 0; t < readers; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      std::uint64_t sum = 0;
      for (int round = 0; round < 20; ++round) {
        for (int k = -10; k < 5010; k += 7) {
          if (auto it = cm.find(k); it != cm.end()) sum += static_cast<std::uint64_t>(it->second);
          sum += cm.count(k) + cm.contains(k) + cm.size();
          if (cm.contains(k)) sum += static_cast<std::uint64_t>(cm.at(k));
          auto [b, e] = cm.equal_range(k);
          sum += static_cast<std::uint64_t>(std::distance(b, e));
        }
        for (const auto& kv : cm) sum += static_cast<std::uint64_t>(kv.first);
        sum += cm.bucket_count() + static_cast<std::uint64_t>(cm.empty());
      }
      total.fetch_add(sum, std::memory_order_relaxed);
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_GT(total.load(), 0u);
  EXPECT_EQ(counter.reports.load(), 0);
}

}  // namespace
