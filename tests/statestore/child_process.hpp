#pragma once
// Runs cmap-statestore as a child process (tests/child_process.hpp).

#include <string>
#include <vector>

#include "../child_process.hpp"

namespace statestore_test {

inline const char* tool_path() { return CMAP_STATESTORE_BIN; }

class child_process : public cmap_test::child_process {
 public:
  explicit child_process(const std::vector<std::string>& args)
      : cmap_test::child_process(tool_path(), args) {}
};

using cmap_test::result;

inline result run_tool(const std::vector<std::string>& args) {
  return cmap_test::run_program(tool_path(), args);
}

}  // namespace statestore_test
