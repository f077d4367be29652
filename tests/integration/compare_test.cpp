// `nanolab compare`, `diff` and `report`, and tools/runs_to_pandas.py, end to end: run files
// written with the framework's RunWriter (known configs and known metric rows, no training, so
// every number in the output is known exactly), read back by the real programs; each output
// format is parsed back and its cells checked.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numbers>
#include <sstream>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/shell.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

struct FakeRun {
  std::string name;
  int seed = 1;
  std::string lr = "3e-3";
  std::vector<float> val_loss;       // at steps 0, 10, 20, ...
  std::string status = "completed";  // "running": write_run returns the open writer
  std::string sample = "1+1=2";
  std::string git_diff{};
};

// Writes <root>/<name>/run.h5 with a two-key-varying config; train loss at step s is 5 - s/100.
// A running run's writer is flushed and returned: the run stays "running" while it lives (a
// writer dropped without finish marks its run failed).
std::unique_ptr<RunWriter> write_run(const fs::path& root, const FakeRun& r) {
  RunWriter::Header h;
  h.experiment = "cmp";
  h.run = r.name;
  h.config_toml = "[experiment]\nname = \"cmp\"\nseed = " + std::to_string(r.seed) +
                  "\n[model]\nn_layer = 2\n[optimizer]\nplugin = \"adamw\"\nlr = " + r.lr +
                  "\n[data]\nbatch_size = 4\nblock_size = 8\n";
  h.meta = {{"git_commit", "abc123"}, {"git_diff", r.git_diff}, {"onednn_version", "2.6.3"}};
  h.plugins = {{"optimizer", "adamw", "1.0.0", "adamw.so", std::string(64, 'a')}};
  auto w = RunWriter::create(root / r.name, h);
  const int64_t steps = 10 * int64_t(r.val_loss.size() - 1);
  for (int64_t s = 0; s <= steps; ++s)
    w->train({s, 5.0f - float(s) / 100, 1e-3f, 1.0f, 1000.0f, float(s) * 0.5f});
  for (size_t i = 0; i < r.val_loss.size(); ++i)
    w->val({int64_t(i) * 10, r.val_loss[i], r.val_loss[i], float(i) / 10});
  w->sample(steps, r.sample);
  if (r.status == "running") {
    w->flush();
    return w;
  }
  w->finish(r.status, {{"params", 1234},
                       {"final_train_loss", 5.0 - double(steps) / 100},
                       {"tokens_seen", 32.0 * double(steps)},
                       {"wall_s", 0.5 * double(steps)}});
  return nullptr;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, sep);) out.push_back(item);
  return out;
}

// The rows of CSV output without quoted cells (the tests' values have no commas): header first.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& line : split(text, '\n')) {
    rows.push_back(split(line, ','));
    if (!line.empty() && line.back() == ',') rows.back().push_back("");  // getline drops it
  }
  return rows;
}

std::string cell(const std::vector<std::vector<std::string>>& csv, const std::string& run,
                 const std::string& column) {
  const auto& header = csv.at(0);
  const size_t c = size_t(std::find(header.begin(), header.end(), column) - header.begin());
  if (c == header.size()) return "<no column " + column + ">";
  for (size_t r = 1; r < csv.size(); ++r)
    if (csv[r].at(0) == run) return c < csv[r].size() ? csv[r][c] : "";
  return "<no run " + run + ">";
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class Compare : public ::testing::Test {
 protected:
  void SetUp() override {
    write_run(runs(), {"a", 1, "3e-3", {3.0f, 2.0f, 2.5f}});
    write_run(runs(), {"b", 2, "3e-3", {3.0f, 1.0f, 1.5f}});
    write_run(runs(), {"c", 1, "1e-3", {3.0f, 2.8f, 2.6f}});
  }
  fs::path runs() const { return tmp.path() / "runs"; }
  Outcome compare(std::vector<std::string> args) {
    args.insert(args.begin(), {"compare", runs().string()});
    return run_program(args, tmp.path());
  }
  TempDir tmp;
};

TEST_F(Compare, ShowsOnlyTheKeysThatDiffer) {
  const Outcome o = compare({"--format", "csv"});
  ASSERT_EQ(o.status, 0) << o.err;
  const auto csv = parse_csv(o.out);
  EXPECT_EQ(csv.at(0), (std::vector<std::string>{"run", "status", "experiment.seed", "optimizer.lr",
                                                 "params", "best val/loss", "best step",
                                                 "final train loss", "tokens/s", "wall s"}));
  ASSERT_EQ(csv.size(), 4u);
  EXPECT_EQ(cell(csv, "a", "optimizer.lr"), "0.003");
  EXPECT_EQ(cell(csv, "c", "optimizer.lr"), "0.001");
  EXPECT_EQ(cell(csv, "b", "best val/loss"), "1");
  EXPECT_EQ(cell(csv, "b", "best step"), "10");
  EXPECT_EQ(cell(csv, "c", "best val/loss"), "2.6");
  EXPECT_EQ(cell(csv, "c", "best step"), "20");
  EXPECT_EQ(cell(csv, "a", "final train loss"), "4.8");
  EXPECT_EQ(cell(csv, "a", "params"), "1234");
  // tokens_seen / wall_s = 32 x 20 / 10
  EXPECT_EQ(cell(csv, "a", "tokens/s"), "64");
  EXPECT_EQ(cell(csv, "a", "wall s"), "10");
}

TEST_F(Compare, AllKeysShowsTheSameKeysToo) {
  const Outcome o = compare({"--format", "csv", "--all-keys"});
  ASSERT_EQ(o.status, 0) << o.err;
  const auto csv = parse_csv(o.out);
  EXPECT_EQ(cell(csv, "a", "model.n_layer"), "2");
  EXPECT_EQ(cell(csv, "c", "optimizer.plugin"), "adamw");
  EXPECT_EQ(cell(csv, "c", "data.batch_size"), "4");
}

TEST_F(Compare, WhereFiltersWithOrWithinAKeyAndAndBetweenKeys) {
  Outcome o = compare({"--format", "csv", "--where", "optimizer.lr=0.003"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto csv = parse_csv(o.out);
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[1][0], "a");
  EXPECT_EQ(csv[2][0], "b");
  // Only the seed differs between a and b: the lr column is gone.
  EXPECT_EQ(cell(csv, "a", "optimizer.lr"), "<no column optimizer.lr>");

  o = compare(
      {"--format", "csv", "--where", "optimizer.lr=1e-3,3e-3", "--where", "experiment.seed=1"});
  ASSERT_EQ(o.status, 0) << o.err;
  csv = parse_csv(o.out);
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[1][0], "a");
  EXPECT_EQ(csv[2][0], "c");

  o = compare({"--where", "optimizer.lr=5"});
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("no run matches"), std::string::npos) << o.err;
}

