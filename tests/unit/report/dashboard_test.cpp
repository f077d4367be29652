// The data behind `nanolab serve` (report/dashboard.hpp), without a socket: the per-pixel
// downsampling keeps spikes and puts every long curve on one grid, and gives the same points through
// a column's pyramid; file_inside refuses every way out of a root (`..`, absolute paths, a symbolic
// link that leads out); RunIndex lists runs with their fields, sees new rows and new runs on
// refresh (a long curve's too), and lists a damaged file without failing.
// The real program over HTTP is tests/integration/serve_test.cpp.
#include "report/dashboard.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "runtime/json.hpp"
#include "support/fake_run.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::report {
namespace {

namespace fs = std::filesystem;

Curve ramp(size_t n) {
  Curve c;
  for (size_t i = 0; i < n; ++i) {
    c.x.push_back(double(i));
    c.y.push_back(10.0 - double(i) / double(n));
  }
  return c;
}

TEST(Downsample, KeepsAShortCurveAsItIsButForNonFinitePoints) {
  Curve c = ramp(5);
  c.y[2] = NAN;
  c.x[4] = INFINITY;
  const Curve d = downsample(c, 0, 10, 100);
  EXPECT_EQ(d.x, (std::vector<double>{0, 1, 3}));
  EXPECT_EQ(d.y, (std::vector<double>{c.y[0], c.y[1], c.y[3]}));
}

TEST(Downsample, KeepsEachBucketsMinimumAndMaximumInOrderOnOneGrid) {
  Curve c = ramp(10000);
  c.y[5000] = 50.0;   // a spike up
  c.y[7001] = -50.0;  // and one down
  const Curve d = downsample(c, 0, 10000, 200);
  ASSERT_EQ(d.x.size(), 200u);  // 100 buckets, a minimum and a maximum each
  EXPECT_EQ(*std::max_element(d.y.begin(), d.y.end()), 50.0);
  EXPECT_EQ(*std::min_element(d.y.begin(), d.y.end()), -50.0);
  // The bucket [5000, 5100): the spike came first, then the minimum, at the quarters.
  EXPECT_EQ(d.x[100], 5025.0);
  EXPECT_EQ(d.y[100], 50.0);
  EXPECT_EQ(d.x[101], 5075.0);
  EXPECT_EQ(d.y[101], c.y[5099]);
  // A decreasing curve: in every other bucket the maximum comes first.
  EXPECT_EQ(d.y[0], c.y[0]);
  EXPECT_EQ(d.y[1], c.y[99]);
  // Another long curve over the same range lands on the same x.
  const Curve other = downsample(ramp(3000), 0, 10000, 200);
  for (size_t i = 0; i < other.x.size(); ++i)
    EXPECT_TRUE(std::find(d.x.begin(), d.x.end(), other.x[i]) != d.x.end()) << other.x[i];
}

TEST(Downsample, PutsPointsOutsideTheRangeIntoTheEdgeBuckets) {
  const Curve d = downsample(ramp(1000), 100, 200, 10);
  ASSERT_EQ(d.x.size(), 10u);
  EXPECT_EQ(d.x.front(), 105.0);  // [0, 120) in the first bucket, [100, 120)
  EXPECT_EQ(d.y.front(), 10.0);
  EXPECT_EQ(d.x.back(), 195.0);  // [180, 1000) in the last
  EXPECT_EQ(d.y.back(), ramp(1000).y.back());
}

// A column of `n` rows with gaps of 1 to 3 steps between them, repeated values (ties), and a few
// NaN and infinite ones.
MetricSeries column(size_t n, unsigned seed) {
  MetricSeries c;
  int64_t step = 1;
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1103515245u + 12345u;
    step += 1 + (seed >> 16) % 3;
    c.steps.push_back(step);
    const unsigned r = (seed >> 8) % 1000;
    c.values.push_back(r == 7 ? NAN : r == 8 ? INFINITY : r == 9 ? -INFINITY : float(r % 50));
  }
  return c;
}

