#include "format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cmap_bench {

std::string three_digits(double v) {
  if (v == 0 || !std::isfinite(v)) return fmt::format("{:g}", v);
  const auto decimals_for = [](double x) {
    return std::max(0, 2 - static_cast<int>(std::floor(std::log10(std::fabs(x)))));
  };
  int decimals = decimals_for(v);
  std::string out = fmt::format("{:.{}f}", v, decimals);
  // Rounding may carry into a new digit (9.996 -> "10.00"): one decimal fewer then.
  if (decimals > 0 && decimals_for(std::stod(out)) < decimals)
    out = fmt::format("{:.{}f}", v, decimals - 1);
  return out;
}

rate_unit unit_for(double mops) noexcept {
  if (mops == 0 || mops >= 0.01) return rate_unit::mops;
  if (mops >= 0.001) return rate_unit::kops;
  return rate_unit::ops;
}

const char* unit_name(rate_unit u) noexcept {
  switch (u) {
    case rate_unit::mops:
      return "Mops/s";
    case rate_unit::kops:
      return "kops/s";
    case rate_unit::ops:
      return "ops/s";
  }
  return "?";
}

double in_unit(double mops, rate_unit u) noexcept {
  switch (u) {
    case rate_unit::mops:
      return mops;
    case rate_unit::kops:
      return mops * 1e3;
    case rate_unit::ops:
      return mops * 1e6;
  }
  return mops;
}

std::string format_rate(double mops) {
  const rate_unit u = unit_for(mops);
  return three_digits(in_unit(mops, u)) + " " + unit_name(u);
}

std::string format_ratio(double ratio) { return "x" + three_digits(ratio); }

std::string aligned_rows(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    out += "   ";
    for (std::size_t i = 0; i < row.size(); ++i)
      out += fmt::format("{:<{}}{}", row[i], width[i], i + 1 < row.size() ? "  " : "\n");
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace cmap_bench
