#include "chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "format.hpp"

namespace cmap_bench {

namespace {

constexpr std::array<const char*, 10> palette = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                 "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                 "#bcbd22", "#17becf"};
constexpr double chart_w = 640;
constexpr double chart_h = 300;
constexpr double pad_l = 60;
constexpr double pad_r = 170;
constexpr double pad_t = 30;
constexpr double pad_b = 40;
constexpr double plot_w = chart_w - pad_l - pad_r;
constexpr double plot_h = chart_h - pad_t - pad_b;

std::string svg_open(const std::string& cls, const std::string& title) {
  return fmt::format(
      "<svg class=\"chart {0}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{1}\" "
      "height=\"{2}\" viewBox=\"0 0 {1} {2}\" role=\"img\"><title>{3}</title>"
      "<rect width=\"{1}\" height=\"{2}\" fill=\"#fff\"/>"
      "<rect class=\"plot-area\" x=\"{4}\" y=\"{5}\" width=\"{6}\" height=\"{7}\" fill=\"none\"/>"
      "<text x=\"{4}\" y=\"18\" font-family=\"sans-serif\" font-size=\"14\" "
      "font-weight=\"bold\">{3}</text>\n",
      cls, chart_w, chart_h, html_escape(title), pad_l, pad_t, plot_w, plot_h);
}

std::string legend(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const double y = pad_t + 14 + static_cast<double>(i) * 16;
    out += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" "
        "font-family=\"sans-serif\" font-size=\"11\">{}</text>\n",
        chart_w - pad_r + 10, y - 9, palette[i % palette.size()], chart_w - pad_r + 24, y,
        html_escape(names[i]));
  }
  return out;
}

// A vertical scale: linear from 0, or logarithmic over whole decades.
struct scale {
  double lo = 0;
  double hi = 1;
  bool log = false;

  static scale over(double smallest, double largest, bool log_scale) {
    scale s;
    s.log = log_scale && smallest > 0;
    if (largest <= 0) largest = 1;
    if (s.log) {
      // A decade below the smallest value, even when that is a power of ten, so that its mark
      // is not flat on the axis.
      s.lo = std::pow(10, std::floor(std::log10(smallest / 1.01)));
      s.hi = std::pow(10, std::ceil(std::log10(largest * 1.01)));
      if (s.hi <= s.lo) s.hi = s.lo * 10;
    } else {
      s.hi = largest * 1.1;
    }
    return s;
  }
  // The fraction of the plot's height at value v, clamped to [0, 1].
  [[nodiscard]] double fraction(double v) const {
    const double f = log ? std::log(v / lo) / std::log(hi / lo) : v / hi;
    return std::clamp(f, 0.0, 1.0);
  }
  [[nodiscard]] double y(double v) const { return chart_h - pad_b - plot_h * fraction(v); }
};

std::string tick_label(double v) {
  if (v >= 100) return fmt::format("{:.0f}", v);
  return fmt::format("{:.3g}", v);
}

std::string axes(const scale& s, const std::string& y_label) {
  std::string out;
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333\"/>", pad_l,
                     pad_t, chart_h - pad_b);
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#333\"/>", pad_l,
                     chart_h - pad_b, chart_w - pad_r);
  std::vector<double> ticks;
  if (s.log) {
    for (double v = s.lo; v <= s.hi * 1.0001; v *= 10) ticks.push_back(v);
  } else {
    for (int i = 0; i <= 4; ++i) ticks.push_back(s.hi * i / 4.0);
  }
  for (double v : ticks) {
    const double y = s.y(v);
    out += fmt::format(
        "<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"10\" "
        "text-anchor=\"end\">{}</text>",
        pad_l - 4, y + 3, tick_label(v));
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>", pad_l, y,
                       chart_w - pad_r, y);
  }
  out += fmt::format(
      "<text x=\"12\" y=\"{0}\" font-family=\"sans-serif\" font-size=\"11\" "
      "transform=\"rotate(-90 12 {0})\" text-anchor=\"middle\">{1}</text>\n",
      chart_h / 2, html_escape(y_label));
  return out;
}

}  // namespace

