// Test helper: a run file with known rows and no training, written with the framework's
// RunWriter: <root>/<name>/run.h5 of experiment "exp" (batch 4 x block 8 tokens a step,
// max_iters 100, optimizer.lr and experiment.seed as given), train rows 1..steps with loss
// 4 - step/10 and elapsed_s step/2, and one val row at the last step (loss val_loss). The writer is returned open, the run
// "running", with every row flushed; finish() it for a finished run, or write more rows.
#pragma once

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>

#include "nanolab/run_store.hpp"

namespace nanolab::test {

// The train row of step s in a fake run.
inline TrainRow fake_train_row(int64_t s) {
  return {s, 4.0f - float(s) / 10, 1e-3f, 1.0f, 100.0f, float(s) * 0.5f};
}

inline std::unique_ptr<RunWriter> start_fake_run(const std::filesystem::path& root,
                                                 const std::string& name, int64_t steps,
                                                 const std::string& lr = "0.001",
                                                 int seed = 1, float val_loss = 3.5f) {
  RunWriter::Header h;
  h.experiment = "exp";
  h.run = name;
  h.config_toml =
      "[experiment]\nname = \"exp\"\nseed = " + std::to_string(seed) + "\n[data]\nbatch_size = 4\nblock_size = 8\n"
      "[train]\nmax_iters = 100\n[optimizer]\nlr = " + lr + "\n";
  auto w = RunWriter::create(root / name, h, std::chrono::milliseconds(10));
  for (int64_t s = 1; s <= steps; ++s) w->train(fake_train_row(s));
  w->val({steps, val_loss, 3.6f, NAN});
  w->flush();
  return w;
}

}  // namespace nanolab::test
