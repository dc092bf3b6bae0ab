// End to end: a real Prometheus server (Debian: prometheus), started on loopback with a scrape
// configuration pointing at cmap-metrics-demo, scrapes the demo at least twice; its HTTP API
// then shows an operations counter of a named map that rose between scrapes, with the labels
// the map was named with and those Prometheus adds (job, instance). The test starts and stops
// both processes and uses only 127.0.0.1.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "demo.hpp"

namespace {

// A port on 127.0.0.1 that was free a moment ago.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// The first sample of an instant query's result: its JSON text, or nullopt if none yet.
std::optional<std::string> query(int port, const std::string& promql) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10);
  auto res = client.Get("/api/v1/query", httplib::Params{{"query", promql}}, httplib::Headers{});
  if (!res || res->status != 200) return std::nullopt;
  const auto at = res->body.find("\"result\":[{");
  if (at == std::string::npos) return std::nullopt;
  return res->body.substr(at);
}

// The value of a sample's JSON text ("value":[<time>,"<number>"]).
double value_of(const std::string& sample) {
  const auto at = sample.find("\"value\":[");
  if (at == std::string::npos) return -1;
  const auto open = sample.find(",\"", at);
  if (open == std::string::npos) return -1;
  return std::stod(sample.substr(open + 2));  // stops at the closing quote
}

TEST(prometheus, scrapes_the_demo_and_sees_a_counter_rise_with_its_labels) {
  if (metrics_test::prometheus_path.empty()) {
    GTEST_SKIP() << "prometheus not found when the build was configured (Debian: prometheus; "
                    "make deps installs it)";
  }
  metrics_test::demo service;
  ASSERT_NE(service.port(), 0) << service.output();

  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    ("cmap-prometheus-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "data");
  const std::string target = "127.0.0.1:" + std::to_string(service.port());
  std::ofstream(dir / "prometheus.yml") << "global:\n"
                                           "  scrape_interval: 1s\n"
                                           "  evaluation_interval: 1s\n"
                                           "scrape_configs:\n"
                                           "  - job_name: cmap\n"
                                           "    static_configs:\n"
                                           "      - targets: ['"
                                        << target << "']\n";
  const int port = free_port();
  ASSERT_NE(port, 0);
  cmap_test::child_process server(
      metrics_test::prometheus_path,
      {"--config.file=" + (dir / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"});

  // Two scrapes of the demo, then the counter's rise between the first and the last.
  const std::string series =
      "cmap_map_operations_total{map=\"orders\",op=\"insert_or_assign\",result=\"true\"}";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  std::optional<std::string> scrapes;
  while (std::chrono::steady_clock::now() < deadline) {
    scrapes = query(port, "count_over_time(" + series + "[5m])");
    if (scrapes && value_of(*scrapes) >= 2) break;
    server.read_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(500),
                      [](std::string_view) {});
  }
  ASSERT_TRUE(scrapes.has_value()) << "no scrape of " << target << " seen; prometheus said:\n"
                                   << server.output();
  ASSERT_GE(value_of(*scrapes), 2) << *scrapes;

  const auto rise = query(port, "max_over_time(" + series + "[5m]) - min_over_time(" + series +
                                    "[5m])");
  ASSERT_TRUE(rise.has_value());
  EXPECT_GT(value_of(*rise), 0) << *rise;

  const auto sample = query(port, series);
  ASSERT_TRUE(sample.has_value());
  for (const std::string& label : std::vector<std::string>{
           "\"kind\":\"concurrent_hash_map\"", "\"team\":\"checkout\"", "\"job\":\"cmap\"",
        "\"instance\":\"" + target + "\"", "\"map\":\"orders\"", "\"op\":\"insert_or_assign\"",
        "\"result\":\"true\""}) {
    EXPECT_NE(sample->find(label), std::string::npos) << label << " not in " << *sample;
  }
  server.signal(SIGTERM);
  server.wait();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
