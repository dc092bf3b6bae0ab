// A fuzz target for durable_map's log reader (detail::replay_segment): the input is a log
// segment file. Whatever the bytes, the reader must not crash, hang or allocate beyond the
// file's size, and it must agree with itself across the two recovery modes:
//   - absolute consistency accepts a file exactly when the tolerant reading finds no torn
//     tail (or the file is empty), and then both read the same writes;
//   - a torn tail starts after the last record the tolerant reading returned, within the
//     file, and reading only the bytes before it is clean in both modes, with the same writes.
// Writes decode as std::string keys and values through the real sink's rules (key_traits
// decoding), so damaged keys reach the error path that recovery uses.
#include <cmap/detail/durable_files.hpp>
#include <cmap/key_traits.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "../durable/memory_file.hpp"

namespace {

struct collect final : cmap::detail::replay_sink {
  std::vector<std::string> seen;
  void put(std::string_view k, std::string_view v) override {
    seen.push_back("p" + cmap::key_traits<std::string>::decode(k) + "=" + std::string(v));
  }
  void erase(std::string_view k) override {
    seen.push_back("e" + cmap::key_traits<std::string>::decode(k));
  }
  void clear() override { seen.emplace_back("c"); }
};

struct outcome {
  bool ok = false;
  cmap::detail::segment_replay replay;
  std::vector<std::string> seen;
};

outcome read(std::string_view bytes, bool tolerant) {
  cmap::testing::memory_file f(bytes);
  collect c;
  outcome o;
  try {
    o.replay = cmap::detail::replay_segment(f, "wal-0000000000000001.log", 1, tolerant, c);
    o.ok = true;
  } catch (const cmap::corruption_error& e) {
    if (e.offset() > bytes.size()) std::abort();  // an error must point into the file
  }
  o.seen = std::move(c.seen);
  return o;
}

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const outcome tolerant = read(bytes, true);
  const outcome strict = read(bytes, false);
  if (strict.ok) {
    // Both modes take an empty file (created, never written) for a torn one.
    check(tolerant.ok && tolerant.replay.torn == strict.replay.torn && tolerant.seen == strict.seen);
    check(!strict.replay.torn || size == 0);
    check(strict.replay.records <= size / 16);
  }
  if (tolerant.ok && !tolerant.replay.torn) check(strict.ok || size == 0);
  if (tolerant.ok && tolerant.replay.torn) {
    check(tolerant.replay.torn_at <= size);
    if (tolerant.replay.torn_at >= 32) {
      const outcome before = read(bytes.substr(0, tolerant.replay.torn_at), false);
      check(before.ok && !before.replay.torn && before.seen == tolerant.seen);
    }
  }
  return 0;
}