std::string throughput_chart(const workload& w, const std::vector<const map_result*>& rows) {
  const auto names = map_names(rows);
  double largest = 0;
  double smallest = 0;
  for (const auto* r : rows) {
    if (!r->ok()) continue;
    largest = std::max(largest, r->max_mops);
    if (r->median_mops > 0)
      smallest = smallest == 0 ? r->median_mops : std::min(smallest, r->median_mops);
  }
  const rate_unit unit = unit_for(largest);
  const bool log_scale = smallest > 0 && largest / smallest > 100;
  const scale s = scale::over(in_unit(smallest, unit), in_unit(largest, unit), log_scale);
  auto x_of = [&](std::size_t i) {
    return pad_l + (w.threads.size() == 1
                        ? plot_w / 2
                        : plot_w * 0.05 + plot_w * 0.9 * static_cast<double>(i) /
                                              static_cast<double>(w.threads.size() - 1));
  };
  std::string out =
      svg_open("throughput", fmt::format("{}: throughput ({}{}) vs threads", w.name,
                                         unit_name(unit), s.log ? ", log scale" : ""));
  out += axes(s, unit_name(unit));
  for (std::size_t i = 0; i < w.threads.size(); ++i)
    out += fmt::format(
        "<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"10\" "
        "text-anchor=\"middle\">{}</text>",
        x_of(i), chart_h - pad_b + 14, w.threads[i]);
  out += fmt::format(
      "<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"11\" "
      "text-anchor=\"middle\">threads</text>\n",
      pad_l + plot_w / 2, chart_h - 6);
  for (std::size_t m = 0; m < names.size(); ++m) {
    std::string points;
    std::string dots;
    for (std::size_t i = 0; i < w.threads.size(); ++i) {
      const auto* r = find_row(rows, names[m], w.threads[i]);
      if (r == nullptr || !r->ok()) continue;
      const double x = x_of(i);
      const double y = s.y(in_unit(r->median_mops, unit));
      points += fmt::format("{:.1f},{:.1f} ", x, y);
      dots += fmt::format(
          "<circle class=\"point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{} @{}: "
          "{} [{} - {}]</title></circle>",
          x, y, palette[m % palette.size()], html_escape(names[m]), w.threads[i],
          format_rate(r->median_mops), format_rate(r->min_mops), format_rate(r->max_mops));
    }
    if (!points.empty()) {
      points.pop_back();
      out += fmt::format(
          "<polyline class=\"series\" data-map=\"{}\" fill=\"none\" stroke=\"{}\" "
          "stroke-width=\"2\" points=\"{}\"/>{}\n",
          html_escape(names[m]), palette[m % palette.size()], points, dots);
    }
  }
  out += legend(names);
  return out + "</svg>\n";
}

std::string bar_chart(const std::string& cls, const std::string& title, const std::string& y_label,
                      const std::vector<bar_group>& groups, const std::vector<std::string>& series,
                      bool log_scale) {
  double largest = 0;
  double smallest = 0;
  for (const auto& g : groups)
    for (double v : g.values)
      if (v > 0) {
        largest = std::max(largest, v);
        smallest = smallest == 0 ? v : std::min(smallest, v);
      }
  const scale s = scale::over(smallest > 0 ? smallest : 1, largest, log_scale);
  std::string out = svg_open(cls, title);
  out += axes(s, y_label);
  const double group_w = plot_w / static_cast<double>(std::max<std::size_t>(groups.size(), 1));
  const double bar_w = group_w * 0.8 / static_cast<double>(std::max<std::size_t>(series.size(), 1));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const double gx = pad_l + group_w * static_cast<double>(g) + group_w * 0.1;
    for (std::size_t i = 0; i < series.size() && i < groups[g].values.size(); ++i) {
      const double v = groups[g].values[i];
      if (v <= 0) continue;
      const double h = std::max(1.0, plot_h * s.fraction(v));
      out += fmt::format(
          "<rect class=\"bar\" data-map=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
          "height=\"{:.1f}\" fill=\"{}\"><title>{} {}: {:.1f}</title></rect>",
          html_escape(groups[g].map), gx + bar_w * static_cast<double>(i), chart_h - pad_b - h,
          std::max(1.0, bar_w - 1), h, palette[(series.size() == 1 ? g : i) % palette.size()],
          html_escape(groups[g].label), html_escape(series[i]), v);
    }
    out += fmt::format(
        "<text x=\"{:.1f}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"9\" "
        "text-anchor=\"middle\">{}</text>\n",
        gx + group_w * 0.4, chart_h - pad_b + 12 + static_cast<double>(g % 2) * 10,
        html_escape(groups[g].label));
  }
  if (series.size() > 1) out += legend(series);
  return out + "</svg>\n";
}

}  // namespace cmap_bench
