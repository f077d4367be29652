// load_experiment on files that are right: defaults, include order, --set, sweep expansion and run
// names, and the round trip of the resolved config through parse_resolved_config. The errors are
// in validation_test.cpp. Tests that name plugins use only the ones that ship (causal_mha, sgd,
// adamw, cross_entropy, char, byte), found in the build's plugin folder.
#include <gtest/gtest.h>

#include "config/schema.hpp"
#include "config_test_util.hpp"
#include "nanolab/experiment.hpp"

namespace nanolab {
namespace {

using config_test::config_error;
using LoadTest = config_test::ConfigFiles;

TEST_F(LoadTest, AnEmptyFileGetsEveryDefault) {
  const auto file = write("exp.toml", "");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 1u);
  EXPECT_EQ(exp.name, "experiment");
  EXPECT_EQ(exp.runs[0].name, "run");
  EXPECT_TRUE(exp.runs[0].swept.empty());
  const ExperimentConfig& c = exp.runs[0].config;
  EXPECT_EQ(c, config::default_config());
  // The defaults the brief fixes, spelled out so that a changed table fails here.
  EXPECT_EQ(c.seed, 1337);
  EXPECT_TRUE(c.plugin_dirs.empty());
  EXPECT_EQ(c.dataset, "synthetic:sort");
  EXPECT_EQ(c.tokenizer, (PluginChoice{"char", {}}));
  EXPECT_EQ(c.vocab_size, 0);
  EXPECT_EQ(c.block_size, 64);
  EXPECT_EQ(c.batch_size, 12);
  EXPECT_EQ(c.n_layer, 4);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.n_embd, 128);
  EXPECT_EQ(c.dropout, 0.0);
  EXPECT_FALSE(c.bias);
  EXPECT_EQ(c.attention.plugin, "causal_mha");
  EXPECT_EQ(c.optimizer.plugin, "adamw");
  EXPECT_EQ(c.lr, 1e-3);
  EXPECT_EQ(c.loss.plugin, "cross_entropy");
  EXPECT_EQ(c.max_iters, 2000);
  EXPECT_EQ(c.warmup_iters, 100);
  EXPECT_EQ(c.lr_schedule.plugin, "cosine");
  EXPECT_EQ(c.min_lr, 1e-4);
  EXPECT_EQ(c.lr_decay_iters, 0);
  EXPECT_EQ(c.grad_clip, 1.0);
  EXPECT_EQ(c.grad_accum_steps, 1);
  EXPECT_EQ(c.eval_interval, 250);
  EXPECT_EQ(c.eval_iters, 200);
  EXPECT_EQ(c.log_interval, 10);
  EXPECT_EQ(c.checkpoint_interval, 500);
  EXPECT_EQ(c.sample_tokens, 200);
  EXPECT_EQ(c.on_nonfinite, "stop");
  EXPECT_EQ(c.max_nonfinite_skips, 10);
}

TEST_F(LoadTest, AFileHoldsOnlyWhatDiffers) {
  const auto file = write("exp.toml", R"(
[experiment]
name = "small"
[model]
n_layer = 2
bias = true
[optimizer]
lr = 1            # an integer is a fine number
)");
  const ExperimentConfig c = load_experiment(file).runs[0].config;
  ExperimentConfig expected = config::default_config();
  expected.name = "small";
  expected.n_layer = 2;
  expected.bias = true;
  expected.lr = 1.0;
  EXPECT_EQ(c, expected);
}

