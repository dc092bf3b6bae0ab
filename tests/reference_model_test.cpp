// Randomised operation sequences over every map in all_map_families, single-threaded, with
// each call's result compared at once against a std::unordered_map model: the whole common
// surface of docs/api.md, size() and empty() after every step, and a full for_each
// comparison at regular intervals (each entry seen exactly once, contents equal to the model).
//
// Two key universes: a small one (64 keys: most calls hit, values are overwritten, erased
// and re-inserted over and over) and a large one (50,000 keys, in alternating phases of net
// growth and net shrinkage: the tables grow, fill up with tombstones and rebuild). Keys and
// values are std::uint64_t, or std::string, some long enough to defeat the small-string
// optimisation, and one string run uses a transparent equality so that lookups go through
// std::string_view.
//
// Reproducing a failure: the message names the seed, the step and the operation. The fixed
// seeds below always run; CMAP_TEST_SEED=<n> (decimal or 0x-hex) adds one more.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "map_types.hpp"

#include <cmap/detail/sanitizers.hpp>

namespace {

using cmap_test::all_map_families;
using cmap_test::family_names;
using rng_t = std::mt19937_64;

constexpr std::size_t fixed_seed_count = 4;

// The CMAP_TEST_SEED seed (if any) first, then the fixed ones.
std::vector<std::uint64_t> test_seeds() {
  std::vector<std::uint64_t> seeds = {1, 42, 0x5eed5eed, 0xc0ffee1234567ULL};
  static_assert(fixed_seed_count == 4);
  // Read on the test's only thread. NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (const char* env = std::getenv("CMAP_TEST_SEED"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const unsigned long long s = std::strtoull(env, &end, 0);
    if (end != nullptr && *end == '\0') {
      seeds.insert(seeds.begin(), static_cast<std::uint64_t>(s));
    } else {
      ADD_FAILURE() << "CMAP_TEST_SEED='" << env << "' is not a number";
    }
  }
  return seeds;
}

std::uint64_t below(rng_t& rng, std::uint64_t n) {
  return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng);
}
bool coin(rng_t& rng) { return (rng() & 1) != 0; }

// ---- key and value types ---------------------------------------------------------------
// Each traits type says how to make keys and values, and how the calls that take
// constructor arguments (emplace, upsert) are spelled for its value type.

struct u64_kv {
  using key_type = std::uint64_t;
  using value_type = std::uint64_t;
  using key_equal = std::equal_to<key_type>;
  static constexpr bool transparent = false;

  static key_type make_key(std::size_t i) { return i * 0x9E3779B97F4A7C15ULL + 7; }
  // Sometimes small, so that values repeat across keys and a guessed "expected" of
  // compare_exchange / compare_erase matches now and then by accident.
  static value_type make_value(rng_t& rng) { return below(rng, 4) == 0 ? below(rng, 4) : rng(); }
  // What upsert's and visit's callbacks do to a present value.
  static void bump(value_type& v) { ++v; }
  static void transform(value_type& v) { v = v * 31 + 7; }

  // emplace, spelled one of several ways; returns emplace's result and the value it would
  // have constructed.
  template <class Map>
  static std::pair<bool, value_type> emplace(Map& m, const key_type& k, rng_t& rng) {
    const value_type v = make_value(rng);
    switch (below(rng, 3)) {
      case 0:
        return {m.emplace(k, v), v};
      case 1:
        return {m.emplace(key_type(k), v), v};
      default:
        return {m.emplace(k), value_type{}};
    }
  }
  // upsert with bump() as the callback; returns upsert's result and the value it would
  // have inserted.
  template <class Map>
  static std::pair<bool, value_type> upsert(Map& m, const key_type& k, rng_t& rng) {
    auto f = [](value_type& v) { bump(v); };
    const value_type v = make_value(rng);
    switch (below(rng, 3)) {
      case 0:
        return {m.upsert(k, f, v), v};
      case 1:
        return {m.upsert(key_type(k), f, v), v};
      default:
        return {m.upsert(k, f), value_type{}};
    }
  }
};

// Strings; with Transparent, the equality is std::equal_to<> and lookups sometimes pass a
// std::string_view.
template <bool Transparent>
struct string_kv {
  using key_type = std::string;
  using value_type = std::string;
  using key_equal = std::conditional_t<Transparent, std::equal_to<>, std::equal_to<key_type>>;
  static constexpr bool transparent = Transparent;

