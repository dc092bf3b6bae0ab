// cmap-statestore: a stream processor's state store on cmap::durable_map, which resumes with
// exactly-once state after a crash (docs/statestore.md).
//
// Each partition (a thread) reads its own generated event stream (user "uid:N", a risk-score
// delta), folds the events into per-user state, and every --batch events writes ONE atomic
// batch: the users it changed and its input offset. A crash keeps or loses such a batch whole,
// so after a restart the state is the fold of exactly the events before the recorded offset,
// and the partition resumes there: no event is counted twice, none is skipped.
//
//   cmap-statestore run DIR [options]      recover DIR, resume each partition, report
//   cmap-statestore verify DIR [options]   recompute every partition's fold up to its offset
//                                          and compare it with every key of the store
//
// Exit status: 0 done (verify: the store is consistent); 1 the store failed (could not be
// opened, a write failed) or verify found a mismatch; 2 bad arguments, or arguments that
// contradict the parameters the store was created with.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmap/durable_map.hpp>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "statestore.hpp"

namespace {

namespace ss = cmap_statestore;
using store = cmap::durable_map<std::string, std::string>;
using clock_type = std::chrono::steady_clock;

constexpr const char* usage_text =
    "usage: cmap-statestore run DIR [--events N] [--users U] [--partitions P] [--batch B]\n"
    "                           [--sync group|none|every_write] [--checkpoint-every N]\n"
    "                           [--checkpoint-bytes N] [--seed S] [--print-commits]\n"
    "       cmap-statestore verify DIR [--users U] [--partitions P] [--seed S]\n"
    "\n"
    "  --events N            run each partition up to input offset N (default 100000)\n"
    "  --users U             users in the stream (default 1000; at least one per partition)\n"
    "  --partitions P        partitions, one writer thread each (default 4, at most 256)\n"
    "  --batch B             events per atomic commit of state and offset (default 100)\n"
    "  --sync MODE           the store's sync mode for the commits (default group)\n"
    "  --checkpoint-every N  take a checkpoint each N events, all partitions together\n"
    "                        (default 0: none but the store's own)\n"
    "  --checkpoint-bytes N  the store's automatic checkpoint after N bytes of log\n"
    "                        (default: the store's default; 0: off)\n"
    "  --seed S              the stream's seed (default 1)\n"
    "  --print-commits       print 'committed P OFFSET' after each commit returns, and\n"
    "                        'checkpoint begin' / 'checkpoint end' around each checkpoint\n"
    "\n"
    "users, partitions and seed are stored in DIR by the first run; later runs and verify\n"
    "take them from there, and refuse different ones.\n";

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct options {
  std::string command;
  std::filesystem::path dir;
  ss::config cfg;
  bool users_given = false;
  bool partitions_given = false;
  bool seed_given = false;
  std::uint64_t events = 100000;
  std::uint64_t batch = 100;
  cmap::sync sync_mode = cmap::sync::group;
  std::uint64_t checkpoint_every = 0;
  std::optional<std::uint64_t> checkpoint_bytes;
  bool print_commits = false;
};

std::uint64_t number_argument(std::string_view name, std::string_view text) {
  const auto v = ss::parse_u64(text);
  if (!v) {
    throw usage_error("--" + std::string(name) + ": '" + std::string(text) +
                      "' is not a non-negative whole number");
  }
  return *v;
}

options parse(int argc, char** argv) {
  if (argc < 2) throw usage_error("a command is needed: run or verify");
  options o;
  o.command = argv[1];
  if (o.command == "--help" || o.command == "-h" || o.command == "help") return o;
  if (o.command != "run" && o.command != "verify") {
    throw usage_error("unknown command '" + o.command + "' (run or verify)");
  }
  const bool run = o.command == "run";
  bool have_dir = false;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      if (have_dir) throw usage_error("unexpected argument '" + std::string(arg) + "'");
      if (arg.empty()) throw usage_error("DIR is empty");
      o.dir = std::string(arg);
      have_dir = true;
      continue;
    }
    std::string name(arg.substr(2));
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "print-commits" && run) {
      if (value) throw usage_error("--print-commits takes no value");
      o.print_commits = true;
      continue;
    }
    const bool known = name == "users" || name == "partitions" || name == "seed" ||
                       (run && (name == "events" || name == "batch" || name == "sync" ||
                                name == "checkpoint-every" || name == "checkpoint-bytes"));
    if (!known) {
      throw usage_error("unknown option '--" + name + "' for " + o.command);
    }
    if (!value) {
      if (i + 1 >= argc) throw usage_error("--" + name + " needs a value");
      value = argv[++i];
    }
    if (name == "users") {
      o.cfg.users = number_argument(name, *value);
      o.users_given = true;
    } else if (name == "partitions") {
      o.cfg.partitions = number_argument(name, *value);
      o.partitions_given = true;
    } else if (name == "seed") {
      o.cfg.seed = number_argument(name, *value);
      o.seed_given = true;
    } else if (name == "events") {
      o.events = number_argument(name, *value);
    } else if (name == "batch") {
      o.batch = number_argument(name, *value);
    } else if (name == "checkpoint-every") {
      o.checkpoint_every = number_argument(name, *value);
    } else if (name == "checkpoint-bytes") {
      o.checkpoint_bytes = number_argument(name, *value);
    } else if (name == "sync") {
      if (*value == "group") {
        o.sync_mode = cmap::sync::group;
      } else if (*value == "none") {
        o.sync_mode = cmap::sync::none;
      } else if (*value == "every_write") {
        o.sync_mode = cmap::sync::every_write;
      } else {
        throw usage_error("--sync: '" + *value + "' is not group, none or every_write");
      }
    }
  }
  if (!have_dir) throw usage_error("DIR, the store's directory, is needed");
  if (o.cfg.partitions == 0 || o.cfg.partitions > 256) {
    throw usage_error("--partitions: " + std::to_string(o.cfg.partitions) +
                      " is not between 1 and 256");
  }
  if (o.cfg.users < o.cfg.partitions) {
    throw usage_error("--users: " + std::to_string(o.cfg.users) +
                      " is fewer than the partitions (" + std::to_string(o.cfg.partitions) +
                      "): each partition needs a user of its own");
  }
  if (o.batch == 0) throw usage_error("--batch: 0 events per commit would never commit");
  return o;
}

