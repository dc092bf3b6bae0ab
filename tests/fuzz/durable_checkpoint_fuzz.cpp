// A fuzz target for durable_map's checkpoint reader (detail::read_checkpoint): the input is a
// checkpoint file. Whatever the bytes, it must not crash, hang or allocate beyond the file's
// size; an error must name an offset inside the file; and a checkpoint it accepts must hold
// exactly the entries its end record counts, each a put whose key decodes (u64 keys, so that
// a wrong-length key is rejected too).
#include <cmap/detail/durable_files.hpp>
#include <cmap/key_traits.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "../durable/memory_file.hpp"

namespace {

struct count_puts final : cmap::detail::replay_sink {
  std::uint64_t puts = 0;
  void put(std::string_view k, std::string_view) override {
    (void)cmap::key_traits<std::uint64_t>::decode(k);
    ++puts;
  }
  void erase(std::string_view) override { std::abort(); }  // a checkpoint holds puts only
  void clear() override { std::abort(); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  cmap::testing::memory_file f(bytes);
  count_puts sink;
  try {
    const auto [number, entries] =
        cmap::detail::read_checkpoint(f, "checkpoint-0000000000000001.ckpt", sink);
    (void)number;
    if (entries != sink.puts) std::abort();
  } catch (const cmap::corruption_error& e) {
    if (e.offset() > size) std::abort();
  }
  return 0;
}
