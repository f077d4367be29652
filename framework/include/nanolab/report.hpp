// Comparing runs: finding run logs, the table of what differs between them, its text formats, and
// the SVG plot of a metric (compare --plot); the page of `nanolab report`. Used by `nanolab compare`
// and `nanolab report` (docs/compare.md).
//
// Everything here works on RunLogs from read_run (run_store.hpp): it never reads HDF5 itself and
// never writes a run. The configuration is compared as flat dotted keys ("optimizer.lr") whose
// values are the TOML value as text, so that a key differs exactly when its text differs.
#pragma once

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
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

// Runs by address, as the functions below take them, so that a caller that holds its runs
// elsewhere (the index of `nanolab serve`) compares them without copying their rows.
using RunRefs = std::vector<const Run*>;
NANOLAB_VISIBLE RunRefs refs(const std::vector<Run>& runs);

// The configuration keys whose value is not the same in every run (a key missing from some runs
// differs too).
NANOLAB_VISIBLE std::vector<std::string> differing_keys(const RunRefs& runs);

// Runs that differ only in experiment.seed, in the order of their first run. The label names the
// differing keys other than the seed that the run has ("optimizer.lr=0.001"), or the first run
// for a single group.
struct SeedGroup {
  std::string label;
  std::vector<const Run*> runs;
};
NANOLAB_VISIBLE std::vector<SeedGroup> seed_groups(const RunRefs& runs);

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
NANOLAB_VISIBLE void require_metric(const RunRefs& runs, const Metric& metric);

// One --where clause: a configuration key, `status`, or a metric (group/name: its last value)
// compared with values. `=` passes a run whose value is one of `values` (OR), `!=` one whose value
// is none of them; `<`, `<=`, `>`, `>=` compare numbers, with one value. Two values are equal when
// their text is, or when both are the same number (3e-4 and 0.0003).
struct Where {
  std::string key;
  std::string op;  // =, !=, <, <=, >, >=
  std::vector<std::string> values;
};

struct CompareOptions {
  Metric metric{"val/loss", false};
  // A column name, or a metric (group/name: a column of its last values is added); a leading '-'
  // sorts descending; empty: the input order.
  std::string sort;
  std::vector<Where> where;  // AND
  bool all_keys = false;
  bool group_seeds = false;  // one row per set of runs that differ only in experiment.seed
  // KEY=VALUE pairs (AND) naming the baseline seed group: every other group is tested against it.
  std::vector<std::pair<std::string, std::string>> baseline;
};

// A table of text cells; a numeric cell is written so that it parses back as a number, an absent
// value is the empty string.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  size_t first_number = 0;  // columns from here on hold metrics (JSON writes them as numbers)
};

// Parses a --where clause into CompareOptions::where: `key=value[,value...]`,
// `key!=value[,value...]`, or `key<value` (<=, >, >=) where the value is a number, as is every
// value compared with a metric. A ConfigError says what is wrong with it.
NANOLAB_VISIBLE void add_where(CompareOptions& options, const std::string& clause);
// Parses a --baseline clause, KEY=VALUE, into CompareOptions::baseline and sets group_seeds.
NANOLAB_VISIBLE void add_baseline(CompareOptions& options, const std::string& clause);
// The runs that pass every clause of options.where. A run without the key or metric does not pass,
// nor does a value that is not a number in a comparison of numbers. A key that no run has, as a
// config key, `status` or a metric, is a ConfigError naming the nearest ones the runs have.
NANOLAB_VISIBLE std::vector<Run> filter_runs(std::vector<Run> runs, const CompareOptions& options);
// One row per run; or with group_seeds one row per seed group: group, runs, seeds, the keys that
// differ, `n` (its runs), then for every number `<number> mean`, `<number> std`, `<number> ci95`
// (spread() over the runs that have it) and, with a baseline, `baseline` (yes on its row) and
// `<number> p` (Welch's t-test) and `<number> g` (Hedges' g, the group minus the baseline) for
// the other groups. A baseline that names no key the runs have, no group or several, or a
// group with fewer than two values of the metric is a ConfigError.
NANOLAB_VISIBLE Table compare_table(const RunRefs& runs, const CompareOptions& options);
// A seed-group table of compare_table for reading (the table and markdown formats, the report
// page): without the run names (seeds and n remain), each number's mean and std in one cell under
// the number's name, "1.5 ± 0.707" (the mean alone when there is no std), and the ci95, p and g
// columns of the best value of `metric` only; means to 6 significant digits, the statistics to 3.
// Any other table is returned as it is.
NANOLAB_VISIBLE Table spread_cells(const Table& table, const Metric& metric);

