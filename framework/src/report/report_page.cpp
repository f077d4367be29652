// The page of `nanolab report` (report.hpp: report_page): the dashboard of `nanolab serve`
// (page_files.hpp) as one file, with its script, style and charting library inlined and the
// answers of the API embedded as JSON, so that it opens from disk with no server and no network
// and can be mailed or archived alone. dashboard.js reads the embedded answers instead of asking
// the server; the curves are downsampled here as serve does for a chart of kReportPoints pixels.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "nanolab/report.hpp"
#include "report/dashboard.hpp"
#include "report/page_files.hpp"

namespace nanolab::report {
namespace {

// Points of a curve: about one per pixel of a wide chart; fewer when an experiment has many runs,
// as the page itself asks (dashboard.js: POINT_BUDGET), so that the file stays light.
constexpr size_t kReportPoints = 1000, kPointBudget = 200000, kMinPoints = 16;

std::string_view page_file(std::string_view name) {
  for (const PageFile& f : page_files)
    if (f.name == name) return f.text;
  throw std::logic_error("the page has no file " + std::string(name));
}

// `text` with its one occurrence of `from` replaced by `to`: the page's files are ours, so a tag
// that is missing or doubled is a fault of the program, not of the input.
void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos || text.find(from, at + 1) != std::string::npos)
    throw std::logic_error("index.html holds '" + from + "' not exactly once");
  text.replace(at, from.size(), to);
}

// A script inlined into a <script> element: it must not end the element early.
std::string inline_script(std::string_view code) {
  if (code.find("</script") != std::string_view::npos)
    throw std::logic_error("an inlined script holds </script");
  return "<script>" + std::string(code) + "</script>";
}

// JSON inside a <script> element: every '<' (only ever in a string) written as \u003c, so that no
// text of a run ("</script>", "<!--") can end the element or change how it is parsed.
std::string script_safe(const std::string& json_text) {
  std::string out;
  out.reserve(json_text.size());
  for (char c : json_text) {
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  }
  return out;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

// The knots from which the page places a curve on wall time (dashboard.js: onAxis, which
// interpolates linearly between them): `points` train rows as they are, (step, elapsed s), evenly
// spaced among the rows, the first and the last included; as many as a curve's points, so that
// wall time is as exact as the curves drawn on it (elapsed time only grows: between two kept rows
// it is within their values).
Curve clock_knots(const std::vector<TrainRow>& rows, size_t points) {
  Curve knots;
  const size_t n = rows.size(), k = std::min(n, std::max<size_t>(points, 2));
  for (size_t i = 0; i < k; ++i) {
    const TrainRow& row = rows[k == 1 ? 0 : i * (n - 1) / (k - 1)];
    knots.x.push_back(double(row.step));
    knots.y.push_back(row.elapsed_s);
  }
  return knots;
}

}  // namespace

std::string report_page(const std::vector<Run>& runs, const CompareOptions& options) {
  // The curves of an experiment share one x range, [0, its longest run], as a chart of the page
  // asks for them; the fewer points the more runs it has.
  std::map<std::string, std::pair<int64_t, size_t>> experiments;  // name -> last step, runs
  for (const Run& r : runs) {
    auto& [hi, n] = experiments[r.log.experiment];
    hi = std::max(hi, last_step(r));
    ++n;
  }
  json::Json listed = json::Json::array(), samples = json::Json::object();
  std::string curves = "{", clocks = "{";
  for (size_t id = 0; id < runs.size(); ++id) {
    const Run& run = runs[id];
    listed.push_back(run_json(id, run.file, "", &run, 0, ""));
    json::Json texts = json::Json::array();
    for (const auto& [step, text] : run.log.samples) texts.push_back({step, text});
    samples[std::to_string(id)] = std::move(texts);

    const auto& [hi, n] = experiments[run.log.experiment];
    MetricsQuery q;
    q.points = std::clamp(kPointBudget / n, kMinPoints, kReportPoints);
    q.lo = 0;
    q.hi = double(std::max<int64_t>(hi, 1));
    std::string key(1, '"');  // "<id>"
    key += std::to_string(id);
    key += '"';
    if (id) curves += ',';
    curves += key + ":{";
    for (auto it = run.log.metrics.begin(); it != run.log.metrics.end(); ++it) {
      if (it != run.log.metrics.begin()) curves += ',';
      curves += curve_json(run, it->first, it->second, min_max_pyramid(it->second), q);
    }
    curves += '}';

    const Curve knots = clock_knots(run.log.train, q.points);
    json::Json c = {{"x", knots.x}, {"y", knots.y}};
    if (id) clocks += ',';
    clocks += key + ":" + json::dump(c);
  }
  const Table table = spread_cells(compare_table(refs(runs), options), options.metric);
  json::Json about = {{"written", now_utc()},
                      {"compare", table_json(table)},
                      {"metric", options.metric.name},
                      {"group_seeds", options.group_seeds}};
  // One object, written by hand around the curves (most of the file, already JSON text).
  std::string data = "{\"about\":" + json::dump(about) + ",\"runs\":" + json::dump(listed) +
                     ",\"curves\":" + curves + "},\"clocks\":" + clocks +
                     "},\"samples\":" + json::dump(samples) + "}";

  std::string page(page_file("index.html"));
  replace_once(page, "<link rel=\"stylesheet\" href=\"uPlot.min.css\">",
               "<style>" + std::string(page_file("uPlot.min.css")) + "</style>");
  replace_once(page, "<link rel=\"stylesheet\" href=\"dashboard.css\">",
               "<style>" + std::string(page_file("dashboard.css")) + "</style>");
  replace_once(page, "<a href=\"uPlot-LICENSE.txt\">MIT license</a>",
               "<details><summary>MIT license</summary><pre>" +
                   html_escape(std::string(page_file("uPlot-LICENSE.txt"))) + "</pre></details>");
  replace_once(page, "<script src=\"uPlot.iife.min.js\"></script>",
               "<script type=\"application/json\" id=\"nanolab-data\">" + script_safe(data) +
                   "</script>\n" + inline_script(page_file("uPlot.iife.min.js")));
  replace_once(page, "<script src=\"dashboard.js\"></script>",
               inline_script(page_file("dashboard.js")));
  return page;
}

}  // namespace nanolab::report
