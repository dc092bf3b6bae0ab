// cmap-metrics-demo: a small service that uses four named cmap maps from worker threads and
// serves their metrics (cmap::metrics, Prometheus's text format) on
// http://127.0.0.1:PORT/metrics, for a Prometheus server to scrape (docs/observability.md).
//
// Usage: cmap-metrics-demo [--port N] [--threads N] [--seconds S]
//   --port     port on 127.0.0.1 (default 0: any free port)
//   --threads  worker threads (default 2)
//   --seconds  stop after S seconds (default 0: run until SIGINT or SIGTERM)
// It prints "listening on http://127.0.0.1:PORT/metrics" once it serves. Exit status 0, or 2
// for a usage error, 1 if it cannot listen.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmap/art_map.hpp>
#include <cmap/concurrent_hash_map.hpp>
#include <cmap/locked_map.hpp>
#include <cmap/metrics.hpp>
#include <cmap/serial_map.hpp>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stop_requested{false};
extern "C" void on_signal(int) { stop_requested.store(true); }

struct options {
  int port = 0;
  int threads = 2;
  int seconds = 0;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "cmap-metrics-demo: %s\nusage: cmap-metrics-demo [--port N] [--threads N] "
               "[--seconds S]\n",
               problem.c_str());
  std::exit(2);
}

int number_after(int& i, int argc, char** argv, int low, int high) {
  const std::string flag = argv[i];
  if (i + 1 >= argc) usage(flag + " needs a value");
  const std::string text = argv[++i];
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < low || v > high) {
    usage(flag + " wants a whole number from " + std::to_string(low) + " to " +
          std::to_string(high) + ", not '" + text + "'");
  }
  return static_cast<int>(v);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--port") {
      o.port = number_after(i, argc, argv, 0, 65535);
    } else if (a == "--threads") {
      o.threads = number_after(i, argc, argv, 1, 256);
    } else if (a == "--seconds") {
      o.seconds = number_after(i, argc, argv, 0, 86400);
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: cmap-metrics-demo [--port N] [--threads N] [--seconds S]\n");
      std::exit(0);
    } else {
      usage("unknown argument '" + std::string(a) + "'");
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse(argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  // The maps a service might keep: orders by id, sessions, an ordered index, an event log's
  // latest values. Each is named, with a label for the team that owns it.
  cmap::concurrent_hash_map<std::uint64_t, std::uint64_t> orders;
  cmap::locked_map<std::uint64_t, std::string> sessions;
  cmap::art_map<std::uint64_t, std::uint64_t> index;
  cmap::serial_map<std::uint64_t, std::uint64_t> events;
  const auto named_orders = cmap::metrics::watch(orders, "orders", {{"team", "checkout"}});
  const auto named_sessions = cmap::metrics::watch(sessions, "sessions", {{"team", "web"}});
  const auto named_index = cmap::metrics::watch(index, "index", {{"team", "search"}});
  const auto named_events = cmap::metrics::watch(events, "events", {{"team", "ingest"}});

  std::vector<std::thread> workers;
  for (int t = 0; t < opt.threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      while (!stop_requested.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 1000; ++i) {
          const std::uint64_t k = rng() % 100000;
          switch (rng() % 8) {
            case 0: orders.insert_or_assign(k, k); break;
            case 1: (void)orders.erase(k); break;
            case 2: sessions.insert_or_assign(k % 1000, "user-" + std::to_string(k)); break;
            case 3: (void)sessions.find(k % 1000); break;
            case 4: index.insert_or_assign(k, k); break;
            case 5: (void)index.find(k); break;
            case 6: events.insert_or_assign(k % 100, k); break;
            default: (void)orders.find(k); break;
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a service, not a benchmark
      }
    });
  }

  httplib::Server server;
  server.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(cmap::metrics::prometheus_text(), "text/plain; version=0.0.4; charset=utf-8");
  });
  const int port = opt.port == 0 ? server.bind_to_any_port("127.0.0.1")
                                 : (server.bind_to_port("127.0.0.1", opt.port) ? opt.port : -1);
  if (port < 0) {
    std::fprintf(stderr, "cmap-metrics-demo: cannot listen on 127.0.0.1:%d\n", opt.port);
    stop_requested.store(true);
    for (auto& w : workers) w.join();
    return 1;
  }
  std::thread http([&] { server.listen_after_bind(); });
  std::printf("listening on http://127.0.0.1:%d/metrics\n", port);
  std::fflush(stdout);

  const auto start = std::chrono::steady_clock::now();
  while (!stop_requested.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (opt.seconds > 0 && std::chrono::steady_clock::now() - start >= std::chrono::seconds(opt.seconds)) {
      stop_requested.store(true);
    }
  }
  server.stop();
  http.join();
  for (auto& w : workers) w.join();
  events.flush();
  return 0;
}
