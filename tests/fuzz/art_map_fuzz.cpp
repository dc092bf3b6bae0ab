// A fuzz target for art_map, the ordered map on an adaptive radix tree: the input bytes are a
// program of single-threaded calls, run on art_map<std::string, u64> (values kept in the
// leaf as atomics, updated in place) and on art_map<std::string, std::string> (values that
// are not atomics: every update replaces the leaf), and checked call by call against a
// std::map model, whose order (std::less<std::string>: unsigned bytes, a prefix first) is the
// one the map promises.
//
// What a random test with random keys rarely reaches, the input chooses here: the keys. They
// are byte strings over a small alphabet that includes 00 and FF (the bytes the string
// encoding escapes, and the ends of the byte order) and 'a', or over all 256 bytes; from 0 to
// 40 bytes long, each derived from another key of the universe by cutting it and appending
// bytes, so keys share long prefixes (past the 8 bytes an inner node keeps inline, where the
// tree reads the rest from a leaf), keys are prefixes of each other, and the empty key is
// one of them. A call of the program builds a new key byte by byte, replacing one of the
// universe. In the wide alphabet half of the keys hang below one long key, so one node has
// dozens of children (node48, node256) and the runs of inserts and erases grow and shrink it
// through every size. Every call of the map is a call of the program: the single-key calls
// (insert, emplace, try_emplace, insert_or_assign, find_or_insert, upsert, exchange,
// compare_exchange, erase, extract, compare_erase, find, contains, const and mutable visit,
// with a std::string or a std::string_view key), erase_if with a predicate on the value,
// clear, insert(first, last), and the ordered calls: for_each, for_each_reverse,
// for_each_from, for_each_reverse_from, for_range, for_range_reverse, for_prefix and
// for_prefix_reverse (the prefix a std::string_view of raw characters, which the map
// encodes), each stopped after a count that the input chooses; first, last, lower_bound and
// upper_bound. Bounds and prefixes are keys of the universe or cut from them, so present,
// absent, and prefixes of stored keys.
//
// Checks: each call's result against the model (for a scan, the whole sequence of keys and
// values, and whether the callback stopped it); size() and empty() after every call; every
// 32 calls and at the end, the ascending walk, the descending walk, stats().size and size().
// A failed check prints the map, the call and the key, and aborts, which libFuzzer reports
// with the input.
//
// Cost: at most 2048 calls and 256 keys of at most 40 bytes, so every scan and check is
// cheap. Built two ways (tests/CMakeLists.txt): with libFuzzer (clang, CMAP_FUZZ=ON, `make
// fuzz`), or with driver.cpp, which runs fixed inputs (pseudo-random ones, and mutations of
// the seed corpus in tests/fuzz/corpus/art_map/) as an ordinary test.

#include <algorithm>
#include <cmap/art_map.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "key_calls.hpp"

namespace {

using cmap_fuzz::bump;
using cmap_fuzz::input;
using cmap_fuzz::key_call;
using cmap_fuzz::make_value;

constexpr std::size_t max_calls = 2048;
constexpr std::size_t max_key_size = 40;
constexpr std::size_t full_check_every = 32;

// The bytes keys are made of: a narrow alphabet (few distinct bytes, so long shared prefixes
// and prefix relations are the rule) or every byte.
struct alphabet {
  std::string_view bytes;  // empty: all 256 bytes
  char operator[](std::uint8_t b) const {
    return bytes.empty() ? static_cast<char>(b) : bytes[b % bytes.size()];
  }
};
constexpr std::string_view narrow_alphabets[] = {
    std::string_view("\x00\xff"
                     "a",
                     3),
    std::string_view("\x00\x01"
                     "a"
                     "b\xfe\xff",
                     6),
};

std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x21 && u < 0x7f && u != '\\') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

// A small deterministic generator for the initial key universe (splitmix64).
struct splitmix {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

// What erase_if's predicate looks at: two bits of the value.
template <class T>
unsigned value_class(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    const unsigned last = v.empty() ? 0U : static_cast<unsigned char>(v.back());
    return static_cast<unsigned>(v.size() + last) % 4;
  } else {
    return static_cast<unsigned>(v % 4);
  }
}