const char* sync_name(cmap::sync s) {
  switch (s) {
    case cmap::sync::none: return "none";
    case cmap::sync::group: return "group";
    case cmap::sync::every_write: return "every_write";
  }
  return "?";
}

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Lines from several threads: each is written and flushed whole, so that a reader of the pipe
// (the kill test) sees every line the moment it is printed, never two interleaved.
// A C variadic with the format attribute, so that the compiler checks every format.
std::mutex print_mutex;
[[gnu::format(printf, 1, 2)]] void print_line(const char* format, ...) {
  std::lock_guard lock(print_mutex);
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
  std::fflush(stdout);
}

void print_recovery(const store& m) {
  const cmap::recovery_info& r = m.recovery();
  print_line("recovered in %.3f ms: %llu checkpoint entries, %llu log records replayed "
             "(%llu writes), %llu torn bytes dropped\n",
             ms(r.duration), static_cast<unsigned long long>(r.checkpoint_entries),
             static_cast<unsigned long long>(r.records_replayed),
             static_cast<unsigned long long>(r.writes_replayed),
             static_cast<unsigned long long>(r.torn_bytes_dropped));
}

// The parameters the store was created with: the given ones must agree, the others are taken
// from it. A store without a config key is new (empty) or not a statestore at all.
// Returns false when the store is empty and has no config yet.
bool adopt_stored_config(const store& m, options& o) {
  const auto stored = m.find(std::string(ss::config_key));
  if (!stored) {
    if (m.size() != 0) {
      throw std::runtime_error(o.dir.string() + " holds " + std::to_string(m.size()) +
                               " keys but no 'config' key: not a cmap-statestore directory");
    }
    return false;
  }
  const auto c = ss::decode_config(*stored);
  if (!c) {
    throw std::runtime_error(o.dir.string() + ": the 'config' key holds '" + *stored +
                             "', not users=U partitions=P seed=S");
  }
  const auto check = [&](bool given, std::uint64_t want, std::uint64_t have, const char* name) {
    if (given && want != have) {
      throw usage_error(o.dir.string() + " was created with " + ss::encode_config(*c) + "; --" +
                        name + " " + std::to_string(want) +
                        " differs (leave it out, or use another directory)");
    }
  };
  check(o.users_given, o.cfg.users, c->users, "users");
  check(o.partitions_given, o.cfg.partitions, c->partitions, "partitions");
  check(o.seed_given, o.cfg.seed, c->seed, "seed");
  o.cfg = *c;
  return true;
}

