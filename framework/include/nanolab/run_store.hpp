// Run files: the HDF5 run log (run.h5), the run lock, and checkpoints (checkpoint.h5).
//
// Layout (DESIGN.md, docs/run-format.md): root attrs format, format_version, status, experiment,
// run, run_id, config_sha256, created, finished; /config (resolved TOML text); /meta attrs;
// /plugins/<kind> attrs;
// /metrics/train/{step,loss,lr,grad_norm,tokens_per_s,elapsed_s};
// /metrics/val/{step,loss,train_loss,accuracy}; /metrics/<group>/{step,<name>...} of the values
// recorded through Metrics (nanolab/metrics.hpp); /samples/{step,text}; /summary attrs;
// /tokenizer (the tokenizer's saved bytes).
//
// RunWriter: every HDF5 call goes through one I/O thread (Debian's HDF5 is serialised by one
// global lock, and the trainer must not wait on disk). Rows are queued and flushed at most every
// flush_interval, and at close: a flush opens the file, appends, and closes it again, so that a
// kill -9 of the writer leaves a file that opens with h5py and h5dump without repair, holding every
// flushed row. A flush that fails (a full disk, an I/O error) leaves the file as the last good
// flush left it (store/commit_driver.hpp). The run directory is claimed with a lock file
// (run.lock, holding the pid): a second live process gets a RunInUse error (exit 75) and changes
// nothing; a lock whose pid no longer lives is stale and taken over. run.h5 is created with EXCL, never truncated.
//
// Checkpoints: write_checkpoint writes checkpoint.h5.tmp, fsyncs it, renames it over
// checkpoint.h5 and fsyncs the directory, so checkpoint.h5 is always a whole checkpoint (the
// previous one stays until the new one is complete). read_checkpoint throws CheckpointError
// (exit 7) naming the file for a missing, truncated or corrupt one.
//
// Identity: a run gets a random run_id when run.h5 is created; every checkpoint of the run carries
// it, and both files carry the sha256 of the resolved configuration, so that a resume can tell a
// checkpoint of another run (copied in by hand) from the run's own (require_checkpoint_of).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nanolab/errors.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab {

struct NANOLAB_VISIBLE RunInUse : Error {
  explicit RunInUse(const std::string& what) : Error(ExitCode::run_in_use, what) {}
};

struct TrainRow {
  int64_t step;
  float loss, lr, grad_norm, tokens_per_s, elapsed_s;
};
struct ValRow {
  int64_t step;
  float loss;
  float train_loss;  // loss on eval_iters train batches at the same step
  float accuracy;    // NaN where the task has none (the column always exists)
};
// The column of an evaluation row that a val/ metric names: val/loss, val/train_loss or
// val/accuracy (any other name reads the accuracy).
inline float val_column(const ValRow& row, std::string_view metric) {
  return metric == "val/loss"         ? row.loss
         : metric == "val/train_loss" ? row.train_loss
                                      : row.accuracy;
}

// A value recorded through Metrics (nanolab/metrics.hpp) in a logged step: a float32 column
// /metrics/<group>/<name> of run.h5. Group "train" adds columns to the train rows.
struct RecordedMetric {
  std::string group, name;
  float value;
};

// The points of one column of /metrics, by "group/name": every row whose value was recorded
// (NaN rows are left out).
struct MetricSeries {
  std::vector<int64_t> steps;
  std::vector<float> values;
};

struct PluginRecord {
  std::string kind, name, version, file, sha256;
};

// Values of /meta and /summary attributes.
using Attrs = std::map<std::string, std::string>;
using NumericAttrs = std::map<std::string, double>;

class RunWriter {
 public:
  struct Header {
    std::string experiment, run;
    std::string config_toml;
    Attrs meta;                  // command line, git commit, dirty flag + diff, host, versions...
    std::vector<PluginRecord> plugins;
    std::string tokenizer;       // the tokenizer's saved bytes
  };
  // Claims `dir` (creating it) and creates dir/run.h5 with status "running".
  static std::unique_ptr<RunWriter> create(const std::filesystem::path& dir, const Header& header,
                                           std::chrono::milliseconds flush_interval =
                                               std::chrono::milliseconds(1000));
  // Claims an existing run for `nanolab resume`: rows after `step` are dropped (they were logged
  // after the checkpoint the run resumes from) and status goes back to "running".
  static std::unique_ptr<RunWriter> reopen(const std::filesystem::path& dir, int64_t step,
                                           std::chrono::milliseconds flush_interval =
                                               std::chrono::milliseconds(1000));
  // Claims a run that never wrote a checkpoint, to train it again from step 0: every row is
  // dropped and status goes back to "running"; the header (configuration, run_id...) stays. A
  // checkpoint.h5 found once the run is claimed means that the run's own process wrote it and
  // finished meanwhile: RunInUse (exit 75), nothing changed.
  static std::unique_ptr<RunWriter> restart(const std::filesystem::path& dir,
                                            std::chrono::milliseconds flush_interval =
                                                std::chrono::milliseconds(1000));
  virtual ~RunWriter() = default;  // flushes, closes, releases the lock

