// A fuzz target for what cmap-bench reads from its user: workload files (JSON and TOML), and
// the --mix and --distribution texts. The promise under test is the command line's: any
// input is either accepted as a valid workload or rejected with a usage_error (which
// cmap-bench prints and turns into exit status 2). Any other exception, a crash, a hang or a
// sanitizer report is a failure; so is an accepted workload that validate() rejects, or
// whose to_json() does not parse back to the same workload.
//
// The first input byte chooses the reader, the rest is the text. Built with libFuzzer
// (clang, CMAP_FUZZ=ON, `make fuzz`) or with driver.cpp as an ordinary test, like
// maps_fuzz.cpp.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "workload.hpp"

namespace {

using cmap_bench::usage_error;
using cmap_bench::workload;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "cmap_bench_workload_fuzz: %s: %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// A workload that a file gave is valid (the file's reader validates it).
void check_valid(const workload& w) {
  try {
    cmap_bench::validate(w);
  } catch (const usage_error& e) {
    fail("parsed workload fails validate()", e.what());
  }
}

// A valid workload survives its own JSON form unchanged (the --json output records
// workloads that way).
void check_round_trip(const workload& w) {
  const nlohmann::json j = cmap_bench::to_json(w);
  workload again;
  try {
    again = cmap_bench::parse_workload_json(j, "round trip");
  } catch (const usage_error& e) {
    fail("to_json() of an accepted workload is rejected", e.what());
  }
  if (cmap_bench::to_json(again) != j) fail("to_json() does not round-trip", j.dump());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (data[0] % 4) {
      case 0:
      case 1: {
        const workload w = cmap_bench::parse_workload_text(text, "fuzz", data[0] % 4 == 1);
        check_valid(w);
        check_round_trip(w);
        break;
      }
      default: {
        // --mix and --dist: parsed, then validated with the rest of the command line (their
        // ranges are validate()'s to check, and a usage_error from it is a clean rejection).
        workload w;
        if (data[0] % 4 == 2) {
          cmap_bench::parse_mix(std::string(text), w);
        } else {
          w.dist = cmap_bench::parse_distribution(std::string(text));
        }
        cmap_bench::validate(w);
        check_round_trip(w);
        break;
      }
    }
  } catch (const usage_error&) {
    // Rejected with a message: what the command line promises.
  } catch (const std::exception& e) {
    fail("an exception other than usage_error escaped", e.what());
  }
  return 0;
}