  // One key in three is longer than any small-string buffer.
  static key_type make_key(std::size_t i) {
    if (i % 3 == 0) return "a-long-key-beyond-sso/" + std::string(i % 7, '.') + std::to_string(i);
    return "k" + std::to_string(i);
  }
  static value_type make_value(rng_t& rng) {
    std::size_t len = 0;
    switch (below(rng, 4)) {
      case 0:
        len = 0;
        break;
      case 1:
        len = 1 + below(rng, 14);
        break;  // fits the small-string buffer
      default:
        len = 16 + below(rng, 40);
        break;  // does not
    }
    std::string s(len, ' ');
    for (char& c : s) c = static_cast<char>('a' + below(rng, 3));  // few letters: values repeat
    return s;
  }
  static void bump(value_type& v) { v.push_back('+'); }
  static void transform(value_type& v) {
    if (v.size() > 64) v.resize(3);  // keep repeated transforms from growing without bound
    v += "/t";
  }

  template <class Map>
  static std::pair<bool, value_type> emplace(Map& m, const key_type& k, rng_t& rng) {
    const std::size_t n = below(rng, 40);
    const char c = static_cast<char>('a' + below(rng, 26));
    switch (below(rng, 4)) {
      case 0:
        return {m.emplace(k, n, c), std::string(n, c)};
      case 1:
        return {m.emplace(std::string(k), n, c), std::string(n, c)};
      case 2: {
        value_type v = make_value(rng);
        value_type copy = v;
        return {m.emplace(k, std::move(copy)), v};
      }
      default:
        return {m.emplace(k), std::string()};
    }
  }
  template <class Map>
  static std::pair<bool, value_type> upsert(Map& m, const key_type& k, rng_t& rng) {
    auto f = [](value_type& v) { bump(v); };
    switch (below(rng, 3)) {
      case 0: {
        const value_type v = make_value(rng);
        return {m.upsert(k, f, v), v};
      }
      case 1: {
        const std::size_t n = below(rng, 40);
        return {m.upsert(std::string(k), f, n, 'u'), std::string(n, 'u')};
      }
      default:
        return {m.upsert(k, f, "literal-value-longer-than-sso"),
                std::string("literal-value-longer-than-sso")};
    }
  }
};

// ---- run configuration -----------------------------------------------------------------

enum class op {
  insert_copy,
  insert_move,
  emplace,
  insert_or_assign,
  find_or_insert,
  upsert,
  exchange,
  compare_exchange,
  erase,
  extract,
  compare_erase,
  find,
  contains,
  visit_const,
  visit_mut,
  for_each_stop_early,
  erase_if,
  clear,
  reserve,
  count_
};

const char* op_name(op o) {
  switch (o) {
    case op::insert_copy:
      return "insert(const K&, const T&)";
    case op::insert_move:
      return "insert(K&&/T&& forms)";
    case op::emplace:
      return "emplace";
    case op::insert_or_assign:
      return "insert_or_assign";
    case op::find_or_insert:
      return "find_or_insert";
    case op::upsert:
      return "upsert";
    case op::exchange:
      return "exchange";
    case op::compare_exchange:
      return "compare_exchange";
    case op::erase:
      return "erase";
    case op::extract:
      return "extract";
    case op::compare_erase:
      return "compare_erase";
    case op::find:
      return "find";
    case op::contains:
      return "contains";
    case op::visit_const:
      return "visit (const)";
    case op::visit_mut:
      return "visit (mutable)";
    case op::for_each_stop_early:
      return "for_each (stopping early)";
    case op::erase_if:
      return "erase_if";
    case op::clear:
      return "clear";
    case op::reserve:
      return "reserve";
    case op::count_:
      break;
  }
  return "?";
}

bool is_insertion(op o) {
  switch (o) {
    case op::insert_copy:
    case op::insert_move:
    case op::emplace:
    case op::insert_or_assign:
    case op::find_or_insert:
    case op::upsert:
    case op::exchange:
      return true;
    default:
      return false;
  }
}
bool is_erasure(op o) { return o == op::erase || o == op::extract || o == op::compare_erase; }

struct run_config {
  const char* name;
  std::size_t universe;          // keys 0 .. universe-1
  std::size_t steps;             // per seed
  std::size_t full_check_every;  // steps between full for_each comparisons
  // Large universes alternate phases of net growth and net shrinkage (this many steps
  // each; 0: no phases), so tables grow, collect tombstones and rebuild.
  std::size_t phase_length;
  double clear_weight;        // clear() is rare: it undoes the growth
  double bulk_weight;         // erase_if, reserve, for_each stopping early
  std::size_t fixed_seeds;    // how many of the fixed seeds to run
  std::size_t min_peak_size;  // the run must reach this size at least once
};