TEST_F(Compare, WhereComparesConfigKeysAndMetrics) {
  auto kept = [&](const std::vector<std::string>& clauses) {
    std::vector<std::string> args = {"--format", "csv"};
    for (const auto& c : clauses) args.insert(args.end(), {"--where", c});
    const Outcome o = compare(args);
    EXPECT_EQ(o.status, 0) << o.err;
    std::string names;
    for (const auto& row : parse_csv(o.out)) names += row.at(0) + " ";
    return names;
  };
  EXPECT_EQ(kept({"optimizer.lr>=2e-3"}), "run a b ");
  EXPECT_EQ(kept({"optimizer.lr!=3e-3"}), "run c ");
  EXPECT_EQ(kept({"model.n_layer=2", "experiment.seed>1"}), "run b ");
  // The last val losses are 2.5, 1.5 and 2.6.
  EXPECT_EQ(kept({"val/loss<2"}), "run b ");
  EXPECT_EQ(kept({"val/loss!=1.5", "optimizer.lr<=0.003"}), "run a c ");

  // An unknown key: exit 2, one line naming the nearest keys and metrics; nothing on stdout.
  Outcome o = compare({"--where", "optimizer.lrr>=1e-3"});
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.err,
            "nanolab compare: error: --where 'optimizer.lrr>=1e-3': no run has the "
            "config key or metric 'optimizer.lrr' (did you mean optimizer.lr?)\n");
  EXPECT_EQ(o.out, "");
  o = compare({"--where", "val_loss<2"});
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("(did you mean val/loss?)"), std::string::npos) << o.err;
  o = compare({"--where", "optimizer.lr>fast"});
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("expected a number after >, not 'fast'"), std::string::npos) << o.err;
}

TEST_F(Compare, SortsByAColumnEitherWay) {
  auto first_runs = [&](const std::string& sort) {
    const Outcome o = compare({"--format", "csv", "--sort", sort});
    EXPECT_EQ(o.status, 0) << o.err;
    std::string names;
    for (const auto& row : parse_csv(o.out)) names += row.at(0) + " ";
    return names;
  };
  EXPECT_EQ(first_runs("best val/loss"), "run b a c ");
  EXPECT_EQ(first_runs("-best val/loss"), "run c a b ");
}

TEST_F(Compare, GroupSeedsGivesMeanSampleStdAndInterval) {
  const Outcome o = compare({"--format", "csv", "--group-seeds"});
  ASSERT_EQ(o.status, 0) << o.err;
  const auto csv = parse_csv(o.out);
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(cell(csv, "optimizer.lr=0.003", "runs"), "a b");
  EXPECT_EQ(cell(csv, "optimizer.lr=0.003", "seeds"), "1 2");
  EXPECT_EQ(cell(csv, "optimizer.lr=0.003", "n"), "2");
  // best val losses 2 and 1: mean 1.5, sample std sqrt(0.5), every digit; the interval's
  // half-width t.ppf(0.975, 1) x sqrt(0.5) / sqrt(2), where t with 1 degree of freedom is the
  // Cauchy distribution: t.ppf(0.975, 1) = tan(0.475 pi) exactly. (SciPy 1.10 gives
  // 12.706204736432095 for it, 2e-11 off; Boost.Math the exact value.)
  EXPECT_EQ(cell(csv, "optimizer.lr=0.003", "best val/loss mean"), "1.5");
  EXPECT_EQ(std::stod(cell(csv, "optimizer.lr=0.003", "best val/loss std")), std::sqrt(0.5));
  EXPECT_NEAR(std::stod(cell(csv, "optimizer.lr=0.003", "best val/loss ci95")),
              std::tan(0.475 * std::numbers::pi) / 2, 1e-12);
  // One run: a mean, no spread.
  EXPECT_EQ(cell(csv, "optimizer.lr=0.001", "n"), "1");
  EXPECT_EQ(std::stod(cell(csv, "optimizer.lr=0.001", "best val/loss mean")), double(2.6f));
  EXPECT_EQ(cell(csv, "optimizer.lr=0.001", "best val/loss std"), "");
  EXPECT_EQ(cell(csv, "optimizer.lr=0.001", "best val/loss ci95"), "");
  EXPECT_EQ(cell(csv, "optimizer.lr=0.001", "best val/loss p"), "<no column best val/loss p>");
}

