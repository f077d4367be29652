// Every class of configuration error, each with its file:line:col (or --set), full key, reason and
// did-you-mean, and several errors of one file reported in one ConfigError. Messages are matched
// line by line: an error at the wrong place or under the wrong key fails.
#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "config_test_util.hpp"
#include "nanolab/experiment.hpp"
#include "plugin/options_schema.hpp"

namespace nanolab {
namespace {

using config_test::config_error;

class ValidationTest : public config_test::ConfigFiles {
 protected:
  // The ConfigError of loading a file holding `text` (and `overrides`).
  std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
    file_ = write("exp.toml", text).string();
    return config_error([&] { load_experiment(file_, overrides); });
  }
  // `message` has a line starting with "<exp.toml>:" + `line`.
  void expect_line(const std::string& message, const std::string& line) {
    EXPECT_NE(message.find(file_ + ":" + line), std::string::npos)
        << "missing: " << file_ << ":" << line << "\nin:\n"
        << message;
  }
  std::string file_;
};

TEST_F(ValidationTest, SyntaxErrorHasLineAndColumn) {
  const std::string m = error_of("[model]\nn_layer = = 4\n");
  expect_line(m, "2:11: syntax error: ");
  EXPECT_EQ(m.find('\n'), std::string::npos) << "one error, one line: " << m;
}

TEST_F(ValidationTest, UnknownKeyHasFullPathLineAndDidYouMean) {
  const std::string m = error_of("[model]\nn_layer = 2\n  n_layers = 4\n");
  expect_line(m, "3:3: model.n_layers: unknown key (did you mean 'model.n_layer'?)");
}

TEST_F(ValidationTest, UnknownKeyInTheWrongTableNamesWhereItBelongs) {
  const std::string m = error_of("[model]\nlr = 0.1\n");
  expect_line(
      m, "2:1: model.lr: unknown key (did you mean 'optimizer.lr'? it belongs to [optimizer])");
}

TEST_F(ValidationTest, UnknownTableAndFarKeyListTheKnownOnes) {
  const std::string m = error_of("[modle]\nn_layer = 2\n[train]\nwhatever = 1\n");
  expect_line(m, "1:2: modle: unknown key (did you mean 'model'?)");
  expect_line(m, "4:1: train.whatever: unknown key\n    hint: the keys of [train] are max_iters, ");
}

// A key under a table that does not exist: the hint names that table and lists the keys of the
// nearest one that does, never an empty list.
TEST_F(ValidationTest, AKeyOfATableThatDoesNotExistNamesTheTablesThatDo) {
  const std::string m =
      error_of("[model]\nn_layer = 2\n", {"foo.bar=1", "model.foo.bar=1", "modle.n_layer=2"});
  EXPECT_NE(m.find("--set foo.bar: unknown key (from --set)\n    hint: there is no table [foo]; "
                   "the top-level tables are experiment, data, model, "),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("--set model.foo.bar: unknown key (from --set)\n    hint: there is no table "
                   "[model.foo]; the keys of [model] are init_from, n_layer, "),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("--set modle.n_layer: unknown key (from --set) (did you mean 'model'?)"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find(" are \n"), std::string::npos) << m;
}

TEST_F(ValidationTest, WrongTypeSaysExpectedAndActual) {
  const std::string m = error_of(
      "[model]\nn_head = \"four\"\nn_layer = 4.0\nbias = 1\n[data]\ntokenizer = 3\n");
  expect_line(m, "2:10: model.n_head: expected an integer, got a string \"four\"");
  expect_line(m, "3:11: model.n_layer: expected an integer, got a number 4.0");
  expect_line(m, "4:8: model.bias: expected a boolean, got an integer 1");
  expect_line(m,
              "6:13: data.tokenizer: expected a plugin's name or a table { plugin = \"NAME\" }, got "
              "an integer 3\n    hint: write tokenizer = \"NAME\", or tokenizer = { plugin = "
              "\"NAME\", option = value } in [data]");
}

TEST_F(ValidationTest, ValuesOutOfRange) {
  const std::string m = error_of(
      "[data]\nblock_size = 0\n[model]\ndropout = 1.0\n[optimizer]\nlr = -1e-3\n"
      "[train]\nlr_schedule = \"cosin\"\ngrad_clip = nan\n");
  expect_line(m, "2:14: data.block_size: must be [1, 1048576], got 0");
  expect_line(m, "4:11: model.dropout: must be [0, 1), got 1.0");
  expect_line(m, "6:6: optimizer.lr: must be > 0, got -0.001");
  expect_line(m,
              "8:15: train.lr_schedule.plugin: no schedule plugin named 'cosin' (did you mean "
              "'cosine'?); "
              "found: ");
  expect_line(m, "9:13: train.grad_clip: must be a finite number >= 0, got nan");
}

// A plugin's table option is written as a TOML table (inline or a [section]), checked at each field's
// value, stored as dotted keys and read back the same.
TEST_F(ValidationTest, ATableOptionIsATomlTableCheckedAtEachField) {
  const std::string dirs =
      "[experiment]\nplugin_dirs = [\"" + std::string(NANOLAB_TEST_FIXTURE_PLUGIN_DIR) + "\"]\n";
  const std::string m = error_of(
      dirs + "[data]\ntokenizer = { plugin = \"fixture_bytes\", window = { size = 0, "
             "stride = { step = -1.0, stepp = 2 } } }\n");
  expect_line(m, "4:59: data.tokenizer.window.size: must be [1, 64], got 0");
  expect_line(m, "4:80: data.tokenizer.window.stride.step: must be > 0, got -1.0");
  expect_line(m, "4:94: data.tokenizer.window.stride.stepp: unknown option (did you mean "
                 "'window.stride.step'?)");
  const std::string plain = error_of(dirs + "[data]\ntokenizer = { plugin = \"fixture_bytes\", "
                                            "window = 3 }\n");
  expect_line(plain, "4:50: data.tokenizer.window: expected a table { size, stride.step }, got an "
                     "integer 3");

  const RunSpec run = load_experiment(write("good.toml", dirs + R"([data.tokenizer]
plugin = "fixture_bytes"
[data.tokenizer.window]
size = 8
stride.step = 3
)")).runs[0];
  EXPECT_EQ(run.config.tokenizer.options,
            (std::map<std::string, OptionValue>{{"window.size", int64_t{8}},
                                                {"window.stride.step", 3.0}}));
  EXPECT_NE(run.config_toml.find("window.size = 8, window.stride.step = 3.0 }"),
            std::string::npos)
      << run.config_toml;
  EXPECT_EQ(parse_resolved_config(run.config_toml, "run.h5 /config"), run.config);
}

// A plugin's name alone is short for { plugin = NAME }, in a file, a sweep and --set alike.
TEST_F(ValidationTest, APluginsNameAloneIsThePluginWithItsDefaults) {
  const std::string file = "[model]\nattention = \"causal_mha\"\n[train]\nlr_schedule = \"wsd\"\n";
  const ExperimentConfig c = parse_resolved_config(file, "short");
  EXPECT_EQ(c.attention.plugin, "causal_mha");
  EXPECT_EQ(c.lr_schedule.plugin, "wsd");
  EXPECT_TRUE(c.lr_schedule.options.empty());
  const ExperimentConfig t = parse_resolved_config(
      "[train]\nlr_schedule = { plugin = \"wsd\", decay_frac = 0.3 }\n", "table");
  EXPECT_EQ(t.lr_schedule.plugin, "wsd");
  EXPECT_EQ(std::get<double>(t.lr_schedule.options.at("decay_frac")), 0.3);
}

// wsd's decay fraction is its own option, a share of the run: more than 0 (a decay of no steps is
// no schedule) and at most all of it, checked like any plugin option at its value.
TEST_F(ValidationTest, WsdDecayFracIsAnOptionAboveZeroAndAtMostOne) {
  for (const char* bad : {"0.0", "1.5", "-0.2"}) {
    const std::string m = error_of(
        std::string("[train]\nlr_schedule = { plugin = \"wsd\", decay_frac = ") + bad + " }\n");
    expect_line(m, std::string("2:46: train.lr_schedule.decay_frac: must be (0, 1], got ") + bad);
  }
  for (const char* good : {"1.0", "0.05"}) {
    const std::string m =
        std::string("[train]\nlr_schedule = { plugin = \"wsd\", decay_frac = ") + good + " }";
    EXPECT_DOUBLE_EQ(
        std::get<double>(parse_resolved_config(m, "wsd").lr_schedule.options.at("decay_frac")),
        std::stod(good))
        << good;
  }
  // The key it was before is refused in a file, with the way to write it now.
  expect_line(error_of("[train]\nlr_decay_frac = 0.3\n"),
              "2:1: train.lr_decay_frac: unknown key: it is the wsd schedule's option decay_frac\n"
              "    hint: write lr_schedule = { plugin = \"wsd\", decay_frac = 0.3 } in [train]");
}

// Runs stored train.lr_schedule = "NAME" and train.lr_decay_frac before the schedule took
// options: their configs read back with wsd's fraction as its option, and without it otherwise.
TEST_F(ValidationTest, AStoredConfigWithLrDecayFracReadsBackAsWsdsOption) {
  const ExperimentConfig wsd = parse_resolved_config(
      "[train]\nlr_schedule = \"wsd\"\nlr_decay_frac = 0.35\n", "run.h5 /config");
  EXPECT_EQ(wsd.lr_schedule.plugin, "wsd");
  EXPECT_EQ(std::get<double>(wsd.lr_schedule.options.at("decay_frac")), 0.35);
  const ExperimentConfig cosine = parse_resolved_config(
      "[train]\nlr_schedule = \"cosine\"\nlr_decay_frac = 0.35\n", "run.h5 /config");
  EXPECT_EQ(cosine.lr_schedule.plugin, "cosine");
  EXPECT_TRUE(cosine.lr_schedule.options.empty());
  std::map<std::string, std::string> flat = {{"train.lr_schedule", "wsd"},
                                             {"train.lr_decay_frac", "0.35"},
                                             {"model.attention.plugin", "causal_mha"}};
  config::upgrade_flat_config(flat);
  EXPECT_EQ(flat, (std::map<std::string, std::string>{{"train.lr_schedule.plugin", "wsd"},
                                                      {"train.lr_schedule.decay_frac", "0.35"},
                                                      {"model.attention.plugin", "causal_mha"}}));
}

TEST_F(ValidationTest, NEmbdMustBeDivisibleByNHead) {
  const std::string m = error_of("[model]\nn_head = 6\nn_embd = 130\n");
  expect_line(
      m,
      "3:10: model.n_embd: n_embd = 130 is not divisible by n_head = 6\n"
      "    hint: each head gets n_embd / n_head channels; e.g. n_embd = 132 with n_head = 6");
  // Only n_head given: the error is where the user can fix it.
  const std::string m2 = error_of("[model]\nn_head = 5\n");
  expect_line(m2, "2:10: model.n_head: n_embd = 128 is not divisible by n_head = 5");
}

TEST_F(ValidationTest, WarmupAndMinLrRules) {
  const std::string m = error_of("[train]\nmax_iters = 50\nwarmup_iters = 100\nmin_lr = 0.01\n");
  expect_line(m, "3:16: train.warmup_iters: warmup_iters = 100 is more than max_iters = 50");
  expect_line(m, "4:10: train.min_lr: min_lr = 0.01 is more than optimizer.lr = 0.001");
}

TEST_F(ValidationTest, UnknownPluginNameWithDidYouMean) {
  const std::string m = error_of("[model]\nattention = { plugin = \"causal_mah\" }\n");
  expect_line(m,
              "2:24: model.attention.plugin: no attention plugin named 'causal_mah' (did you "
              "mean 'causal_mha'?)");
  const std::string m2 = error_of("[optimizer]\nplugin = \"adam\"\n");
  expect_line(m2,
              "2:10: optimizer.plugin: no optimizer plugin named 'adam' (did you mean 'adamw'?)");
}

TEST_F(ValidationTest, BadPluginOptionsAreNamedByFullPath) {
  const std::string m = error_of(
      "[optimizer]\nplugin = \"adamw\"\nbetas = \"x\"\nbetaz = [0.9]\nweight_decay = -1\n"
      "[loss]\nsmoothing = { a = 1 }\n");
  expect_line(m, "3:9: optimizer.betas: expected a number list, got a string \"x\"");
  expect_line(m, "4:9: optimizer.betaz: unknown option (did you mean 'betas'?)");
  expect_line(m, "5:16: optimizer.weight_decay: must be >= 0, got -1.0");
  // A table where the plugin declares none is its fields, each unknown.
  expect_line(m, "7:19: loss.smoothing.a: unknown option; its options are label_smoothing, z_loss");
}

// A plugin's option problems are reported natively where the value was written: at the element of
// a list a bound is about; open bounds and list lengths come from the plugin's schema.
TEST_F(ValidationTest, PluginOptionProblemsArePlacedAtTheirValueOrElement) {
  const std::string m = error_of(
      "[optimizer]\nplugin = \"adamw\"\nbetas = [0.9, 1.0]\neps = 0\n[data]\n"
      "tokenizer = { plugin = \"bpe\", special_tokens = \"<|endoftext|>\" }\n");
  expect_line(m, "3:15: optimizer.betas: element 2 must be [0, 1), got 1.0");
  expect_line(m, "4:7: optimizer.eps: must be > 0, got 0.0");
  expect_line(m, "6:48: data.tokenizer.special_tokens: expected a string list, got a string "
                 "\"<|endoftext|>\"\n    hint: `nanolab plugins show bpe` lists its options");
  const std::string short_betas = error_of("[optimizer]\nbetas = [0.9]\n");
  expect_line(short_betas, "2:9: optimizer.betas: must be 2 numbers, got 1 ([0.9])");
}

// A key of the file and a plugin's option are checked by one function against one type
// (OptionSpec): the same constraint gives the same message, whichever of the two declares it.
TEST_F(ValidationTest, AKeyAndAPluginOptionWithTheSameConstraintSayTheSame) {
  // The constraints of model.dropout, model.position, model.n_layer and train.grad_clip, as a
  // plugin declares them.
  const std::vector<OptionSpec> options = {
      {"dropout", OptionType::number, 0.0, 0.0, exclusive(1.0), {}, "[0, 1)"},
      {"position", OptionType::string, std::string("learned"), std::nullopt, std::nullopt,
       {"learned", "rope", "alibi", "none"}, "a position encoding"},
      {"n_layer", OptionType::integer, int64_t{4}, 1.0, 4096.0, {}, "[1, 4096]"},
      {"clip", OptionType::number, 1.0, 0.0, std::nullopt, {}, ">= 0"},
      {"bias", OptionType::boolean, false, std::nullopt, std::nullopt, {}, "a boolean"},
  };
  std::map<std::string, OptionValue> complete;
  std::map<std::string, std::string> said;
  for (const auto& p : plugin::check_options(
           options,
           {{"dropout", 1.0},
            {"position", std::string("rop")},
            {"n_layer", int64_t{0}},
            {"clip", std::numeric_limits<double>::quiet_NaN()},
            {"bias", int64_t{1}}},
           complete))
    said[p.option] = p.message;
  ASSERT_EQ(said.size(), 5u);
  EXPECT_EQ(said.at("dropout"), "must be [0, 1), got 1.0");
  EXPECT_EQ(said.at("clip"), "must be a finite number >= 0, got nan");

  const std::string m = error_of(
      "[model]\ndropout = 1.0\nposition = \"rop\"\nn_layer = 0\nbias = 1\n"
      "[train]\ngrad_clip = nan\n");
  expect_line(m, "2:11: model.dropout: " + said.at("dropout") + "\n");
  expect_line(m, "3:12: model.position: " + said.at("position") + "\n");
  expect_line(m, "4:11: model.n_layer: " + said.at("n_layer") + "\n");
  expect_line(m, "5:8: model.bias: " + said.at("bias") + "\n");
  expect_line(m, "7:13: train.grad_clip: " + said.at("clip"));
}

TEST_F(ValidationTest, IncludeCycleIsAnError) {
  write("a.toml", "[experiment]\ninclude = [\"b.toml\"]\n");
  write("b.toml", "[experiment]\ninclude = [\"a.toml\"]\n");
  const auto a = (dir_ / "a.toml").string();
  const auto b = (dir_ / "b.toml").string();
  const std::string m = config_error([&] { load_experiment(a); });
  EXPECT_NE(m.find(b + ":2:12: experiment.include: include cycle: " + a + " -> " + b + " -> " + a),
            std::string::npos)
      << m;
}

TEST_F(ValidationTest, MissingIncludeNamesTheFileAndWhereItWasLookedFor) {
  const std::string m =
      error_of("[experiment]\ninclude = [\"base.toml\", \"nowhere/x.toml\"]\n", {});
  expect_line(m, "2:25: experiment.include: cannot include '" + (dir_ / "nowhere/x.toml").string() +
                     "': no such file");
}

TEST_F(ValidationTest, MissingExperimentFile) {
  const auto missing = (dir_ / "missing.toml").string();
  EXPECT_EQ(config_error([&] { load_experiment(missing); }), missing + ": no such file");
}

TEST_F(ValidationTest, SetErrorsSayTheyComeFromTheCommandLine) {
  const std::string m = error_of(
      "", {"model.n_layers=3", "model.n_head=four", "optimizer.lr", "optimizer.betas=[1, 2]"});
  EXPECT_NE(
      m.find("--set model.n_layers: unknown key (from --set) (did you mean 'model.n_layer'?)"),
      std::string::npos)
      << m;
  // A bare word is a string, so the type error shows what the value became.
  EXPECT_NE(m.find("--set model.n_head: expected an integer, got a string \"four\""),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("--set optimizer.lr: expected key=value"), std::string::npos) << m;
  EXPECT_NE(m.find("--set optimizer.betas: element 2 must be [0, 1), got 2.0"), std::string::npos)
      << m;
}

TEST_F(ValidationTest, SweepKeysAndValuesAreValidated) {
  const std::string m = error_of(
      "[sweep]\n\"model.n_layers\" = [1, 2]\n\"model.n_head\" = [4, 0]\n\"optimizer.lr\" = 0.1\n"
      "\"experiment.name\" = [\"a\", \"b\"]\n\"model\" = [1]\n\"train.max_iters\" = []\n");
  expect_line(m, "2:1: sweep.model.n_layers: unknown key (did you mean 'model.n_layer'?)");
  expect_line(m, "3:22: model.n_head: must be [1, 65536], got 0");
  expect_line(m, "4:18: sweep.optimizer.lr: expected an array of values, got a number 0.1");
  expect_line(m, "5:1: sweep.experiment.name: experiment.name cannot be swept");
  expect_line(m, "6:1: sweep.model: cannot sweep the table model; sweep one of its keys");
  expect_line(m, "7:21: sweep.train.max_iters: an empty array makes no runs");
}

TEST_F(ValidationTest, SweepCasesAreValidatedLikeTheKeysOfAFile) {
  const std::string m = error_of(
      "[sweep]\n"
      "\"optimizer.lr\" = [1e-3]\n"
      "cases = [{ \"model.n_layers\" = 2 }, 3, { \"optimizer.lr\" = 0.1 },\n"
      "         { \"model.position\" = \"sinusoid\" }, { \"experiment.name\" = \"x\" }]\n");
  expect_line(m, "3:12: model.n_layers: unknown key (did you mean 'model.n_layer'?)");
  expect_line(m, "3:36: sweep.cases: expected a table of the keys one case sets, got an integer 3");
  // Whichever of the two is read second is the one reported.
  expect_line(m, "2:1: sweep.optimizer.lr: optimizer.lr is swept twice");
  expect_line(m, "4:31: model.position: must be one of \"learned\", \"rope\", \"alibi\", \"none\", "
                 "got \"sinusoid\"");
  expect_line(m, "4:47: sweep.cases: experiment.name cannot be swept: it is the same for every run");
  EXPECT_NE(error_of("[sweep]\ncases = []\n").find("sweep.cases: an empty array makes no runs"),
            std::string::npos);
}

TEST_F(ValidationTest, SeedsAndExperimentSeedCannotBothBeSwept) {
  const std::string m = error_of("[sweep]\n\"experiment.seed\" = [1, 2]\nseeds = [3]\n");
  expect_line(m, "3:1: sweep.seeds: experiment.seed is swept twice");
}

TEST_F(ValidationTest, EveryErrorOfAFileComesInOneMessageInLineOrder) {
  const std::string m = error_of(
      "[model]\n"
      "n_layer = 0\n"       // out of range
      "n_heads = 4\n"       // unknown
      "n_embd = \"big\"\n"  // wrong type
      "[train]\n"
      "on_nonfinite = \"ignore\"\n",  // not one of the choices
      {"train.max_iters=0"});
  ASSERT_EQ(m.rfind(file_ + ": 5 errors\n", 0), 0u) << m;
  const std::vector<std::string> in_order = {
      file_ + ":2:11: model.n_layer:", file_ + ":3:1: model.n_heads:",
      file_ + ":4:10: model.n_embd:", file_ + ":6:16: train.on_nonfinite:",
      "--set train.max_iters: must be [1, 1000000000000], got 0"};
  size_t at = 0;
  for (const auto& line : in_order) {
    const size_t found = m.find(line, at);
    ASSERT_NE(found, std::string::npos) << line << " (in order) in:\n" << m;
    at = found;
  }
}

TEST_F(ValidationTest, ErrorsInAnIncludedFileNameThatFile) {
  write("base.toml", "[model]\n\nn_layer = -2\n");
  const std::string m = error_of("[experiment]\ninclude = [\"base.toml\"]\n[model]\nbias = 2\n");
  EXPECT_NE(m.find((dir_ / "base.toml").string() +
                   ":3:11: model.n_layer: must be [1, 4096], got -2"),
            std::string::npos)
      << m;
  expect_line(m, "4:8: model.bias: expected a boolean, got an integer 2");
}

}  // namespace
}  // namespace nanolab