TEST(Downsample, AColumnThroughItsPyramidGivesTheSamePointsAsEveryRow) {
  for (const size_t n : {5, 16, 999, 1024, 10007}) {
    const MetricSeries c = column(n, unsigned(n));
    const MinMaxPyramid pyramid = min_max_pyramid(c);
    ASSERT_TRUE(pyramid.sorted);
    for (const double scale : {1.0, 32.0}) {
      Curve all;
      for (size_t i = 0; i < n; ++i) {
        all.x.push_back(double(c.steps[i]) * scale);
        all.y.push_back(c.values[i]);
      }
      const double end = all.x.back();
      for (const auto& [lo, hi] : {std::pair{0.0, end}, {0.0, 4 * end}, {end / 3, end / 2}})
        for (const size_t points : {2, 10, 32, 200, 1000}) {
          const Curve expected = downsample(all, lo, hi, points);
          const Curve got = downsample_column(c, pyramid, scale, lo, hi, points);
          EXPECT_EQ(got.x, expected.x) << n << " rows, " << lo << ".." << hi << ", " << points;
          EXPECT_EQ(got.y, expected.y) << n << " rows, " << lo << ".." << hi << ", " << points;
        }
    }
  }
  // Steps out of order: no pyramid, every row is read.
  MetricSeries shuffled = column(100, 1);
  std::swap(shuffled.steps[10], shuffled.steps[20]);
  const MinMaxPyramid none = min_max_pyramid(shuffled);
  EXPECT_FALSE(none.sorted);
  Curve all;
  for (size_t i = 0; i < 100; ++i) {
    all.x.push_back(double(shuffled.steps[i]));
    all.y.push_back(shuffled.values[i]);
  }
  EXPECT_EQ(downsample_column(shuffled, none, 1, 0, 300, 10).y, downsample(all, 0, 300, 10).y);
}

struct Roots {
  test::TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::path outside = tmp.path() / "secret.txt";
  Roots() {
    fs::create_directories(root / "run");
    std::ofstream(root / "run" / "notes.txt") << "inside";
    std::ofstream(outside) << "outside";
    fs::create_symlink(outside, root / "run" / "escape.txt");
    fs::create_directory_symlink(tmp.path(), root / "up");
    fs::create_symlink(root / "run" / "notes.txt", root / "alias.txt");
  }
};

TEST(FileInside, GivesTheFilesBelowTheRootAndRefusesEveryWayOut) {
  Roots r;
  const fs::path root = fs::canonical(r.root);
  const FileLookup good = file_inside(root, "run/notes.txt");
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.file, root / "run" / "notes.txt");
  EXPECT_EQ(file_inside(root, "alias.txt").status, 200);  // a link that stays inside
  EXPECT_EQ(file_inside(root, "run/missing.txt").status, 404);
  EXPECT_EQ(file_inside(root, "run").status, 404);  // a folder is not a file
  for (const char* escape : {"../secret.txt", "run/../../secret.txt", "run/./notes.txt",
                             "/etc/passwd", "run/escape.txt", "up/secret.txt", ".."})
    EXPECT_EQ(file_inside(root, escape).status, 403) << escape;
  EXPECT_EQ(file_inside(root, std::string("run/notes.txt\0x", 15)).status, 403);
}

TEST(FileInside, AFileRootGivesOnlyItself) {
  Roots r;
  const fs::path file = fs::canonical(r.root / "run" / "notes.txt");
  EXPECT_EQ(file_inside(file, "").status, 200);
  EXPECT_EQ(file_inside(file, "").file, file);
  EXPECT_EQ(file_inside(file, "x").status, 404);
}

json::Json runs_of(const RunIndex& index) { return json::parse(index.runs_json()); }

