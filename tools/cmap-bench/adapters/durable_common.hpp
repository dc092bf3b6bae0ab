#pragma once
// What the durable stores' adapters share (rocksdb.hpp, leveldb.hpp, lmdb.hpp,
// durable_map.hpp): a fresh directory per store, the byte form of keys and values for the
// stores that hold bytes, the size of a store's files, and the locks that make
// read-modify-write calls atomic in the stores that have none.
//
// Keys are u64 only (run_durable_adapter in runner.hpp): stored as 8 bytes big-endian, so that
// the stores' bytewise order is the keys' numeric order and a scan from a key visits what an
// ordered map's would. Values are the value type's bytes (8 or 100).

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "adapter.hpp"

namespace cmap_bench {

// A directory of its own under $TMPDIR (else /tmp), created empty and removed with everything
// in it when the store is destroyed: every map instance starts from nothing, and a run leaves
// no files behind.
class scratch_dir {
 public:
  explicit scratch_dir(const char* what) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = (std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
                         (std::string("cmap-bench-") + what + "-XXXXXX"))
                            .string();
    if (::mkdtemp(templ.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + templ);
    path_ = templ;
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// The sizes of the regular files under dir (st_size: what the store wrote, not the blocks
// the file system gave them).
inline std::uint64_t directory_bytes(const std::filesystem::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

// A u64 key as 8 bytes, most significant first: bytewise order = numeric order.
struct be_key {
  char bytes[8];
  explicit be_key(std::uint64_t k) noexcept {
    for (int i = 7; i >= 0; --i) {
      bytes[i] = static_cast<char>(k & 0xff);
      k >>= 8;
    }
  }
  [[nodiscard]] std::string_view view() const noexcept { return {bytes, 8}; }
};

inline std::uint64_t key_from_be(std::string_view b) noexcept {
  std::uint64_t k = 0;
  for (unsigned char c : b.substr(0, 8)) k = (k << 8) | c;
  return k;
}

// A value's bytes (u64 or byte_payload<100>: trivially copyable, no padding).
template <class Value>
std::string_view value_bytes(const Value& v) noexcept {
  static_assert(std::is_trivially_copyable_v<Value>);
  return {reinterpret_cast<const char*>(&v), sizeof(Value)};
}
template <class Value>
Value value_from(std::string_view b) noexcept {
  Value v{};
  std::memcpy(&v, b.data(), std::min(b.size(), sizeof(Value)));
  return v;
}

// RocksDB and LevelDB have no insert-if-absent, no erase that says whether the key was there,
// and no atomic increment: the adapters read, then write, under the key's stripe of these
// locks. Every write of the adapter takes its stripe (a blind put too, so that it cannot fall
// between another call's read and write). 4096 stripes: 8 threads meet on one about once in
// 500 writes, so the locks cost the stores' group commit nearly nothing.
class key_stripes {
 public:
  std::mutex& of(std::uint64_t k) noexcept {
    return locks_[(k * 0x9e3779b97f4a7c15ULL) >> (64 - 12)].m;
  }

 private:
  struct alignas(64) padded {
    std::mutex m;
  };
  std::array<padded, 4096> locks_;
};

}  // namespace cmap_bench