// Small: many hits, the same few keys re-inserted and erased again and again.
constexpr run_config small_universe{"64 keys", 64, 20000, 100, 0, 0.1, 0.2, 4, 40};
// Large: growth from empty (20k to 35k entries at the peak), tombstones, same-size rebuilds.
// A full comparison costs O(n) here, so it runs less often than with the small universe
// (and after every bulk call).
constexpr run_config large_universe{"50k keys", 50000, 160000, 1500, 50000, 0.001, 0.003, 2, 15000};

// ---- the run ---------------------------------------------------------------------------

template <class Map, class Traits>
class model_run {
  using K = typename Traits::key_type;
  using V = typename Traits::value_type;
  enum { steady, growing, shrinking };
  struct model_entry {
    V value{};
    std::uint64_t seen_in_walk = 0;  // last full walk that saw this entry
  };

 public:
  model_run(std::uint64_t seed, const run_config& cfg)
      : seed_(seed),
        cfg_(cfg),
        rng_(seed),
        ops_{op_distribution(cfg, steady), op_distribution(cfg, growing),
             op_distribution(cfg, shrinking)},
        map_(seed) {  // the run's seed keys the hash too
    keys_.reserve(cfg.universe);
    for (std::size_t i = 0; i < cfg.universe; ++i) keys_.push_back(Traits::make_key(i));
  }

