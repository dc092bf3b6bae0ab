// cmap-watch end to end: the tool and watch-demo run as child processes. The attach tests
// need root and bpftrace (and a build with probes) and skip themselves otherwise; the error
// paths run everywhere.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
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

extern char** environ;

namespace {

using nlohmann::json;

struct run_result {
  int status = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

// Starts argv with `env` added to ours; stdout and stderr on pipes.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int& out,
            int& err) {
  int o[2];
  int e[2];
  if (::pipe2(o, O_CLOEXEC) != 0 || ::pipe2(e, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  // The caller's variables replace the inherited ones of the same name (getenv would return
  // the first of two: ctest's TSAN_OPTIONS, not the race demo's).
  std::vector<std::string> envs;
  for (char** p = environ; *p != nullptr; ++p) {
    const std::string_view inherited = *p;
    const auto name = inherited.substr(0, inherited.find('=') + 1);
    bool replaced = false;
    for (const auto& v : env) replaced = replaced || v.starts_with(name);
    if (!replaced) envs.emplace_back(inherited);
  }
  envs.insert(envs.end(), env.begin(), env.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(o[1], 1);
    ::dup2(e[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& v : envs) envp.push_back(const_cast<char*>(v.c_str()));
    envp.push_back(nullptr);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(o[1]);
  ::close(e[1]);
  out = o[0];
  err = e[0];
  return pid;
}

// Runs argv to the end (killed after timeout_s).
run_result run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
               int timeout_s = 60) {
  run_result r;
  int fds[2];
  const pid_t pid = spawn(argv, env, fds[0], fds[1]);
  std::string* sinks[2] = {&r.out, &r.err};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int open = 2;
  while (open > 0) {
    pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    ::poll(p, 2, 100);
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || (p[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i], buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i]);
        fds[i] = -1;
        p[i].fd = -1;
        --open;
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      break;
    }
  }
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

const std::string tool = CMAP_WATCH_BIN;

// watch-demo, running until the test ends: its PID, maps and worker threads from what it
// prints on start.
class demo {
 public:
  demo(const std::string& mode, unsigned threads, const std::vector<std::string>& env = {}) {
    int err = -1;
    pid_ = spawn({CMAP_WATCH_DEMO_BIN, "--" + mode, "--seconds", "120"}, env, out_, err);
    ::close(err);
    std::string pending;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (tids.size() < threads && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      pending.append(buf, static_cast<std::size_t>(n));
      for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
        std::istringstream line(pending.substr(0, nl));
        pending.erase(0, nl + 1);
        std::string word, a, b;
        line >> word >> a >> b;
        if (word == "map") maps[a] = b;
        if (word == "thread") tids.insert(std::stoull(a));
      }
    }
    if (tids.size() < threads) throw std::runtime_error("watch-demo did not start its threads");
  }
  ~demo() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ::close(out_);
  }
  demo(const demo&) = delete;
  demo& operator=(const demo&) = delete;
  pid_t pid() const { return pid_; }

  std::map<std::string, std::string> maps;  // address -> kind
  std::set<unsigned long long> tids;

 private:
  pid_t pid_ = -1;
  int out_ = -1;
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
  int out = -1, err = -1;
  const pid_t emitter = spawn({CMAP_WATCH_EMITTER_BIN}, {}, out, err);
  char buf[256] = {};
  ASSERT_GT(::read(out, buf, sizeof buf - 1), 0);
  std::istringstream first(buf);
  std::string pid, map, lock;
  first >> pid >> map >> lock;
  // 3 s: the kernel attaches uprobes one at a time, slower while an earlier test's bpftrace is
  // still detaching its own, and op_end may be attached well after op_begin.
  const auto r = run({tool, "--json", "--duration", "3", pid});
  ::kill(emitter, SIGKILL);
  ::waitpid(emitter, nullptr, 0);
  ::close(out);
  ::close(err);
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
  int out = -1, err = -1;
  const pid_t sleeper = spawn({"/bin/sleep", "30"}, {}, out, err);
  const auto r = run({tool, std::to_string(sleeper)});
  ::kill(sleeper, SIGKILL);
  ::waitpid(sleeper, nullptr, 0);
  ::close(out);
  ::close(err);
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
