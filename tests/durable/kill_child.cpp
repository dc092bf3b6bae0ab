// The writer that tests/durable/kill_test.cpp kills: it opens a durable_map (recovering what
// earlier children left), then several threads write with sync::group, each announcing on
// stdout a write before it starts ("b ...") and once it returned ("a ..."), until SIGKILL.
//   durable_kill_child DIR THREADS FIRST_VERSION SEED
// Thread t owns keys [t * key_space, (t + 1) * key_space); each of its writes carries the next
// version from FIRST_VERSION + t * 10^9 up. Writes: a put (one key), an erase (one key), or a
// batch of three puts of the same version. Lines are short, written with one write(2) each,
// so lines of different threads never interleave (a pipe writes up to PIPE_BUF bytes whole).
#include <cmap/durable_map.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::uint64_t key_space = 64;

void say(const std::string& line) {
  const char* p = line.data();
  std::size_t n = line.size();
  while (n > 0) {
    const ssize_t w = ::write(1, p, n);
    if (w <= 0) std::_Exit(3);  // the parent is gone
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: durable_kill_child DIR THREADS FIRST_VERSION SEED\n");
    return 2;
  }
  const int threads = std::atoi(argv[2]);
  const std::uint64_t first = std::strtoull(argv[3], nullptr, 10);
  const std::uint64_t seed = std::strtoull(argv[4], nullptr, 10);
  cmap::durable_options o;
  o.default_sync = cmap::sync::group;
  // Small segments and frequent checkpoints, so that kills also land in rotations and
  // checkpoints.
  o.segment_bytes = 8192;
  o.checkpoint_log_bytes = 32768;
  cmap::durable_map<std::uint64_t, std::uint64_t> m(argv[1], o);
  say("r\n");
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 1000 + static_cast<std::uint64_t>(t));
      std::uint64_t version = first + static_cast<std::uint64_t>(t) * 1000000000ull;
      const std::uint64_t base = static_cast<std::uint64_t>(t) * key_space;
      for (;;) {
        ++version;
        const std::uint64_t k = base + rng() % key_space;
        const std::string v = std::to_string(version);
        const std::string tn = std::to_string(t);
        switch (rng() % 8) {
          case 0: {
            say("b " + tn + " " + v + " e " + std::to_string(k) + "\n");
            m.erase(k);
            break;
          }
          case 1: {
            const std::uint64_t k2 = base + (k - base + 1) % key_space;
            const std::uint64_t k3 = base + (k - base + 2) % key_space;
            say("b " + tn + " " + v + " p " + std::to_string(k) + " " + std::to_string(k2) +
                " " + std::to_string(k3) + "\n");
            cmap::durable_map<std::uint64_t, std::uint64_t>::batch b;
            b.insert_or_assign(k, version);
            b.insert_or_assign(k2, version);
            b.insert_or_assign(k3, version);
            m.write(b);
            break;
          }
          default: {
            say("b " + tn + " " + v + " p " + std::to_string(k) + "\n");
            m.insert_or_assign(k, version);
          }
        }
        say("a " + tn + " " + v + "\n");
      }
    });
  }
  for (auto& t : ts) t.join();
}