TEST_F(LoadTest, IncludesAreReadFirstAndLaterKeysWin) {
  write("base/common.toml", R"(
[experiment]
include = ["inner.toml"]     # relative to base/
[model]
n_layer = 2
n_head = 2
[optimizer]
plugin = "sgd"
momentum = 0.5
lr = 0.01
)");
  write("base/inner.toml", R"(
[model]
n_layer = 1
n_embd = 64
[train]
max_iters = 300
)");
  write("override.toml", R"(
[model]
n_layer = 3
)");
  const auto file = write("exp.toml", R"(
[experiment]
include = ["base/common.toml", "override.toml"]
[model]
n_head = 8
[optimizer]
lr = 0.02
)");
  const ExperimentConfig c = load_experiment(file).runs[0].config;
  EXPECT_EQ(c.n_embd, 64);  // only inner.toml says it
  EXPECT_EQ(c.max_iters, 300);
  EXPECT_EQ(c.n_layer, 3);  // inner 1 < common 2 < override 3: the later include wins
  EXPECT_EQ(c.n_head, 8);   // the including file wins over its includes
  // [optimizer] merges key by key: plugin and option from the include, lr from the file.
  EXPECT_EQ(c.optimizer.plugin, "sgd");
  EXPECT_EQ(c.optimizer.options, (std::map<std::string, OptionValue>{{"momentum", 0.5}}));
  EXPECT_EQ(c.lr, 0.02);
}

TEST_F(LoadTest, SetOverridesFilesWithTomlValuesAndBareWords) {
  const auto file = write("exp.toml", R"(
[data]
dataset = "tinyshakespeare"
[model]
n_layer = 2
[optimizer]
betas = [0.9, 0.99]
)");
  const ExperimentConfig c =
      load_experiment(file, {"model.n_layer=6", "data.dataset=synthetic:add",
                             "optimizer.betas=[0.9, 0.95]", "data.tokenizer={plugin=\"byte\"}",
                             "train.lr_schedule=\"linear\"", "model.dropout = 0.25"})
          .runs[0]
          .config;
  EXPECT_EQ(c.n_layer, 6);
  EXPECT_EQ(c.dataset, "synthetic:add");  // not valid TOML: the string it spells
  EXPECT_EQ(c.optimizer.options.at("betas"), OptionValue(std::vector<double>{0.9, 0.95}));
  EXPECT_EQ(c.tokenizer.plugin, "byte");
  EXPECT_EQ(c.lr_schedule.plugin, "linear");
  EXPECT_EQ(c.dropout, 0.25);
}

TEST_F(LoadTest, SweepExpandsEveryCombinationLastKeyFastest) {
  const auto file = write("exp.toml", R"(
[experiment]
name = "grid"
[sweep]
"model.n_layer" = [2, 4, 6]
"optimizer.lr" = [1e-3, 3e-3]
)");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 6u);
  const std::vector<std::pair<int64_t, double>> expected = {{2, 1e-3}, {2, 3e-3}, {4, 1e-3},
                                                            {4, 3e-3}, {6, 1e-3}, {6, 3e-3}};
  const std::vector<std::string> names = {"n_layer=2,lr=0.001", "n_layer=2,lr=0.003",
                                          "n_layer=4,lr=0.001", "n_layer=4,lr=0.003",
                                          "n_layer=6,lr=0.001", "n_layer=6,lr=0.003"};
  for (size_t i = 0; i < exp.runs.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(exp.runs[i].config.n_layer, expected[i].first);
    EXPECT_EQ(exp.runs[i].config.lr, expected[i].second);
    EXPECT_EQ(exp.runs[i].name, names[i]);
    EXPECT_EQ(exp.runs[i].config.name, "grid");
  }
  EXPECT_EQ(exp.runs[3].swept, (std::map<std::string, std::string>{{"model.n_layer", "4"},
                                                                   {"optimizer.lr", "0.003"}}));
}

TEST_F(LoadTest, SeedsShorthandRepeatsEachCombinationPerSeed) {
  const auto file = write("exp.toml", R"(
[sweep]
"model.attention.plugin" = ["causal_mha"]
"optimizer.lr" = [1e-3, 3e-3]
seeds = [1, 2]
)");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 4u);
  const std::vector<std::string> names = {
      "attention.plugin=causal_mha,lr=0.001,seed=1", "attention.plugin=causal_mha,lr=0.001,seed=2",
      "attention.plugin=causal_mha,lr=0.003,seed=1", "attention.plugin=causal_mha,lr=0.003,seed=2"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(exp.runs[i].name, names[i]);
    EXPECT_EQ(exp.runs[i].config.seed, int64_t(i % 2 + 1));
    EXPECT_EQ(exp.runs[i].swept.at("experiment.seed"), std::to_string(i % 2 + 1));
    EXPECT_EQ(exp.runs[i].swept.at("model.attention.plugin"), "\"causal_mha\"");
  }
}

