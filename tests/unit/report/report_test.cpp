// The pieces of compare that need no run file: flatten_config (a run's stored TOML as the dotted
// keys and value texts that compare, diff and report show and match --where against) and the
// labels of seed groups, and the names --metric takes.
#include <gtest/gtest.h>

#include "nanolab/report.hpp"

namespace nanolab::report {
namespace {

TEST(FlattenConfig, DottedKeysAndShortestNumberTexts) {
  const auto flat = flatten_config(
      "[model]\nn_embd = 128\nposition = \"rope\"\n[model.attention]\nplugin = \"gqa\"\n"
      "[optimizer]\nlr = 0.003\nbetas = [0.9, 0.99]\nnested = [[1, 2], [\"a\"]]\n"
      "[train]\ncompile = true\n");
  const std::map<std::string, std::string> expected{
      {"model.n_embd", "128"},
      {"model.position", "rope"},
      {"model.attention.plugin", "gqa"},
      {"optimizer.lr", "0.003"},
      {"optimizer.betas", "[0.9, 0.99]"},
      {"optimizer.nested", "[[1, 2], [a]]"},
      {"train.compile", "true"},
  };
  EXPECT_EQ(flat, expected);
}

TEST(FlattenConfig, EmptyArray) {
  EXPECT_EQ(flatten_config("[data]\nfiles = []\n").at("data.files"), "[]");
}

TEST(FlattenConfig, InvalidTomlIsAStorageError) {
  EXPECT_THROW(flatten_config("[model\n"), StorageError);
}

report::Run run_with(const std::string& name, std::map<std::string, std::string> config) {
  report::Run run;
  run.log.run = name;
  run.config = std::move(config);
  return run;
}

TEST(SeedGroups, LabelsNameOnlyTheKeysARunHas) {
  const std::vector<report::Run> runs{
      run_with("mha1", {{"model.attention.plugin", "causal_mha"}, {"experiment.seed", "1"}}),
      run_with("gqa1", {{"model.attention.plugin", "gqa"},
                        {"model.attention.n_kv_head", "2"},
                        {"experiment.seed", "1"}}),
      run_with("mha2", {{"model.attention.plugin", "causal_mha"}, {"experiment.seed", "2"}}),
  };
  const auto groups = seed_groups(refs(runs));
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].label, "model.attention.plugin=causal_mha");
  ASSERT_EQ(groups[0].runs.size(), 2u);
  EXPECT_EQ(groups[0].runs[1]->log.run, "mha2");
  EXPECT_EQ(groups[1].label, "model.attention.n_kv_head=2 model.attention.plugin=gqa");
}

TEST(SeedGroups, OneGroupIsNamedAfterItsFirstRun) {
  const std::vector<report::Run> runs{run_with("first", {{"experiment.seed", "1"}}),
                              run_with("second", {{"experiment.seed", "2"}})};
  const auto groups = seed_groups(refs(runs));
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].label, "first");
}

// The names of the runs that pass the --where clauses.
std::string kept(const std::vector<report::Run>& runs, const std::vector<std::string>& clauses) {
  CompareOptions options;
  for (const auto& clause : clauses) add_where(options, clause);
  std::string names;
  for (const Run& r : filter_runs(runs, options)) names += (names.empty() ? "" : " ") + r.log.run;
  return names;
}

