// cmap-watch end to end: the tool and watch-demo run as child processes. The attach tests
// need root and bpftrace (and a build with probes) and skip themselves otherwise; the error
// paths run everywhere.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../child_process.hpp"

namespace {

using nlohmann::json;

using cmap_test::child_process;

struct run_result {
  int status = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

// Runs argv to the end (killed after timeout_s), with `env` replacing our variables of the
// same names.
run_result run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
               int timeout_s = 60) {
  child_process c(argv[0], {argv.begin() + 1, argv.end()}, {env, /*separate_stderr=*/true});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  if (c.read_until(deadline, [](std::string_view) {})) c.kill();
  const int status = c.wait();
  run_result r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = c.output();
  r.err = c.error_output();
  return r;
}

// The first line a child prints, waiting up to 30 s.
std::string first_line(child_process& c) {
  std::string line;
  bool got = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!got && std::chrono::steady_clock::now() < deadline) {
    if (!c.read_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(100),
                      [&](std::string_view l) {
                        if (!got) line = l;
                        got = true;
                      })) {
      break;
    }
  }
  return line;
}

const std::string tool = CMAP_WATCH_BIN;

// watch-demo, running until the test ends: its PID, maps and worker threads from what it
// prints on start.
class demo {
 public:
  demo(const std::string& mode, unsigned threads, const std::vector<std::string>& env = {})
      : process_(CMAP_WATCH_DEMO_BIN, {"--" + mode, "--seconds", "120"}, {env}) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (tids.size() < threads && std::chrono::steady_clock::now() < deadline) {
      const bool open = process_.read_until(
          std::chrono::steady_clock::now() + std::chrono::milliseconds(100), [&](std::string_view l) {
            std::istringstream line{std::string(l)};
            std::string word, a, b;
            line >> word >> a >> b;
            if (word == "map") maps[a] = b;
            if (word == "thread") tids.insert(std::stoull(a));
          });
      if (!open) break;
    }
    if (tids.size() < threads) throw std::runtime_error("watch-demo did not start its threads");
  }
  ~demo() {
    process_.signal(SIGTERM);
    process_.wait();
  }
  demo(const demo&) = delete;
  demo& operator=(const demo&) = delete;
  pid_t pid() const { return process_.pid(); }

  std::map<std::string, std::string> maps;  // address -> kind
  std::set<unsigned long long> tids;

 private:
  child_process process_;
};

// The JSON objects cmap-watch printed, one a line.
std::vector<json> json_lines(const std::string& out) {
  std::vector<json> objects;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) objects.push_back(json::parse(line));
  }
  return objects;
}

json summary_of(const std::string& out) {
  for (const auto& j : json_lines(out)) {
    if (j.at("type") == "summary") return j;
  }
  ADD_FAILURE() << "no summary in:\n" << out;
  return json::object();
}

bool can_attach(std::string& why) {
  if (::geteuid() != 0) {
    why = "not root: attaching bpftrace needs root";
  } else if (!CMAP_WATCH_HAVE_BPFTRACE) {
    why = "bpftrace was not found when the build was configured";
  } else if (!CMAP_WATCH_HAVE_PROBES) {
    why = "cmap's probes are compiled out of this build (CMAP_NO_PROBES or no <sys/sdt.h>)";
  } else {
    return true;
  }
  return false;
}

#define REQUIRE_ATTACH()                 \
  do {                                   \
    std::string why;                     \
    if (!can_attach(why)) GTEST_SKIP() << why; \
  } while (0)

// ---- attach -------------------------------------------------------------------------------

