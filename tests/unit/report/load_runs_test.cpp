// report::load_runs over folders where some run files are damaged: the others are read and each
// damaged one is named with its reason; when none can be read, one StorageError names them all;
// a signal stops the reading between two files. The real program's view of the same is in
// tests/integration/compare_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <fstream>
#include <random>

#include "nanolab/interrupt.hpp"
#include "nanolab/report.hpp"
#include "nanolab/run_store.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/child.hpp"

namespace nanolab::report {
namespace {

namespace fs = std::filesystem;

// <root>/<name>/run.h5: a completed run with a few rows.
fs::path write_run(const fs::path& root, const std::string& name) {
  RunWriter::Header h;
  h.experiment = "e";
  h.run = name;
  h.config_toml = "[experiment]\nname = \"e\"\nseed = 1\n";
  auto w = RunWriter::create(root / name, h);
  for (int64_t s = 1; s <= 20; ++s) w->train({s, 3.0f, 1e-3f, 1.0f, 100.0f, float(s)});
  w->val({20, 2.5f, 2.6f, NAN});
  w->finish("completed", {{"params", 10}});
  return root / name / "run.h5";
}

// <root>/<name>/run.h5: the first half of a good run's bytes.
fs::path write_truncated(const fs::path& root, const std::string& name, const fs::path& good) {
  const std::string bytes = test::read_file(good);
  fs::create_directories(root / name);
  std::ofstream(root / name / "run.h5", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  return root / name / "run.h5";
}

fs::path write_random(const fs::path& root, const std::string& name) {
  std::mt19937 gen(5);
  std::string bytes(4096, '\0');
  for (char& c : bytes) c = char(gen());
  fs::create_directories(root / name);
  std::ofstream(root / name / "run.h5", std::ios::binary) << bytes;
  return root / name / "run.h5";
}

std::vector<std::string> names(const std::vector<Run>& runs) {
  std::vector<std::string> out;
  for (const Run& r : runs) out.push_back(r.log.run);
  return out;
}

TEST(LoadRuns, SkipsDamagedFilesNamingThemAndReadsTheOthers) {
  test::TempDir dir;
  const fs::path a = write_run(dir.path(), "a");
  write_run(dir.path(), "c");
  const fs::path half = fs::weakly_canonical(write_truncated(dir.path(), "b", a));
  const fs::path noise = fs::weakly_canonical(write_random(dir.path(), "d"));

  const LoadedRuns loaded = load_runs({dir.path()});
  EXPECT_EQ(names(loaded.runs), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(loaded.runs[0].log.train.size(), 20u);
  ASSERT_EQ(loaded.skipped.size(), 2u);
  EXPECT_EQ(loaded.skipped[0].path, half);
  EXPECT_EQ(loaded.skipped[1].path, noise);
  for (const Skipped& s : loaded.skipped)
    EXPECT_NE(s.reason.find(s.path.string()), std::string::npos) << s.reason;
}

TEST(LoadRuns, AFileGivenByNameIsSkippedLikeOneFoundInAFolder) {
  test::TempDir dir;
  const fs::path a = write_run(dir.path(), "a");
  const fs::path noise = write_random(dir.path(), "d");
  const LoadedRuns loaded = load_runs({a, noise});
  EXPECT_EQ(names(loaded.runs), (std::vector<std::string>{"a"}));
  ASSERT_EQ(loaded.skipped.size(), 1u);
  EXPECT_EQ(loaded.skipped[0].path, fs::weakly_canonical(noise));
}

TEST(LoadRuns, WhenNoneCanBeReadAStorageErrorNamesEach) {
  test::TempDir dir;
  test::TempDir good;
  const fs::path half = write_truncated(dir.path(), "b", write_run(good.path(), "a"));
  const fs::path noise = write_random(dir.path(), "d");
  try {
    load_runs({dir.path()});
    FAIL() << "no error";
  } catch (const StorageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no run could be read"), std::string::npos) << what;
    EXPECT_NE(what.find(fs::weakly_canonical(half).string()), std::string::npos) << what;
    EXPECT_NE(what.find(fs::weakly_canonical(noise).string()), std::string::npos) << what;
  }
}

TEST(LoadRuns, ASignalStopsItBetweenTwoFiles) {
  test::TempDir dir;
  write_run(dir.path(), "a");
  write_run(dir.path(), "b");
  // In a child: the record of a signal is process-wide and never cleared.
  test::Child child([&](const std::function<void()>&) {
    install_interrupt_handlers();
    std::raise(SIGINT);
    try {
      load_runs({dir.path()});
    } catch (const Interrupted& e) {
      if (e.signal() == SIGINT) return;
    }
    throw std::runtime_error("load_runs read on after SIGINT");
  });
  const int status = child.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace nanolab::report