// The calls besides the key calls (cmap_fuzz::run_key_call, each lookup made with a
// std::string or a std::string_view key as the input says).
enum class call : std::uint8_t {
  // 0 to key_call::count_ - 1: the key calls.
  emplace = static_cast<std::uint8_t>(key_call::count_),
  try_emplace_view,
  erase_if,
  clear,
  insert_range,
  insert_run,
  erase_run,
  make_key,
  for_each,
  for_each_reverse,
  for_each_from,
  for_each_reverse_from,
  for_range,
  for_range_reverse,
  for_prefix,
  for_prefix_reverse,
  first,
  last,
  lower_bound,
  upper_bound,
  count_
};

constexpr const char* own_call_names[] = {"emplace",
                                          "try_emplace(string_view)",
                                          "erase_if",
                                          "clear",
                                          "insert(first, last)",
                                          "insert run",
                                          "erase run",
                                          "make key",
                                          "for_each",
                                          "for_each_reverse",
                                          "for_each_from",
                                          "for_each_reverse_from",
                                          "for_range",
                                          "for_range_reverse",
                                          "for_prefix",
                                          "for_prefix_reverse",
                                          "first",
                                          "last",
                                          "lower_bound",
                                          "upper_bound"};
static_assert(std::size(own_call_names) + std::size(cmap_fuzz::key_call_names) ==
              static_cast<std::size_t>(call::count_));

const char* call_name(call c) {
  const auto i = static_cast<std::size_t>(c);
  if (cmap_fuzz::is_key_call(c)) return cmap_fuzz::key_call_names[i];
  const std::size_t own = i - std::size(cmap_fuzz::key_call_names);
  return own < std::size(own_call_names) ? own_call_names[own] : "full check";
}

template <class T>
class program {
  using map_type = cmap::art_map<std::string, T>;
  using model_type = std::map<std::string, T>;
  using entries = std::vector<std::pair<std::string, T>>;

 public:
  program(const char* name, std::vector<std::string> keys, alphabet a)
      : name_(name), keys_(std::move(keys)), alphabet_(a) {}

  void run(input in) {
    for (call_ = 0; call_ < max_calls && !in.empty(); ++call_) {
      step(in);
      check(m_.size() == model_.size(), "size() differs from the model");
      check(m_.empty() == model_.empty(), "empty() differs from the model");
      if (call_ % full_check_every == full_check_every - 1) full_check();
    }
    what_ = call::count_;
    full_check();
  }

 private:
  void check(bool ok, const char* what) const {
    if (ok) return;
    std::fprintf(stderr, "art_map_fuzz: %s (map %s, call %zu: %s, key \"%s\", %zu keys)\n", what,
                 name_, call_, call_name(what_), printable(key_).c_str(), model_.size());
    std::abort();
  }

  const std::string& pick_key(input& in) { return keys_[in.byte() % keys_.size()]; }

  // How many entries a scan's callback takes before it returns false; none: it never does.
  static std::size_t pick_limit(input& in) {
    const std::uint8_t b = in.byte();
    return b >= 96 ? SIZE_MAX : std::size_t{1} + b % 32;
  }