// A plugin table swept (or set) by names alone sweeps (or sets) its plugin.
TEST_F(LoadTest, APluginTableSweptByNamesSweepsItsPlugin) {
  const auto file = write("exp.toml", R"(
[sweep]
"train.lr_schedule" = ["cosine", "wsd"]
)");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 2u);
  EXPECT_EQ(exp.runs[0].config.lr_schedule.plugin, "cosine");
  EXPECT_EQ(exp.runs[1].config.lr_schedule.plugin, "wsd");
  EXPECT_EQ(exp.runs[1].name, "lr_schedule.plugin=wsd");
  EXPECT_EQ(exp.runs[1].swept.at("train.lr_schedule.plugin"), "\"wsd\"");
  // --set of the table by a name is the last word over the sweep of its plugin.
  const Experiment set = load_experiment(file, {"train.lr_schedule=linear"});
  ASSERT_EQ(set.runs.size(), 1u);
  EXPECT_EQ(set.runs[0].config.lr_schedule.plugin, "linear");
}

TEST_F(LoadTest, SweepCasesSetTheirOwnKeysAndCombineWithTheOtherAxes) {
  const auto file = write("exp.toml", R"(
[model]
attention = { plugin = "causal_mha" }
[sweep]
cases = [
  { "model.attention.plugin" = "sliding_window", "model.attention.window" = 16 },
  { "model.position" = "rope" },
  { model.attention.plugin = "gqa", optimizer.lr = 3e-3 },   # nested keys read the same
]
seeds = [1, 2]
)");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 6u);
  // Each case's keys in the order it writes them, then the seed.
  EXPECT_EQ(exp.runs[0].name, "attention.plugin=sliding_window,window=16,seed=1");
  EXPECT_EQ(exp.runs[3].name, "position=rope,seed=2");
  EXPECT_EQ(exp.runs[5].name, "attention.plugin=gqa,lr=0.003,seed=2");
  EXPECT_EQ(exp.runs[1].name, "attention.plugin=sliding_window,window=16,seed=2");
  EXPECT_EQ(exp.runs[0].config.attention.plugin, "sliding_window");
  EXPECT_EQ(std::get<int64_t>(exp.runs[0].config.attention.options.at("window")), 16);
  // A case sets only its keys: the others keep the file's values.
  EXPECT_EQ(exp.runs[2].config.attention.plugin, "causal_mha");
  EXPECT_EQ(exp.runs[2].config.position, "rope");
  EXPECT_EQ(exp.runs[0].config.position, "learned");
  EXPECT_EQ(exp.runs[4].config.lr, 3e-3);
  EXPECT_EQ(exp.runs[5].config.seed, 2);
  EXPECT_EQ(exp.runs[3].swept, (std::map<std::string, std::string>{
                                   {"model.position", "\"rope\""}, {"experiment.seed", "2"}}));
  // --set wins over a case, as over any sweep key.
  const Experiment set = load_experiment(file, {"model.position=\"alibi\""});
  ASSERT_EQ(set.runs.size(), 6u);
  EXPECT_EQ(set.runs[2].config.position, "alibi");
}

