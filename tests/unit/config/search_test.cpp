// [search] and [search.space]: the sampler's distributions (bounds, log spacing, integers with both
// ends, determinism), the trials an experiment file expands into, and every bad input of a search
// refused with its file:line:col and a hint before any run starts.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "config/search_space.hpp"
#include "config_test_util.hpp"
#include "nanolab/experiment.hpp"

namespace nanolab {
namespace {

using config::Distribution;
using config::search_draw;
using config::search_value;
using config_test::config_error;
using SearchFiles = config_test::ConfigFiles;

constexpr int draws = 20000;

TEST(SearchSampler, TheSameSeedTrialAndKeyGiveTheSameDrawAndOthersDiffer) {
  EXPECT_EQ(search_draw(1337, 4, "optimizer.lr"), search_draw(1337, 4, "optimizer.lr"));
  EXPECT_NE(search_draw(1337, 4, "optimizer.lr"), search_draw(1338, 4, "optimizer.lr"));
  EXPECT_NE(search_draw(1337, 4, "optimizer.lr"), search_draw(1337, 5, "optimizer.lr"));
  EXPECT_NE(search_draw(1337, 4, "optimizer.lr"), search_draw(1337, 4, "model.dropout"));
  double sum = 0;
  for (int t = 0; t < draws; ++t) {
    const double u = search_draw(7, t, "k");
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / draws, 0.5, 0.01);
}

TEST(SearchSampler, UniformStaysInsideItsRangeAndFillsIt) {
  EXPECT_EQ(search_value(Distribution::uniform, 0.1, 0.3, 0.0), 0.1);
  EXPECT_LT(search_value(Distribution::uniform, 0.1, 0.3, std::nextafter(1.0, 0.0)), 0.3);
  int below_middle = 0;
  for (int t = 0; t < draws; ++t) {
    const double v = search_value(Distribution::uniform, 0.1, 0.3, search_draw(1, t, "x"));
    ASSERT_GE(v, 0.1);
    ASSERT_LT(v, 0.3);
    below_middle += v < 0.2;
  }
  EXPECT_NEAR(below_middle / double(draws), 0.5, 0.015);
}

TEST(SearchSampler, LogUniformPutsAsManyValuesInEachDecade) {
  int decade[3] = {0, 0, 0};
  for (int t = 0; t < draws; ++t) {
    const double v = search_value(Distribution::log_uniform, 1e-4, 1e-1, search_draw(2, t, "lr"));
    ASSERT_GE(v, 1e-4);
    ASSERT_LT(v, 1e-1);
    ++decade[v < 1e-3 ? 0 : v < 1e-2 ? 1 : 2];
  }
  for (int d : decade) EXPECT_NEAR(d / double(draws), 1.0 / 3, 0.015);
  // The geometric middle of the range, not the arithmetic one, is the median.
  EXPECT_NEAR(search_value(Distribution::log_uniform, 1e-4, 1e-2, 0.5), 1e-3, 1e-12);
}

TEST(SearchSampler, IntUniformDrawsEveryIntegerOfTheRangeBothEndsIncluded) {
  std::map<double, int> counts;
  for (int t = 0; t < draws; ++t)
    ++counts[search_value(Distribution::int_uniform, 2, 6, search_draw(3, t, "n_layer"))];
  ASSERT_EQ(counts.size(), 5u);
  EXPECT_EQ(counts.begin()->first, 2);
  EXPECT_EQ(counts.rbegin()->first, 6);
  for (const auto& [value, n] : counts) {
    EXPECT_EQ(value, std::floor(value));
    EXPECT_NEAR(n / double(draws), 0.2, 0.015) << value;
  }
  EXPECT_EQ(search_value(Distribution::int_uniform, 4, 4, 0.9), 4);
  EXPECT_EQ(search_value(Distribution::choice, 0, 2, std::nextafter(1.0, 0.0)), 2);
}

TEST_F(SearchFiles, TrialsAreDrawnFromTheSpaceTimesTheSweepTheSameEachTime) {
  const auto file = write("exp.toml", R"(
[train]
max_iters = 900
[search]
method = "asha"
trials = 5
min_iters = 100
reduction_factor = 3
[search.space]
"optimizer.lr" = { log_uniform = [1e-4, 1e-2] }
model.dropout = { uniform = [0.0, 0.3] }
"model.n_layer" = { int_uniform = [1, 3] }
"optimizer.plugin" = { choice = ["adamw", "sgd"] }
[sweep]
seeds = [1, 2]
)");
  const Experiment exp = load_experiment(file);
  ASSERT_TRUE(exp.search);
  EXPECT_EQ(exp.search->method, "asha");
  EXPECT_EQ(exp.search->trials, 5);
  EXPECT_EQ(exp.search->metric, "val/loss");
  EXPECT_FALSE(exp.search->maximize);
  EXPECT_EQ(exp.search->runs_per_trial, 2u);
  EXPECT_EQ(exp.search->max_iters, 900);
  ASSERT_EQ(exp.search->space.size(), 4u);
  ASSERT_EQ(exp.runs.size(), 10u);
  EXPECT_EQ(exp.runs[0].name, "trial-1,seed=1");
  EXPECT_EQ(exp.runs[1].name, "trial-1,seed=2");
  EXPECT_EQ(exp.runs[9].name, "trial-5,seed=2");
  std::set<std::string> optimizers;
  for (size_t t = 0; t < 5; ++t) {
    const ExperimentConfig& a = exp.runs[2 * t].config;
    const ExperimentConfig& b = exp.runs[2 * t + 1].config;
    EXPECT_EQ(a.seed, 1);
    EXPECT_EQ(b.seed, 2);
    EXPECT_EQ(a.lr, b.lr);  // a trial's runs differ only by the sweep
    EXPECT_EQ(a.n_layer, b.n_layer);
    EXPECT_GE(a.lr, 1e-4);
    EXPECT_LT(a.lr, 1e-2);
    EXPECT_GE(a.dropout, 0.0);
    EXPECT_LT(a.dropout, 0.3);
    EXPECT_GE(a.n_layer, 1);
    EXPECT_LE(a.n_layer, 3);
    optimizers.insert(a.optimizer.plugin);
    EXPECT_EQ(exp.runs[2 * t].swept.at("model.n_layer"), std::to_string(a.n_layer));
  }
  EXPECT_NE(exp.runs[0].config.lr, exp.runs[2].config.lr);
  const Experiment again = load_experiment(file);
  for (size_t i = 0; i < exp.runs.size(); ++i) {
    EXPECT_EQ(again.runs[i].config, exp.runs[i].config);
    EXPECT_EQ(again.runs[i].name, exp.runs[i].name);
  }
  // The trials depend on experiment.seed.
  const Experiment other = load_experiment(file, {"experiment.seed=99"});
  EXPECT_NE(other.runs[0].config.lr, exp.runs[0].config.lr);
}

TEST_F(SearchFiles, AKeyAddedToTheSpaceLeavesTheOthersValues) {
  const std::string head = "[search]\nmethod = \"random\"\ntrials = 4\n[search.space]\n"
                           "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n";
  const Experiment one = load_experiment(write("one.toml", head));
  const Experiment two = load_experiment(
      write("two.toml", head + "\"model.dropout\" = { uniform = [0.0, 0.2] }\n"));
  ASSERT_EQ(one.runs.size(), 4u);
  ASSERT_EQ(two.runs.size(), 4u);
  for (size_t t = 0; t < 4; ++t) EXPECT_EQ(one.runs[t].config.lr, two.runs[t].config.lr);
  EXPECT_EQ(one.runs[0].name, "trial-1");
}

TEST_F(SearchFiles, AnIncludingFilesSearchKeysWinOverTheIncludedOnes) {
  write("base.toml", "[search]\nmethod = \"random\"\ntrials = 3\n[search.space]\n"
                     "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n");
  const Experiment exp = load_experiment(
      write("exp.toml", "[experiment]\ninclude = [\"base.toml\"]\n[search]\ntrials = 2\n"
                        "[search.space]\n\"model.dropout\" = { uniform = [0.0, 0.2] }\n"));
  ASSERT_TRUE(exp.search);
  EXPECT_EQ(exp.search->method, "random");
  EXPECT_EQ(exp.search->trials, 2);
  EXPECT_EQ(exp.search->space.size(), 2u);
  EXPECT_EQ(exp.runs.size(), 2u);
}

TEST_F(SearchFiles, GridIsTheSweepAndASetKeyIsNoLongerSearched) {
  const Experiment grid = load_experiment(
      write("grid.toml", "[search]\nmethod = \"grid\"\n[sweep]\n\"optimizer.lr\" = [1e-3, 2e-3]\n"));
  EXPECT_FALSE(grid.search);
  EXPECT_EQ(grid.runs.size(), 2u);
  const Experiment set = load_experiment(
      write("set.toml", "[search]\nmethod = \"random\"\ntrials = 2\n[search.space]\n"
                        "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n"
                        "\"model.dropout\" = { uniform = [0.0, 0.2] }\n"),
      {"optimizer.lr=0.005"});
  ASSERT_TRUE(set.search);
  ASSERT_EQ(set.search->space.size(), 1u);
  EXPECT_EQ(set.search->space[0].key, "model.dropout");
  EXPECT_EQ(set.runs[0].config.lr, 0.005);
  EXPECT_EQ(set.runs[1].config.lr, 0.005);
}

// Each bad input: the message names file:line:col and the key, says what was expected, and hints.
struct BadSearch {
  std::string name, toml, expected_line, hint;
};

void PrintTo(const BadSearch& c, std::ostream* os) { *os << c.name; }

class SearchBadInput : public config_test::ConfigFiles,
                       public ::testing::WithParamInterface<BadSearch> {};

TEST_P(SearchBadInput, IsRefusedAtItsPlaceWithAHint) {
  const BadSearch& c = GetParam();
  const auto file = write("exp.toml", c.toml);
  const std::string m = config_error([&] { load_experiment(file); });
  EXPECT_NE(m.find(file.string() + ":" + c.expected_line), std::string::npos) << m;
  EXPECT_NE(m.find(c.hint), std::string::npos) << m;
}

const std::string asha = "[train]\nmax_iters = 300\n[search]\nmethod = \"asha\"\nmin_iters = 10\n";
const std::string space = "[search.space]\n";

INSTANTIATE_TEST_SUITE_P(
    Every, SearchBadInput,
    ::testing::Values(
        BadSearch{"UnknownDistribution",
                  asha + space + "\"optimizer.lr\" = { log_unifrom = [1e-4, 1e-2] }\n",
                  "7:20: search.space.optimizer.lr: unknown distribution 'log_unifrom' (did you "
                  "mean 'log_uniform'?)",
                  "hint: a distribution is"},
        BadSearch{"EmptyRange", asha + space + "\"model.dropout\" = { uniform = [0.1, 0.1] }\n",
                  "7:31: search.space.model.dropout: an empty range [0.1, 0.1]",
                  "hint: a key of one value"},
        BadSearch{"ReversedRange", asha + space + "\"model.n_layer\" = { int_uniform = [6, 2] }\n",
                  "7:35: search.space.model.n_layer: a reversed range [6, 2]", "low <= high"},
        BadSearch{"LogBoundNotAboveZero",
                  asha + space + "\"optimizer.lr\" = { log_uniform = [0.0, 1e-2] }\n",
                  "7:34: search.space.optimizer.lr: log_uniform needs bounds > 0",
                  "hint: use uniform"},
        BadSearch{"ChoiceOfTheWrongTypeForItsKey",
                  asha + space + "\"model.n_layer\" = { choice = [2, \"four\"] }\n",
                  "7:34: model.n_layer: expected an integer, got a string \"four\"", "n_layer"},
        BadSearch{"ChoiceOfAPluginThatDoesNotExist",
                  asha + space + "\"optimizer.plugin\" = { choice = [\"adamw\", \"adamx\"] }\n",
                  "7:43: optimizer.plugin: no optimizer plugin named 'adamx'", "did you mean"},
        BadSearch{"NoTrials", asha + "trials = 0\n" + space +
                                  "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "6:10: search.trials: must be [1, 10000], got 0", "search.trials"},
        BadSearch{"ReductionFactorBelowTwo",
                  asha + "reduction_factor = 1\n" + space +
                      "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "6:20: search.reduction_factor: must be [2, 1000], got 1", "reduction_factor"},
        BadSearch{"MinItersAboveMaxIters",
                  "[train]\nmax_iters = 300\n[search]\nmethod = \"asha\"\nmin_iters = 400\n" +
                      space + "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "5:1: search.min_iters: the first rung, 400, is above train.max_iters = 300",
                  "hint: min_iters <= train.max_iters"},
        BadSearch{"AMetricNoRunWrites",
                  asha + "metric = \"val/perplexity\"\n" + space +
                      "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "6:10: search.metric: an evaluation writes val/loss, val/train_loss and "
                  "val/accuracy, not 'val/perplexity'",
                  "hint: metric = \"val/loss\", or any column of /metrics in run.h5"},
        BadSearch{"AMetricOfAGroupNoRunWrites",
                  asha + "metric = \"valid/loss\"\n" + space +
                      "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "6:10: search.metric: no run writes the group 'valid' of 'valid/loss' (did you "
                  "mean 'val'?); the groups are val, train, loss, optimizer and attention",
                  "train/grad_norm"},
        BadSearch{"AMetricNameNoPluginCanRecord",
                  asha + "metric = \"loss/z loss\"\n" + space +
                      "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "6:10: search.metric: no run records 'loss/z loss': it holds a character other "
                  "than letters, digits, '_', '.' and '-'",
                  "GROUP/NAME"},
        BadSearch{"AMetricThatIsNotGroupSlashName",
                  asha + "metric = \"loss\"\n" + space +
                      "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "6:10: search.metric: 'loss' is not GROUP/NAME, a column of /metrics in the run "
                  "files",
                  "metric = \"val/loss\""},
        BadSearch{"AccuracyOfADatasetWithoutOne",
                  "[data]\ndataset = \"tinyshakespeare\"\n" + asha + "metric = \"val/accuracy\"\n" +
                      space + "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "8:1: search.metric: no run of tinyshakespeare writes val/accuracy",
                  "hint: metric = \"val/loss\""},
        BadSearch{"AnUnknownSpaceKey",
                  asha + space + "\"optimizer.lrr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "7:36: optimizer.lrr: unknown option; its options are betas, eps, weight_decay",
                  "hint: `nanolab plugins show adamw` lists its options"},
        BadSearch{"AnIntegerKeyWithAUniformRange",
                  asha + space + "\"model.n_layer\" = { uniform = [2, 6] }\n",
                  "7:21: search.space.model.n_layer: model.n_layer is an integer; uniform draws "
                  "fractions",
                  "int_uniform = [2, 6]"},
        BadSearch{"NoMethod", "[search]\ntrials = 3\n",
                  "1:2: search.method: missing", "hint: method = \"asha\""},
        BadSearch{"NoSpace", "[search]\nmethod = \"random\"\n",
                  "1:2: search.space: missing", "hint: a distribution is"},
        BadSearch{"AshaWithoutMinIters",
                  "[search]\nmethod = \"asha\"\n" + space +
                      "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n",
                  "1:2: search.min_iters: missing", "hint: min_iters = 200"},
        BadSearch{"AKeySearchedAndSwept",
                  asha + space + "\"optimizer.lr\" = { log_uniform = [1e-4, 1e-2] }\n" +
                      "[sweep]\n\"optimizer.lr\" = [1e-3]\n",
                  "7:1: search.space.optimizer.lr: optimizer.lr is searched and swept",
                  "hint: a key is varied by [sweep] or by [search.space], not both"},
        BadSearch{"AnUnknownSearchKey", asha + "trails = 3\n",
                  "6:1: search.trails: unknown key (did you mean 'trials'?)",
                  "hint: the keys of [search] are"}),
    [](const ::testing::TestParamInfo<BadSearch>& info) { return info.param.name; });

}  // namespace
}  // namespace nanolab
