// A run's identity: run.h5 gets a random run_id and the sha256 of its configuration, every
// checkpoint carries both, a checkpoint's sha256 covers its run_id, and require_checkpoint_of
// tells a checkpoint of the run from one of another run or configuration. A checkpoint without a
// run_id is written as before run ids (no attribute), and a pair of files of which neither has an
// id is accepted on its configuration; a checkpoint whose configuration differs in train.max_iters
// alone (a run extended before its next checkpoint) is the run's own.
#include <hdf5.h>

#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "nanolab/run_store.hpp"
#include "support/temp_dir.hpp"

namespace nanolab {
namespace {

using test::TempDir;

constexpr auto never = std::chrono::hours(1);

// A root attribute of an HDF5 file as a string ("" when absent), read with HDF5's own API.
std::string root_attr(const std::filesystem::path& file, const char* name) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  std::string value;
  if (H5Aexists(f, name) > 0) {
    const hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    const hid_t type = H5Aget_type(a);
    char* text = nullptr;
    EXPECT_GE(H5Aread(a, type, &text), 0) << name;
    value = text ? text : "";
    H5free_memory(text);
    H5Tclose(type);
    H5Aclose(a);
  }
  H5Fclose(f);
  return value;
}

RunWriter::Header header(const std::string& config) {
  RunWriter::Header h;
  h.experiment = "identity";
  h.run = "run";
  h.config_toml = config;
  return h;
}

Checkpoint checkpoint(const std::string& run_id, const std::string& config) {
  Checkpoint c;
  c.step = 20;
  c.model["wte.weight"] = Tensor::from({0.5f, -1.5f, 2.0f, 0.25f}, {2, 2});
  c.config_toml = config;
  c.run_id = run_id;
  return c;
}

RunLog run_log(const std::string& run_id, const std::string& config) {
  RunLog log;
  log.run_id = run_id;
  log.config_toml = config;
  return log;
}

// require_checkpoint_of's message, or "" when it accepted the pair.
std::string refusal(const RunLog& run, const Checkpoint& ck, const std::filesystem::path& dir) {
  try {
    require_checkpoint_of(run, ck, dir);
  } catch (const CheckpointError& e) {
    EXPECT_EQ(e.code(), ExitCode::checkpoint);
    return e.what();
  }
  return "";
}

TEST(RunIdentity, TheConfigHashIsTheSha256OfTheText) {
  // FIPS 180-2's example.
  EXPECT_EQ(config_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RunIdentity, EachRunGetsItsOwnIdAndTheHashOfItsConfiguration) {
  TempDir tmp;
  const std::string config = "[model]\nn_layer = 2\n";
  std::set<std::string> ids;
  for (const char* name : {"a", "b", "c"}) {
    const auto dir = tmp.path() / name;
    std::string id;
    {
      auto w = RunWriter::create(dir, header(config), never);
      id = w->run_id();
      w->finish("completed", {});
    }
    EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
    ids.insert(id);
    EXPECT_EQ(read_run(dir / "run.h5").run_id, id);
    EXPECT_EQ(root_attr(dir / "run.h5", "run_id"), id);
    EXPECT_EQ(root_attr(dir / "run.h5", "config_sha256"), config_sha256(config));
    // A resume keeps the run's identity.
    EXPECT_EQ(RunWriter::reopen(dir, 0, never)->run_id(), id);
  }
  EXPECT_EQ(ids.size(), 3u) << "two runs got the same id";
}

TEST(RunIdentity, ACheckpointCarriesTheRunIdAndConfigHashAndItsSha256CoversTheId) {
  TempDir tmp;
  const std::string id(32, 'e'), config = "[train]\nmax_iters = 40\n";
  write_checkpoint(tmp.path(), checkpoint(id, config));
  const auto file = tmp.path() / "checkpoint.h5";
  EXPECT_EQ(read_checkpoint(tmp.path()).run_id, id);
  EXPECT_EQ(root_attr(file, "run_id"), id);
  EXPECT_EQ(root_attr(file, "config_sha256"), config_sha256(config));

  // A run_id removed by hand is a corruption, not a checkpoint from before run ids.
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  ASSERT_GE(H5Adelete(f, "run_id"), 0);
  H5Fclose(f);
  try {
    read_checkpoint(tmp.path());
    FAIL() << "a checkpoint whose run_id was removed was read";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + ": corrupt"), std::string::npos)
        << e.what();
  }
}