TEST_F(LoadTest, NamingAnotherPluginDropsTheEarlierPluginsOptions) {
  write("base.toml", R"(
[optimizer]
plugin = "adamw"
lr = 2e-3
betas = [0.9, 0.95]
)");
  const auto file = write("exp.toml", R"(
[experiment]
include = ["base.toml"]
[sweep]
cases = [{ "optimizer.plugin" = "adamw", "optimizer.weight_decay" = 0.2 },
         { "optimizer.plugin" = "sgd", "optimizer.momentum" = 0.9 }]
)");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 2u);
  // The same plugin keeps the earlier options and adds its own.
  EXPECT_EQ(exp.runs[0].config.optimizer.options.count("betas"), 1u);
  EXPECT_EQ(std::get<double>(exp.runs[0].config.optimizer.options.at("weight_decay")), 0.2);
  // Another plugin drops adamw's betas (sgd has none); lr is the framework's and stays.
  EXPECT_EQ(exp.runs[1].config.optimizer.plugin, "sgd");
  EXPECT_EQ(exp.runs[1].config.optimizer.options.count("betas"), 0u);
  EXPECT_EQ(std::get<double>(exp.runs[1].config.optimizer.options.at("momentum")), 0.9);
  EXPECT_EQ(exp.runs[1].config.lr, 2e-3);
  // The same holds for --set.
  const Experiment set = load_experiment(write("one.toml", "[experiment]\ninclude = [\"base.toml\"]\n"),
                                         {"optimizer.plugin=\"lion\""});
  EXPECT_EQ(set.runs[0].config.optimizer.options.count("betas"), 0u);
}

TEST_F(LoadTest, RunNamesUseMoreOfTheKeyWhenTheLastSegmentIsAmbiguous) {
  const auto file = write("exp.toml", R"(
[sweep]
"optimizer.plugin" = ["adamw", "sgd"]
"data.tokenizer.plugin" = ["char", "byte"]
"train.min_lr" = [0.0001]
"data.dataset" = ["synthetic:sort"]
)");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 4u);
  // ':' is not kept in a folder name; numbers are written in their shortest exact form.
  EXPECT_EQ(exp.runs[1].name,
            "optimizer.plugin=adamw,tokenizer.plugin=byte,min_lr=1e-04,dataset=synthetic_sort");
  EXPECT_EQ(exp.runs[2].config.optimizer.plugin, "sgd");
  EXPECT_EQ(exp.runs[2].config.tokenizer.plugin, "char");
}

TEST_F(LoadTest, RunNamesStayUniqueWhenValuesDifferOnlyInUnsafeCharacters) {
  const auto file = write("exp.toml", R"(
[sweep]
"data.dataset" = ["a/b", "a:b"]
)");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 2u);
  EXPECT_EQ(exp.runs[0].name, "dataset=a_b");
  EXPECT_EQ(exp.runs[1].name, "dataset=a_b-2");
}

TEST_F(LoadTest, IncludedSweepsMergeAndSetStopsSweepingAKey) {
  write("base.toml", R"(
[sweep]
"model.n_layer" = [1, 2]
"optimizer.lr" = [0.1, 0.2]
)");
  const auto file = write("exp.toml", R"(
[experiment]
include = ["base.toml"]
[sweep]
"optimizer.lr" = [0.3, 0.4, 0.5]   # replaces the include's axis, in its place
)");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 6u);
  EXPECT_EQ(exp.runs[1].name, "n_layer=1,lr=0.4");

  // A key set from the command line names the runs too, before the swept ones, so that the
  // runs of another --set value never take the same folder.
  const Experiment one = load_experiment(file, {"optimizer.lr=0.7"});
  ASSERT_EQ(one.runs.size(), 2u);
  EXPECT_EQ(one.runs[1].name, "lr=0.7,n_layer=2");
  EXPECT_EQ(one.runs[1].config.lr, 0.7);
  EXPECT_EQ(load_experiment(file, {"optimizer.lr=0.5"}).runs[1].name, "lr=0.5,n_layer=2");

  // Keys in their sorted order, whatever the order of the --set; experiment.name names the
  // experiment's folder, not the run.
  const Experiment single = load_experiment(
      file, {"optimizer.lr=0.7", "model.n_layer=3", "experiment.name=other"});
  ASSERT_EQ(single.runs.size(), 1u);
  EXPECT_EQ(single.runs[0].name, "n_layer=3,lr=0.7");
  EXPECT_EQ(load_experiment(file, {"model.n_layer=3", "optimizer.lr=0.7"}).runs[0].name,
            "n_layer=3,lr=0.7");
}