  // Runs scan(f) with f collecting up to `limit` entries, and checks them and the scan's
  // result against `want` (the whole sequence the scan would deliver if never stopped).
  // ReturnsBool: the scan returns whether f let it finish. void_callback: f returns nothing
  // (so never stops the scan). lookup_inside: f also finds its key in the map.
  template <bool ReturnsBool, class Scan>
  void check_scan(Scan scan, const entries& want, std::size_t limit, bool void_callback,
                  bool lookup_inside) {
    entries got;
    bool finished = true;
    auto collect = [&](const std::string& k, const T& v) {
      got.emplace_back(k, v);
      if (lookup_inside) {
        // The callback runs with no lock held: a lookup from inside it is allowed.
        const std::optional<T> again = m_.find(k);
        check(again.has_value() && *again == v, "a lookup inside a scan's callback");
      }
      return got.size() < limit;
    };
    if (void_callback) {
      auto f = [&](const std::string& k, const T& v) { (void)collect(k, v); };
      if constexpr (ReturnsBool) {
        finished = scan(f);
      } else {
        scan(f);
      }
      limit = SIZE_MAX;
    } else if constexpr (ReturnsBool) {
      finished = scan(collect);
    } else {
      scan(collect);
    }
    const std::size_t n = std::min(limit, want.size());
    check(got.size() == n, "a scan delivers a different number of entries");
    for (std::size_t i = 0; i < n; ++i) {
      if (got[i].first != want[i].first) {
        key_ = got[i].first;
        check(false, "a scan delivers a key other than the model's");
      }
      check(got[i].second == want[i].second, "a scan delivers a value other than the model's");
    }
    if constexpr (ReturnsBool) {
      check(finished == (want.size() < limit), "a scan's result (stopped by f or not)");
    }
  }

  // The model's entries from `first` to `last`, ascending or descending.
  template <class It>
  static entries collect(It first, It last, bool reverse) {
    entries out(first, last);
    if (reverse) std::reverse(out.begin(), out.end());
    return out;
  }

  void check_entry(const std::optional<std::pair<std::string, T>>& got,
                   typename model_type::const_iterator want, const char* what) {
    if (want == model_.end()) {
      check(!got.has_value(), what);
      return;
    }
    check(got.has_value(), what);
    if (got->first != want->first) key_ = got->first;
    check(got->first == want->first && got->second == want->second, what);
  }