TEST(Where, ComparesNumbersAsNumbersAndTextAsText) {
  std::vector<report::Run> runs{
      run_with("small", {{"optimizer.lr", "0.0003"}, {"model.n_layer", "2"},
                         {"model.position", "rope"}}),
      run_with("big", {{"optimizer.lr", "0.003"}, {"model.n_layer", "12"},
                       {"model.position", "learned"}}),
      run_with("none", {{"optimizer.lr", "0.001"}, {"model.n_layer", "4"}}),
  };
  runs[2].log.status = "failed";
  EXPECT_EQ(kept(runs, {"optimizer.lr>=1e-3"}), "big none");
  EXPECT_EQ(kept(runs, {"optimizer.lr<1e-3"}), "small");
  EXPECT_EQ(kept(runs, {"optimizer.lr=3e-4"}), "small");  // 3e-4 is 0.0003
  EXPECT_EQ(kept(runs, {"optimizer.lr==3e-4,0.001"}), "small none");
  EXPECT_EQ(kept(runs, {"optimizer.lr!=3e-4,0.001"}), "big");
  // 12 > 4 as numbers, though "12" < "4" as text.
  EXPECT_EQ(kept(runs, {"model.n_layer>4"}), "big");
  EXPECT_EQ(kept(runs, {"model.n_layer <= 4"}), "small none");
  EXPECT_EQ(kept(runs, {"model.n_layer>=2", "optimizer.lr>3e-4"}), "big none");  // AND
  // Text: equality only; a missing key passes nothing, not even !=.
  EXPECT_EQ(kept(runs, {"model.position=rope"}), "small");
  EXPECT_EQ(kept(runs, {"model.position!=rope"}), "big");
  EXPECT_EQ(kept(runs, {"status!=failed"}), "small big");
}

TEST(Where, ABadClauseOrUnknownKeyIsAConfigErrorWithTheNearestNames) {
  const std::vector<report::Run> runs{run_with("a", {{"optimizer.lr", "0.001"}})};
  auto message = [&](const std::string& clause) -> std::string {
    try {
      kept(runs, {clause});
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message("optimizer.lr").find("expected KEY OP VALUE"), std::string::npos);
  EXPECT_NE(message("<3").find("expected KEY OP VALUE"), std::string::npos);
  EXPECT_NE(message("optimizer.lr!3").find("expected KEY OP VALUE"), std::string::npos);
  EXPECT_NE(message("optimizer.lr>=fast").find("expected a number after >=, not 'fast'"),
            std::string::npos);
  EXPECT_NE(message("val/loss=low").find("expected a number after =, not 'low'"),
            std::string::npos);
  EXPECT_NE(message("optimizer.lr=").find("expected a value after ="), std::string::npos);
  EXPECT_EQ(message("optimizr.lr>=1e-3"),
            "--where 'optimizr.lr>=1e-3': no run has the config key or metric 'optimizr.lr' "
            "(did you mean optimizer.lr?)");
  EXPECT_NE(message("val_loss<2").find("(did you mean val/loss?)"), std::string::npos)
      << message("val_loss<2");
  EXPECT_NE(message("val/los<2").find("(did you mean val/loss?)"), std::string::npos)
      << message("val/los<2");
  // Nothing near: the nearest names all the same.
  EXPECT_NE(message("zzz=1").find("(the nearest: "), std::string::npos) << message("zzz=1");
}

// --metric takes GROUP/NAME where each part follows the rule of a recorded metric's name
// (nanolab/metrics.hpp): the names a run file can hold, and only those.
TEST(ParseMetric, TakesTheNamesARunFileCanHold) {
  EXPECT_EQ(parse_metric("val/loss").name, "val/loss");
  EXPECT_FALSE(parse_metric("val/loss").higher_is_better);
  EXPECT_TRUE(parse_metric("val/accuracy").higher_is_better);
  EXPECT_TRUE(parse_metric("train/tokens_per_s").higher_is_better);
  EXPECT_EQ(parse_metric("loss/z-loss.v2").name, "loss/z-loss.v2");
  EXPECT_EQ(parse_metric("loss/" + std::string(64, 'a')).name, "loss/" + std::string(64, 'a'));
  const std::vector<std::string> bad_names = {
      "loss", "/loss", "val/", "val/lo ss", "val/loss/x", "train/step", "lo$s/z",
      "loss/" + std::string(65, 'a')};
  for (const std::string& bad : bad_names) {
    try {
      parse_metric(bad);
      ADD_FAILURE() << bad << " was taken";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--metric '" + bad + "': expected group/name"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace nanolab::report
