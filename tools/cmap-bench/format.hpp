#pragma once
// How throughput and ratios are printed for a reader (the table, advise, the HTML report and
// the results page): three significant digits, never an exponent, and a unit small enough
// that a slow map's figure does not round to 0.00. CSV and JSON keep full precision in
// Mops/s.

#include <string>
#include <vector>

namespace cmap_bench {

// Three significant digits without an exponent: 1234 -> "1234", 12.34 -> "12.3",
// 0.012345 -> "0.0123", 0 -> "0".
std::string three_digits(double v);

enum class rate_unit { mops, kops, ops };

// Mops/s down to 0.01 Mops/s (where two decimals would start to read 0.00), then kops/s down
// to 1 kops/s, then ops/s.
rate_unit unit_for(double mops) noexcept;
const char* unit_name(rate_unit u) noexcept;  // "Mops/s", "kops/s", "ops/s"
double in_unit(double mops, rate_unit u) noexcept;

// "12.3 Mops/s", "1.05 kops/s", "523 ops/s".
std::string format_rate(double mops);
// A ratio, "x" and three significant digits: "x1.00", "x12.3", "x0.00214".
std::string format_ratio(double ratio);

// Rows of cells as aligned text: each column as wide as its widest cell, two spaces between
// columns, every line indented by three spaces (the text table's layout).
std::string aligned_rows(const std::vector<std::vector<std::string>>& rows);

// Text for HTML and SVG: & < > " escaped.
std::string html_escape(const std::string& s);

}  // namespace cmap_bench