  // The run's identity, for its checkpoints: made by create(), read back by reopen() and
  // restart(); "" for a run written before run ids.
  virtual const std::string& run_id() const = 0;

  // A train row and the values recorded in its step (RecordedMetric): each lands in the row of
  // its group logged at this step, NaN in the rows where it was not recorded.
  virtual void train(const TrainRow& row, std::vector<RecordedMetric> recorded) = 0;
  void train(const TrainRow& row) { train(row, {}); }
  virtual void val(const ValRow& row) = 0;
  virtual void sample(int64_t step, const std::string& text) = 0;
  // Sets status ("completed", "failed", "interrupted") and `finished`, the summary, and flushes.
  // When the write fails, the run is recorded as "failed" (in space kept for it, so even on a full
  // disk). Throws the I/O error unless check() or flush() has already thrown it or `status` is
  // "failed" (the caller is reporting an error already), and throws when not even "failed" could
  // be recorded.
  virtual void finish(const std::string& status, const NumericAttrs& summary) = 0;
  virtual void flush() = 0;  // waits until everything queued is on disk (not fsynced)
  // The first I/O error (StorageError naming the path, exit 5) seen by the I/O thread, rethrown
  // here on the trainer's thread.
  virtual void check() = 0;
};

// A reader for compare/report/resume/sample: opens with the plain library, never writes.
// A run being written by another process reads as a consistent prefix of its rows (a failed open
// in the instant of a flush is retried). Not for a run that a RunWriter of this same process has
// open: one process cannot hold an HDF5 file read-only and read-write at once, and the writer's
// flush would fail.
struct RunLog {
  std::string status, experiment, run, created, finished;
  std::string run_id;  // "" for a run written before run ids
  std::string config_toml;
  Attrs meta;
  std::vector<PluginRecord> plugins;
  std::string tokenizer;
  std::vector<TrainRow> train;
  std::vector<ValRow> val;
  // Every float column of every /metrics group by "group/name" ("train/loss", "loss/z_loss").
  std::map<std::string, MetricSeries> metrics;
  std::vector<std::pair<int64_t, std::string>> samples;
  NumericAttrs summary;
};
RunLog read_run(const std::filesystem::path& run_h5);

struct Checkpoint {
  int64_t step = 0;                        // the number of completed iterations
  std::map<std::string, Tensor> model;     // parameter name -> values
  std::map<std::string, Tensor> optimizer; // the optimizer's state tensors ("<param>.<state>")
  std::map<std::string, int64_t> optimizer_scalars;  // and its scalars (e.g. "step")
  std::string tokenizer;                   // saved bytes
  std::string config_toml;
  std::map<std::string, int64_t> counters; // e.g. tokens_seen, nonfinite_skips
  std::map<std::string, double> values;    // e.g. best_val_loss, elapsed_s
  std::string run_id;                      // the run's (RunWriter::run_id); "" before run ids
  // Of the file read (read_checkpoint); a written one has the current version. Version 1 kept the
  // optimizer's step count as a float tensor "step" (read into optimizer_scalars) and state only
  // for the parameters that had been updated.
  int64_t format_version = 2;
};
void write_checkpoint(const std::filesystem::path& dir, const Checkpoint& checkpoint);
Checkpoint read_checkpoint(const std::filesystem::path& dir);

// The sha256 (64 hex digits) of a resolved configuration's TOML text: the config_sha256 attribute
// of run.h5 and checkpoint.h5.
std::string config_sha256(const std::string& config_toml);

// Holds that `checkpoint` (read from dir/checkpoint.h5) belongs to `run` (dir/run.h5): the same
// run_id and the same configuration, but for train.max_iters (a run that `nanolab resume --set
// train.max_iters=N` extended and that stopped before its next checkpoint). Otherwise
// CheckpointError (exit 7) naming both files, both ids and both configuration hashes. Files
// written before run ids have none: a pair of which neither has one is accepted on its
// configuration alone, and false says so (the caller notes it); one id without the other is
// refused. Returns true when the ids match.
bool require_checkpoint_of(const RunLog& run, const Checkpoint& checkpoint,
                           const std::filesystem::path& dir);

}  // namespace nanolab
