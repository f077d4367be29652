// Comparing runs: finding run logs, the table of what differs between them, its text formats, and
// the SVG plot of a metric. Used by `nanolab compare` and `nanolab report` (docs/compare.md).
//
// Everything here works on RunLogs from read_run (run_store.hpp): it never reads HDF5 itself and
// never writes a run. The configuration is compared as flat dotted keys ("optimizer.lr") whose
// values are the TOML value as text, so that a key differs exactly when its text differs.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "nanolab/errors.hpp"
#include "nanolab/run_store.hpp"

namespace nanolab::report {

// A file or folder that was not read, and why (the error's message, which names it).
struct Skipped {
  std::filesystem::path path;
  std::string reason;
};

// The run.h5 files under each path: a run.h5 itself, a run directory, or a folder searched
// recursively. Sorted, without duplicates; a path that holds none is a ConfigError naming it. A
// folder inside that cannot be listed is added to `unlisted` (then a path that holds no run is no
// error), or is a StorageError naming it when `unlisted` is null.
NANOLAB_VISIBLE std::vector<std::filesystem::path> find_runs(
    const std::vector<std::filesystem::path>& paths, std::vector<Skipped>* unlisted = nullptr);

// TOML text -> dotted key -> value text: strings unquoted, numbers in their shortest text that
// reads back the same (0.003), arrays element by element in brackets ([0.9, 0.95]).
NANOLAB_VISIBLE std::map<std::string, std::string> flatten_config(const std::string& toml_text);

struct Run {
  std::filesystem::path file;
  RunLog log;
  std::map<std::string, std::string> config;  // flatten_config(log.config_toml)
};
NANOLAB_VISIBLE Run load_run(const std::filesystem::path& run_h5);

// The runs of compare and report: load_run of every file find_runs(paths) gives, in its order.
// Readers keep going: a file that cannot be read (truncated, not HDF5, unreadable, not a run) and
// a folder that cannot be listed are skipped, with the reason, and the others are read. When
// nothing could be read, a StorageError names every file and its reason. A signal stops it
// between two files (Interrupted, nanolab/interrupt.hpp).
struct LoadedRuns {
  std::vector<Run> runs;
  std::vector<Skipped> skipped;
};
NANOLAB_VISIBLE LoadedRuns load_runs(const std::vector<std::filesystem::path>& paths);

// The configuration keys whose value is not the same in every run (a key missing from some runs
// differs too).
NANOLAB_VISIBLE std::vector<std::string> differing_keys(const std::vector<Run>& runs);

// Runs that differ only in experiment.seed, in the order of their first run. The label names the
// differing keys other than the seed that the run has ("optimizer.lr=0.001"), or the first run
// for a single group.
struct SeedGroup {
  std::string label;
  std::vector<const Run*> runs;
};
NANOLAB_VISIBLE std::vector<SeedGroup> seed_groups(const std::vector<Run>& runs);

// One point series of a metric, by group/name: "val/loss", "val/accuracy", "val/train_loss",
// "train/loss", "train/lr", "train/grad_norm", "train/tokens_per_s", or any column of /metrics a run
// recorded ("loss/z_loss", "train/grad_norm.h.0", "attention/entropy.h.1"). A name that is not
// group/name (letters, digits, '_', '.', '-') is a ConfigError; require_metric checks that some
// run has it. Best is the minimum, the maximum for accuracy and tokens/s.
struct Metric {
  std::string name;
  bool higher_is_better = false;  // accuracy: best is the maximum
};
NANOLAB_VISIBLE Metric parse_metric(const std::string& name);
struct Point {
  int64_t step;
  double value;
};
NANOLAB_VISIBLE std::vector<Point> metric_points(const RunLog& log, const Metric& metric);
// The last recorded value of the metric in the run; NaN when it has none.
NANOLAB_VISIBLE double last_value(const RunLog& log, const Metric& metric);
// ConfigError naming the metric and the metrics the runs have, unless one of the runs has a value.
NANOLAB_VISIBLE void require_metric(const std::vector<Run>& runs, const Metric& metric);

// A --where clause on a metric's last value: `loss/z_loss<0.01` (<, <=, >, >=, =).
struct MetricFilter {
  Metric metric;
  std::string op;
  double value;
};

struct CompareOptions {
  Metric metric{"val/loss", false};
  // A column name, or a metric (group/name: a column of its last values is added); a leading '-'
  // sorts descending; empty: the input order.
  std::string sort;
  // key -> accepted values (OR within a key, AND between keys); keys are config keys or "status".
  std::map<std::string, std::vector<std::string>> where;
  std::vector<MetricFilter> metric_where;  // AND with the above
  bool all_keys = false;
  bool group_seeds = false;  // one row per set of runs that differ only in experiment.seed
};

// A table of text cells; a numeric cell is written so that it parses back as a number, an absent
// value is the empty string.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  size_t first_number = 0;  // columns from here on hold metrics (JSON writes them as numbers)
};

