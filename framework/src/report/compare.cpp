// The compare table (report.hpp): finding runs, flattening their configuration, the keys that
// differ, --where filters, seed groups with their statistics against a --baseline, the two-run
// diff table, and the tables' text formats. The statistics themselves live in stats.cpp, plots in
// plot.cpp, the report page in report_page.cpp.
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <cstdio>
#include <set>
#include <sstream>

#include "nanolab/did_you_mean.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/metrics.hpp"
#include "nanolab/report.hpp"
#include "runtime/json.hpp"

namespace nanolab::report {
namespace {

constexpr const char* seed_key = "experiment.seed";

std::string number_text(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  // Whole numbers (params, steps) in full: %g would print a 12345678-parameter model
  // as 1.23457e+07.
  if (v == std::trunc(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// The shortest text that reads back as the same double ("" for NaN): 0.003, not toml++'s
// 0.0030000000000000001; and every digit a statistic has, for csv and json.
std::string exact_text(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

std::string value_text(const toml::node& node) {
  if (const auto* v = node.as_string()) return v->get();
  if (const auto* v = node.as_floating_point()) return exact_text(v->get());
  // Arrays element by element, so that betas read [0.9, 0.95] and not toml++'s 17 digits.
  if (const auto* a = node.as_array()) {
    std::string out = "[";
    for (const toml::node& element : *a) out += (out.size() > 1 ? ", " : "") + value_text(element);
    return out + "]";
  }
  std::ostringstream out;
  node.visit([&](const auto& n) { out << n; });
  return out.str();
}

void flatten(const toml::table& table, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  for (const auto& [key, node] : table) {
    const std::string name = prefix + std::string(key.str());
    if (const auto* t = node.as_table())
      flatten(*t, name + ".", out);
    else
      out[name] = value_text(node);
  }
}

// Two config values are the same if their text is, or both are the same number (3e-4, 0.0003).
bool same_value(const std::string& a, const std::string& b) {
  double x, y;
  return a == b || (parse_number(a, x) && parse_number(b, y) && x == y);
}

// Every configuration key of the runs, in order.
std::vector<std::string> config_keys(const RunRefs& runs) {
  std::set<std::string> all;
  for (const Run* r : runs)
    for (const auto& [k, v] : r->config) all.insert(k);
  return {all.begin(), all.end()};
}

// The hint for a name the runs do not have: " (did you mean a or b?)" with the candidates near
// enough to be a typo (as did_you_mean judges), else " (the nearest: a, b or c)"; the nearest
// first, three at most.
std::string nearest_hint(const std::string& typed, std::vector<std::string> candidates) {
  std::stable_sort(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
    return edit_distance(typed, a) < edit_distance(typed, b);
  });
  const size_t limit = typo_distance(typed);
  const auto far = std::find_if(candidates.begin(), candidates.end(),
                                [&](const auto& c) { return edit_distance(typed, c) > limit; });
  const bool typo = far != candidates.begin();
  if (typo) candidates.erase(far, candidates.end());
  if (candidates.size() > 3) candidates.resize(3);
  std::string out;
  for (size_t i = 0; i < candidates.size(); ++i)
    out += (i == 0 ? "" : i + 1 == candidates.size() ? " or " : ", ") + candidates[i];
  if (out.empty()) return "";
  return typo ? " (did you mean " + out + "?)" : " (the nearest: " + out + ")";
}

struct Numbers {
  double params = NAN, best = NAN, best_step = NAN, final_train = NAN, tokens_per_s = NAN,
         wall_s = NAN;
};

double summary_or(const RunLog& log, const char* key, double fallback) {
  auto it = log.summary.find(key);
  return it == log.summary.end() ? fallback : it->second;
}

Numbers numbers_of(const RunLog& log, const Metric& metric) {
  Numbers n;
  n.params = summary_or(log, "params", NAN);
  for (const Point& p : metric_points(log, metric)) {
    if (std::isnan(p.value)) continue;
    if (std::isnan(n.best) || (metric.higher_is_better ? p.value > n.best : p.value < n.best)) {
      n.best = p.value;
      n.best_step = double(p.step);
    }
  }
  if (!log.train.empty()) {
    n.final_train = log.train.back().loss;
    // A running run has no summary yet: its rows give the same numbers so far.
    double sum = 0;
    for (const TrainRow& r : log.train) sum += r.tokens_per_s;
    n.tokens_per_s = sum / double(log.train.size());
    n.wall_s = log.train.back().elapsed_s;
  }
  n.final_train = summary_or(log, "final_train_loss", n.final_train);
  n.wall_s = summary_or(log, "wall_s", n.wall_s);
  const double tokens = summary_or(log, "tokens_seen", NAN);
  if (!std::isnan(tokens) && n.wall_s > 0) n.tokens_per_s = tokens / n.wall_s;
  return n;
}

std::vector<double> as_vector(const Numbers& n) {
  return {n.params, n.best, n.best_step, n.final_train, n.tokens_per_s, n.wall_s};
}

// The column of the metric's best value among number_columns.
constexpr size_t best_column = 1;
std::vector<std::string> number_columns(const Metric& metric) {
  return {"params", "best " + metric.name, "best step", "final train loss", "tokens/s", "wall s"};
}

void sort_table(Table& table, const std::string& sort) {
  if (sort.empty()) return;
  const bool descending = sort[0] == '-';
  const std::string name = descending ? sort.substr(1) : sort;
  auto it = std::find(table.columns.begin(), table.columns.end(), name);
  if (it == table.columns.end()) {
    std::string all;
    for (const auto& c : table.columns) all += (all.empty() ? "" : ", ") + c;
    throw ConfigError("--sort '" + name + "': no such column (columns: " + all + ")");
  }
  const size_t c = size_t(it - table.columns.begin());
  std::stable_sort(table.rows.begin(), table.rows.end(), [&](const auto& a, const auto& b) {
    double x = 0, y = 0;
    const bool nx = parse_number(a[c], x), ny = parse_number(b[c], y);
    // Empty cells go last whichever the direction.
    if (a[c].empty() != b[c].empty()) return b[c].empty();
    const bool less = nx && ny ? x < y : a[c] < b[c];
    const bool greater = nx && ny ? y < x : b[c] < a[c];
    return descending ? greater : less;
  });
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The columns a text takes in a terminal: its UTF-8 code points (a "±" is one, not two bytes).
size_t text_width(const std::string& s) {
  return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string markdown_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

std::vector<std::filesystem::path> find_runs(const std::vector<std::filesystem::path>& paths,
                                             std::vector<Skipped>* unlisted) {
  namespace fs = std::filesystem;
  std::set<fs::path> found;
  std::vector<Skipped> not_listed;
  for (const fs::path& path : paths) {
    const size_t before = found.size(), skipped_before = not_listed.size();
    if (fs::is_regular_file(path)) {
      found.insert(fs::weakly_canonical(path));
    } else if (fs::is_regular_file(path / "run.h5")) {
      found.insert(fs::weakly_canonical(path / "run.h5"));
    } else if (fs::is_directory(path)) {
      // Folder by folder, so that one that cannot be listed is named and the others still are.
      std::vector<fs::path> folders{path};
      while (!folders.empty()) {
        const fs::path folder = folders.back();
        folders.pop_back();
        std::error_code ec;
        fs::directory_iterator it(folder, ec);
        for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
          std::error_code type_ec;
          // Not into a symbolic link to a folder, as recursive_directory_iterator: no cycles.
          if (it->is_directory(type_ec) && !it->is_symlink(type_ec))
            folders.push_back(it->path());
          else if (it->path().filename() == "run.h5" && it->is_regular_file(type_ec))
            found.insert(fs::weakly_canonical(it->path()));
        }
        if (ec)
          not_listed.push_back({folder, folder.string() + ": cannot list the folder: " +
                                            ec.message()});
      }
    }
    if (found.size() == before && not_listed.size() == skipped_before)
      throw ConfigError(path.string() +
                        ": no run found (give a run.h5, a run directory, or a "
                        "folder that holds run directories)");
  }
  if (!not_listed.empty() && !unlisted) throw StorageError(not_listed.front().reason);
  if (unlisted) unlisted->insert(unlisted->end(), not_listed.begin(), not_listed.end());
  return {found.begin(), found.end()};
}

std::map<std::string, std::string> flatten_config(const std::string& toml_text) {
  std::map<std::string, std::string> out;
  try {
    flatten(toml::parse(toml_text), "", out);
    config::upgrade_flat_config(out);
  } catch (const toml::parse_error& e) {
    throw StorageError(std::string("the run's /config is not valid TOML: ") +
                       std::string(e.description()));
  }
  return out;
}

Run load_run(const std::filesystem::path& run_h5) {
  Run run{run_h5, read_run(run_h5), {}};
  run.config = flatten_config(run.log.config_toml);
  return run;
}

LoadedRuns load_runs(const std::vector<std::filesystem::path>& paths) {
  LoadedRuns loaded;
  const std::vector<std::filesystem::path> files = find_runs(paths, &loaded.skipped);
  for (const auto& file : files) {
    throw_if_interrupted();
    try {
      loaded.runs.push_back(load_run(file));
    } catch (const Error& e) {
      const std::string what = e.what();
      // The store's messages name the file; an error that does not is given its name here.
      loaded.skipped.push_back(
          {file, what.find(file.string()) == std::string::npos ? file.string() + ": " + what
                                                               : what});
    }
  }
  if (loaded.runs.empty()) {
    std::string all;
    for (const Skipped& s : loaded.skipped) all += "\n  " + s.reason;
    throw StorageError("no run could be read:" + all);
  }
  return loaded;
}

RunRefs refs(const std::vector<Run>& runs) {
  RunRefs out;
  out.reserve(runs.size());
  for (const Run& r : runs) out.push_back(&r);
  return out;
}

std::vector<std::string> differing_keys(const RunRefs& runs) {
  std::vector<std::string> out;
  for (const auto& key : config_keys(runs)) {
    const std::string* first = nullptr;
    bool differs = false;
    for (const Run* r : runs) {
      auto it = r->config.find(key);
      if (it == r->config.end()) {
        differs = true;
        break;
      }
      if (!first)
        first = &it->second;
      else if (!same_value(*first, it->second))
        differs = true;
    }
    if (differs) out.push_back(key);
  }
  return out;
}

std::vector<SeedGroup> seed_groups(const RunRefs& runs) {
  std::vector<std::string> keys = differing_keys(runs);
  std::erase(keys, std::string(seed_key));
  std::vector<SeedGroup> groups;
  std::map<std::string, size_t> index;
  for (const Run* run : runs) {
    std::string label;
    // Keys the run does not have are left out: a gqa run's n_kv_head says nothing of causal_mha.
    for (const auto& key : keys) {
      auto it = run->config.find(key);
      if (it != run->config.end()) label += (label.empty() ? "" : " ") + key + "=" + it->second;
    }
    auto [it, fresh] = index.emplace(label, groups.size());
    if (fresh) groups.push_back({label.empty() ? run->log.run : label, {}});
    groups[it->second].runs.push_back(run);
  }
  return groups;
}

Metric parse_metric(const std::string& name) {
  // The group and the name of a column each follow the rule of recorded metrics' names.
  const size_t slash = name.find('/');
  if (slash == std::string::npos || !metric_name_problem(name.substr(0, slash)).empty() ||
      !metric_name_problem(name.substr(slash + 1)).empty())
    throw ConfigError("--metric '" + name +
                      "': expected group/name, as val/loss, train/grad_norm or loss/z_loss "
                      "(the columns of /metrics in run.h5, docs/run-format.md)");
  return {name, name == "val/accuracy" || name == "train/tokens_per_s"};
}

namespace {
// The metrics of the train and val rows, which every run logs.
const std::vector<std::string>& builtin_metrics() {
  static const std::vector<std::string> builtin = {
      "val/loss", "val/accuracy",    "val/train_loss",    "train/loss",
      "train/lr", "train/grad_norm", "train/tokens_per_s"};
  return builtin;
}
bool builtin_metric(const std::string& m) {
  const auto& all = builtin_metrics();
  return std::find(all.begin(), all.end(), m) != all.end();
}
}  // namespace

double last_value(const RunLog& log, const Metric& metric) {
  const std::vector<Point> points = metric_points(log, metric);
  for (auto it = points.rbegin(); it != points.rend(); ++it)
    if (!std::isnan(it->value)) return it->value;
  return NAN;
}

void require_metric(const RunRefs& runs, const Metric& metric) {
  for (const Run* r : runs)
    if (!std::isnan(last_value(r->log, metric))) return;
  if (builtin_metric(metric.name)) return;  // a known column that no run has logged yet
  std::set<std::string> all;
  for (const Run* r : runs)
    for (const auto& [name, series] : r->log.metrics) all.insert(name);
  std::string names;
  for (const auto& n : all) names += (names.empty() ? "" : ", ") + n;
  throw ConfigError("metric '" + metric.name + "': no run recorded it (the runs have: " + names +
                    ")");
}

std::vector<Point> metric_points(const RunLog& log, const Metric& metric) {
  std::vector<Point> out;
  const std::string& m = metric.name;
  if (!builtin_metric(m)) {
    auto it = log.metrics.find(m);
    if (it == log.metrics.end()) return out;
    for (size_t i = 0; i < it->second.steps.size(); ++i)
      out.push_back({it->second.steps[i], it->second.values[i]});
  } else if (m.rfind("val/", 0) == 0) {
    for (const ValRow& r : log.val) out.push_back({r.step, val_column(r, m)});
  } else {
    for (const TrainRow& r : log.train)
      out.push_back({r.step, m == "train/loss"        ? r.loss
                             : m == "train/lr"        ? r.lr
                             : m == "train/grad_norm" ? r.grad_norm
                                                      : r.tokens_per_s});
  }
  return out;
}

void add_where(CompareOptions& options, const std::string& clause) {
  const std::string examples =
      ", e.g. --where optimizer.lr=3e-4,1e-3, --where 'model.n_layer>=4' or --where 'val/loss<2'";
  const auto trim = [](std::string s) {
    s.erase(0, s.find_first_not_of(' '));
    s.erase(s.find_last_not_of(' ') + 1);
    return s;
  };
  const size_t at = clause.find_first_of("<>=!");
  const bool two = at != std::string::npos && at + 1 < clause.size() && clause[at + 1] == '=';
  Where w;
  if (at != std::string::npos)
    w = {trim(clause.substr(0, at)), clause.substr(at, two ? 2 : 1), {}};
  if (w.op == "==") w.op = "=";
  if (w.key.empty() || w.op == "!")
    throw ConfigError("--where '" + clause +
                      "': expected KEY OP VALUE with OP one of = != < <= > >=" + examples);
  const bool metric = w.key.find('/') != std::string::npos;
  if (metric) parse_metric(w.key);  // a name that cannot be a metric is an error here
  const std::string rest = clause.substr(at + (two ? 2 : 1));
  if (w.op == "=" || w.op == "!=") {
    std::stringstream in(rest);
    for (std::string v; std::getline(in, v, ',');) w.values.push_back(trim(v));
  } else {
    w.values = {trim(rest)};
  }
  if (w.values.empty())
    throw ConfigError("--where '" + clause + "': expected a value after " + w.op + examples);
  double number;
  for (const auto& v : w.values)
    if ((metric || (w.op != "=" && w.op != "!=")) && !parse_number(v, number))
      throw ConfigError("--where '" + clause + "': expected a number after " + w.op + ", not '" +
                        v + "'" + examples);
  options.where.push_back(std::move(w));
}

void add_baseline(CompareOptions& options, const std::string& clause) {
  const size_t eq = clause.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == clause.size())
    throw ConfigError("--baseline '" + clause +
                      "': expected KEY=VALUE, the configuration of the seed group the others are "
                      "tested against, e.g. --baseline optimizer.lr=1e-3");
  options.baseline.emplace_back(clause.substr(0, eq), clause.substr(eq + 1));
  options.group_seeds = true;
}

namespace {

// The clause as it was typed, for messages.
std::string where_text(const Where& w) {
  std::string values;
  for (const auto& v : w.values) values += (values.empty() ? "" : ",") + v;
  return w.key + w.op + values;
}

// ConfigError unless some run has the clause's key: a config key, `status`, or a metric that a
// run recorded or that every run logs.
void require_key(const RunRefs& runs, const Where& w) {
  if (w.key == "status") return;
  const bool metric = w.key.find('/') != std::string::npos;
  if (metric && builtin_metric(w.key)) return;
  for (const Run* r : runs)
    if (metric ? r->log.metrics.count(w.key) > 0 : r->config.count(w.key) > 0) return;
  std::vector<std::string> names = config_keys(runs);
  names.push_back("status");
  std::set<std::string> metrics(builtin_metrics().begin(), builtin_metrics().end());
  for (const Run* r : runs)
    for (const auto& [name, series] : r->log.metrics) metrics.insert(name);
  names.insert(names.end(), metrics.begin(), metrics.end());
  throw ConfigError("--where '" + where_text(w) + "': no run has the config key or metric '" +
                    w.key + "'" + nearest_hint(w.key, names));
}

bool passes(const Run& run, const Where& w) {
  std::string text;
  double number = NAN;
  if (w.key.find('/') != std::string::npos) {
    number = last_value(run.log, parse_metric(w.key));
    if (std::isnan(number)) return false;
    text = exact_text(number);
  } else if (w.key == "status") {
    text = run.log.status;
  } else {
    const auto it = run.config.find(w.key);
    if (it == run.config.end()) return false;
    text = it->second;
    if (!parse_number(text, number)) number = NAN;
  }
  if (w.op == "=" || w.op == "!=") {
    const bool any = std::any_of(w.values.begin(), w.values.end(),
                                 [&](const std::string& v) { return same_value(v, text); });
    return any == (w.op == "=");
  }
  double value = 0;
  parse_number(w.values.front(), value);  // add_where checked it
  // NaN (a value that is not a number) passes no comparison.
  return w.op == "<"    ? number < value
         : w.op == "<=" ? number <= value
         : w.op == ">"  ? number > value
                        : number >= value;
}

}  // namespace

std::vector<Run> filter_runs(std::vector<Run> runs, const CompareOptions& options) {
  for (const Where& w : options.where) require_key(refs(runs), w);
  std::erase_if(runs, [&](const Run& run) {
    return !std::all_of(options.where.begin(), options.where.end(),
                        [&](const Where& w) { return passes(run, w); });
  });
  return runs;
}

namespace {

// The group that every --baseline clause names, after the checks that make its tests meaningful:
// each key is one the runs have (not the seed, which varies within a group), exactly one group
// matches, and every group has at least two values of the metric's best (values[g][best_column]).
size_t baseline_group(const RunRefs& runs, const std::vector<SeedGroup>& groups,
                      const std::vector<std::vector<std::vector<double>>>& values,
                      const CompareOptions& options) {
  std::string named;
  for (const auto& [key, value] : options.baseline)
    named += (named.empty() ? "" : " ") + key + "=" + value;
  const std::string what = "--baseline " + named + ": ";
  const std::vector<std::string> keys = config_keys(runs);
  for (const auto& [key, value] : options.baseline) {
    if (key == seed_key)
      throw ConfigError(what + "experiment.seed varies within a seed group; name the baseline by "
                               "a key that differs between groups");
    if (!std::binary_search(keys.begin(), keys.end(), key))
      throw ConfigError(what + "no run has the key '" + key + "'" + nearest_hint(key, keys));
  }
  std::vector<size_t> matches;
  std::string labels;
  for (size_t g = 0; g < groups.size(); ++g) {
    labels += (labels.empty() ? "" : "; ") + groups[g].label;
    const auto& config = groups[g].runs.front()->config;
    if (std::all_of(options.baseline.begin(), options.baseline.end(), [&](const auto& clause) {
          auto it = config.find(clause.first);
          return it != config.end() && same_value(it->second, clause.second);
        }))
      matches.push_back(g);
  }
  if (matches.empty())
    throw ConfigError(what + "no seed group has it (the groups: " + labels + ")");
  if (matches.size() > 1) {
    std::string which;
    for (size_t g : matches) which += (which.empty() ? "" : "; ") + groups[g].label;
    throw ConfigError(what + std::to_string(matches.size()) + " seed groups have it (" + which +
                      "): add a --baseline KEY=VALUE that only one of them has");
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    const size_t n = spread(values[g][best_column]).n;
    if (n < 2)
      throw ConfigError(what + "the group " + groups[g].label + " has " + std::to_string(n) +
                        " value(s) of best " + options.metric.name +
                        "; Welch's t-test needs at least 2 per group: add seeds, or leave the "
                        "group out with --where");
  }
  return matches.front();
}

}  // namespace

Table compare_table(const RunRefs& runs, const CompareOptions& options) {
  std::vector<std::string> keys = options.all_keys ? config_keys(runs) : differing_keys(runs);
  Table t;
  require_metric(runs, options.metric);
  std::vector<std::string> numbers = number_columns(options.metric);
  // --sort by a metric that is not a column: a column of each run's last value of it.
  const std::string sort_name =
      !options.sort.empty() && options.sort[0] == '-' ? options.sort.substr(1) : options.sort;
  std::optional<Metric> sort_metric;
  // (A column's name has a space: "best val/loss", "best val/loss mean".)
  if (sort_name.find('/') != std::string::npos && sort_name.find(' ') == std::string::npos) {
    sort_metric = parse_metric(sort_name);
    require_metric(runs, *sort_metric);
    numbers.push_back(sort_name);
  }
  const auto numbers_with_sort = [&](const RunLog& log) {
    std::vector<double> v = as_vector(numbers_of(log, options.metric));
    if (sort_metric) v.push_back(last_value(log, *sort_metric));
    return v;
  };
  if (!options.group_seeds) {
    t.columns = {"run", "status"};
    t.columns.insert(t.columns.end(), keys.begin(), keys.end());
    t.first_number = t.columns.size();
    t.columns.insert(t.columns.end(), numbers.begin(), numbers.end());
    for (const Run* r : runs) {
      std::vector<std::string> row = {r->log.run, r->log.status};
      for (const auto& key : keys) {
        auto it = r->config.find(key);
        row.push_back(it == r->config.end() ? "" : it->second);
      }
      for (double v : numbers_with_sort(r->log)) row.push_back(number_text(v));
      t.rows.push_back(std::move(row));
    }
  } else {
    std::erase(keys, std::string(seed_key));
    const std::vector<SeedGroup> groups = seed_groups(runs);
    t.columns = {"group", "runs", "seeds"};  // runs: the names of the group's runs
    if (!options.baseline.empty()) t.columns.push_back("baseline");
    t.columns.insert(t.columns.end(), keys.begin(), keys.end());
    t.first_number = t.columns.size();
    t.columns.push_back("n");
    std::vector<std::string> stats = {" mean", " std", " ci95"};
    if (!options.baseline.empty()) stats.insert(stats.end(), {" p", " g"});
    for (const auto& c : numbers)
      for (const auto& stat : stats) t.columns.push_back(c + stat);
    // values[group][number]: the number of each run of the group
    std::vector<std::vector<std::vector<double>>> values(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) {
      values[g].resize(numbers.size());
      for (const Run* r : groups[g].runs) {
        const std::vector<double> v = numbers_with_sort(r->log);
        for (size_t c = 0; c < numbers.size(); ++c) values[g][c].push_back(v[c]);
      }
    }
    const std::optional<size_t> base =
        options.baseline.empty() ? std::nullopt
                                 : std::optional(baseline_group(runs, groups, values, options));
    for (size_t g = 0; g < groups.size(); ++g) {
      const auto& members = groups[g].runs;
      std::string names, seeds;
      for (const Run* r : members) {
        names += (names.empty() ? "" : " ") + r->log.run;
        auto it = r->config.find(seed_key);
        seeds += (seeds.empty() ? "" : " ") + (it == r->config.end() ? "" : it->second);
      }
      std::vector<std::string> row = {groups[g].label, names, seeds};
      if (base) row.push_back(g == *base ? "yes" : "");
      for (const auto& key : keys) {
        auto it = members.front()->config.find(key);
        row.push_back(it == members.front()->config.end() ? "" : it->second);
      }
      row.push_back(std::to_string(members.size()));
      // Every digit (spread_cells rounds them for reading).
      for (size_t c = 0; c < numbers.size(); ++c) {
        const Spread s = spread(values[g][c]);
        for (double v : {s.mean, s.sd, s.ci95}) row.push_back(exact_text(v));
        if (!base) continue;
        const bool other = g != *base;
        row.push_back(other ? exact_text(welch_t_test(values[g][c], values[*base][c]).p) : "");
        row.push_back(other ? exact_text(hedges_g(values[g][c], values[*base][c])) : "");
      }
      t.rows.push_back(std::move(row));
    }
  }
  sort_table(t, sort_metric && options.group_seeds
                    ? (options.sort[0] == '-' ? "-" : "") + sort_name + " mean"
                    : options.sort);
  return t;
}

Table spread_cells(const Table& table, const Metric& metric) {
  if (table.columns.empty() || table.columns[0] != "group") return table;
  const auto ends_with = [](const std::string& s, const std::string& end) {
    return s.size() > end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
  };
  const std::string best = "best " + metric.name;
  // Each column of the result: a text column as it is, a number (a mean, with its std), or
  // one of the metric's statistics.
  enum class Kind { text, number, statistic };
  struct Source {
    std::string name;
    size_t column;
    Kind kind;
    std::optional<size_t> sd;
  };
  std::vector<Source> sources;
  Table out;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const std::string& name = table.columns[c];
    if (name == "runs" && c < table.first_number) continue;  // the seeds and n say it shorter
    if (c <= table.first_number) {  // the group's text columns, then n
      if (c == table.first_number) out.first_number = sources.size();
      sources.push_back({name, c, Kind::text, std::nullopt});
    } else if (ends_with(name, " mean")) {
      const std::string number = name.substr(0, name.size() - 5);
      const bool paired = c + 1 < table.columns.size() && table.columns[c + 1] == number + " std";
      sources.push_back({number, c, Kind::number, paired ? std::optional(c + 1) : std::nullopt});
    } else if (!ends_with(name, " std") && name.rfind(best + " ", 0) == 0) {
      sources.push_back({name, c, Kind::statistic, std::nullopt});  // the metric's ci95, p, g
    }
  }
  for (const Source& s : sources) out.columns.push_back(s.name);
  // A mean to 6 significant digits, as the other tables print numbers; a std, interval, p or g
  // to 3, which is all the seeds can tell (a whole number or one of 100 and more in full).
  const auto rounded = [](const std::string& cell, int digits) {
    double v;
    if (!parse_number(cell, v)) return cell;
    if (digits == 6 || v == std::trunc(v)) return number_text(v);
    char buf[32];
    std::snprintf(buf, sizeof buf, std::fabs(v) >= 100 ? "%.0f" : "%.3g", v);
    return std::string(buf);
  };
  for (const auto& row : table.rows) {
    std::vector<std::string>& cells = out.rows.emplace_back();
    for (const Source& s : sources) {
      const std::string& cell = row[s.column];
      if (s.kind == Kind::text)
        cells.push_back(cell);
      else if (s.kind == Kind::statistic)
        cells.push_back(rounded(cell, 3));
      else if (!s.sd || cell.empty() || row[*s.sd].empty())
        cells.push_back(rounded(cell, 6));
      else
        cells.push_back(rounded(cell, 6) + " ± " + rounded(row[*s.sd], 3));
    }
  }
  return out;
}

Table diff_table(const Run& a, const Run& b, bool only_differ) {
  Table t;
  t.columns = {"differs", "section", "key", a.log.run, b.log.run};
  if (a.log.run == b.log.run) {  // same run name in two experiments or folders
    t.columns[3] = a.file.parent_path().string();
    t.columns[4] = b.file.parent_path().string();
  }
  t.first_number = t.columns.size();
  // `differs` compares the values themselves: two uncommitted diffs with the same first line.
  auto add = [&](const std::string& section, const std::string& key, const std::string& in_a,
                 const std::string& in_b, bool differs) {
    if (differs || !only_differ)
      t.rows.push_back({differs ? "*" : "", section, key, in_a, in_b});
  };
  auto value = [](const auto& map, const std::string& key) -> std::string {
    auto it = map.find(key);
    return it == map.end() ? "" : it->second;
  };
  for (const auto& key : differing_keys({&a, &b}))
    add("config", key, value(a.config, key), value(b.config, key), true);
  auto plugins_of = [](const RunLog& log) {
    std::map<std::string, std::string> m;
    for (const PluginRecord& p : log.plugins)
      m[p.kind] = p.name + " " + p.version + " sha256:" + p.sha256.substr(0, 12);
    return m;
  };
  const auto pa = plugins_of(a.log), pb = plugins_of(b.log);
  std::set<std::string> kinds;
  for (const auto& m : {pa, pb})
    for (const auto& [k, v] : m) kinds.insert(k);
  for (const auto& k : kinds)
    add("plugin", k, value(pa, k), value(pb, k), value(pa, k) != value(pb, k));
  // A multi-line value (the uncommitted diff) would break every format's rows.
  auto one_line = [](const std::string& v) {
    const size_t nl = v.find('\n');
    if (nl == std::string::npos) return v;
    const size_t lines = size_t(std::count(v.begin(), v.end(), '\n')) + (v.back() != '\n');
    return v.substr(0, nl) + " (" + std::to_string(lines) + " lines)";
  };
  std::set<std::string> meta;
  for (const auto& m : {a.log.meta, b.log.meta})
    for (const auto& [k, v] : m) meta.insert(k);
  for (const auto& k : meta) {
    const std::string in_a = value(a.log.meta, k), in_b = value(b.log.meta, k);
    add("meta", k, one_line(in_a), one_line(in_b), in_a != in_b);
  }
  std::set<std::string> metrics;
  for (const auto& m : {a.log.summary, b.log.summary})
    for (const auto& [k, v] : m) metrics.insert(k);
  auto metric = [](const NumericAttrs& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::string() : number_text(it->second);
  };
  for (const auto& k : metrics) {
    const std::string in_a = metric(a.log.summary, k), in_b = metric(b.log.summary, k);
    add("summary", k, in_a, in_b, in_a != in_b);
  }
  return t;
}

Format parse_format(const std::string& name) {
  if (name == "table") return Format::table;
  if (name == "csv") return Format::csv;
  if (name == "json") return Format::json;
  if (name == "markdown") return Format::markdown;
  throw ConfigError("--format '" + name + "': expected table, csv, json or markdown");
}

std::string render(const Table& table, Format format) {
  std::string out;
  switch (format) {
    case Format::table: {
      std::vector<size_t> width(table.columns.size());
      for (size_t c = 0; c < width.size(); ++c) {
        width[c] = text_width(table.columns[c]);
        for (const auto& row : table.rows) width[c] = std::max(width[c], text_width(row[c]));
      }
      auto line = [&](const std::vector<std::string>& cells) {
        std::string l;
        for (size_t c = 0; c < cells.size(); ++c) {
          l += cells[c] + std::string(width[c] - text_width(cells[c]), ' ');
          if (c + 1 < cells.size()) l += "  ";
        }
        while (!l.empty() && l.back() == ' ') l.pop_back();
        return l + "\n";
      };
      out += line(table.columns);
      std::vector<std::string> rule;
      for (size_t w : width) rule.push_back(std::string(w, '-'));
      out += line(rule);
      for (const auto& row : table.rows) out += line(row);
      break;
    }
    case Format::csv:
      for (size_t c = 0; c < table.columns.size(); ++c)
        out.append(c ? "," : "").append(csv_cell(table.columns[c]));
      out += "\n";
      for (const auto& row : table.rows) {
        for (size_t c = 0; c < row.size(); ++c) out.append(c ? "," : "").append(csv_cell(row[c]));
        out += "\n";
      }
      break;
    case Format::json: {
      json::Json rows = json::Json::array();
      for (const auto& row : table.rows) {
        json::Json& object = rows.emplace_back(json::Json::object());
        for (size_t c = 0; c < table.columns.size(); ++c) {
          const std::string& cell = row[c];
          double v;
          // Config values stay text (a run name "1" is still a name); metrics are numbers.
          const bool numeric_column = c >= table.first_number;
          if (cell.empty())
            object[table.columns[c]] = nullptr;
          else if (!numeric_column || !parse_number(cell, v))
            object[table.columns[c]] = cell;
          else if (v == std::trunc(v) && std::abs(v) < 1e15)  // a count stays an integer
            object[table.columns[c]] = int64_t(v);
          else
            object[table.columns[c]] = v;
        }
      }
      out += json::dump(rows, 1) + "\n";
      break;
    }
    case Format::markdown:
      out += "|";
      for (const auto& c : table.columns) out.append(" ").append(markdown_cell(c)).append(" |");
      out += "\n|";
      for (size_t c = 0; c < table.columns.size(); ++c) out += " --- |";
      out += "\n";
      for (const auto& row : table.rows) {
        out += "|";
        for (const auto& cell : row) out.append(" ").append(markdown_cell(cell)).append(" |");
        out += "\n";
      }
      break;
  }
  return out;
}

}  // namespace nanolab::report
