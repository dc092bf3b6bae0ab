// A fuzz target for durable_map: the input bytes are a program of single-threaded calls on a
// durable_map<std::string, u64> and a durable_map<std::string, std::string>, checked against a
// std::map, with the calls only a durable map has:
//   - reopen: the map is closed and opened again, and must hold exactly the model;
//   - power loss: the power is cut (through the fault-injecting file system of
//     tests/durable/, which drops, keeps in part, or zero-fills every unsynced byte); every
//     write returned under sync::group, so the reopened map must still hold exactly the model;
//   - checkpoint, write(batch), clear, erase_if, and writes with sync::none (a later group
//     write or checkpoint syncs them; a power loss right after one may lose them, so the
//     program makes a group write before it cuts the power).
// Segments are a few hundred bytes, so that a program rotates the log often. The single-key
// calls and their checks are those of every fuzz target (key_calls.hpp).
#include <cmap/detail/sanitizers.hpp>
#include <cmap/durable_map.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../durable/fault_file_system.hpp"
#include "../durable/temp_directory.hpp"
#include "key_calls.hpp"

namespace {

using cmap_fuzz::input;
using cmap_fuzz::key_call;
using cmap_fuzz::make_value;

// Shorter programs under ThreadSanitizer: a checkpoint and a clear take every one of the map's
// 65536 key stripes, atomics that TSan makes far slower (the whole driver took 400 s there
// with 256 calls a program).
constexpr std::size_t max_calls = CMAP_DETAIL_TSAN ? 48 : 256;

enum class call : std::uint8_t {
  // 0 to key_call::count_ - 1: the key calls.
  reopen = static_cast<std::uint8_t>(key_call::count_),
  power_loss,
  checkpoint,
  batch,
  clear,
  erase_if,
  unsynced_write,
  prefix_scan,
  count_
};

const std::string keys[] = {"", "a", "ab", "abc", "b", "uid:1", "uid:10", "uid:2",
                            std::string("a\0b", 3), std::string("\xff", 1), "k", "kk"};

template <class T>
class program {
  using map_type = cmap::durable_map<std::string, T>;
  using model_type = std::map<std::string, T>;

 public:
  explicit program(const char* name) : name_(name), dir_("durable-fuzz") { open(); }

  void run(input& in) {
    for (std::size_t i = 0; i < max_calls && !in.empty(); ++i) {
      call_ = i;
      step(in);
    }
    check_all("at the end");
    m_.reset();
    open();
    check_all("after the last reopen");
  }

 private:
  void check(bool ok, const char* what) const {
    if (ok) return;
    std::fprintf(stderr, "durable_map_fuzz: %s (map %s, call %zu, key \"%s\", %zu keys)\n", what,
                 name_, call_, key_.c_str(), model_.size());
    std::abort();
  }

  void check_all(const char* when) {
    model_type got;
    m_->for_each([&](const std::string& k, const T& v) { got.emplace(k, v); });
    if (got != model_) {
      std::fprintf(stderr, "durable_map_fuzz: the map differs from the model %s\n", when);
      check(false, "contents");
    }
  }

  void open() {
    cmap::durable_options o;
    o.fs = fs_;
    o.segment_bytes = segment_bytes_;
    o.checkpoint_log_bytes = 0;
    try {
      m_.emplace(dir_.path() / "store", o);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "durable_map_fuzz: the store does not open: %s\n", e.what());
      check(false, "open");
    }
  }

  void step(input& in) {
    const auto what = static_cast<call>(in.byte() % static_cast<unsigned>(call::count_));
    key_ = keys[in.byte() % std::size(keys)];
    const std::uint8_t raw = in.byte();
    const T v = make_value<T>(raw % 8);
    if (cmap_fuzz::is_key_call(what)) {
      auto report = [this](bool ok, const char* w) { check(ok, w); };
      cmap_fuzz::run_key_call(static_cast<key_call>(what), *m_, model_, key_,
                              std::string_view(key_), v, in, report);
      return;
    }
    switch (what) {
      case call::reopen:
        m_.reset();
        segment_bytes_ = 64 + std::uint64_t{raw} * 8;
        open();
        check_all("after a reopen");
        break;
      case call::power_loss: {
        // Everything written so far returned under sync::group but unsynced_write's: one
        // group write syncs those too.
        m_->insert_or_assign(key_, v);
        model_[key_] = v;
        cmap_test::fault_options o;
        o.on_power_loss = static_cast<cmap_test::unsynced_bytes>(raw % 4);
        o.seed = raw;
        fs_->power_loss();
        m_.reset();
        fs_ = std::make_shared<cmap_test::fault_file_system>(o);
        open();
        check_all("after a power loss");
        break;
      }
      case call::checkpoint: {
        const auto info = m_->checkpoint();
        check(info.entries == model_.size(), "the checkpoint's entry count");
        break;
      }
      case call::batch: {
        typename map_type::batch b;
        const std::size_t n = raw % 5;
        for (std::size_t j = 0; j < n; ++j) {
          const std::string& k = keys[in.byte() % std::size(keys)];
          if ((in.byte() & 3) == 0) {
            b.erase(k);
            model_.erase(k);
          } else {
            const T value = make_value<T>(in.byte() % 8);
            b.insert_or_assign(k, value);
            model_[k] = value;
          }
        }
        m_->write(b);
        break;
      }
      case call::clear:
        m_->clear();
        model_.clear();
        break;
      case call::erase_if: {
        const T doomed = v;
        std::size_t want = std::erase_if(model_, [&](const auto& e) { return e.second == doomed; });
        check(m_->erase_if([&](const std::string&, const T& x) { return x == doomed; }) == want,
              "erase_if's count");
        break;
      }
      case call::unsynced_write:
        m_->with(cmap::sync::none).insert_or_assign(key_, v);
        model_[key_] = v;
        break;
      case call::prefix_scan: {
        const std::string prefix = key_.substr(0, raw % 3);
        std::vector<std::string> got;
        m_->for_prefix(std::string_view(prefix), [&](const std::string& k, const T&) {
          got.push_back(k);
        });
        std::vector<std::string> want;
        for (const auto& [k, x] : model_) {
          if (k.starts_with(prefix)) want.push_back(k);
        }
        check(got == want, "for_prefix's keys");
        break;
      }
      default:
        break;
    }
  }

  const char* name_;
  cmap_test::temp_directory dir_;
  std::shared_ptr<cmap_test::fault_file_system> fs_ =
      std::make_shared<cmap_test::fault_file_system>();
  std::uint64_t segment_bytes_ = 256;
  std::optional<map_type> m_;
  model_type model_;
  std::string key_;
  std::size_t call_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  input in(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    program<std::uint64_t>("durable_map<string, u64>").run(in);
  } else {
    program<std::string>("durable_map<string, string>").run(in);
  }
  return 0;
}
