#pragma once
// A cmap::readable_file over bytes in memory, for tests and fuzz targets that feed the log and
// checkpoint readers without a disk.
#include <cmap/file_system.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace cmap::testing {

class memory_file final : public cmap::readable_file {
 public:
  explicit memory_file(std::string_view bytes) : bytes_(bytes) {}
  std::size_t read(char* out, std::size_t n) override {
    const std::size_t k = std::min(n, bytes_.size() - at_);
    if (k != 0) std::memcpy(out, bytes_.data() + at_, k);
    at_ += k;
    return k;
  }
  std::uint64_t size() const override { return bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

}  // namespace cmap::testing