TEST(RunIndex, ListsEachRunWithItsFields) {
  test::TempDir tmp;
  test::start_fake_run(tmp.path(), "a", 10)->finish("completed", {{"params", 1234}, {"wall_s", 5}});
  RunIndex index({tmp.path()});
  index.refresh();
  const json::Json runs = runs_of(index);
  ASSERT_EQ(runs.size(), 1u);
  const json::Json& r = runs[0];
  EXPECT_EQ(r["id"], 0);
  EXPECT_EQ(r["path"], (fs::canonical(tmp.path()) / "a" / "run.h5").string());
  EXPECT_EQ(r["file"], "/files/0/a/run.h5");
  EXPECT_EQ(r["experiment"], "exp");
  EXPECT_EQ(r["name"], "a");
  EXPECT_EQ(r["status"], "completed");
  EXPECT_EQ(r["last_step"], 10);
  EXPECT_EQ(r["max_iters"], 100.0);
  EXPECT_EQ(r["tokens_per_step"], 32.0);
  EXPECT_EQ(r["wall_s"], 5.0);
  EXPECT_EQ(r["config"]["optimizer.lr"], "0.001");
  EXPECT_EQ(r["summary"]["params"], 1234.0);
  EXPECT_FALSE(r.contains("error"));
  const auto metrics = r["metrics"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(metrics.begin(), metrics.end(), "train/loss"), metrics.end());
  EXPECT_NE(std::find(metrics.begin(), metrics.end(), "val/loss"), metrics.end());
}

TEST(RunIndex, SeesNewRowsAndNewRunsOnRefresh) {
  test::TempDir tmp;
  auto live = test::start_fake_run(tmp.path(), "a", 5);
  RunIndex index({tmp.path()});
  index.refresh();
  const json::Json before = runs_of(index)[0];
  EXPECT_EQ(before["status"], "running");
  EXPECT_EQ(before["last_step"], 5);

  live->train(test::fake_train_row(6));
  live->flush();
  test::start_fake_run(tmp.path(), "b", 3, "0.003")->finish("completed", {});
  index.refresh();
  const json::Json after = runs_of(index);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0]["name"], "a");  // ids stay
  EXPECT_EQ(after[0]["last_step"], 6);
  EXPECT_GT(after[0]["version"].get<int>(), before["version"].get<int>());
  EXPECT_EQ(after[1]["name"], "b");

  MetricsQuery q;
  q.since = 4;
  q.metrics = {"train/loss"};
  const json::Json m = json::parse(*index.metrics_json(0, q));
  EXPECT_EQ(m["version"], after[0]["version"]);
  EXPECT_EQ(m["metrics"].size(), 1u);
  EXPECT_EQ(m["metrics"]["train/loss"]["x"], json::parse("[5,6]"));
  EXPECT_EQ(m["metrics"]["train/loss"]["y"], json::parse("[3.5,3.4]"));
  q.x = XAxis::tokens;
  EXPECT_EQ(json::parse(*index.metrics_json(0, q))["metrics"]["train/loss"]["x"],
            json::parse("[160,192]"));
  EXPECT_FALSE(index.metrics_json(2, q).has_value());
}

TEST(RunIndex, ALongCurveOfARunBeingWrittenShowsItsNewRows) {
  test::TempDir tmp;
  auto live = test::start_fake_run(tmp.path(), "a", 300);
  RunIndex index({tmp.path()});
  index.refresh();
  MetricsQuery q;  // as the page asks: a coarse curve over [0, 512]
  q.points = 16;
  q.lo = 0;
  q.hi = 512;
  q.metrics = {"train/loss"};
  const auto loss_of = [&] {
    const json::Json m = json::parse(*index.metrics_json(0, q))["metrics"]["train/loss"];
    return std::pair{m["x"].get<std::vector<double>>(), m["y"].get<std::vector<double>>()};
  };
  const auto [x_before, y_before] = loss_of();
  ASSERT_EQ(x_before.size(), 10u);  // 5 of the 8 buckets of 64 steps hold rows
  EXPECT_EQ(float(*std::max_element(y_before.begin(), y_before.end())), 3.9f);
  EXPECT_EQ(loss_of().second, y_before);  // the same answer, kept

  for (int64_t s = 301; s <= 330; ++s) {
    TrainRow row = test::fake_train_row(s);
    if (s == 320) row.loss = 50.0f;
    live->train(row);
  }
  live->flush();
  index.refresh();
  const auto [x_after, y_after] = loss_of();
  ASSERT_EQ(x_after.size(), 12u);  // a sixth bucket, [320, 384)
  EXPECT_EQ(y_after[10], 50.0);
  EXPECT_EQ(float(y_after[11]), 4.0f - 330.0f / 10);
}