  // Runs the whole sequence; stops at the first failed assertion.
  void run() {
    for (step_ = 0; step_ < cfg_.steps; ++step_) {
      one_step();
      if (::testing::Test::HasFatalFailure()) return;
      op_ = "size/empty after the step";
      ASSERT_EQ(map_.size(), model_.size()) << where();
      ASSERT_EQ(map_.empty(), model_.empty()) << where();
      if ((step_ + 1) % cfg_.full_check_every == 0) {
        full_check();
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    op_ = "final comparison";
    full_check();
  }

  std::size_t max_size_seen() const { return max_size_; }

 private:
  std::string where() const {
    std::ostringstream out;
    out << "\n  [" << cfg_.name << "] seed=" << seed_ << " step=" << step_ << " op=" << op_;
    if (key_ != nullptr) out << " key=\"" << *key_ << "\"";
    out << " model size=" << model_.size() << "\n  (rerun: CMAP_TEST_SEED=" << seed_ << ")";
    return out.str();
  }

  // Weights, in the order of enum op; phases (if any) favour insertion or erasure.
  static std::discrete_distribution<int> op_distribution(const run_config& cfg, int phase) {
    double w[static_cast<int>(op::count_)] = {6,
                                              6,
                                              5,
                                              6,
                                              5,
                                              6,
                                              5,
                                              7,  // insert_copy .. compare_exchange
                                              8,
                                              5,
                                              5,  // erase, extract, compare_erase
                                              8,
                                              5,
                                              4,
                                              4,  // find, contains, visit_const, visit_mut
                                              cfg.bulk_weight,
                                              cfg.bulk_weight,
                                              cfg.clear_weight,
                                              cfg.bulk_weight};
    for (int i = 0; i < static_cast<int>(op::count_); ++i) {
      const op o = static_cast<op>(i);
      const bool favoured =
          (phase == growing && is_insertion(o)) || (phase == shrinking && is_erasure(o));
      const bool disfavoured =
          (phase == growing && is_erasure(o)) || (phase == shrinking && is_insertion(o));
      if (favoured) w[i] *= 3;
      if (disfavoured) w[i] /= 3;
    }
    return std::discrete_distribution<int>(std::begin(w), std::end(w));
  }

  op pick_op() {
    int phase = steady;
    if (cfg_.phase_length != 0) phase = (step_ / cfg_.phase_length) % 2 == 0 ? growing : shrinking;
    return static_cast<op>(ops_[phase](rng_));
  }

  const V* model_find(const K& k) const {
    auto it = model_.find(k);
    return it == model_.end() ? nullptr : &it->second.value;
  }
  void model_set(const K& k, const V& v) { model_[k].value = v; }

  // Calls f with the key, or (for a transparent map, now and then) a std::string_view of it.
  template <class F>
  decltype(auto) with_lookup_key(const K& k, F&& f) {
    if constexpr (Traits::transparent) {
      if (coin(rng_)) return f(std::string_view(k));
    }
    return f(k);
  }

  // A value for compare_exchange / compare_erase to expect: the current one (if any) half
  // of the time, else a fresh one (which may match by accident; the model decides).
  V guess_expected(const V* current) {
    if (current != nullptr && coin(rng_)) return *current;
    return Traits::make_value(rng_);
  }

  void one_step() {
    const op o = pick_op();
    op_ = op_name(o);
    const K& k = keys_[below(rng_, cfg_.universe)];
    key_ = &k;
    const V* cur = model_find(k);
    const bool present = cur != nullptr;

    switch (o) {
      case op::insert_copy: {
        const V v = Traits::make_value(rng_);
        ASSERT_EQ(map_.insert(k, v), !present) << where();
        if (!present) model_set(k, v);
        break;
      }
      case op::insert_move: {
        const V v = Traits::make_value(rng_);
        bool inserted = false;
        switch (below(rng_, 3)) {
          case 0:
            inserted = map_.insert(K(k), V(v));
            break;
          case 1:
            inserted = map_.insert(k, V(v));
            break;
          default:
            inserted = map_.insert(K(k), v);
            break;
        }
        ASSERT_EQ(inserted, !present) << where();
        if (!present) model_set(k, v);
        break;
      }
      case op::emplace: {
        const auto [inserted, v] = Traits::emplace(map_, k, rng_);
        ASSERT_EQ(inserted, !present) << where();
        if (!present) model_set(k, v);
        break;
      }
      case op::insert_or_assign: {
        const V v = Traits::make_value(rng_);
        const bool inserted =
            coin(rng_) ? map_.insert_or_assign(k, v) : map_.insert_or_assign(K(k), v);
        ASSERT_EQ(inserted, !present) << where();
        model_set(k, v);
        break;
      }
      case op::find_or_insert: {
        const V v = Traits::make_value(rng_);
        const std::pair<V, bool> got = map_.find_or_insert(k, v);
        const std::pair<V, bool> want(present ? *cur : v, !present);
        ASSERT_EQ(got, want) << where();
        if (!present) model_set(k, v);
        break;
      }
      case op::upsert: {
        const auto [inserted, v] = Traits::upsert(map_, k, rng_);
        ASSERT_EQ(inserted, !present) << where();
        if (present) {
          Traits::bump(model_[k].value);
        } else {
          model_set(k, v);
        }
        break;
      }
      case op::exchange: {
        const V v = Traits::make_value(rng_);
        const std::optional<V> got = coin(rng_) ? map_.exchange(k, v) : map_.exchange(K(k), v);
        const std::optional<V> want = present ? std::optional<V>(*cur) : std::nullopt;
        ASSERT_EQ(got, want) << where();
        model_set(k, v);
        break;
      }
      case op::compare_exchange: {
        const V expected = guess_expected(cur);
        const V desired = Traits::make_value(rng_);
        const bool want = present && *cur == expected;
        const bool got = with_lookup_key(
            k, [&](const auto& lk) { return map_.compare_exchange(lk, expected, desired); });
        ASSERT_EQ(got, want) << " (the expected value was the current one: " << want << ")"
                             << where();
        if (want) model_set(k, desired);
        break;
      }
      case op::erase: {
        const bool got = with_lookup_key(k, [&](const auto& lk) { return map_.erase(lk); });
        ASSERT_EQ(got, present) << where();
        model_.erase(k);
        break;
      }
      case op::extract: {
        const std::optional<V> want = present ? std::optional<V>(*cur) : std::nullopt;
        const std::optional<V> got =
            with_lookup_key(k, [&](const auto& lk) { return map_.extract(lk); });
        ASSERT_EQ(got, want) << where();
        model_.erase(k);
        break;
      }
      case op::compare_erase: {
        const V expected = guess_expected(cur);
        const bool want = present && *cur == expected;
        const bool got =
            with_lookup_key(k, [&](const auto& lk) { return map_.compare_erase(lk, expected); });
        ASSERT_EQ(got, want) << where();
        if (want) model_.erase(k);
        break;
      }
      case op::find: {
        const std::optional<V> want = present ? std::optional<V>(*cur) : std::nullopt;
        const std::optional<V> got =
            with_lookup_key(k, [&](const auto& lk) { return map_.find(lk); });
        ASSERT_EQ(got, want) << where();
        break;
      }
      case op::contains: {
        const bool got = with_lookup_key(k, [&](const auto& lk) { return map_.contains(lk); });
        ASSERT_EQ(got, present) << where();
        break;
      }
      case op::visit_const: {
        int calls = 0;
        std::optional<V> seen;
        const bool got = with_lookup_key(k, [&](const auto& lk) {
          return std::as_const(map_).visit(lk, [&](const V& v) {
            ++calls;
            seen = v;
          });
        });
        ASSERT_EQ(got, present) << where();
        ASSERT_EQ(calls, present ? 1 : 0) << where();
        if (present) {
          ASSERT_EQ(seen, std::optional<V>(*cur)) << where();
        }
        break;
      }
      case op::visit_mut: {
        int calls = 0;
        std::optional<V> seen;
        const bool got = with_lookup_key(k, [&](const auto& lk) {
          // A V& parameter: only the mutable overload can take this callback.
          return map_.visit(lk, [&](V& v) {
            ++calls;
            seen = v;
            Traits::transform(v);
          });
        });
        ASSERT_EQ(got, present) << where();
        ASSERT_EQ(calls, present ? 1 : 0) << where();
        if (present) {
          ASSERT_EQ(seen, std::optional<V>(*cur)) << where();
          Traits::transform(model_[k].value);
          ASSERT_EQ(map_.find(k), std::optional<V>(model_[k].value))
              << where() << " (the callback's change did not stick)";
        }
        break;
      }
      case op::for_each_stop_early: {
        key_ = nullptr;
        const std::size_t limit = 1 + below(rng_, model_.size() + 1);
        std::size_t calls = 0;
        std::string error;
        map_.for_each([&](const K& key, const V& v) {
          ++calls;
          if (error.empty()) {
            const V* want = model_find(key);
            if (want == nullptr) {
              error = "for_each offered a key the model lacks";
            } else if (!(*want == v)) {
              error = "for_each offered a wrong value";
            }
          }
          return calls < limit;
        });
        ASSERT_TRUE(error.empty()) << error << where();
        ASSERT_EQ(calls, std::min(limit, model_.size()))
            << where() << " (the walk should stop when the callback returns false; limit " << limit
            << ")";
        break;
      }
      case op::erase_if: {
        key_ = nullptr;
        // Erase the entries whose (hash of key, value) falls in one residue class: a pure
        // function of the entry, so the model can apply it too.
        const std::uint64_t modulus = 1 + below(rng_, 6);
        const std::uint64_t residue = below(rng_, modulus);
        const std::uint64_t salt = rng_();
        auto pred = [&](const K& key, const V& v) {
          const std::uint64_t h = std::hash<K>{}(key) ^ (std::hash<V>{}(v)*3) ^ salt;
          return h % modulus == residue;
        };
        std::size_t want = 0;
        for (const auto& [key, e] : model_) want += pred(key, e.value) ? 1 : 0;
        std::size_t offered = 0;
        std::string error;
        const std::size_t got = map_.erase_if([&](const K& key, const V& v) {
          ++offered;
          const V* in_model = model_find(key);
          if (error.empty() && (in_model == nullptr || !(*in_model == v))) {
            error = "erase_if offered an entry the model does not hold";
          }
          return pred(key, v);
        });
        ASSERT_TRUE(error.empty()) << error << where();
        ASSERT_GE(offered, model_.size()) << where() << " (the predicate did not see every entry)";
        ASSERT_EQ(got, want) << where() << " (modulus " << modulus << ")";
        std::erase_if(model_, [&](const auto& kv) { return pred(kv.first, kv.second.value); });
        full_check();
        break;
      }
      case op::clear: {
        key_ = nullptr;
        map_.clear();
        model_.clear();
        ASSERT_TRUE(map_.empty()) << where();
        break;
      }
      case op::reserve: {
        key_ = nullptr;
        map_.reserve(below(rng_, 2 * cfg_.universe + 1));
        full_check();  // a rehash must keep every entry
        break;
      }
      case op::count_:
        break;
    }
    if (model_.size() > max_size_) max_size_ = model_.size();
  }

  // The whole map against the model: each entry seen exactly once, with the model's value,
  // and as many entries as the model holds (so nothing is missing either).
  void full_check() {
    const K* saved_key = key_;
    key_ = nullptr;
    ++walk_;
    std::size_t count = 0;
    std::string error;
    map_.for_each([&](const K& key, const V& v) {
      ++count;
      if (!error.empty()) return;
      auto it = model_.find(key);
      if (it != model_.end() && it->second.seen_in_walk != walk_ && it->second.value == v) {
        it->second.seen_in_walk = walk_;
        return;
      }
      std::ostringstream out;  // only on failure: this loop is the test's hot spot
      if (it == model_.end()) {
        out << "for_each saw key \"" << key << "\", which the model lacks";
      } else if (it->second.seen_in_walk == walk_) {
        out << "for_each saw key \"" << key << "\" twice";
      } else {
        out << "for_each saw key \"" << key << "\" with value \"" << v << "\", model has \""
            << it->second.value << "\"";
      }
      error = out.str();
    });
    ASSERT_TRUE(error.empty()) << "full comparison: " << error << where();
    ASSERT_EQ(count, model_.size()) << "full comparison: entry count differs" << where();
    key_ = saved_key;
  }

  std::uint64_t seed_;
  run_config cfg_;
  rng_t rng_;
  std::discrete_distribution<int> ops_[3];  // indexed by phase
  std::vector<K> keys_;
  cmap_test::with_seed<Map> map_;
  std::unordered_map<K, model_entry> model_;
  std::size_t step_ = 0;
  std::uint64_t walk_ = 0;
  std::size_t max_size_ = 0;
  const char* op_ = "start";
  const K* key_ = nullptr;
};

template <class Map, class Traits>
void run_seeds(const run_config& cfg) {
  std::vector<std::uint64_t> seeds = test_seeds();
  const std::size_t env_seeds = seeds.size() - fixed_seed_count;
  seeds.resize(std::min(seeds.size(), env_seeds + cfg.fixed_seeds));
  for (const std::uint64_t seed : seeds) {
    model_run<Map, Traits> run(seed, cfg);
    run.run();
    if (::testing::Test::HasFatalFailure()) return;
    // The run must have exercised what it is for (growth in the large universe).
    EXPECT_GE(run.max_size_seen(), cfg.min_peak_size) << "[" << cfg.name << "] seed=" << seed;
  }
}

template <class Family>
class ReferenceModel : public ::testing::Test {
 protected:
  // cfg with this family's share of the work (cmap_test::work_divisor). Under
  // ThreadSanitizer one fixed seed: these runs are single-threaded, so all that build can
  // add is a race with a map's own thread (serial_map's owner), which one seed exercises;
  // the other builds run them all.
  static run_config scaled(run_config cfg) {
    const std::size_t d = cmap_test::work_divisor<Family>;
    cfg.steps /= d;
    cfg.phase_length /= d;
    cfg.min_peak_size /= d;
#if CMAP_DETAIL_TSAN
    cfg.fixed_seeds = 1;
#endif
    return cfg;
  }
  template <class Traits>
  using map_for =
      typename Family::template map<typename Traits::key_type, typename Traits::value_type,
                                    cmap::hash<typename Traits::key_type>,
                                    typename Traits::key_equal>;
};
TYPED_TEST_SUITE(ReferenceModel, all_map_families, family_names);

TYPED_TEST(ReferenceModel, U64SmallUniverseMatchesModelStepByStep) {
  using traits = u64_kv;
  run_seeds<typename TestFixture::template map_for<traits>, traits>(
      TestFixture::scaled(small_universe));
}

TYPED_TEST(ReferenceModel, U64LargeUniverseMatchesModelThroughGrowthAndTombstones) {
  using traits = u64_kv;
  run_seeds<typename TestFixture::template map_for<traits>, traits>(
      TestFixture::scaled(large_universe));
}

TYPED_TEST(ReferenceModel, StringSmallUniverseMatchesModelStepByStep) {
  using traits = string_kv<false>;
  run_seeds<typename TestFixture::template map_for<traits>, traits>(
      TestFixture::scaled(small_universe));
}

TYPED_TEST(ReferenceModel, StringLargeUniverseMatchesModelThroughGrowthAndTombstones) {
  using traits = string_kv<false>;
  run_seeds<typename TestFixture::template map_for<traits>, traits>(
      TestFixture::scaled(large_universe));
}

TYPED_TEST(ReferenceModel, StringTransparentLookupMatchesModelStepByStep) {
  using traits = string_kv<true>;
  run_seeds<typename TestFixture::template map_for<traits>, traits>(
      TestFixture::scaled(small_universe));
}

}  // namespace