TEST(CmapWatch, RacesNameTheMapTheThreadsAndTheOperations) {
  REQUIRE_ATTACH();
  // The demo's races are deliberate: ThreadSanitizer would report them, as it should.
  demo d("race", 3, {"TSAN_OPTIONS=report_bugs=0"});
  ASSERT_EQ(d.maps.size(), 1u);
  const std::string map = d.maps.begin()->first;
  const auto r = run({tool, "--races", "--json", "--duration", "2", std::to_string(d.pid())});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("attached to " + std::to_string(d.pid())), std::string::npos) << r.err;
  const json s = summary_of(r.out);
  ASSERT_TRUE(s.contains("races")) << s.dump(2);
  const std::set<std::string> demo_ops = {"operator[]", "find", "insert_or_assign"};
  bool found = false;
  for (const auto& race : s["races"]) {
    EXPECT_EQ(race.at("map"), map);
    EXPECT_EQ(race.at("kind"), "checked_map");
    const auto& t = race.at("threads");
    ASSERT_EQ(t.size(), 2u);
    const auto a = t[0].at("tid").get<unsigned long long>();
    const auto b = t[1].at("tid").get<unsigned long long>();
    EXPECT_NE(a, b);
    EXPECT_TRUE(d.tids.contains(a)) << a;
    EXPECT_TRUE(d.tids.contains(b)) << b;
    EXPECT_TRUE(demo_ops.contains(t[0].at("op").get<std::string>())) << t[0];
    EXPECT_TRUE(demo_ops.contains(t[1].at("op").get<std::string>())) << t[1];
    if (race.at("count").get<unsigned long long>() > 1) found = true;
  }
  EXPECT_TRUE(found) << "no race seen more than once:\n" << s.dump(2);
  // The intervals came before the summary, each with its length.
  const auto lines = json_lines(r.out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.front().at("type"), "interval");
  EXPECT_GT(lines.front().at("seconds").get<double>(), 0.5);
}

TEST(CmapWatch, LoadShowsEveryMapAndNoRace) {
  REQUIRE_ATTACH();
  demo d("load", 2);
  ASSERT_EQ(d.maps.size(), 6u);
  const auto r = run({tool, "--json", "--duration", "2", std::to_string(d.pid())});
  ASSERT_EQ(r.status, 0) << r.err;
  const json s = summary_of(r.out);
  EXPECT_FALSE(s.contains("races")) << "races reported without --races";
  EXPECT_TRUE(s.at("violations").empty()) << s["violations"].dump(2);
  for (const auto& [address, kind] : d.maps) {
    unsigned long long ops = 0;
    for (const auto& m : s.at("maps")) {
      if (m.at("address") == address && m.at("kind") == kind) ops = m.at("ops");
    }
    EXPECT_GT(ops, 0u) << kind << " at " << address << " has no operations:\n" << s["maps"].dump(2);
  }
  ASSERT_FALSE(s.at("latency").empty());
  const auto& h = s["latency"][0];
  EXPECT_GT(h.at("count").get<unsigned long long>(), 0u);
  EXPECT_FALSE(h.at("buckets").empty());
}

TEST(CmapWatch, TextOutputWithoutRaces) {
  REQUIRE_ATTACH();
  demo d("load", 2);
  const auto r = run({tool, "--duration", "1", std::to_string(d.pid())});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("=== summary"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("concurrent_hash_map"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("RACE"), std::string::npos) << r.out;
}

TEST(CmapWatch, SlowPathProbes) {
  REQUIRE_ATTACH();
  child_process emitter(CMAP_WATCH_EMITTER_BIN, {});
  std::istringstream first(first_line(emitter));
  std::string pid, map, lock;
  first >> pid >> map >> lock;
  ASSERT_FALSE(lock.empty()) << "the emitter printed no 'pid map lock' line";
  // 3 s: the kernel attaches uprobes one at a time, slower while an earlier test's bpftrace is
  // still detaching its own, and op_end may be attached well after op_begin.
  const auto r = run({tool, "--json", "--duration", "3", pid});
  ASSERT_EQ(r.status, 0) << r.err;
  const json s = summary_of(r.out);
  ASSERT_EQ(s.at("maps").size(), 1u) << s.dump(2);
  EXPECT_EQ(s["maps"][0].at("address"), map);
  EXPECT_GT(s["maps"][0].at("lock_wait_ns").get<unsigned long long>(), 0u);
  ASSERT_FALSE(s.at("locks").empty());
  EXPECT_EQ(s["locks"][0].at("address"), lock);
  EXPECT_EQ(s["locks"][0].at("kind"), "table stripe");
  // A resize inside an operation that began before the attach has no map to charge (0x0);
  // the later ones have.
  bool charged = false;
  for (const auto& r : s.at("resizes")) {
    EXPECT_EQ(r.at("new_capacity"), 2048);
    if (r.at("map") == map) charged = true;
  }
  EXPECT_TRUE(charged) << s["resizes"].dump(2);
  ASSERT_FALSE(s.at("reclaim").empty());
  EXPECT_GT(s["reclaim"][0].at("freed").get<unsigned long long>(), 0u);
  ASSERT_FALSE(s.at("serial_batches").empty());
  EXPECT_EQ(s["serial_batches"][0].at("largest"), 7);
  ASSERT_FALSE(s.at("log_syncs").empty());
  EXPECT_EQ(s["log_syncs"][0].at("max_ns"), 100000);
}

TEST(CmapWatch, ProcessWithoutProbes) {
  REQUIRE_ATTACH();
  const child_process sleeper("/bin/sleep", {"30"});
  const auto r = run({tool, std::to_string(sleeper.pid())});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("has no cmap probes"), std::string::npos) << r.err;
}

