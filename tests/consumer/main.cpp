// Built by run_consumer.cmake against an installed or add_subdirectory'd cmap.
#include <cmap/cmap.hpp>

int main() {
  cmap::locked_map<int, int> map;
  map.insert(1, 10);
  map.insert(2, 20);
  map.insert(3, 30);
  if (map.size() != 3) return 1;
  const auto two = map.find(2);
  if (!two.has_value() || *two != 20) return 1;
  return 0;
}