TEST_F(Compare, GroupSeedsTablePrintsMeanAndStdInOneCell) {
  Outcome o = compare({"--group-seeds", "--format", "markdown"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto lines = split(o.out, '\n');
  ASSERT_EQ(lines.size(), 4u) << o.out;
  EXPECT_EQ(lines[0], "| group | seeds | optimizer.lr | n | params | best val/loss | "
                      "best val/loss ci95 | best step | final train loss | tokens/s | wall s |");
  // A mean to 6 digits, a std or interval to 3; one run has a mean alone.
  EXPECT_EQ(lines[2], "| optimizer.lr=0.003 | 1 2 | 0.003 | 2 | 1234 ± 0 | 1.5 ± 0.707 | 6.35 | "
                      "10 ± 0 | 4.8 ± 0 | 64 ± 0 | 10 ± 0 |");
  EXPECT_EQ(lines[3], "| optimizer.lr=0.001 | 1 | 0.001 | 1 | 1234 | 2.6 |  | 20 | 4.8 | 64 | 10 |");

  // The table's columns line up whatever the byte length of "±": the group's best step cell
  // starts in the header's column.
  o = compare({"--group-seeds"});
  ASSERT_EQ(o.status, 0) << o.err;
  lines = split(o.out, '\n');
  ASSERT_EQ(lines.size(), 4u) << o.out;
  auto column_of = [](const std::string& line, size_t bytes) {
    size_t n = 0;
    for (size_t i = 0; i < bytes; ++i) n += (line[i] & 0xC0) != 0x80;
    return n;
  };
  const size_t best_step = lines[2].find("  10 ± 0") + 2;
  ASSERT_LT(best_step, lines[2].size());
  EXPECT_EQ(column_of(lines[2], best_step), lines[0].find("best step")) << o.out;
}

TEST_F(Compare, BadBaselinesExit2WithOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--baseline", "lr"}, "--baseline 'lr': expected KEY=VALUE"},
      {{"--baseline", "optimizr.lr=1e-3"},
       "--baseline optimizr.lr=1e-3: no run has the key 'optimizr.lr' (did you mean "
       "optimizer.lr?)"},
      {{"--baseline", "optimizer.lr=5"},
       "--baseline optimizer.lr=5: no seed group has it (the groups: optimizer.lr=0.003; "
       "optimizer.lr=0.001)"},
      {{"--baseline", "model.n_layer=2"}, "2 seed groups have it"},
      // The group of lr 0.001 has one run: no test against it.
      {{"--baseline", "optimizer.lr=3e-3"},
       "the group optimizer.lr=0.001 has 1 value(s) of best val/loss; Welch's t-test needs at "
       "least 2 per group"},
  };
  for (const auto& [args, message] : cases) {
    const Outcome o = compare(args);
    EXPECT_EQ(o.status, 2) << args[1] << ": " << o.err;
    EXPECT_NE(o.err.find(message), std::string::npos) << o.err;
    EXPECT_EQ(count(o.err, "\n"), 1u) << o.err;
    EXPECT_EQ(o.out, "");
  }
}

// The statistics of `compare --group-seeds --baseline` through the real program, checked by SciPy
// on the same numbers (the best val losses the runs hold, as float32) to 1e-6: mean, std, ci95
// (t.ppf), Welch's p (ttest_ind with equal_var=False) and Hedges' g. Skipped without numpy and
// scipy (Debian's python3-scipy, tools/install-deps.sh).
TEST(Stats, CompareMatchesSciPy) {
  std::string missing;
  const std::string python3 = python_with("numpy scipy", missing);
  NANOLAB_NEEDS(!python3.empty(), "the SciPy check needs Python modules missing here: "
                                      << missing << " (apt-get install python3-scipy)");
  TempDir tmp;
  const std::vector<float> base = {1.52741f, 1.49013f, 1.50322f};
  const std::vector<float> other = {1.40971f, 1.38296f, 1.41502f, 1.39f};
  for (size_t i = 0; i < base.size(); ++i)
    write_run(tmp.path() / "runs", {"base" + std::to_string(i), int(i), "1e-3", {3.0f, base[i]}});
  for (size_t i = 0; i < other.size(); ++i)
    write_run(tmp.path() / "runs", {"other" + std::to_string(i), int(i), "3e-3", {3.0f, other[i]}});
  const Outcome o = run_program({"compare", (tmp.path() / "runs").string(), "--group-seeds",
                                 "--baseline", "optimizer.lr=1e-3", "--format", "json"},
                                tmp.path());
  ASSERT_EQ(o.status, 0) << o.err;
  const fs::path json = tmp.path() / "groups.json";
  { std::ofstream(json) << o.out; }
  const std::string check = R"py(
import json, sys
import numpy as np
from scipy import stats
rows = {r["optimizer.lr"]: r for r in json.load(open(sys.argv[1]))}
base = np.float32([1.52741, 1.49013, 1.50322]).astype(float)
other = np.float32([1.40971, 1.38296, 1.41502, 1.39]).astype(float)
def ci95(x):
    return stats.t.ppf(0.975, len(x) - 1) * np.std(x, ddof=1) / np.sqrt(len(x))
def hedges_g(a, b):
    na, nb = len(a), len(b)
    sp = np.sqrt(((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / (na + nb - 2))
    return (np.mean(a) - np.mean(b)) / sp * (1 - 3 / (4 * (na + nb) - 9))
expected = [
    ("0.001", "mean", np.mean(base)), ("0.001", "std", np.std(base, ddof=1)),
    ("0.001", "ci95", ci95(base)),
    ("0.003", "mean", np.mean(other)), ("0.003", "std", np.std(other, ddof=1)),
    ("0.003", "ci95", ci95(other)),
    ("0.003", "p", stats.ttest_ind(other, base, equal_var=False).pvalue),
    ("0.003", "g", hedges_g(other, base)),
]
bad = []
for lr, s, v in expected:
    got = rows[lr]["best val/loss " + s]
    if not abs(got - v) <= 1e-6 * abs(v):
        bad.append(lr + " " + s + ": " + str(got) + " != " + str(v))
print(rows["0.001"]["baseline"], rows["0.003"]["baseline"], rows["0.001"]["best val/loss p"],
      rows["0.001"]["n"], rows["0.003"]["n"], *bad or ["ok"])
)py";
  EXPECT_EQ(shell(python3 + " -c '" + check + "' " + json.string()), "yes None None 3 4 ok\n");
}

TEST_F(Compare, MetricAccuracyTakesTheMaximum) {
  const Outcome o = compare({"--format", "csv", "--metric", "val/accuracy"});
  ASSERT_EQ(o.status, 0) << o.err;
  const auto csv = parse_csv(o.out);
  EXPECT_EQ(cell(csv, "a", "best val/accuracy"), "0.2");
  EXPECT_EQ(cell(csv, "a", "best step"), "20");
  EXPECT_EQ(compare({"--metric", "val/bogus"}).status, 2);
}

TEST_F(Compare, JsonParsesWithPython) {
  const Outcome o = compare({"--format", "json"});
  ASSERT_EQ(o.status, 0) << o.err;
  const fs::path file = tmp.path() / "t.json";
  { std::ofstream(file) << o.out; }
  EXPECT_EQ(python("import json,sys; d=json.load(open(sys.argv[1])); "
                   "print(len(d), d[1][\"run\"], d[1][\"best val/loss\"], d[2][\"optimizer.lr\"], "
                   "d[0][\"status\"])",
                   file),
            "3 b 1 0.001 completed\n");
}

TEST_F(Compare, MarkdownAndTableHaveOneLinePerRun) {
  Outcome o = compare({"--format", "markdown"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto lines = split(o.out, '\n');
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[1].substr(0, 9), "| --- | -");
  EXPECT_EQ(split(lines[2], '|').at(1), " a ");
  EXPECT_EQ(split(lines[4], '|').at(4), " 0.001 ");

  o = compare({});
  ASSERT_EQ(o.status, 0) << o.err;
  lines = split(o.out, '\n');
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].substr(0, 3), "run");
  EXPECT_EQ(lines[3].substr(0, 1), "b");
}

TEST_F(Compare, PlotHasOnePolylinePerRunAndABandPerGroup) {
  const fs::path svg = tmp.path() / "p.svg";
  Outcome o = compare({"--plot", svg.string()});
  ASSERT_EQ(o.status, 0) << o.err;
  std::string text = read_file(svg);
  EXPECT_EQ(count(text, "<polyline"), 3u);
  EXPECT_EQ(count(text, "<polygon"), 0u);
  // every point drawn: 3 val rows per run
  EXPECT_EQ(count(text, "data-run=\"a\""), 1u);
  const size_t at = text.find("data-run=\"a\"");
  const std::string points = text.substr(text.find("points=\"", at) + 8);
  EXPECT_EQ(count(points.substr(0, points.find('"')), ","), 3u);
  EXPECT_NE(text.find(">a</text>"), std::string::npos);

  o = compare(
      {"--plot", svg.string(), "--group-seeds", "--log-y", "--x", "tokens", "--smooth", "2"});
  ASSERT_EQ(o.status, 0) << o.err;
  text = read_file(svg);
  EXPECT_EQ(count(text, "<polyline"), 2u);
  EXPECT_EQ(count(text, "<polygon"), 2u);
  EXPECT_NE(text.find(">tokens</text>"), std::string::npos);
}

TEST(CompareStatus, RunningAndFailedRunsAreShownWithTheirStatus) {
  TempDir tmp;
  write_run(tmp.path(), {"done", 1, "3e-3", {3.0f, 2.0f}});
  write_run(tmp.path(), {"broke", 2, "3e-3", {3.0f, 2.5f}, "failed"});
  const auto live = write_run(tmp.path(), {"live", 3, "3e-3", {3.0f, 2.2f, 2.1f}, "running"});
  // One run given as its run.h5, one as its directory, one found by the recursive search.
  const Outcome o =
      run_program({"compare", (tmp.path() / "done" / "run.h5").string(),
                   (tmp.path() / "broke").string(), tmp.path().string(), "--format", "csv"},
                  tmp.path());
  ASSERT_EQ(o.status, 0) << o.err;
  const auto csv = parse_csv(o.out);
  ASSERT_EQ(csv.size(), 4u);
  EXPECT_EQ(cell(csv, "done", "status"), "completed");
  EXPECT_EQ(cell(csv, "broke", "status"), "failed");
  EXPECT_EQ(cell(csv, "live", "status"), "running");
  // A running run has no summary: its rows give the numbers so far (train row 20: elapsed 10 s).
  EXPECT_EQ(cell(csv, "live", "best val/loss"), "2.1");
  EXPECT_EQ(cell(csv, "live", "final train loss"), "4.8");
  EXPECT_EQ(cell(csv, "live", "wall s"), "10");
  EXPECT_EQ(cell(csv, "live", "tokens/s"), "1000");  // the mean of its logged tokens/s
  EXPECT_EQ(cell(csv, "live", "params"), "");

  const Outcome none = run_program({"compare", (tmp.path() / "nowhere").string()}, tmp.path());
  EXPECT_EQ(none.status, 2);
  EXPECT_NE(none.err.find("no run found"), std::string::npos) << none.err;
}

TEST(Diff, ShowsConfigPluginsMetaAndSummarySideBySide) {
  TempDir tmp;
  write_run(tmp.path(), {"a", 1, "3e-3", {3.0f, 2.0f}, "completed", "x", "line one\nline two\n"});
  write_run(tmp.path(), {"b", 2, "1e-3", {3.0f, 2.5f}, "completed", "x", ""});
  const Outcome o = run_program({"diff", (tmp.path() / "a").string(),
                                 (tmp.path() / "b" / "run.h5").string(), "--format", "csv"},
                                tmp.path());
  ASSERT_EQ(o.status, 0) << o.err;
  const auto csv = parse_csv(o.out);
  EXPECT_EQ(csv.at(0), (std::vector<std::string>{"differs", "section", "key", "a", "b"}));
  auto row = [&](const std::string& key) {
    for (const auto& r : csv)
      if (r.size() > 2 && r[2] == key) return r;
    return std::vector<std::string>{"<no row " + key + ">"};
  };
  // The rows whose values differ are marked.
  EXPECT_EQ(row("experiment.seed"),
            (std::vector<std::string>{"*", "config", "experiment.seed", "1", "2"}));
  EXPECT_EQ(row("optimizer.lr"),
            (std::vector<std::string>{"*", "config", "optimizer.lr", "0.003", "0.001"}));
  EXPECT_EQ(row("model.n_layer").at(0), "<no row model.n_layer>");  // the same in both
  EXPECT_EQ(row("optimizer"),
            (std::vector<std::string>{"", "plugin", "optimizer", "adamw 1.0.0 sha256:aaaaaaaaaaaa",
                                      "adamw 1.0.0 sha256:aaaaaaaaaaaa"}));
  EXPECT_EQ(row("git_commit"),
            (std::vector<std::string>{"", "meta", "git_commit", "abc123", "abc123"}));
  EXPECT_EQ(row("git_diff"),
            (std::vector<std::string>{"*", "meta", "git_diff", "line one (2 lines)", ""}));
  EXPECT_EQ(row("onednn_version"),
            (std::vector<std::string>{"", "meta", "onednn_version", "2.6.3", "2.6.3"}));
  EXPECT_EQ(row("best_val_loss").at(0), "<no row best_val_loss>");  // not in these summaries
  EXPECT_EQ(row("final_train_loss"),
            (std::vector<std::string>{"", "summary", "final_train_loss", "4.9", "4.9"}));

  // The table format adds the uncommitted diffs in full when they differ.
  const Outcome t =
      run_program({"diff", (tmp.path() / "a").string(), (tmp.path() / "b").string()}, tmp.path());
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("uncommitted diff of a:\nline one\nline two\n"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("uncommitted diff of b:\n(none)"), std::string::npos) << t.out;
  // In plain text (not a terminal) the mark is a leading "*", without escape codes.
  EXPECT_NE(t.out.find("\n*        config   experiment.seed"), std::string::npos) << t.out;
  EXPECT_EQ(t.out.find('\033'), std::string::npos);

  EXPECT_EQ(
      run_program({"diff", tmp.path().string(), (tmp.path() / "b").string()}, tmp.path()).status,
      2);  // a folder of two runs is not one side
}

TEST(Diff, OnlyDifferKeepsTheRowsThatDiffer) {
  TempDir tmp;
  write_run(tmp.path(), {"a", 1, "3e-3", {3.0f, 2.0f}, "completed", "x", "same\nfirst line\n"});
  write_run(tmp.path(), {"b", 2, "3e-3", {3.0f, 2.5f, 2.2f}, "completed", "x", "same\nsecond\n"});
  const Outcome o = run_program({"diff", (tmp.path() / "a").string(), (tmp.path() / "b").string(),
                                 "--only-differ", "--format", "csv"},
                                tmp.path());
  ASSERT_EQ(o.status, 0) << o.err;
  // The seed, the uncommitted diff (same first line, another second line) and the summaries of a
  // run of 10 steps and one of 20.
  EXPECT_EQ(o.out,
            "differs,section,key,a,b\n"
            "*,config,experiment.seed,1,2\n"
            "*,meta,git_diff,same (2 lines),same (2 lines)\n"
            "*,summary,final_train_loss,4.9,4.8\n"
            "*,summary,tokens_seen,320,640\n"
            "*,summary,wall_s,5,10\n");
}

// The answers of the API that a report embeds (report_page.cpp), parsed; null without them.
nlohmann::json embedded_data(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"nanolab-data\">";
  const size_t from = page.find(open);
  if (from == std::string::npos) return nullptr;
  const size_t to = page.find("</script>", from);
  return nlohmann::json::parse(page.substr(from + open.size(), to - from - open.size()));
}

TEST(Report, PlacesALongRunOnWallTimeThroughItsOwnRows) {
  TempDir tmp;
  write_run(tmp.path(), {"long", 1, "3e-3", std::vector<float>(301, 2.0f)});  // steps 0..3000
  const fs::path html = tmp.path() / "report.html";
  const Outcome o = run_program({"report", tmp.path().string(), "-o", html.string()}, tmp.path());
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json clock = embedded_data(read_file(html))["clocks"]["0"];
  // As many knots as a curve's points, each a row as written (0.5 s a step), first and last too.
  ASSERT_EQ(clock["x"].size(), 1000u);
  ASSERT_EQ(clock["y"].size(), 1000u);
  for (size_t i = 0; i < 1000; ++i)
    ASSERT_EQ(clock["y"][i].get<double>(), clock["x"][i].get<double>() * 0.5) << "knot " << i;
  EXPECT_EQ(clock["x"][0], 0.0);
  EXPECT_EQ(clock["x"][999], 3000.0);
}

TEST(Report, IsTheDashboardInOneFileWithEveryRunEmbeddedAndEscaped) {
  TempDir tmp;
  write_run(tmp.path(),
            {"alpha", 1, "3e-3", {3.0f, 2.0f}, "completed", "<script>alert(1)</script> & more"});
  write_run(tmp.path(), {"beta", 2, "1e-3", {3.0f, 2.5f, 2.2f}, "failed", "2+2=4"});
  const fs::path html = tmp.path() / "report.html";
  Outcome o = run_program({"report", tmp.path().string(), "-o", html.string()}, tmp.path());
  ASSERT_EQ(o.status, 0) << o.err;
  const std::string page = read_file(html);
  // The data, uPlot and the page's script, inline; the sample's </script> cannot end one.
  EXPECT_EQ(count(page, "<script"), 3u);
  EXPECT_EQ(count(page, "</script>"), 3u);
  EXPECT_NE(page.find("\\u003cscript>alert(1)\\u003c/script> & more"), std::string::npos);
  EXPECT_NE(page.find("id=\"charts\""), std::string::npos);  // the dashboard's page
  EXPECT_NE(page.find("var uPlot="), std::string::npos);
  // Self-contained: no fetched resource of any kind.
  EXPECT_EQ(count(page, "src="), 0u);
  EXPECT_EQ(count(page, "href="), 0u);
  EXPECT_EQ(count(page, "url("), 0u);

  const nlohmann::json data = embedded_data(page);
  ASSERT_TRUE(data.is_object()) << page.substr(0, 2000);
  ASSERT_EQ(data["runs"].size(), 2u);
  EXPECT_EQ(data["runs"][0]["name"], "alpha");
  EXPECT_EQ(data["runs"][1]["name"], "beta");
  EXPECT_EQ(data["runs"][1]["status"], "failed");
  EXPECT_EQ(data["runs"][0]["config"]["optimizer.lr"], "0.003");
  EXPECT_EQ(data["runs"][1]["config"]["optimizer.lr"], "0.001");
  EXPECT_EQ(data["samples"]["0"], nlohmann::json::parse(
                                      R"([[10, "<script>alert(1)</script> & more"]])"));
  // Short curves are whole: beta's val loss at steps 0, 10, 20; train loss 5 - s/100 at 0..20.
  EXPECT_EQ(data["curves"]["1"]["val/loss"]["x"], nlohmann::json::parse("[0, 10, 20]"));
  EXPECT_EQ(data["curves"]["1"]["val/loss"]["y"], nlohmann::json::parse("[3, 2.5, 2.2]"));
  ASSERT_EQ(data["curves"]["1"]["train/loss"]["y"].size(), 21u);
  EXPECT_EQ(data["curves"]["1"]["train/loss"]["y"][20], 4.8);
  // Wall time: 0.5 s a step, up to step 20; every row of a short run is a knot.
  ASSERT_EQ(data["clocks"]["1"]["x"].size(), 21u);
  EXPECT_EQ(data["clocks"]["1"]["x"][7], 7.0);
  EXPECT_EQ(data["clocks"]["1"]["y"][7], 3.5);
  EXPECT_EQ(data["clocks"]["1"]["y"].back(), 10.0);
  // The compare table as `nanolab compare` makes it.
  const nlohmann::json& table = data["about"]["compare"];
  ASSERT_EQ(table["columns"][0], "run");
  EXPECT_EQ(table["columns"][1], "status");
  ASSERT_EQ(table["rows"].size(), 2u);
  EXPECT_EQ(table["rows"][1][0], "beta");
  EXPECT_EQ(table["rows"][1][1], "failed");

  // With --group-seeds, the seed groups' statistics (here one group per lr).
  o = run_program({"report", tmp.path().string(), "-o", html.string(), "--group-seeds"},
                  tmp.path());
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json grouped = embedded_data(read_file(html))["about"]["compare"];
  const auto& columns = grouped["columns"];
  EXPECT_NE(std::find(columns.begin(), columns.end(), "n"), columns.end()) << columns;
  EXPECT_NE(std::find(columns.begin(), columns.end(), "seeds"), columns.end()) << columns;
  EXPECT_EQ(grouped["rows"].size(), 2u);
}

// ---- Readers keep going: a folder where some run files are damaged ----
// Two good runs (alpha, beta) beside a truncated run.h5, a run.h5 of random bytes, a run
// directory whose run.h5 cannot be opened and a run directory that cannot be listed. Unreadable
// takes a user who is not root: as root the program runs as nobody (setpriv), the good files being
// readable by everyone, and so is the copy of the program's library it loads.
struct DamagedFolder {
  TempDir tmp;
  fs::path root = tmp.path() / "runs";
  std::vector<fs::path> damaged;  // what stderr must name
  fs::path out = tmp.path() / "out";  // where the program may write
  std::vector<std::string> launcher;
  std::map<std::string, std::string> env;

  DamagedFolder() {
    write_run(root, {"alpha", 1, "3e-3", {3.0f, 2.0f}});
    write_run(root, {"beta", 2, "1e-3", {3.0f, 2.5f, 2.2f}});
    const std::string good = read_file(root / "alpha" / "run.h5");
    add_damaged("cut", good.substr(0, good.size() / 2));
    std::string noise(8192, '\0');
    unsigned x = 12345;
    for (char& c : noise) c = char((x = x * 1103515245u + 12345u) >> 16);
    add_damaged("noise", noise);
    add_damaged("locked", good);
    fs::permissions(root / "locked" / "run.h5", fs::perms::none);
    write_run(root / "sealed", {"gamma", 3, "1e-4", {3.0f}});
    fs::permissions(root / "sealed", fs::perms::none);
    damaged.push_back(root / "sealed");
    fs::create_directories(out);
    if (geteuid() == 0) {
      launcher = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
      // The build folder may sit in a folder only root can enter (a clone in `mktemp -d`): the
      // program's library is then read from a copy here, where nobody can reach it.
      const fs::path lib = tmp.path() / "lib";
      fs::create_directories(lib);
      fs::copy_file(fs::path(NANOLAB_TEST_LIBNANOLAB_DIR) / "libnanolab.so.0",
                    lib / "libnanolab.so.0");
      env = {{"LD_LIBRARY_PATH", lib.string()}};
      fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_read |
                                      fs::perms::group_exec | fs::perms::others_read |
                                      fs::perms::others_exec);
      fs::permissions(out, fs::perms::all);
    }
  }
  ~DamagedFolder() { fs::permissions(root / "sealed", fs::perms::owner_all); }

  void add_damaged(const std::string& name, const std::string& bytes) {
    fs::create_directories(root / name);
    std::ofstream(root / name / "run.h5", std::ios::binary) << bytes;
    damaged.push_back(root / name / "run.h5");
  }
  Outcome run(const std::vector<std::string>& args) const {
    return Program(args, tmp.path(), env, "nanolab", -1, launcher).wait();
  }
};