// ---- errors that need no privilege ----------------------------------------------------------

TEST(CmapWatch, BadArguments) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"not-a-pid"},
           {"--interval", "0", "1"},
           {"--duration", "-1", "1"},
           {"--no-such-option", "1"},
           {"0"}}) {
    std::vector<std::string> argv{tool};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run(argv);
    EXPECT_EQ(r.status, 2) << (args.empty() ? "(none)" : args[0]) << "\n" << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

TEST(CmapWatch, HelpExitsZero) {
  const auto r = run({tool, "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--races"), std::string::npos) << r.out;
}

TEST(CmapWatch, NoSuchProcess) {
  // No process has pid_max as its PID: PIDs are below it.
  std::ifstream f("/proc/sys/kernel/pid_max");
  long pid_max = 0;
  f >> pid_max;
  ASSERT_GT(pid_max, 1);
  const auto r = run({tool, std::to_string(pid_max)});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("no process " + std::to_string(pid_max)), std::string::npos) << r.err;
}

TEST(CmapWatch, NoBpftrace) {
  const auto r = run({tool, std::to_string(::getpid())}, {"CMAP_WATCH_BPFTRACE=/nonexistent/bpftrace"});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("bpftrace not found"), std::string::npos) << r.err;
}

// A stand-in bpftrace that lists one cmap probe and, asked to attach, prints the probe limit
// it was given and fails: cmap-watch raises bpftrace's default of 512 (cmap-bench alone has
// 990 probe sites), and keeps a limit the user set.
TEST(CmapWatch, RaisesBpftracesProbeLimitUnlessSet) {
  if (::geteuid() != 0) GTEST_SKIP() << "not root: the privilege check comes first";
  const std::string fake = ::testing::TempDir() + "cmap_watch_fake_bpftrace.sh";
  {
    std::ofstream f(fake);
    f << "#!/bin/sh\n"
         "if [ \"$1\" = -l ]; then echo usdt:/bin/x:cmap:op_begin; exit 0; fi\n"
         "echo \"limit=${BPFTRACE_MAX_PROBES}\" >&2\n"
         "exit 1\n";
  }
  ASSERT_EQ(::chmod(fake.c_str(), 0755), 0);
  const child_process target("/bin/sleep", {"30"});
  const auto raised = run({tool, std::to_string(target.pid())},
                          {"CMAP_WATCH_BPFTRACE=" + fake, "BPFTRACE_MAX_PROBES="});
  EXPECT_EQ(raised.status, 1) << raised.err;
  EXPECT_NE(raised.err.find("limit=8192"), std::string::npos) << raised.err;
  const auto kept = run({tool, std::to_string(target.pid())},
                        {"CMAP_WATCH_BPFTRACE=" + fake, "BPFTRACE_MAX_PROBES=600"});
  EXPECT_NE(kept.err.find("limit=600"), std::string::npos) << kept.err;
  ::unlink(fake.c_str());
}

TEST(CmapWatch, NotRoot) {
  // /bin/true stands in for bpftrace, so that only the privilege check can fail.
  std::vector<std::string> argv{tool, std::to_string(::getpid())};
  if (::geteuid() == 0) {
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                               "--clear-groups", "--inh-caps=-all"});
    if (::access(argv[0].c_str(), X_OK) != 0) GTEST_SKIP() << "setpriv not installed (util-linux)";
  }
  const auto r = run(argv, {"CMAP_WATCH_BPFTRACE=/bin/true"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("needs root"), std::string::npos) << r.err;
}

}  // namespace