TEST(RunIdentity, ACheckpointWithoutARunIdIsWrittenAsBeforeRunIds) {
  TempDir tmp;
  write_checkpoint(tmp.path(), checkpoint("", "[model]\n"));
  const auto file = tmp.path() / "checkpoint.h5";
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_EQ(H5Aexists(f, "run_id"), 0);
  H5Fclose(f);
  EXPECT_EQ(read_checkpoint(tmp.path()).run_id, "");
}

TEST(RunIdentity, ACheckpointOfTheRunIsAccepted) {
  const std::string id(32, 'a'), config = "[model]\nn_layer = 2\n";
  EXPECT_TRUE(require_checkpoint_of(run_log(id, config), checkpoint(id, config), "/runs/x/a"));
}

TEST(RunIdentity, ACheckpointOfAnotherRunIsRefusedNamingBoth) {
  const std::string mine(32, 'a'), theirs(32, 'b'), config = "[model]\nn_layer = 2\n";
  const std::string message = refusal(run_log(mine, config), checkpoint(theirs, config), "/r/a");
  EXPECT_EQ(message, "/r/a/checkpoint.h5 belongs to another run: the checkpoint has run_id " +
                         theirs + ", config_sha256 " + config_sha256(config) +
                         "; /r/a/run.h5 has run_id " + mine + ", config_sha256 " +
                         config_sha256(config) +
                         "\nhint: put this run's own checkpoint.h5 back (or delete checkpoint.h5 "
                         "to train the run again from step 0), or resume the checkpoint in the "
                         "directory of the run that wrote it");
}

TEST(RunIdentity, ACheckpointOfAnotherConfigurationIsRefusedNamingBothHashes) {
  const std::string id(32, 'a'), mine = "[model]\nn_layer = 2\n", theirs = "[model]\nn_layer = 3\n";
  const std::string message = refusal(run_log(id, mine), checkpoint(id, theirs), "/r/a");
  EXPECT_NE(message.find("belongs to another configuration: the checkpoint has run_id " + id +
                         ", config_sha256 " + config_sha256(theirs)),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("/r/a/run.h5 has run_id " + id + ", config_sha256 " + config_sha256(mine)),
            std::string::npos)
      << message;
}

// A run extended by `resume --set train.max_iters=N` holds the new length in run.h5 before its
// next checkpoint does: its checkpoint of the old length is still its own, and only that key may
// differ.
TEST(RunIdentity, ACheckpointOfTheRunBeforeItWasExtendedIsAccepted) {
  const std::string id(32, 'a');
  const std::string before = "[model]\nn_layer = 2\n\n[train]\nmax_iters = 6\nwarmup_iters = 1\n";
  const std::string after = config::with_max_iters(before, 10);
  EXPECT_EQ(after, "[model]\nn_layer = 2\n\n[train]\nmax_iters = 10\nwarmup_iters = 1\n");
  EXPECT_TRUE(require_checkpoint_of(run_log(id, after), checkpoint(id, before), "/r/a"));
  const std::string other = config::with_max_iters("[model]\nn_layer = 3\n\n[train]\nmax_iters = 6\n", 10);
  EXPECT_NE(refusal(run_log(id, other), checkpoint(id, before), "/r/a")
                .find("belongs to another configuration"),
            std::string::npos);
  // Only [train]'s own key: a line of another section is left as it is.
  EXPECT_EQ(config::with_max_iters("[x]\nmax_iters = 6\n", 10), "[x]\nmax_iters = 6\n");
}

TEST(RunIdentity, FilesWithoutIdsAreJudgedByTheirConfiguration) {
  const std::string config = "[model]\nn_layer = 2\n";
  EXPECT_FALSE(require_checkpoint_of(run_log("", config), checkpoint("", config), "/r/a"));
  const std::string message =
      refusal(run_log("", config), checkpoint("", "[model]\nn_layer = 3\n"), "/r/a");
  EXPECT_NE(message.find("belongs to another configuration: the checkpoint has no run_id"),
            std::string::npos)
      << message;
}

TEST(RunIdentity, OneIdWithoutTheOtherIsRefused) {
  const std::string id(32, 'a'), config = "[model]\nn_layer = 2\n";
  std::string message = refusal(run_log(id, config), checkpoint("", config), "/r/a");
  EXPECT_NE(message.find("the checkpoint has no run_id (written before run ids)"),
            std::string::npos)
      << message;
  message = refusal(run_log("", config), checkpoint(id, config), "/r/a");
  EXPECT_NE(message.find("/r/a/run.h5 has no run_id (written before run ids)"), std::string::npos)
      << message;
}

}  // namespace
}  // namespace nanolab
