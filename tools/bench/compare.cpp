// Benchmark of `nanolab compare` over many long runs (the target: 1,000 runs of 10,000
// logged iterations each in under 5 s). It writes synthetic run files with the framework's
// RunWriter — no training — into a scratch folder, then times the real program over the folder,
// once right after writing (files in the page cache) and three more times, keeping the best.
//   bench_compare [--runs 1000] [--rows 10000] [--dir /tmp/nanolab-bench-compare] [--keep]
// The folder is reused when it already holds the requested runs (pass --keep to leave it).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "nanolab/run_store.hpp"

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

// A run whose config differs from its neighbours in lr and seed, with `rows` train rows and a val
// row every 100 steps, finished with a summary as the trainer writes it.
void write_run(const fs::path& dir, int i, int64_t rows) {
  nanolab::RunWriter::Header h;
  h.experiment = "bench";
  h.run = std::to_string(i).insert(0, 1, 'r');
  h.config_toml = "[experiment]\nname = \"bench\"\nseed = " + std::to_string(i % 5) +
                  "\n[optimizer]\nplugin = \"adamw\"\nlr = " + std::to_string(1e-4 * (1 + i / 5)) +
                  "\n[model]\nn_layer = 4\nn_head = 4\nn_embd = 128\n"
                  "[data]\nbatch_size = 32\nblock_size = 64\n";
  h.meta = {{"git_commit", "0000000"}};
  auto w = nanolab::RunWriter::create(dir / h.run, h);
  for (int64_t s = 0; s < rows; ++s) {
    const float loss = 4.0f * std::exp(-float(s) / float(rows)) + 0.01f * float(i % 7);
    w->train({s, loss, 1e-3f, 1.0f, 50000.0f, 0.01f * float(s)});
    if (s % 100 == 0) w->val({s, loss + 0.05f, loss, NAN});
  }
  w->finish("completed", {{"params", 1e6},
                          {"final_train_loss", 1.5},
                          {"wall_s", 0.01 * double(rows)},
                          {"tokens_seen", 2048.0 * double(rows)}});
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 1000;
  int64_t rows = 10000;
  fs::path dir = fs::temp_directory_path() / "nanolab-bench-compare";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else if (a == "--rows" && i + 1 < argc)
      rows = std::atoll(argv[++i]);
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(stderr, "usage: bench_compare [--runs N] [--rows N] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  const fs::path marker = dir / ("ready-" + std::to_string(runs) + "x" + std::to_string(rows));
  if (!fs::exists(marker)) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    const auto t0 = clock_type::now();
    for (int i = 0; i < runs; ++i) write_run(dir, i, rows);
    std::FILE* f = std::fopen(marker.c_str(), "w");
    if (f) std::fclose(f);
    std::printf("wrote %d runs x %lld train rows in %.1f s (%s)\n", runs, (long long)rows,
                seconds_since(t0), dir.c_str());
  }
  const std::string cmd =
      std::string(NANOLAB_BENCH_CLI) + " compare " + dir.string() + " --format csv > /dev/null";
  double best = INFINITY;
  for (int rep = 0; rep < 4; ++rep) {
    const auto t0 = clock_type::now();
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "bench_compare: '%s' failed\n", cmd.c_str());
      return 1;
    }
    const double s = seconds_since(t0);
    std::printf("nanolab compare over %d runs x %lld rows: %.2f s%s\n", runs, (long long)rows, s,
                rep == 0 ? " (first)" : "");
    if (rep > 0) best = std::min(best, s);
  }
  std::printf("best of 3: %.2f s (target < 5 s)\n", best);
  if (!keep) fs::remove_all(dir);
  return 0;
}