// Two runs side by side: columns differs ("*" on a row whose two values differ, else empty),
// section, key, <run A>, <run B>; sections "config" (the keys that differ), "plugin" (every
// kind: name, version, sha256), "meta" (every provenance attribute: git commit, dirty flag,
// library versions...; a multi-line value such as the git diff appears as its first line and a
// line count, and differs when any line does) and "summary" (every metric, as printed). With
// `only_differ`, the rows that differ only.
NANOLAB_VISIBLE Table diff_table(const Run& a, const Run& b, bool only_differ = false);

enum class Format { table, csv, json, markdown };
NANOLAB_VISIBLE Format parse_format(const std::string& name);
NANOLAB_VISIBLE std::string render(const Table& table, Format format);

// ---- statistics (stats.cpp) ----
// Over the runs of a group; NaN values (a run without the number) are left out, and what cannot
// be computed is NaN. Held to SciPy to 1e-6 by the tests.

struct Spread {
  size_t n = 0;       // values
  double mean = NAN;  // n >= 1
  double sd = NAN;    // sample standard deviation (n - 1): the seeds are a sample; n >= 2
  // Half-width of the 95 % confidence interval of the mean, Student's t:
  // t.ppf(0.975, n - 1) * sd / sqrt(n); n >= 2.
  double ci95 = NAN;
};
NANOLAB_VISIBLE Spread spread(const std::vector<double>& values);

// The p-quantile of Student's t distribution with `dof` degrees of freedom, which need not be
// whole (scipy.stats.t.ppf); NaN unless 0 < p < 1 and dof > 0.
NANOLAB_VISIBLE double student_t_quantile(double p, double dof);

// Welch's t-test of mean(a) = mean(b), not assuming equal variances, two-sided: t, the
// Welch-Satterthwaite degrees of freedom and p, as scipy.stats.ttest_ind(a, b, equal_var=False),
// its edge cases included (no spread in either group: p = 0 for different means, NaN for equal
// ones). NaN when a group has fewer than 2 values.
struct Welch {
  double t = NAN, dof = NAN, p = NAN;
};
NANOLAB_VISIBLE Welch welch_t_test(const std::vector<double>& a, const std::vector<double>& b);

// The effect size of a against b: Hedges' g, (mean(a) - mean(b)) / s_pooled x (1 - 3 / (4 (na +
// nb) - 9)), where s_pooled = sqrt(((na - 1) var(a) + (nb - 1) var(b)) / (na + nb - 2)); Cohen's
// d corrected for its bias on few samples. NaN when a group has fewer than 2 values or s_pooled
// is 0.
NANOLAB_VISIBLE double hedges_g(const std::vector<double>& a, const std::vector<double>& b);

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

// One self-contained HTML page, the dashboard of `nanolab serve` (docs/compare.md) with its script,
// style and charting library inlined and the runs embedded as JSON (curves downsampled to about a
// pixel each), which opens offline with no server: the charts of every metric, the runs table,
// scatter, configuration diff and samples, and the compare table of `options` (its seed-group
// statistics with group_seeds). Every text from a run is escaped.
NANOLAB_VISIBLE std::string report_page(const std::vector<Run>& runs,
                                        const CompareOptions& options);
// Writes `text` to `file` (StorageError naming it on failure).
NANOLAB_VISIBLE void write_text(const std::filesystem::path& file, const std::string& text);

}  // namespace nanolab::report
