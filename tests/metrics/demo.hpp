#pragma once
// The metrics tests' fixtures: cmap-metrics-demo started as a child process on a free port of
// 127.0.0.1, and an HTTP GET on loopback.

#include <httplib.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../child_process.hpp"

namespace metrics_test {

// The programs found when the build was configured (empty when absent).
inline const std::string demo_path = CMAP_METRICS_DEMO_BIN;
inline const std::string promtool_path = CMAP_PROMTOOL;
inline const std::string prometheus_path = CMAP_PROMETHEUS;

// cmap-metrics-demo, running until destroyed; port() is where it serves /metrics.
class demo {
 public:
  explicit demo(std::vector<std::string> args = {}) : child_(demo_path, args) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const std::string_view prefix = "listening on http://127.0.0.1:";
    // In slices of 50 ms: read_until returns only at its deadline or at end-of-file.
    while (port_ == 0 && std::chrono::steady_clock::now() < deadline) {
      const bool open = child_.read_until(
          std::chrono::steady_clock::now() + std::chrono::milliseconds(50),
          [&](std::string_view line) {
            if (line.starts_with(prefix)) {
              port_ = std::stoi(std::string(line.substr(prefix.size())));
            }
          });
      if (!open) break;  // the demo exited
    }
  }
  int port() const noexcept { return port_; }
  const std::string& output() const { return child_.output(); }

 private:
  cmap_test::child_process child_;
  int port_ = 0;
};

// The body of GET http://127.0.0.1:port<path>, or nullopt unless the status is 200.
inline std::optional<std::string> http_get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto res = client.Get(path.c_str());
  if (!res || res->status != 200) return std::nullopt;
  return res->body;
}

}  // namespace metrics_test