  void step(input& in) {
    what_ = static_cast<call>(in.byte() % static_cast<unsigned>(call::count_));
    key_ = pick_key(in);
    const std::string k = key_;
    const std::string_view kv = k;
    // Few distinct values, so that compare_exchange and compare_erase sometimes match.
    const std::uint8_t raw = in.byte();
    const T v = make_value<T>(raw % 8);
    const auto it = model_.find(k);
    const bool present = it != model_.end();
    const map_type& cm = m_;

    if (cmap_fuzz::is_key_call(what_)) {
      auto report = [this](bool ok, const char* what) { check(ok, what); };
      const auto c = static_cast<key_call>(what_);
      if ((raw & 8) != 0) {
        cmap_fuzz::run_key_call(c, m_, model_, k, kv, v, in, report);
      } else {
        cmap_fuzz::run_key_call(c, m_, model_, k, k, v, in, report);
      }
      return;
    }
    switch (what_) {
      case call::emplace:
        check(m_.emplace(k, v) == !present, "emplace's result");
        if (!present) model_.emplace(k, v);
        break;
      case call::try_emplace_view:
        check(m_.try_emplace(kv, v) == !present, "try_emplace's result");
        if (!present) model_.emplace(k, v);
        break;
      case call::erase_if: {
        // Erase the entries whose value is of the input's class (and, if the input says so,
        // whose key has an even length).
        const unsigned cls = raw % 4;
        const bool even_keys_only = (raw & 4) != 0;
        auto pred = [&](const std::string& key, const T& value) {
          return value_class(value) == cls && (!even_keys_only || key.size() % 2 == 0);
        };
        std::size_t want = 0;
        for (auto i = model_.begin(); i != model_.end();) {
          if (pred(i->first, i->second)) {
            i = model_.erase(i);
            ++want;
          } else {
            ++i;
          }
        }
        check(m_.erase_if(pred) == want, "erase_if's count");
        break;
      }
      case call::clear:
        // Rare: it undoes what the other calls build.
        if (raw < 8) {
          m_.clear();
          model_.clear();
        }
        break;
      case call::insert_range: {
        // Up to 8 keys of the universe from k on, the first one twice (the first of equal
        // keys wins).
        const std::size_t ki = index_of(k);
        entries batch;
        for (std::size_t j = 0, n = 1 + raw % 8; j < n; ++j)
          batch.emplace_back(keys_[(ki + j) % keys_.size()], make_value<T>(j));
        batch.emplace_back(batch.front().first, make_value<T>(99));
        std::size_t want = 0;
        for (const auto& [key, value] : batch) want += model_.emplace(key, value).second ? 1 : 0;
        check(m_.insert(batch.begin(), batch.end()) == want, "insert(first, last)'s count");
        break;
      }
      case call::insert_run:
      case call::erase_run: {
        // Up to 255 consecutive keys of the universe: nodes grow and shrink through every size.
        cmap_fuzz::run_of_keys(what_ == call::insert_run, m_, model_, keys_, index_of(k), in.byte(),
                               v, key_, [this](bool ok, const char* what) { check(ok, what); });
        break;
      }
      case call::make_key: {
        // keys_[slot] = the first `cut` bytes of k, then up to 31 bytes of the input.
        const std::size_t slot = in.byte() % keys_.size();
        std::string made = k.substr(0, in.byte() % (k.size() + 1));
        for (std::size_t j = 0, n = raw % 32; j < n && made.size() < max_key_size; ++j)
          made += alphabet_[in.byte()];
        key_ = made;
        keys_[slot] = std::move(made);
        break;
      }
      case call::for_each: {
        const std::size_t limit = pick_limit(in);
        check_scan<false>([&](auto& f) { cm.for_each(f); },
                          collect(model_.begin(), model_.end(), false), limit, (raw & 16) != 0,
                          (raw & 32) != 0);
        break;
      }
      case call::for_each_reverse: {
        const std::size_t limit = pick_limit(in);
        check_scan<true>([&](auto& f) { return cm.for_each_reverse(f); },
                         collect(model_.begin(), model_.end(), true), limit, (raw & 16) != 0,
                         (raw & 32) != 0);
        break;
      }
      case call::for_each_from: {
        const std::size_t limit = pick_limit(in);
        check_scan<true>(
            [&](auto& f) {
              return (raw & 8) != 0 ? cm.for_each_from(kv, f) : cm.for_each_from(k, f);
            },
            collect(model_.lower_bound(k), model_.end(), false), limit, (raw & 16) != 0,
            (raw & 32) != 0);
        break;
      }
      case call::for_each_reverse_from: {
        const std::size_t limit = pick_limit(in);
        check_scan<true>(
            [&](auto& f) {
              return (raw & 8) != 0 ? cm.for_each_reverse_from(kv, f)
                                    : cm.for_each_reverse_from(k, f);
            },
            collect(model_.begin(), model_.upper_bound(k), true), limit, (raw & 16) != 0,
            (raw & 32) != 0);
        break;
      }
      case call::for_range:
      case call::for_range_reverse: {
        const std::string& hi = pick_key(in);
        const std::size_t limit = pick_limit(in);
        const bool reverse = what_ == call::for_range_reverse;
        entries want;
        if (k < hi) want = collect(model_.lower_bound(k), model_.lower_bound(hi), reverse);
        const std::string_view hv = hi;
        check_scan<true>(
            [&](auto& f) {
              if (reverse)
                return (raw & 8) != 0 ? cm.for_range_reverse(kv, hv, f)
                                      : cm.for_range_reverse(k, hi, f);
              return (raw & 8) != 0 ? cm.for_range(kv, hv, f) : cm.for_range(k, hi, f);
            },
            want, limit, (raw & 16) != 0, (raw & 32) != 0);
        break;
      }
      case call::for_prefix:
      case call::for_prefix_reverse: {
        // The prefix: k cut to a length the input chooses (often k itself, or empty).
        const std::uint8_t cut = in.byte();
        const std::string_view prefix =
            kv.substr(0, cut >= 128 ? kv.size() : cut % (kv.size() + 1));
        key_ = std::string(prefix);
        const std::size_t limit = pick_limit(in);
        const bool reverse = what_ == call::for_prefix_reverse;
        auto end = model_.lower_bound(key_);
        while (end != model_.end() && end->first.starts_with(prefix)) ++end;
        check_scan<true>(
            [&](auto& f) {
              return reverse ? cm.for_prefix_reverse(prefix, f) : cm.for_prefix(prefix, f);
            },
            collect(model_.lower_bound(key_), end, reverse), limit, (raw & 16) != 0,
            (raw & 32) != 0);
        break;
      }
      case call::first:
        check_entry(cm.first(), model_.begin(), "first()");
        break;
      case call::last:
        check_entry(cm.last(), model_.empty() ? model_.end() : std::prev(model_.end()), "last()");
        break;
      case call::lower_bound:
        check_entry((raw & 8) != 0 ? cm.lower_bound(kv) : cm.lower_bound(k), model_.lower_bound(k),
                    "lower_bound()");
        break;
      case call::upper_bound:
        check_entry((raw & 8) != 0 ? cm.upper_bound(kv) : cm.upper_bound(k), model_.upper_bound(k),
                    "upper_bound()");
        break;
      default:  // the key calls, made above
        break;
    }
  }

