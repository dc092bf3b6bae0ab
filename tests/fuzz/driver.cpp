// The main() of a fuzz target built without libFuzzer, so that every test configuration
// (g++, ThreadSanitizer, AddressSanitizer) runs it as an ordinary test: with file arguments,
// each file is one input (a crash libFuzzer saved, say); without, a fixed number of
// pseudo-random inputs of assorted lengths, from fixed seeds plus CMAP_TEST_SEED if set.
// A target reports a failure by aborting, as under libFuzzer.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot open input file '%s'\n", argv[i]);
        return 2;
      }
      const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                            std::istreambuf_iterator<char>());
      std::printf("input %s: %zu bytes\n", argv[i], bytes.size());
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    }
    return 0;
  }
  std::vector<std::uint64_t> seeds = {1, 2, 3, 4};
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
  // Sized so that a target's run stays within seconds in a plain build (sanitizers make it
  // several times slower); longer searches are libFuzzer's job (make fuzz).
  constexpr int inputs_per_seed = 150;
  for (const std::uint64_t seed : seeds) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < inputs_per_seed; ++i) {
      // Mostly short programs, some long enough to grow a table several times.
      const std::size_t size = (i % 10 == 0) ? 2048 + rng() % 4096 : rng() % 1024;
      std::vector<std::uint8_t> bytes(size);
      for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    }
    std::printf("seed %llu: %d inputs\n", static_cast<unsigned long long>(seed), inputs_per_seed);
  }
  return 0;
}
