# Writes the bpftrace scripts SCRIPTS (a list of files) into the C++ header OUTPUT as raw
# string literals: cmap_watch::embedded_scripts, one {name, text} per script, name without .bt.
set(body "")
foreach(script IN LISTS SCRIPTS)
  get_filename_component(name ${script} NAME_WE)
  file(READ ${script} text)
  string(FIND "${text}" ")cmap_watch_bt\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${script} contains the raw string's delimiter")
  endif()
  string(APPEND body "    {\"${name}\", R\"cmap_watch_bt(${text})cmap_watch_bt\"},\n")
endforeach()
file(WRITE ${OUTPUT} "#pragma once
// Generated from tools/cmap-watch/scripts/*.bt by embed_scripts.cmake; edit the scripts.
#include <string_view>

namespace cmap_watch {
struct embedded_script {
  std::string_view name;
  std::string_view text;
};
inline constexpr embedded_script embedded_scripts[] = {
${body}};
}  // namespace cmap_watch
")