std::uint64_t stored_offset(const store& m, std::uint64_t p) {
  const auto v = m.find(ss::offset_key(p));
  return v ? ss::decode_offset(*v) : 0;
}

// ---- run ----------------------------------------------------------------------------------------

struct shared_state {
  std::vector<std::atomic<std::uint64_t>> offsets;
  std::atomic<std::uint64_t> committed_events{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> next_checkpoint{0};
  std::atomic<std::uint64_t> checkpoints_taken{0};
  std::mutex checkpoint_mutex;  // one checkpoint at a time; the others skip theirs
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::string error;
  std::mutex done_mutex;
  std::condition_variable done_cv;
  unsigned running = 0;

  explicit shared_state(std::size_t partitions) : offsets(partitions) {}
};

// One partition: fold its stream from the recorded offset, and commit state and offset together
// every o.batch events. Returns the commit latencies in nanoseconds.
std::vector<std::uint64_t> run_partition(store& m, const options& o, std::uint64_t p,
                                         shared_state& sh) {
  std::vector<std::uint64_t> latencies;
  // The partition's users as this run has seen them: read from the store on first touch (the
  // partition is their only writer, so the store's value cannot change behind its back).
  std::unordered_map<std::uint64_t, ss::user_state> states;
  std::vector<std::uint64_t> changed;
  std::uint64_t offset = sh.offsets[p].load();
  while (offset < o.events && !sh.stop.load(std::memory_order_relaxed)) {
    const std::uint64_t end = offset + std::min(o.batch, o.events - offset);
    changed.clear();
    for (std::uint64_t i = offset; i < end; ++i) {
      const ss::event e = ss::event_at(o.cfg, p, i);
      auto [it, fresh] = states.try_emplace(e.user);
      if (fresh) {
        if (const auto v = m.find(ss::user_key(e.user))) it->second = ss::decode_state(*v);
      }
      ss::apply(it->second, e);
      changed.push_back(e.user);
    }
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());

    store::batch b;
    for (const std::uint64_t u : changed) {
      b.insert_or_assign(ss::user_key(u), ss::encode_state(states.at(u)));
    }
    b.insert_or_assign(ss::offset_key(p), ss::encode_offset(end));
    const auto t0 = clock_type::now();
    m.write(b, o.sync_mode);
    latencies.push_back(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count()));

    const std::uint64_t n = end - offset;
    offset = end;
    sh.offsets[p].store(offset, std::memory_order_relaxed);
    sh.batches.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t total = sh.committed_events.fetch_add(n) + n;
    // Printed only once write() returned: a line here is an acknowledged commit, which the
    // kill test holds the store to after a SIGKILL.
    if (o.print_commits) {
      print_line("committed %llu %llu\n", static_cast<unsigned long long>(p),
                 static_cast<unsigned long long>(offset));
    }

    if (o.checkpoint_every != 0 && total >= sh.next_checkpoint.load() &&
        sh.checkpoint_mutex.try_lock()) {
      std::lock_guard lock(sh.checkpoint_mutex, std::adopt_lock);
      if (total >= sh.next_checkpoint.load()) {
        sh.next_checkpoint.store((total / o.checkpoint_every + 1) * o.checkpoint_every);
        if (o.print_commits) print_line("checkpoint begin\n");
        const cmap::checkpoint_info ci = m.checkpoint();
        sh.checkpoints_taken.fetch_add(1);
        if (o.print_commits) {
          print_line("checkpoint end: %llu entries, %llu bytes, %.3f ms\n",
                     static_cast<unsigned long long>(ci.entries),
                     static_cast<unsigned long long>(ci.bytes), ms(ci.duration));
        }
      }
    }
  }
  return latencies;
}