void expect_names_each_damaged_file(const DamagedFolder& f, const Outcome& o,
                                    const std::string& command) {
  for (const fs::path& p : f.damaged) {
    EXPECT_EQ(count(o.err, p.string()), 1u) << p << " named once:\n" << o.err;
    EXPECT_NE(o.err.find("nanolab " + command + ": warning: skipped " + p.string()),
              std::string::npos)
        << o.err;
  }
  EXPECT_NE(o.err.find("nanolab " + command + ": 2 run(s) read, 4 path(s) skipped"),
            std::string::npos)
      << o.err;
}

TEST(Readers, CompareShowsTheGoodRunsAndNamesEachDamagedFile) {
  DamagedFolder f;
  const Outcome o = f.run({"compare", f.root.string(), "--format", "csv"});
  ASSERT_TRUE(o.exited) << "killed by signal " << o.status;
  EXPECT_EQ(o.status, 0) << o.err;
  const auto csv = parse_csv(o.out);
  ASSERT_EQ(csv.size(), 3u) << o.out;  // header, alpha, beta
  EXPECT_EQ(cell(csv, "alpha", "best val/loss"), "2");
  EXPECT_EQ(cell(csv, "beta", "best val/loss"), "2.2");
  expect_names_each_damaged_file(f, o, "compare");
}

