// The main() of a fuzz target built without libFuzzer, so that every test configuration
// (g++, ThreadSanitizer, AddressSanitizer) runs it as an ordinary test:
//   driver FILE...   each file is one input (a crash that libFuzzer saved, say)
//   driver DIR       each file of DIR (a seed corpus) as is, then mutated copies of it
//   driver           pseudo-random inputs of assorted lengths
// The random choices come from fixed seeds, plus CMAP_TEST_SEED if set. A target reports a
// failure by aborting, as under libFuzzer. This is no substitute for libFuzzer's search
// (make fuzz), only a fixed sample that runs everywhere.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <cmap/detail/sanitizers.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using bytes = std::vector<std::uint8_t>;
using rng_t = std::mt19937_64;

bool read_file(const std::filesystem::path& path, bytes& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

void run(const bytes& input) { LLVMFuzzerTestOneInput(input.data(), input.size()); }

std::size_t below(rng_t& rng, std::size_t n) {
  return n == 0 ? 0 : static_cast<std::size_t>(rng() % n);
}

// One to four edits: a byte changed, inserted or removed, a chunk repeated or cut off, or
// a token that parsers and range checks tend to get wrong put in somewhere.
bytes mutate(bytes b, rng_t& rng) {
  static constexpr std::string_view tokens[] = {"1e999",
                                                "-1",
                                                "0",
                                                "18446744073709551616",
                                                "-9223372036854775809",
                                                "0.0000001",
                                                "\"\"",
                                                "[]",
                                                "{}",
                                                "null",
                                                "true",
                                                "nan",
                                                ",",
                                                ":",
                                                "=",
                                                "\"",
                                                "[[",
                                                "{{",
                                                "\\u0000",
                                                "#",
                                                "\n"};
  const std::size_t edits = 1 + below(rng, 4);
  for (std::size_t e = 0; e < edits; ++e) {
    const std::size_t at = below(rng, b.size() + 1);
    switch (below(rng, 6)) {
      case 0:
        if (!b.empty()) b[below(rng, b.size())] = static_cast<std::uint8_t>(rng());
        break;
      case 1:
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng()));
        break;
      case 2:
        if (at < b.size()) b.erase(b.begin() + static_cast<std::ptrdiff_t>(at));
        break;
      case 3: {  // repeat a chunk
        const std::size_t len = std::min<std::size_t>(below(rng, 32) + 1, b.size() - at);
        const bytes chunk(b.begin() + static_cast<std::ptrdiff_t>(at),
                          b.begin() + static_cast<std::ptrdiff_t>(at + len));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), chunk.begin(), chunk.end());
        break;
      }
      case 4:
        if (at > 0 && below(rng, 4) == 0) b.resize(at);  // cut off
        break;
      default: {
        const std::string_view t = tokens[below(rng, std::size(tokens))];
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), t.begin(), t.end());
        break;
      }
    }
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  // Under ThreadSanitizer one fixed seed: a target's calls are single-threaded, so all that
  // build can add is a race with a map's own thread, which one seed's inputs exercise; the
  // other builds run all four.
#if CMAP_DETAIL_TSAN
  std::vector<std::uint64_t> seeds = {1};
#else
  std::vector<std::uint64_t> seeds = {1, 2, 3, 4};
#endif
  // Read before any other thread exists. NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (const char* env = std::getenv("CMAP_TEST_SEED"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const unsigned long long s = std::strtoull(env, &end, 0);
    if (end == nullptr || *end != '\0') {
      std::fprintf(stderr, "CMAP_TEST_SEED='%s' is not a number\n", env);
      return 2;
    }
    seeds.insert(seeds.begin(), s);
  }

  if (argc > 1) {
    constexpr int mutations_per_seed_file = 200;
    for (int i = 1; i < argc; ++i) {
      const std::filesystem::path arg(argv[i]);
      std::error_code ec;
      if (!std::filesystem::is_directory(arg, ec)) {
        bytes input;
        if (!read_file(arg, input)) {
          std::fprintf(stderr, "cannot read input file '%s'\n", argv[i]);
          return 2;
        }
        std::printf("input %s: %zu bytes\n", argv[i], input.size());
        run(input);
        continue;
      }
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(arg, ec))
        if (entry.is_regular_file()) files.push_back(entry.path());
      if (ec || files.empty()) {
        std::fprintf(stderr, "no seed files in '%s'\n", argv[i]);
        return 2;
      }
      std::sort(files.begin(), files.end());  // the same order, so the same inputs, each run
      for (const auto& f : files) {
        bytes seed_input;
        if (!read_file(f, seed_input)) {
          std::fprintf(stderr, "cannot read seed file '%s'\n", f.c_str());
          return 2;
        }
        run(seed_input);
        for (const std::uint64_t seed : seeds) {
          rng_t rng(seed);
          for (int m = 0; m < mutations_per_seed_file; ++m) run(mutate(seed_input, rng));
        }
      }
      std::printf("%s: %zu seed files, %zu mutations each\n", argv[i], files.size(),
                  seeds.size() * mutations_per_seed_file);
    }
    return 0;
  }

  // Sized so that a target's run stays within seconds in a plain build (sanitizers make it
  // several times slower); longer searches are libFuzzer's job (make fuzz).
  constexpr int inputs_per_seed = 150;
  for (const std::uint64_t seed : seeds) {
    rng_t rng(seed);
    for (int i = 0; i < inputs_per_seed; ++i) {
      // Mostly short programs, some long enough to grow a table several times.
      const std::size_t size = (i % 10 == 0) ? 2048 + rng() % 4096 : rng() % 1024;
      bytes input(size);
      for (auto& b : input) b = static_cast<std::uint8_t>(rng());
      run(input);
    }
    std::printf("seed %llu: %d inputs\n", static_cast<unsigned long long>(seed), inputs_per_seed);
  }
  return 0;
}
