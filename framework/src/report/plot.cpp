// Curves of a metric (report.hpp): per-run or per-seed-group series on a step, tokens or wall-time
// axis, and their SVG (`nanolab compare --plot`). Every logged point is drawn: the plot never
// samples, so a spike at one step stays visible. The SVG is plain text with no scripts or external
// references.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "nanolab/report.hpp"

namespace nanolab::report {
namespace {

double config_number(const Run& run, const std::string& key, double fallback) {
  auto it = run.config.find(key);
  if (it == run.config.end()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  return end == it->second.c_str() ? fallback : v;
}

void smooth_in_place(std::vector<double>& y, int window) {
  if (window <= 1) return;
  std::vector<double> out(y.size());
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    sum += y[i];
    if (i >= size_t(window)) sum -= y[i - size_t(window)];
    out[i] = sum / double(std::min(i + 1, size_t(window)));
  }
  y = std::move(out);
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push_back(t);
  return out;
}

const char* colour(size_t i) {
  static const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return palette[i % 10];
}

}  // namespace

XAxis parse_x_axis(const std::string& name) {
  if (name == "step") return XAxis::step;
  if (name == "tokens") return XAxis::tokens;
  if (name == "wall") return XAxis::wall;
  throw ConfigError("--x '" + name + "': expected step, tokens or wall");
}

std::vector<double> x_values(const Run& run, const std::vector<Point>& points, XAxis axis) {
  std::vector<double> x;
  x.reserve(points.size());
  const double tokens_per_iter = config_number(run, "data.batch_size", 1) *
                                 config_number(run, "data.block_size", 1) *
                                 config_number(run, "train.grad_accum_steps", 1);
  const auto& train = run.log.train;
  for (const Point& p : points) {
    if (axis == XAxis::step) {
      x.push_back(double(p.step));
    } else if (axis == XAxis::tokens) {
      x.push_back(double(p.step) * tokens_per_iter);
    } else {
      auto it = std::upper_bound(train.begin(), train.end(), p.step,
                                 [](int64_t s, const TrainRow& r) { return s < r.step; });
      x.push_back(it == train.begin() ? 0.0 : double(std::prev(it)->elapsed_s));
    }
  }
  return x;
}

std::vector<Series> metric_series(const std::vector<Run>& runs, const Metric& metric, XAxis axis,
                                  bool group_seeds, int smooth) {
  std::vector<Series> out;
  if (!group_seeds) {
    for (const Run& run : runs) {
      Series s{run.log.run, {}, {}, {}, {}};
      const auto points = metric_points(run.log, metric);
      s.x = x_values(run, points, axis);
      for (const Point& p : points) s.y.push_back(p.value);
      smooth_in_place(s.y, smooth);
      out.push_back(std::move(s));
    }
    return out;
  }
  for (const SeedGroup& group : seed_groups(refs(runs))) {
    const auto& members = group.runs;
    // step -> values of the members that logged it; a step is drawn when all of them did, so
    // that a run still running does not bend the mean at its last steps.
    std::map<int64_t, std::vector<double>> at;
    std::map<int64_t, double> x_at;
    for (const Run* run : members) {
      const auto points = metric_points(run->log, metric);
      const auto x = x_values(*run, points, axis);
      for (size_t i = 0; i < points.size(); ++i) {
        at[points[i].step].push_back(points[i].value);
        x_at.emplace(points[i].step, x[i]);
      }
    }
    Series s;
    s.label = group.label + " (" + std::to_string(members.size()) + " seeds)";
    for (const auto& [step, values] : at) {
      if (values.size() != members.size()) continue;
      double sum = 0;
      for (double v : values) sum += v;
      s.x.push_back(x_at[step]);
      s.y.push_back(sum / double(values.size()));
      s.lo.push_back(*std::min_element(values.begin(), values.end()));
      s.hi.push_back(*std::max_element(values.begin(), values.end()));
    }
    smooth_in_place(s.y, smooth);
    smooth_in_place(s.lo, smooth);
    smooth_in_place(s.hi, smooth);
    out.push_back(std::move(s));
  }
  return out;
}

std::string plot_svg(const std::vector<Series>& series, const PlotOptions& o) {
  const double left = 70, right = 190, top = 30, bottom = 50;
  const double pw = o.width - left - right, ph = o.height - top - bottom;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  auto usable = [&](double y) { return std::isfinite(y) && (!o.log_y || y > 0); };
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      for (double y : {s.y[i], s.lo.empty() ? s.y[i] : s.lo[i], s.hi.empty() ? s.y[i] : s.hi[i]})
        if (usable(y)) {
          const double v = o.log_y ? std::log10(y) : y;
          y0 = std::min(y0, v);
          y1 = std::max(y1, v);
        }
    }
  }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1;
  if (!std::isfinite(y0)) y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  auto sx = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto sy = [&](double y) {
    const double v = o.log_y ? std::log10(y) : y;
    return top + (1 - (v - y0) / (y1 - y0)) * ph;
  };
  std::string svg;
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(o.width) +
         "\" height=\"" + std::to_string(o.height) + "\" viewBox=\"0 0 " + std::to_string(o.width) +
         " " + std::to_string(o.height) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!o.title.empty())
    svg += "<text x=\"" + fmt(left + pw / 2) +
           "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">" + html_escape(o.title) +
           "</text>\n";
  // Axes, ticks and grid.
  svg += "<g class=\"axes\" stroke=\"#333\" fill=\"none\"><rect x=\"" + fmt(left) + "\" y=\"" +
         fmt(top) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(ph) + "\"/></g>\n";
  svg += "<g class=\"ticks\">\n";
  for (double t : ticks(x0, x1)) {
    const double x = sx(t);
    svg += "<line x1=\"" + fmt(x) + "\" y1=\"" + fmt(top + ph) + "\" x2=\"" + fmt(x) + "\" y2=\"" +
           fmt(top + ph + 5) + "\" stroke=\"#333\"/><text x=\"" + fmt(x) + "\" y=\"" +
           fmt(top + ph + 18) + "\" text-anchor=\"middle\">" + fmt(t) + "</text>\n";
  }
  for (double t : ticks(y0, y1)) {
    const double value = o.log_y ? std::pow(10.0, t) : t;
    const double y = sy(value);
    svg += "<line x1=\"" + fmt(left - 5) + "\" y1=\"" + fmt(y) + "\" x2=\"" + fmt(left + pw) +
           "\" y2=\"" + fmt(y) + "\" stroke=\"#ddd\"/><text x=\"" + fmt(left - 8) + "\" y=\"" +
           fmt(y + 4) + "\" text-anchor=\"end\">" + fmt(value) + "</text>\n";
  }
  svg += "</g>\n";
  svg += "<text x=\"" + fmt(left + pw / 2) + "\" y=\"" + fmt(o.height - 10.0) +
         "\" text-anchor=\"middle\">" + html_escape(o.x_label) + "</text>\n";
  svg += "<text transform=\"translate(16," + fmt(top + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(o.y_label) +
         (o.log_y ? " (log)" : "") + "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    if (!s.lo.empty()) {
      std::string pts;
      for (size_t k = 0; k < s.x.size(); ++k)
        if (usable(s.hi[k])) pts += fmt(sx(s.x[k])) + "," + fmt(sy(s.hi[k])) + " ";
      for (size_t k = s.x.size(); k-- > 0;)
        if (usable(s.lo[k])) pts += fmt(sx(s.x[k])) + "," + fmt(sy(s.lo[k])) + " ";
      svg += "<polygon class=\"band\" fill=\"" + std::string(colour(i)) +
             "\" fill-opacity=\"0.2\" stroke=\"none\" points=\"" + pts + "\"/>\n";
    }
    std::string pts;
    for (size_t k = 0; k < s.x.size(); ++k)
      if (usable(s.y[k])) pts += fmt(sx(s.x[k])) + "," + fmt(sy(s.y[k])) + " ";
    svg += "<polyline class=\"curve\" data-run=\"" + html_escape(s.label) +
           "\" fill=\"none\" stroke=\"" + colour(i) + "\" stroke-width=\"1.5\" points=\"" + pts +
           "\"/>\n";
  }
  svg += "<g class=\"legend\">\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const double y = top + 10 + 16 * double(i);
    svg += "<line x1=\"" + fmt(left + pw + 12) + "\" y1=\"" + fmt(y) + "\" x2=\"" +
           fmt(left + pw + 32) + "\" y2=\"" + fmt(y) + "\" stroke=\"" + colour(i) +
           "\" stroke-width=\"2\"/><text x=\"" + fmt(left + pw + 38) + "\" y=\"" + fmt(y + 4) +
           "\">" + html_escape(series[i].label) + "</text>\n";
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
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
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out.write(text.data(), std::streamsize(text.size()));
  out.close();
  if (!out)
    throw StorageError(file.string() + ": cannot write (check the folder exists and is writable)");
}

}  // namespace nanolab::report
