#pragma once
// failure_log: failures found on worker threads, counted, the first few kept with their
// messages, for the main thread to assert on once the workers have joined (a gtest assertion
// on a worker thread would not stop the test, and thousands of messages would drown it).

#include <atomic>
#include <cstddef>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace cmap_test {

class failure_log {
 public:
  template <class... Parts>
  void add(const Parts&... parts) {
    count_.fetch_add(1, std::memory_order_relaxed);
    std::ostringstream out;
    (out << ... << parts);
    const std::lock_guard lock(mutex_);
    if (first_.size() < 8) first_.push_back(out.str());
  }
  [[nodiscard]] std::size_t count() const { return count_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::string summary() const {
    const std::lock_guard lock(mutex_);
    std::string s;
    for (const auto& m : first_) s += "\n  " + m;
    return s;
  }

 private:
  std::atomic<std::size_t> count_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> first_;
};

}  // namespace cmap_test