// Parses `key=value[,value]` for CompareOptions::where (ConfigError without '='), or a metric's
// comparison `group/name<value` for CompareOptions::metric_where.
NANOLAB_VISIBLE void add_where(CompareOptions& options, const std::string& clause);
// The runs that pass options.where and options.metric_where (a run without a value of the
// metric does not pass).
NANOLAB_VISIBLE std::vector<Run> filter_runs(std::vector<Run> runs, const CompareOptions& options);
NANOLAB_VISIBLE Table compare_table(const std::vector<Run>& runs, const CompareOptions& options);

// Two runs side by side: columns section, key, <run A>, <run B>; sections "config" (the keys
// that differ), "plugin" (every kind: name, version, sha256), "meta" (every provenance attribute:
// git commit, dirty flag, library versions...; a multi-line value such as the git diff appears as
// its first line and a line count) and "summary" (every metric).
NANOLAB_VISIBLE Table diff_table(const Run& a, const Run& b);

enum class Format { table, csv, json, markdown };
NANOLAB_VISIBLE Format parse_format(const std::string& name);
NANOLAB_VISIBLE std::string render(const Table& table, Format format);

// ---- plots ----
enum class XAxis { step, tokens, wall };
NANOLAB_VISIBLE XAxis parse_x_axis(const std::string& name);

// x of each point: steps as they are, tokens as step x (B x T x grad_accum_steps) tokens per
// iteration, wall time as the elapsed_s of the last train row at or before the step.
NANOLAB_VISIBLE std::vector<double> x_values(const Run& run, const std::vector<Point>& points,
                                             XAxis axis);

struct Series {
  std::string label;
  std::vector<double> x, y;    // every point, in order
  std::vector<double> lo, hi;  // min..max band over a group's runs; empty for a single run
};
// One series per run, or per seed group when `group_seeds` (y is the mean over the group's runs at
// the steps all of them logged). `smooth` > 1 replaces y by the trailing mean of that many points.
NANOLAB_VISIBLE std::vector<Series> metric_series(const std::vector<Run>& runs,
                                                  const Metric& metric, XAxis x, bool group_seeds,
                                                  int smooth);

struct PlotOptions {
  std::string title, x_label, y_label;
  bool log_y = false;
  int width = 720, height = 420;
};
// A standalone <svg> element: one <polyline> per series, a <polygon> band per group, axes with
// ticks and labels, and a legend.
NANOLAB_VISIBLE std::string plot_svg(const std::vector<Series>& series, const PlotOptions& options);

NANOLAB_VISIBLE std::string html_escape(const std::string& text);

// One self-contained HTML page (inline CSS and SVG; no script, no network, no other file): the
// compare table, the curves of train loss, val loss and (where any run has it) val accuracy, the
// configuration keys that differ, and each run's samples. Every text from a run is escaped.
NANOLAB_VISIBLE std::string report_html(const std::vector<Run>& runs,
                                        const CompareOptions& options);
// Writes `text` to `file` (StorageError naming it on failure).
NANOLAB_VISIBLE void write_text(const std::filesystem::path& file, const std::string& text);

}  // namespace nanolab::report