  std::size_t index_of(const std::string& k) const {
    return static_cast<std::size_t>(std::find(keys_.begin(), keys_.end(), k) - keys_.begin());
  }

  // The whole map, both ways, against the model.
  void full_check() {
    const map_type& cm = m_;
    check_scan<false>([&](auto& f) { cm.for_each(f); },
                      collect(model_.begin(), model_.end(), false), SIZE_MAX, false, false);
    check_scan<true>([&](auto& f) { return cm.for_each_reverse(f); },
                     collect(model_.begin(), model_.end(), true), SIZE_MAX, false, false);
    check(m_.size() == model_.size(), "size() differs from the model (full check)");
    check(m_.stats().size == model_.size(), "stats().size differs from the model");
  }

  const char* name_;
  std::vector<std::string> keys_;
  alphabet alphabet_;
  map_type m_;
  model_type model_;
  std::size_t call_ = 0;
  call what_ = call::count_;
  std::string key_;
};

// The initial key universe: keys_[0] is the empty key; each other key is an earlier one cut
// short, then extended by a few bytes (sometimes by a run of one byte, up to 24). In the wide
// alphabet every other key hangs below keys_[1] by one byte of any value, then a short tail.
std::vector<std::string> make_keys(std::size_t n, alphabet a, std::uint64_t seed) {
  splitmix rng{seed};
  std::vector<std::string> keys;
  keys.reserve(n);
  keys.emplace_back();
  while (keys.size() < n) {
    std::string key;
    if (a.bytes.empty() && keys.size() > 2 && rng.next() % 2 == 0) {
      key = keys[1];
      key += static_cast<char>(rng.next());
      for (std::size_t j = 0, t = rng.next() % 3; j < t; ++j)
        key += a[static_cast<std::uint8_t>(rng.next())];
    } else {
      const std::string& parent = keys[rng.next() % keys.size()];
      key = parent.substr(0, rng.next() % (parent.size() + 1));
      if (rng.next() % 4 == 0) {
        key.append(rng.next() % 24, a[static_cast<std::uint8_t>(rng.next())]);
      } else {
        for (std::size_t j = 0, t = 1 + rng.next() % 4; j < t; ++j)
          key += a[static_cast<std::uint8_t>(rng.next())];
      }
    }
    if (key.size() > max_key_size) key.resize(max_key_size);
    keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in(data, size);
  // Header: alphabet, universe size and which maps; the seed of the initial universe.
  const std::uint8_t mode = in.byte();
  const std::uint8_t seed = in.byte();
  const alphabet a{(mode % 3) < 2 ? narrow_alphabets[mode % 3] : std::string_view()};
  static constexpr std::size_t universes[] = {8, 32, 96, 256};
  const std::vector<std::string> keys = make_keys(universes[(mode >> 2) % 4], a, seed);
  // Both maps unless the input picks one.
  const unsigned maps = (mode >> 4) % 4;
  const input program_bytes = in;
  if (maps != 2) program<std::uint64_t>("art_map<string, u64>", keys, a).run(program_bytes);
  if (maps != 1) program<std::string>("art_map<string, string>", keys, a).run(program_bytes);
  return 0;
}
