#pragma once
// The command line of cmap-bench, callable in-process (the tests drive it directly).
//   cmap-bench [--preset NAME,...] [--workload FILE] [--standard] [workload flags] [outputs]
//   cmap-bench advise --workload FILE [--maps ...] [--threads ...]
//   cmap-bench --list
// Exit status: 0 done; 2 usage error (nothing written); 1 a run-time failure; 130 Ctrl-C
// (what was measured is still printed and written).

#include <cstdio>
#include <string>
#include <vector>

namespace cmap_bench {

int cli_main(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

}  // namespace cmap_bench
