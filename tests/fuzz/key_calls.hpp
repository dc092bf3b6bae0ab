#pragma once
// What the fuzz targets share: the input byte stream, the values they store, and the
// single-key calls of the common surface (docs/api.md) with their checks against a model.
// Every map has those calls with the same meanings, so one routine checks them all; each
// target adds the calls only its maps have (the hash maps' reserve and visit_bulk, the
// ordered map's scans).
//
// A target's own call enum numbers its calls from key_call::count_ on: an input byte that
// picks a call below that picks a key call, the same one in every target, and run_key_call
// makes it.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>

namespace cmap_fuzz {

// The byte stream, read front to back; zeros once exhausted.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  std::uint8_t byte() { return p_ == end_ ? 0 : *p_++; }
  std::uint16_t u16() {
    const unsigned lo = byte();
    return static_cast<std::uint16_t>(lo | (unsigned{byte()} << 8));
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// Values: u64 as they are; std::string values spell the number, long enough for odd numbers
// that the string allocates (no small-string buffer), so copies and moves of the value are
// seen by the sanitizers.
template <class T>
T make_value(std::uint64_t v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return (v & 1) != 0 ? std::string("value-longer-than-any-sso-buffer-") + std::to_string(v)
                        : std::to_string(v);
  } else {
    return static_cast<T>(v);
  }
}
template <class T>
void bump(T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    v += "+";
  } else {
    ++v;
  }
}

enum class key_call : std::uint8_t {
  insert,
  emplace_default,
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
  count_
};
inline constexpr const char* key_call_names[] = {
    "insert",           "emplace(k)",   "insert_or_assign", "find_or_insert", "upsert", "exchange",
    "compare_exchange", "erase",        "extract",          "compare_erase",  "find",   "contains",
    "const visit",      "mutable visit"};
static_assert(std::size(key_call_names) == static_cast<std::size_t>(key_call::count_));

// Whether a target's call c (an enum numbered as above) is a key call.
template <class Call>
constexpr bool is_key_call(Call c) {
  return static_cast<unsigned>(c) < static_cast<unsigned>(key_call::count_);
}

// Makes call c on map m with key k and value v, checks its result against model (a std::map
// or std::unordered_map) and brings the model along. The calls that take any lookup key
// (compare_exchange, erase, extract, compare_erase, find, contains) are made with `lookup`,
// which is k itself or another type that names it (a heterogeneous lookup). A compare call
// reads its expected value from in (few distinct values, so that it sometimes matches).
// check(ok, what) reports a failed check.
template <class Map, class Model, class Lookup, class Check>
void run_key_call(key_call c, Map& m, Model& model, const typename Model::key_type& k,
                  const Lookup& lookup, const typename Model::mapped_type& v, input& in,
                  Check&& check) {
  using T = typename Model::mapped_type;
  const auto it = model.find(k);
  const bool present = it != model.end();
  const Map& cm = m;
  switch (c) {
    case key_call::insert:
      check(m.insert(k, v) == !present, "insert's result");
      if (!present) model.emplace(k, v);
      break;
    case key_call::emplace_default:
      check(m.emplace(k) == !present, "emplace(k)'s result");
      if (!present) model.emplace(k, T{});
      break;
    case key_call::insert_or_assign:
      check(m.insert_or_assign(k, v) == !present, "insert_or_assign's result");
      model[k] = v;
      break;
    case key_call::find_or_insert: {
      const auto [got, inserted] = m.find_or_insert(k, v);
      check(inserted == !present, "find_or_insert's inserted flag");
      check(got == (present ? it->second : v), "find_or_insert's value");
      if (!present) model.emplace(k, v);
      break;
    }
    case key_call::upsert:
      check(m.upsert(
                k, [](T& x) { bump(x); }, v) == !present,
            "upsert's result");
      if (present) {
        bump(it->second);
      } else {
        model.emplace(k, v);
      }
      break;
    case key_call::exchange: {
      const std::optional<T> old = m.exchange(k, v);
      check(old.has_value() == present, "exchange's result");
      if (present) check(*old == it->second, "exchange's old value");
      model[k] = v;
      break;
    }
    case key_call::compare_exchange: {
      const T expected = make_value<T>(in.byte() % 8);
      const bool want = present && it->second == expected;
      check(m.compare_exchange(lookup, expected, v) == want, "compare_exchange's result");
      if (want) it->second = v;
      break;
    }
    case key_call::erase:
      check(m.erase(lookup) == present, "erase's result");
      model.erase(k);
      break;
    case key_call::extract: {
      const std::optional<T> got = m.extract(lookup);
      check(got.has_value() == present, "extract's result");
      if (present) check(*got == it->second, "extract's value");
      model.erase(k);
      break;
    }
    case key_call::compare_erase: {
      const T expected = make_value<T>(in.byte() % 8);
      const bool want = present && it->second == expected;
      check(m.compare_erase(lookup, expected) == want, "compare_erase's result");
      if (want) model.erase(k);
      break;
    }
    case key_call::find: {
      const std::optional<T> got = cm.find(lookup);
      check(got.has_value() == present, "find's result");
      if (present) check(*got == it->second, "find's value");
      break;
    }
    case key_call::contains:
      check(cm.contains(lookup) == present, "contains' result");
      break;
    case key_call::visit_const: {
      int calls = 0;
      const bool got = cm.visit(k, [&](const T& x) {
        ++calls;
        check(present && x == it->second, "const visit's value");
      });
      check(got == present && calls == (present ? 1 : 0), "const visit's result");
      break;
    }
    case key_call::visit_mut: {
      int calls = 0;
      const bool got = m.visit(k, [&](T& x) {
        ++calls;
        bump(x);
      });
      check(got == present && calls == (present ? 1 : 0), "mutable visit's result");
      if (present) bump(it->second);
      break;
    }
    case key_call::count_:
      break;
  }
}

// insert_or_assign(keys[(first + j) % size], v) (insert) or erase of the same keys, for j
// below n, each checked against model; key is set to each key before its call (what the
// target's failure report names).
template <class Map, class Model, class Keys, class Check>
void run_of_keys(bool insert, Map& m, Model& model, const Keys& keys, std::size_t first,
                 std::size_t n, const typename Model::mapped_type& v, typename Model::key_type& key,
                 Check&& check) {
  for (std::size_t j = 0; j < n; ++j) {
    key = keys[(first + j) % keys.size()];
    const bool had = model.count(key) != 0;
    if (insert) {
      check(m.insert_or_assign(key, v) == !had, "insert_or_assign's result (run)");
      model[key] = v;
    } else {
      check(m.erase(key) == had, "erase's result (run)");
      model.erase(key);
    }
  }
}

}  // namespace cmap_fuzz
