#include "script.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmap/detail/probe_names.hpp>
#include <sstream>

#include "cmap_watch_scripts.hpp"

namespace cmap_watch {
namespace {

std::vector<std::string> words_after(std::string_view line, std::string_view tag) {
  std::vector<std::string> words;
  std::istringstream in{std::string(line.substr(tag.size()))};
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

script_piece parse_piece(std::string_view name, std::string_view text) {
  script_piece p{std::string(name), {}, {}, {}, std::string(text)};
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    const std::string_view l = line;
    if (l.starts_with("// requires:")) p.requires_probes = words_after(l, "// requires:");
    if (l.starts_with("// interval:")) p.interval_maps = words_after(l, "// interval:");
    if (l.starts_with("// state:")) p.state_maps = words_after(l, "// state:");
  }
  return p;
}

constexpr std::string_view piece_order[] = {"ops",    "races",   "violation",    "locks",
                                            "resize", "reclaim", "serial_batch", "log_sync"};

std::size_t rank(std::string_view name) {
  const auto* it = std::find(std::begin(piece_order), std::end(piece_order), name);
  return static_cast<std::size_t>(it - std::begin(piece_order));
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

}  // namespace

std::vector<script_piece> script_pieces() {
  std::vector<script_piece> pieces;
  for (const auto& s : embedded_scripts) pieces.push_back(parse_piece(s.name, s.text));
  std::stable_sort(pieces.begin(), pieces.end(),
                   [](const auto& a, const auto& b) { return rank(a.name) < rank(b.name); });
  return pieces;
}

std::string op_writes_expression(std::string_view arg) {
  std::vector<std::string> ranges;
  // The codes that name an operation: checked_map's, then the common surface's.
  const unsigned checked_end = static_cast<unsigned>(cmap::detail::map_operation::count_);
  const unsigned surface_begin = static_cast<unsigned>(cmap::detail::probe_op::find);
  const unsigned codes = static_cast<unsigned>(cmap::detail::probe_op::end_);
  auto writes = [&](unsigned c) {
    return c < codes && (c < checked_end || c >= surface_begin) && cmap::detail::probe_op_writes(c);
  };
  for (unsigned c = 0; c < codes;) {
    if (!writes(c)) {
      ++c;
      continue;
    }
    unsigned last = c;
    while (writes(last + 1)) ++last;
    ranges.push_back(last == c ? fmt::format("{} == {}", arg, c)
                               : fmt::format("({} >= {} && {} <= {})", arg, c, arg, last));
    c = last + 1;
  }
  if (ranges.empty()) return "0";
  return fmt::format("({})", fmt::join(ranges, " || "));
}

std::set<std::string> all_probe_names() {
  return {"op_begin",    "op_end",     "lock_wait_begin", "lock_wait_end", "resize_begin",
          "resize_end",  "reclaim",    "violation",       "serial_batch",  "log_sync"};
}

composed_script compose_script(const std::set<std::string>& probes, const script_options& o) {
  composed_script out;
  std::vector<std::string> interval_maps;
  std::vector<std::string> state_maps;
  std::string body;
  for (auto& p : script_pieces()) {
    if (p.name == "races" && !o.races) continue;
    const bool present = std::all_of(p.requires_probes.begin(), p.requires_probes.end(),
                                     [&](const auto& probe) { return probes.contains(probe); });
    if (!present) {
      out.skipped.push_back(p.name);
      continue;
    }
    out.used.push_back(p.name);
    std::string text = p.text;
    replace_all(text, "cmap_op_writes(arg2)", op_writes_expression("arg2"));
    body += fmt::format("// ---- scripts/{}.bt\n{}\n", p.name, text);
    interval_maps.insert(interval_maps.end(), p.interval_maps.begin(), p.interval_maps.end());
    state_maps.insert(state_maps.end(), p.state_maps.begin(), p.state_maps.end());
  }

  std::string prints;
  for (const auto& m : interval_maps) prints += fmt::format("  print({});\n", m);
  std::string clears;
  for (const auto& m : interval_maps) clears += fmt::format("  clear({});\n", m);
  std::string state_clears;
  for (const auto& m : state_maps) state_clears += fmt::format("  clear({});\n", m);

  out.text = "// cmap-watch: generated from tools/cmap-watch/scripts/*.bt\n";
  out.text += "BEGIN\n{\n  printf(\"@@attached %lu\\n\", nsecs);\n}\n\n";
  out.text += body;
  out.text += fmt::format("interval:ms:{}\n{{\n{}{}  printf(\"@@interval %lu\\n\", nsecs);\n}}\n\n",
                          o.interval_ms, prints, clears);
  out.text += fmt::format("END\n{{\n{}{}}}\n", clears, state_clears);
  return out;
}

}  // namespace cmap_watch
