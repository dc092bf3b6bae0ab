#pragma once
// Shared by the stress tests: a watchdog that turns a deadlock into a failure.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace cmap_test {

// Aborts the process, naming the test, if the test outlives its limit: a deadlocked map
// then fails the run instead of hanging it.
class watchdog {
 public:
  explicit watchdog(std::chrono::seconds limit = std::chrono::seconds(300))
      : name_(current_test_name()), thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "\nwatchdog: %s still running after %llds: deadlock?\n",
                         name_.c_str(), static_cast<long long>(limit.count()));
            std::abort();
          }
        }) {}
  ~watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  static std::string current_test_name() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return info == nullptr ? "?" : std::string(info->test_suite_name()) + "." + info->name();
  }
  std::string name_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace cmap_test
