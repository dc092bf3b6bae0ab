// The libcds peers' runner instantiations, in a translation unit of their own: under
// ThreadSanitizer libcds declares the dynamic-annotation functions with other types than
// Abseil does, so the two cannot meet in registry.cpp. Compiled only when CMake found libcds.

#include "adapters/libcds_skip_list.hpp"
#include "adapters/libcds_split_list.hpp"
#include "registry.hpp"
#include "runner.hpp"

namespace cmap_bench {

map_result run_libcds_split_list(const run_request& rq) {
  return run_adapter<libcds_split_list_adapter>(rq);
}

map_result run_libcds_skip_list(const run_request& rq) {
  return run_adapter<libcds_skip_list_adapter>(rq);
}

}  // namespace cmap_bench