TEST(Readers, ReportShowsTheGoodRunsAndNamesEachDamagedFile) {
  DamagedFolder f;
  const fs::path html = f.out / "report.html";
  const Outcome o = f.run({"report", f.root.string(), "-o", html.string()});
  ASSERT_TRUE(o.exited) << "killed by signal " << o.status;
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, html.string() + ": 2 runs\n");
  const std::string page = read_file(html);
  const nlohmann::json runs = embedded_data(page)["runs"];
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["name"], "alpha");
  EXPECT_EQ(runs[1]["name"], "beta");
  EXPECT_EQ(page.find("gamma"), std::string::npos);
  expect_names_each_damaged_file(f, o, "report");
}

TEST(Readers, AFolderWhereEveryRunIsDamagedExits5NamingEach) {
  TempDir tmp;
  write_run(tmp.path() / "good", {"alpha", 1, "3e-3", {3.0f, 2.0f}});
  const std::string good = read_file(tmp.path() / "good" / "alpha" / "run.h5");
  const fs::path root = tmp.path() / "runs";
  fs::create_directories(root / "cut");
  fs::create_directories(root / "empty");
  std::ofstream(root / "cut" / "run.h5", std::ios::binary) << good.substr(0, good.size() / 3);
  std::ofstream(root / "empty" / "run.h5", std::ios::binary) << "";
  const std::vector<std::vector<std::string>> commands = {
      {"compare", root.string()},
      {"report", root.string(), "-o", (tmp.path() / "r.html").string()}};
  for (const auto& args : commands) {
    const std::string& command = args[0];
    const Outcome o = run_program(args, tmp.path());
    ASSERT_TRUE(o.exited) << "killed by signal " << o.status;
    EXPECT_EQ(o.status, 5) << command << ": " << o.err;
    EXPECT_NE(o.err.find("no run could be read"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find((root / "cut" / "run.h5").string()), std::string::npos) << o.err;
    EXPECT_NE(o.err.find((root / "empty" / "run.h5").string()), std::string::npos) << o.err;
    EXPECT_FALSE(fs::exists(tmp.path() / "r.html"));
  }
}

// tools/runs_to_pandas.py on a folder of runs: the DataFrame holds every val row of every run with
// its config. Skipped, naming the module, where Debian's h5py or pandas is missing.
TEST(RunsToPandas, LoadsAFolderIntoOneDataFrame) {
  std::string missing;
  const std::string python3 = python_with("h5py pandas", missing);
  NANOLAB_NEEDS(!python3.empty(), "runs_to_pandas needs Python modules missing here: " << missing
                 << " (apt-get install python3-h5py python3-pandas)");
  TempDir tmp;
  write_run(tmp.path() / "runs", {"a", 1, "3e-3", {3.0f, 2.0f}});
  const auto live =
      write_run(tmp.path() / "runs", {"b", 2, "1e-3", {3.0f, 2.5f, 2.25f}, "running"});
  const fs::path csv_file = tmp.path() / "frame.csv";
  shell(python3 + " " NANOLAB_TEST_SOURCE_DIR "/tools/runs_to_pandas.py " +
        (tmp.path() / "runs").string() + " --csv " + csv_file.string());
  const auto csv = parse_csv(read_file(csv_file));
  ASSERT_EQ(csv.size(), 6u);  // header + 2 + 3 val rows
  auto column = [&](const std::string& name) {
    return size_t(std::find(csv[0].begin(), csv[0].end(), name) - csv[0].begin());
  };
  ASSERT_LT(column("optimizer.lr"), csv[0].size());
  ASSERT_LT(column("status"), csv[0].size());
  EXPECT_EQ(csv[5][column("run")], "b");
  EXPECT_EQ(csv[5][column("step")], "20");
  EXPECT_EQ(csv[5][column("loss")], "2.25");
  EXPECT_EQ(csv[5][column("status")], "running");
  EXPECT_EQ(csv[5][column("optimizer.lr")], "0.001");
  EXPECT_EQ(csv[1][column("experiment.seed")], "1");
}

}  // namespace
}  // namespace nanolab::test
