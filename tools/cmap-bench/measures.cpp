#include "measures.hpp"

#include <malloc.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace cmap_bench {

std::optional<std::uint64_t> current_rss_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  if (!(in >> size >> resident)) return std::nullopt;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::optional<std::uint64_t> peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return std::nullopt;
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::optional<io_counters> read_io_counters() {
  std::ifstream in("/proc/self/io");
  std::string name;
  std::uint64_t value = 0;
  io_counters c;
  bool wchar = false;
  bool write_bytes = false;
  while (in >> name >> value) {
    if (name == "wchar:") {
      c.wchar = value;
      wchar = true;
    } else if (name == "write_bytes:") {
      c.write_bytes = value;
      write_bytes = true;
    }
  }
  if (!wchar || !write_bytes) return std::nullopt;
  return c;
}

void trim_heap() { malloc_trim(0); }

}  // namespace cmap_bench
