// The metrics a running service serves pass Prometheus's own checker: cmap-metrics-demo's
// /metrics, fetched over HTTP, is fed to `promtool check metrics` (Debian: prometheus), which
// must accept it, and must reject the same text with one line broken (so that the check
// would catch a fault).

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "demo.hpp"

namespace {

// promtool check metrics < file: its exit status and what it printed.
cmap_test::result promtool_check(const std::string& text) {
  const std::string file = ::testing::TempDir() + "cmap-metrics-" + std::to_string(::getpid());
  std::ofstream(file) << text;
  auto r = cmap_test::run_program("/bin/sh", {"-c", "'" + metrics_test::promtool_path +
                                                        "' check metrics < '" + file + "'"});
  std::remove(file.c_str());
  return r;
}

TEST(promtool, accepts_what_the_demo_serves_and_rejects_a_broken_copy) {
  if (metrics_test::promtool_path.empty()) {
    GTEST_SKIP() << "promtool not found when the build was configured (Debian: prometheus; "
                    "make deps installs it)";
  }
  metrics_test::demo service;
  ASSERT_NE(service.port(), 0) << service.output();
  const auto text = metrics_test::http_get(service.port(), "/metrics");
  ASSERT_TRUE(text.has_value());
  ASSERT_NE(text->find("cmap_map_operations_total{map=\"orders\""), std::string::npos) << *text;
  const cmap_test::result good = promtool_check(*text);
  EXPECT_EQ(good.exit_code, 0) << good.output;

  std::string broken = *text;
  const auto at = broken.find("cmap_map_entries{");
  ASSERT_NE(at, std::string::npos);
  broken.insert(at + 16, "\"");  // an unbalanced quote inside the label set
  const cmap_test::result bad = promtool_check(broken);
  EXPECT_NE(bad.exit_code, 0) << "promtool accepted:\n" << broken;
}

}  // namespace