TEST_F(LoadTest, ASweepOfOneRunIsNamedFromItsValues) {
  // Another case of the same experiment, run later into the same folder, must not meet a "run".
  const auto file = write("one.toml", R"(
[sweep]
cases = [{ "optimizer.lr" = 0.01 }]
seeds = [3]
)");
  const Experiment exp = load_experiment(file);
  ASSERT_EQ(exp.runs.size(), 1u);
  EXPECT_EQ(exp.runs[0].name, "lr=0.01,seed=3");
}

TEST_F(LoadTest, ResolvedConfigRoundTripsAndHoldsEveryKey) {
  std::filesystem::create_directories(dir_ / "more_plugins");
  const auto file = write("exp.toml", R"(
[experiment]
name = "round-trip"
plugin_dirs = ["more_plugins"]
[data]
tokenizer = { plugin = "byte" }
[model]
dropout = 0.1
bias = true
[optimizer]
plugin = "adamw"
lr = 3e-4
betas = [0.9, 0.95]
weight_decay = 0          # an integer given for a number option is stored as the number
[train]
min_lr = 3e-5
lr_schedule = "linear"
on_nonfinite = "skip"
)");
  const RunSpec run = load_experiment(file).runs[0];
  // plugin_dirs are stored resolved against the file, so the text reads the same from anywhere.
  ASSERT_EQ(run.config.plugin_dirs.size(), 1u);
  EXPECT_EQ(std::filesystem::path(run.config.plugin_dirs[0]),
            (dir_ / "more_plugins").lexically_normal());
  EXPECT_EQ(run.config.optimizer.options.at("weight_decay"), OptionValue(0.0));

  const ExperimentConfig back = parse_resolved_config(run.config_toml, "run.h5:/config");
  EXPECT_EQ(back, run.config);
  for (const auto& spec : config::schema()) {
    if (spec.key == "experiment.include") continue;  // resolved away
    const bool section_plugin = spec.type() == config::KeyType::plugin && spec.parent().empty();
    const std::string line =
        section_plugin ? "[" + spec.key + "]\nplugin = " : "\n" + spec.leaf() + " = ";
    EXPECT_NE(run.config_toml.find(line), std::string::npos) << spec.key << "\n" << run.config_toml;
  }
  EXPECT_NE(run.config_toml.find("tokenizer = { plugin = \"byte\" }"), std::string::npos);
  // A plugin's name alone in the file is stored as its table.
  EXPECT_NE(run.config_toml.find("lr_schedule = { plugin = \"linear\" }"), std::string::npos);
  EXPECT_NE(
      run.config_toml.find("[optimizer]\nplugin = \"adamw\"\nlr = 3e-04\nno_decay = []\n"
                           "betas = [0.9, 0.95]\n"
                           "weight_decay = 0.0\n"),
      std::string::npos)
      << run.config_toml;
}

TEST_F(LoadTest, ResolvedConfigRefusesIncludeAndSweep) {
  const std::string message = config_error([] {
    parse_resolved_config("[experiment]\ninclude = [\"x.toml\"]\n[sweep]\nseeds = [1]\n", "stored");
  });
  EXPECT_NE(message.find("stored:2:1: experiment.include: a resolved config includes nothing"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("stored:3:2: sweep: a resolved config has no [sweep]"), std::string::npos)
      << message;
}

TEST(Schema, EveryDefaultPassesItsOwnChecksAndTheTableListsEveryKey) {
  // An empty resolved config is the defaults: it throws if any default breaks its own row.
  EXPECT_EQ(parse_resolved_config("", "defaults"), config::default_config());
  const std::string table = config::schema_markdown();
  for (const auto& spec : config::schema())
    EXPECT_NE(table.find("| `" + spec.key + "` |"), std::string::npos) << spec.key;
  EXPECT_NE(table.find("| `model.dropout` | number | `0.0` | [0, 1) |"), std::string::npos)
      << table;
  EXPECT_NE(table.find("| `train.lr_schedule` | plugin table | `{ plugin = \"cosine\" }` | a "
                       "schedule plugin "
                       "(`nanolab plugins`) |"),
            std::string::npos);
}

}  // namespace
}  // namespace nanolab