int command_run(options& o) {
  cmap::durable_options opt;
  opt.default_sync = o.sync_mode;
  if (o.checkpoint_bytes) opt.checkpoint_log_bytes = *o.checkpoint_bytes;
  store m(o.dir, opt);
  print_recovery(m);

  if (!adopt_stored_config(m, o)) {
    // Written (and synced, whatever --sync says) before any partition commits, so that a
    // store with offsets always says which stream they count.
    store::batch b;
    b.insert_or_assign(std::string(ss::config_key), ss::encode_config(o.cfg));
    m.write(b, cmap::sync::group);
    print_line("new store: %s\n", ss::encode_config(o.cfg).c_str());
  } else {
    print_line("store: %s\n", ss::encode_config(o.cfg).c_str());
  }

  const std::uint64_t partitions = o.cfg.partitions;
  shared_state sh(partitions);
  std::uint64_t resumed_events = 0;
  for (std::uint64_t p = 0; p < partitions; ++p) {
    const std::uint64_t at = stored_offset(m, p);
    sh.offsets[p].store(at);
    resumed_events += std::min(at, o.events);
    print_line("partition %llu resumes at offset %llu\n", static_cast<unsigned long long>(p),
               static_cast<unsigned long long>(at));
  }
  if (o.checkpoint_every != 0) sh.next_checkpoint.store(o.checkpoint_every);

  std::vector<std::vector<std::uint64_t>> latencies(partitions);
  std::vector<std::thread> workers;
  sh.running = static_cast<unsigned>(partitions);
  const auto start = clock_type::now();
  for (std::uint64_t p = 0; p < partitions; ++p) {
    workers.emplace_back([&, p] {
      try {
        latencies[p] = run_partition(m, o, p, sh);
      } catch (const std::exception& e) {
        std::lock_guard lock(sh.error_mutex);
        if (sh.error.empty()) sh.error = "partition " + std::to_string(p) + ": " + e.what();
        sh.stop.store(true);
      }
      std::lock_guard lock(sh.done_mutex);
      --sh.running;
      sh.done_cv.notify_all();
    });
  }

  // Progress about once a second until every partition is done.
  {
    std::unique_lock lock(sh.done_mutex);
    std::uint64_t last_events = 0;
    auto last = start;
    while (!sh.done_cv.wait_for(lock, std::chrono::seconds(1), [&] { return sh.running == 0; })) {
      const auto now = clock_type::now();
      const std::uint64_t events = sh.committed_events.load();
      const double dt = std::chrono::duration<double>(now - last).count();
      std::string offsets;
      for (std::uint64_t p = 0; p < partitions; ++p) {
        offsets += ' ' + std::to_string(sh.offsets[p].load(std::memory_order_relaxed));
      }
      print_line("[%6.1f s] %llu events, %.0f events/s, offsets%s\n",
                 std::chrono::duration<double>(now - start).count(),
                 static_cast<unsigned long long>(events),
                 static_cast<double>(events - last_events) / dt, offsets.c_str());
      last_events = events;
      last = now;
    }
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();

  if (!sh.error.empty()) {
    std::fprintf(stderr, "cmap-statestore: %s\n", sh.error.c_str());
    return 1;
  }

  std::vector<std::uint64_t> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const auto pct = [&](double q) {
    if (all.empty()) return 0.0;
    const auto i = static_cast<std::size_t>(q * static_cast<double>(all.size() - 1));
    return static_cast<double>(all[i]) / 1e6;
  };
  const std::uint64_t events = sh.committed_events.load();
  const cmap::durable_stats st = m.stats();
  print_line("done: %llu events in %.3f s: %.0f events/s (%llu partitions, batch %llu, "
             "sync %s); %llu events were already committed\n",
             static_cast<unsigned long long>(events), seconds,
             seconds > 0 ? static_cast<double>(events) / seconds : 0.0,
             static_cast<unsigned long long>(partitions),
             static_cast<unsigned long long>(o.batch), sync_name(o.sync_mode),
             static_cast<unsigned long long>(resumed_events));
  print_line("commits: %llu batches, latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
             static_cast<unsigned long long>(all.size()), pct(0.50), pct(0.99), pct(1.0));
  print_line("log: %llu records, %llu bytes, %llu syncs, %llu checkpoints (%llu asked for)\n",
             static_cast<unsigned long long>(st.records),
             static_cast<unsigned long long>(st.log_bytes),
             static_cast<unsigned long long>(st.syncs),
             static_cast<unsigned long long>(st.checkpoints),
             static_cast<unsigned long long>(sh.checkpoints_taken.load()));
  print_line("recovery took %.3f ms\n", ms(m.recovery().duration));
  return 0;
}

// ---- verify -------------------------------------------------------------------------------------

int command_verify(options& o) {
  cmap::durable_options opt;
  opt.create_if_missing = false;  // verifying a directory that is not there is an error
  opt.checkpoint_log_bytes = 0;   // verify only reads (opening may still cut a torn tail)
  store m(o.dir, opt);
  print_recovery(m);
  if (!adopt_stored_config(m, o)) {
    std::fprintf(stderr, "cmap-statestore: %s is empty: no run has written it\n",
                 o.dir.string().c_str());
    return 1;
  }
  const ss::config& c = o.cfg;
  print_line("store: %s\n", ss::encode_config(c).c_str());

  std::vector<std::uint64_t> offsets(c.partitions);
  std::vector<std::vector<ss::user_state>> expected(c.partitions);
  std::uint64_t events = 0;
  for (std::uint64_t p = 0; p < c.partitions; ++p) {
    offsets[p] = stored_offset(m, p);
    events += offsets[p];
    expected[p] = ss::fold(c, p, offsets[p]);
    print_line("partition %llu: offset %llu\n", static_cast<unsigned long long>(p),
               static_cast<unsigned long long>(offsets[p]));
  }

  std::vector<std::string> mismatches;
  std::uint64_t mismatch_count = 0;
  const auto report = [&](std::string line) {
    if (++mismatch_count <= 10) mismatches.push_back(std::move(line));
  };
  const auto describe = [](const ss::user_state& s) {
    return "score " + std::to_string(s.score) + " over " + std::to_string(s.events) + " events";
  };
  std::vector<std::vector<bool>> seen(c.partitions);
  for (std::uint64_t p = 0; p < c.partitions; ++p) seen[p].assign(expected[p].size(), false);
  std::uint64_t users = 0;

  m.for_each([&](const std::string& key, const std::string& value) {
    if (key == ss::config_key) return true;
    if (const auto p = ss::key_number(key, ss::offset_prefix); p && *p < c.partitions) {
      return true;  // read above
    }
    const auto u = ss::key_number(key, ss::user_prefix);
    if (!u || *u >= c.users) {
      report("unexpected key '" + key + "'");
      return true;
    }
    ++users;
    const std::uint64_t p = *u % c.partitions;
    const std::uint64_t i = *u / c.partitions;
    seen[p][i] = true;
    const ss::user_state& want = expected[p][i];
    ss::user_state have;
    try {
      have = ss::decode_state(value);
    } catch (const std::exception& e) {
      report(key + ": " + e.what());
      return true;
    }
    if (want.events == 0) {
      report(key + ": stored (" + describe(have) + "), but no event before partition " +
             std::to_string(p) + "'s offset " + std::to_string(offsets[p]) + " touches it");
    } else if (have != want) {
      report(key + ": stored " + describe(have) + ", expected " + describe(want) +
             " (partition " + std::to_string(p) + ", offset " + std::to_string(offsets[p]) + ")");
    }
    return true;
  });
  for (std::uint64_t p = 0; p < c.partitions; ++p) {
    for (std::uint64_t i = 0; i < expected[p].size(); ++i) {
      if (!seen[p][i] && expected[p][i].events != 0) {
        report(ss::user_key(p + i * c.partitions) + ": missing, expected " +
               describe(expected[p][i]));
      }
    }
  }

  if (mismatch_count != 0) {
    for (const auto& line : mismatches) print_line("MISMATCH %s\n", line.c_str());
    print_line("FAILED: %llu mismatches (the first %zu above)\n",
               static_cast<unsigned long long>(mismatch_count), mismatches.size());
    return 1;
  }
  print_line("OK: %llu users match the fold of %llu events over %llu partitions\n",
             static_cast<unsigned long long>(users), static_cast<unsigned long long>(events),
             static_cast<unsigned long long>(c.partitions));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  try {
    o = parse(argc, argv);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "cmap-statestore: %s\n(cmap-statestore --help lists the options)\n",
                 e.what());
    return 2;
  }
  if (o.command != "run" && o.command != "verify") {
    std::fputs(usage_text, stdout);
    return 0;
  }
  try {
    return o.command == "run" ? command_run(o) : command_verify(o);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "cmap-statestore: %s\n", e.what());
    return 2;
  } catch (const cmap::durable_error& e) {
    std::fprintf(stderr, "cmap-statestore: %s: %s\n", o.dir.string().c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cmap-statestore: %s\n", e.what());
    return 1;
  }
}
