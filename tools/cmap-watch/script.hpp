#pragma once
// The bpftrace program cmap-watch runs: put together from the scripts in scripts/*.bt
// (compiled in), keeping only those whose probes the process has, since bpftrace refuses a
// script that names a probe it cannot find. Each script declares, in comment lines at its top,
//   // requires: <probe> ...   the probes it attaches to (all must be present)
//   // interval: @map ...      the maps printed and cleared at every interval
//   // state: @map ...         maps holding state between probes, cleared only at the end
// and cmap-watch adds the BEGIN and interval probes that print the maps between markers
// (printf lines starting "@@") that the report reads, and an END probe that clears every map
// (bpftrace would print them). The end of a run is cmap-watch's choice, at an interval
// boundary: the report never waits for bpftrace to exit, because bpftrace removes its probes
// before END runs, one at a time, and the kernel can take a tenth of a second for each.

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cmap_watch {

struct script_piece {
  std::string name;
  std::vector<std::string> requires_probes;
  std::vector<std::string> interval_maps;
  std::vector<std::string> state_maps;
  std::string text;
};

/// The compiled-in scripts, in the order they are put together (ops first: the others read
/// its @op_map).
std::vector<script_piece> script_pieces();

struct script_options {
  bool races = false;
  unsigned interval_ms = 1000;
};

struct composed_script {
  std::string text;
  std::vector<std::string> used;     // pieces put in
  std::vector<std::string> skipped;  // pieces left out: a probe they need is absent
};

/// The program for a process whose cmap probes are `probes` (names such as "op_begin").
composed_script compose_script(const std::set<std::string>& probes, const script_options& o);

/// A bpftrace expression true when the op code `arg` writes, from probe_op_writes
/// (detail/probe_names.hpp): a disjunction of ranges of codes.
std::string op_writes_expression(std::string_view arg);

/// Every probe cmap defines (detail/probes.hpp), for a script printed without a process.
std::set<std::string> all_probe_names();

}  // namespace cmap_watch
