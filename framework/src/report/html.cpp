// The report page (report.hpp: report_html): one HTML file that opens offline in any browser and
// can be mailed or archived alone. Tables and curves come from compare.cpp and plot.cpp; this file
// only lays them out. No JavaScript: the page is a document, not an app.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "nanolab/report.hpp"

namespace nanolab::report {
namespace {

constexpr const char* style = R"(body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
pre{background:#f8f8f8;padding:6px;white-space:pre-wrap;margin:2px 0}
.status-failed,.status-interrupted{color:#b00}.status-running{color:#a60}
section{margin-bottom:2em}
)";

std::string html_table(const Table& t, size_t status_column) {
  std::string out = "<table>\n<tr>";
  for (const auto& c : t.columns) out += "<th>" + html_escape(c) + "</th>";
  out += "</tr>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (size_t c = 0; c < row.size(); ++c) {
      if (c == status_column)
        out += "<td class=\"status-" + html_escape(row[c]) + "\">";
      else
        out += "<td>";
      out += html_escape(row[c]) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

bool any_value(const std::vector<Run>& runs, const Metric& metric) {
  for (const Run& r : runs)
    for (const Point& p : metric_points(r.log, metric))
      if (!std::isnan(p.value)) return true;
  return false;
}

}  // namespace

std::string report_html(const std::vector<Run>& runs, const CompareOptions& options) {
  std::string title = "nanolab report: " + std::to_string(runs.size()) + " runs";
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
                    html_escape(title) + "</title><style>" + style + "</style></head><body>\n";
  out += "<h1>" + html_escape(title) + "</h1>\n";

  out += "<section id=\"compare\"><h2>Runs</h2>\n";
  const Table table = spread_cells(compare_table(runs, options), options.metric);
  out += html_table(table, options.group_seeds ? size_t(-1) : 1);
  out += "</section>\n";

  out += "<section id=\"curves\"><h2>Curves</h2>\n";
  std::vector<std::pair<std::string, std::string>> curves = {{"train/loss", "plot-train-loss"},
                                                             {"val/loss", "plot-val-loss"},
                                                             {"val/accuracy", "plot-val-accuracy"}};
  // The --metric's curve too, when it is another.
  if (std::none_of(curves.begin(), curves.end(),
                   [&](const auto& c) { return c.first == options.metric.name; }))
    curves.push_back({options.metric.name, "plot-metric"});
  for (const auto& [name, id] : curves) {
    const Metric metric = parse_metric(name);
    if (!any_value(runs, metric)) continue;
    PlotOptions p;
    p.title = name;
    p.x_label = "step";
    p.y_label = name;
    const auto series = metric_series(runs, metric, XAxis::step, options.group_seeds, 1);
    out += "<div class=\"plot\" id=\"" + id + "\">" + plot_svg(series, p) + "</div>\n";
  }
  out += "</section>\n";

  out += "<section id=\"config\"><h2>Configuration keys that differ</h2>\n";
  const std::vector<std::string> keys = differing_keys(runs);
  if (keys.empty()) {
    out += "<p>All runs have the same configuration.</p>\n";
  } else {
    Table diff;
    diff.columns = {"key"};
    for (const Run& r : runs) diff.columns.push_back(r.log.run);
    for (const auto& key : keys) {
      std::vector<std::string> row = {key};
      for (const Run& r : runs) {
        auto it = r.config.find(key);
        row.push_back(it == r.config.end() ? "" : it->second);
      }
      diff.rows.push_back(std::move(row));
    }
    out += html_table(diff, size_t(-1));
  }
  out += "</section>\n";

  out += "<section id=\"samples\"><h2>Samples</h2>\n";
  for (const Run& r : runs) {
    out += "<h3>" + html_escape(r.log.run) + "</h3>\n";
    if (r.log.samples.empty()) out += "<p>No samples.</p>\n";
    for (const auto& [step, text] : r.log.samples)
      out += "<div>step " + std::to_string(step) + "</div><pre>" + html_escape(text) + "</pre>\n";
  }
  out += "</section>\n</body></html>\n";
  return out;
}

}  // namespace nanolab::report
