// cmap-bench: which concurrent map should I use for my workload, and what does it cost?
// See docs/cmap-bench.md and `cmap-bench --help`.

#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return cmap_bench::cli_main(args, stdout, stderr);
}