TEST(RunIndex, ListsADamagedFileAndKeepsTheLastRowsOfOneThatBreaks) {
  test::TempDir tmp;
  test::start_fake_run(tmp.path(), "good", 4)->finish("completed", {});
  fs::create_directories(tmp.path() / "noise");
  std::ofstream(tmp.path() / "noise" / "run.h5") << std::string(3000, 'x');
  RunIndex index({tmp.path()});
  index.refresh();
  json::Json runs = runs_of(index);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["name"], "good");
  EXPECT_EQ(runs[1]["name"], "noise");
  EXPECT_EQ(runs[1]["status"], "damaged");
  EXPECT_NE(runs[1]["error"].get<std::string>().find("noise/run.h5"), std::string::npos);

  // The good file is overwritten with noise: its rows stay, and the error says why.
  std::ofstream(tmp.path() / "good" / "run.h5", std::ios::trunc) << std::string(5000, 'y');
  index.refresh();
  runs = runs_of(index);
  EXPECT_EQ(runs[0]["status"], "completed");
  EXPECT_EQ(runs[0]["last_step"], 4);
  EXPECT_TRUE(runs[0].contains("error"));
}

TEST(RunIndex, ComparesTheSeedGroupsOfTheRunsAskedForAndSeesNewRows) {
  test::TempDir tmp;
  test::start_fake_run(tmp.path(), "a1", 10, "0.001", 1, 2.0f)->finish("completed", {});
  auto live = test::start_fake_run(tmp.path(), "a2", 10, "0.001", 2, 3.0f);
  test::start_fake_run(tmp.path(), "b1", 10, "0.003", 1, 1.5f)->finish("completed", {});
  RunIndex index({tmp.path()});
  index.refresh();
  CompareOptions options;
  options.group_seeds = true;
  const auto column = [](const json::Json& table, const std::string& name) {
    const auto& columns = table["columns"];
    const auto it = std::find(columns.begin(), columns.end(), name);
    EXPECT_NE(it, columns.end()) << name << " in " << columns.dump();
    return size_t(it - columns.begin());
  };
  json::Json t = json::parse(*index.compare_json(options, {}));
  ASSERT_EQ(t["rows"].size(), 2u);
  const size_t group = column(t, "group"), n = column(t, "n"),
               best = column(t, "best val/loss"), ci95 = column(t, "best val/loss ci95");
  EXPECT_EQ(t["rows"][0][group], "optimizer.lr=0.001");
  EXPECT_EQ(t["rows"][0][n], "2");
  // mean 2.5, sample std 0.7071, ci95 t(0.975, 1) x std / sqrt(2) = 12.706 x 0.5 = 6.353
  EXPECT_EQ(t["rows"][0][best], "2.5 ± 0.707");
  EXPECT_EQ(t["rows"][0][ci95], "6.35");
  EXPECT_EQ(t["rows"][1][group], "optimizer.lr=0.003");
  EXPECT_EQ(t["rows"][1][n], "1");
  EXPECT_EQ(t["rows"][1][best], "1.5");

  // Only the runs asked for: one group, named after its first run.
  t = json::parse(*index.compare_json(options, {2, 0}));
  ASSERT_EQ(t["rows"].size(), 2u);
  EXPECT_EQ(t["rows"][0][group], "optimizer.lr=0.003");
  t = json::parse(*index.compare_json(options, {0, 1}));
  ASSERT_EQ(t["rows"].size(), 1u);
  EXPECT_EQ(t["rows"][0][column(t, "group")], "a1");
  EXPECT_FALSE(index.compare_json(options, {0, 3}).has_value());

  // A new best of a running run changes the answer, which is not kept past the file's version.
  live->val({11, 1.0f, 3.6f, NAN});
  live->flush();
  index.refresh();
  t = json::parse(*index.compare_json(options, {}));
  EXPECT_EQ(t["rows"][0][best], "1.5 ± 0.707");

  options.metric = parse_metric("loss/none");
  EXPECT_THROW(index.compare_json(options, {}), ConfigError);
}

TEST(RunIndex, ARootThatDoesNotExistIsAConfigError) {
  test::TempDir tmp;
  EXPECT_THROW(RunIndex({tmp.path() / "nothing"}), ConfigError);
  RunIndex empty({tmp.path()});  // a folder with no run yet is fine
  empty.refresh();
  EXPECT_EQ(empty.runs_json(), "[]");
}

}  // namespace
}  // namespace nanolab::report
