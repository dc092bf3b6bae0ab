#pragma once
// prometheus_text: a writer of Prometheus's text exposition format (version 0.0.4), the
// format a /metrics endpoint serves: for each metric family a `# HELP` and a `# TYPE` line,
// then its samples, one per line, `name{label="value",...} number`. The writer keeps a
// family's samples together (the format requires it), escapes label values (backslash,
// double quote, newline) and help text (backslash, newline), and writes numbers as Go's
// strconv does for the values Prometheus parses (integers exactly, +Inf as "+Inf").

#include <charconv>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmap::detail {

using prometheus_labels = std::vector<std::pair<std::string, std::string>>;

class prometheus_writer {
 public:
  explicit prometheus_writer(std::ostream& out) : out_(out) {}

  /// Starts a family: type is counter, gauge or histogram. Counter names end in _total.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ << "# HELP " << name << ' ';
    for (const char c : help) {
      if (c == '\\') {
        out_ << "\\\\";
      } else if (c == '\n') {
        out_ << "\\n";
      } else {
        out_ << c;
      }
    }
    out_ << "\n# TYPE " << name << ' ' << type << '\n';
  }

  /// One sample of the current family; extra is appended to labels (a histogram's le).
  template <class Number>
  void sample(std::string_view name, const prometheus_labels& labels, Number value,
              const std::pair<std::string_view, std::string>* extra = nullptr) {
    out_ << name;
    if (!labels.empty() || extra != nullptr) {
      out_ << '{';
      bool first = true;
      const auto label = [&](std::string_view k, std::string_view v) {
        if (!first) out_ << ',';
        first = false;
        out_ << k << "=\"";
        write_escaped_label_value(v);
        out_ << '"';
      };
      for (const auto& [k, v] : labels) label(k, v);
      if (extra != nullptr) label(extra->first, extra->second);
      out_ << '}';
    }
    out_ << ' ' << number(value) << '\n';
  }

  /// A histogram's samples: name_bucket per upper bound (cumulative counts, then +Inf),
  /// name_sum and name_count. counts holds one count per bound plus the overflow, not
  /// cumulative.
  template <class Bounds, class Counts>
  void histogram(std::string_view name, const prometheus_labels& labels, const Bounds& bounds,
                 const Counts& counts, double sum) {
    std::uint64_t cumulative = 0;
    const std::string bucket = std::string(name) + "_bucket";
    std::size_t i = 0;
    for (; i < std::size(bounds); ++i) {
      cumulative += counts[i];
      const std::pair<std::string_view, std::string> le{"le", number(bounds[i])};
      sample(bucket, labels, cumulative, &le);
    }
    cumulative += counts[i];
    const std::pair<std::string_view, std::string> inf{"le", "+Inf"};
    sample(bucket, labels, cumulative, &inf);
    sample(std::string(name) + "_sum", labels, sum);
    sample(std::string(name) + "_count", labels, cumulative);
  }

  /// A metric or label name made valid: characters outside [a-zA-Z0-9_] become '_', and a
  /// leading digit gets a '_' in front.
  static std::string sanitized_name(std::string_view s) {
    std::string r;
    for (const char c : s) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_';
      r += ok ? c : '_';
    }
    if (r.empty() || (r[0] >= '0' && r[0] <= '9')) r.insert(r.begin(), '_');
    return r;
  }

  static std::string number(std::uint64_t v) { return std::to_string(v); }
  static std::string number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    // The shortest text that reads back as v (1e-06, not 9.9999999999999995e-07).
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  }

 private:
  void write_escaped_label_value(std::string_view v) {
    for (const char c : v) {
      if (c == '\\') {
        out_ << "\\\\";
      } else if (c == '"') {
        out_ << "\\\"";
      } else if (c == '\n') {
        out_ << "\\n";
      } else {
        out_ << c;
      }
    }
  }

  std::ostream& out_;
};

}  // namespace cmap::detail
