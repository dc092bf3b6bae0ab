#pragma once
// A directory of its own for one test, under the system's temporary directory, removed with
// everything in it when the test ends.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>

namespace cmap_test {

class temp_directory {
 public:
  explicit temp_directory(const std::string& name) {
    static std::atomic<std::uint64_t> next{0};
    path_ = std::filesystem::temp_directory_path() /
            ("cmap-" + name + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(next.fetch_add(1)) + "-" +
             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(path_);
  }
  ~temp_directory() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_directory(const temp_directory&) = delete;
  temp_directory& operator=(const temp_directory&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// The seed of a randomised test: CMAP_TEST_SEED if set, else from the clock (the test prints
// it, so that a failure can be replayed).
inline std::uint64_t test_seed() {
  if (const char* s = std::getenv("CMAP_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 0);
  }
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

}  // namespace cmap_test
