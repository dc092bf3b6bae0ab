#pragma once
// Checks of what the SVG charts draw, on the text of a page or of a chart file: the page as
// Chromium serialised its DOM, or as cmap-bench wrote it. A check returns its problems, one
// line each (empty: the chart is as a reader should see it), so that a failure names them all.

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cmap_bench::testing {

// The attributes of every <tag ...> in text, in order; with cls, only those whose class
// attribute contains that word.
inline std::vector<std::map<std::string, std::string>> elements(std::string_view text,
                                                                const std::string& tag,
                                                                const std::string& cls = {}) {
  std::vector<std::map<std::string, std::string>> out;
  static const std::regex attribute(R"re(([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*"([^"]*)")re");
  const std::string open = "<" + tag;
  for (auto pos = text.find(open); pos != std::string_view::npos; pos = text.find(open, pos + 1)) {
    const char after = pos + open.size() < text.size() ? text[pos + open.size()] : '>';
    if (after != ' ' && after != '>' && after != '/' && after != '\n') continue;
    const auto close = text.find('>', pos);
    const std::string head(text.substr(pos, close - pos));
    std::map<std::string, std::string> attrs;
    for (std::sregex_iterator it(head.begin(), head.end(), attribute), end; it != end; ++it)
      attrs[(*it)[1]] = (*it)[2];
    if (!cls.empty()) {
      const std::string classes = " " + attrs["class"] + " ";
      if (classes.find(" " + cls + " ") == std::string::npos) continue;
    }
    out.push_back(std::move(attrs));
  }
  return out;
}

// The number an attribute holds, all of it; nullopt when absent or not a finite number.
inline std::optional<double> number(const std::map<std::string, std::string>& attrs,
                                    const std::string& name) {
  const auto it = attrs.find(name);
  if (it == attrs.end() || it->second.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

// The text of each <svg class="chart KIND"> ... </svg> in text.
inline std::vector<std::string> charts(std::string_view text, const std::string& kind) {
  std::vector<std::string> out;
  const std::string open = "<svg class=\"chart " + kind + "\"";
  for (auto pos = text.find(open); pos != std::string_view::npos; pos = text.find(open, pos + 1)) {
    const auto end = text.find("</svg>", pos);
    out.emplace_back(text.substr(pos, end == std::string_view::npos ? end : end - pos + 6));
  }
  return out;
}

struct plot_area {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  [[nodiscard]] bool contains(double x, double y) const {
    constexpr double slack = 0.5;  // coordinates are written to 0.1
    return x >= x0 - slack && x <= x1 + slack && y >= y0 - slack && y <= y1 + slack;
  }
};

inline std::optional<plot_area> area_of(std::string_view svg, std::vector<std::string>& problems) {
  const auto rects = elements(svg, "rect", "plot-area");
  if (rects.size() != 1) {
    problems.push_back("expected one plot-area rect, found " + std::to_string(rects.size()));
    return std::nullopt;
  }
  const auto x = number(rects[0], "x"), y = number(rects[0], "y");
  const auto w = number(rects[0], "width"), h = number(rects[0], "height");
  if (!x || !y || !w || !h || *w <= 0 || *h <= 0) {
    problems.emplace_back("the plot-area rect has no numeric, positive geometry");
    return std::nullopt;
  }
  return plot_area{*x, *y, *x + *w, *y + *h};
}

// A throughput chart: one series per map of points_per_map, each with that many points, every
// vertex and point numeric and inside the plot area; no series for another map.
inline std::vector<std::string> check_throughput_chart(
    std::string_view svg, const std::map<std::string, int>& points_per_map) {
  std::vector<std::string> problems;
  const auto area = area_of(svg, problems);
  if (!area) return problems;
  std::set<std::string> drawn;
  for (const auto& line : elements(svg, "polyline", "series")) {
    const auto map = line.count("data-map") ? line.at("data-map") : std::string("?");
    drawn.insert(map);
    if (!points_per_map.count(map)) problems.push_back("a series for an unexpected map " + map);
    const std::string points = line.count("points") ? line.at("points") : std::string();
    static const std::regex pair(R"(^(-?[0-9.]+),(-?[0-9.]+)$)");
    int vertices = 0;
    std::size_t start = 0;
    while (start < points.size()) {
      auto end = points.find(' ', start);
      if (end == std::string::npos) end = points.size();
      const std::string p = points.substr(start, end - start);
      start = end + 1;
      if (p.empty()) continue;
      std::smatch m;
      if (!std::regex_match(p, m, pair)) {
        problems.push_back(map + ": vertex '" + p + "' is not x,y");
        continue;
      }
      ++vertices;
      if (!area->contains(std::stod(m[1]), std::stod(m[2])))
        problems.push_back(map + ": vertex " + p + " lies outside the plot area");
    }
    if (points_per_map.count(map) && vertices != points_per_map.at(map))
      problems.push_back(map + ": " + std::to_string(vertices) + " vertices, expected " +
                         std::to_string(points_per_map.at(map)));
  }
  for (const auto& [map, n] : points_per_map)
    if (!drawn.count(map)) problems.push_back("no series for " + map);
  const auto points = elements(svg, "circle", "point");
  int expected = 0;
  for (const auto& [map, n] : points_per_map) expected += n;
  if (static_cast<int>(points.size()) != expected)
    problems.push_back(std::to_string(points.size()) + " data points, expected " +
                       std::to_string(expected));
  for (const auto& c : points) {
    const auto cx = number(c, "cx"), cy = number(c, "cy");
    if (!cx || !cy)
      problems.emplace_back("a data point without numeric coordinates");
    else if (!area->contains(*cx, *cy))
      problems.push_back("a data point at " + std::to_string(*cx) + "," + std::to_string(*cy) +
                         " lies outside the plot area");
  }
  return problems;
}

// A bar chart: at least one bar for each of maps and none for another, each with numeric,
// positive geometry inside the plot area.
inline std::vector<std::string> check_bar_chart(std::string_view svg,
                                                const std::set<std::string>& maps) {
  std::vector<std::string> problems;
  const auto area = area_of(svg, problems);
  if (!area) return problems;
  std::set<std::string> drawn;
  for (const auto& bar : elements(svg, "rect", "bar")) {
    const auto map = bar.count("data-map") ? bar.at("data-map") : std::string("?");
    drawn.insert(map);
    if (!maps.count(map)) problems.push_back("a bar for an unexpected map " + map);
    const auto x = number(bar, "x"), y = number(bar, "y");
    const auto w = number(bar, "width"), h = number(bar, "height");
    if (!x || !y || !w || !h || *w <= 0 || *h <= 0) {
      problems.push_back(map + ": a bar without numeric, positive geometry");
      continue;
    }
    if (!area->contains(*x, *y) || !area->contains(*x + *w, *y + *h))
      problems.push_back(map + ": a bar outside the plot area");
  }
  for (const auto& map : maps)
    if (!drawn.count(map)) problems.push_back("no bar for " + map);
  return problems;
}

// Whether text shows a figure that reads as zero, "0.00" not followed by another digit (as a
// slow map's throughput did in Mops/s with two decimals).
inline bool shows_zero_figure(const std::string& text) {
  static const std::regex zero(R"((^|[^0-9.])0\.00($|[^0-9]))");
  return std::regex_search(text, zero);
}

}  // namespace cmap_bench::testing
