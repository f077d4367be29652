// RunWriter: creates run.h5 (or reclaims it for a resume) and appends rows from one I/O thread.
//
// The trainer's calls only queue rows under a mutex; the I/O thread owns every HDF5 call after
// create/reopen. A flush opens the file, writes, and closes it (the cycle that left every killed
// file readable without repair, STACK.md), so between flushes run.h5 is a closed, complete file.
// Within a flush the data columns are written and flushed to the file before the `step` columns
// are extended: a reader that finds a row's step finds its values too (read_run also takes the
// shortest column). Row positions are fixed before a write starts, so a flush that failed
// half-way (disk full) is repeated whole at the next flush and never duplicates a row.
//
// run.h5 is written through the commit driver (commit_driver.hpp): a flush that fails leaves the
// file as the last good flush left it. The run's ending (status, finished, summary) must reach
// the file even then: when a write that carries one fails, the ending alone is written again as
// `failed`, allowed to spend the space the driver keeps in reserve for it.
//
// The values recorded through Metrics travel with their step's train row. Group "train" adds a
// column beside the train row's own; every other group has its own `step` column and a row for
// each train row with a value of the group. Every column of a group is written at every row of the
// group (NaN where a name was not recorded), so that all its columns keep one length.
//
// Not a general HDF5 logger: the layout is run_layout.hpp and docs/run-format.md.
#include <time.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "nanolab/run_dir.hpp"
#include "nanolab/run_store.hpp"
#include "store/extend_run.hpp"
#include "store/h5.hpp"
#include "store/run_layout.hpp"
#include "store/run_lock.hpp"

namespace nanolab {
namespace {

using Clock = std::chrono::steady_clock;
using store::column;
using store::Handle;

// A failed flush is retried no sooner than this, so that a full disk is not hammered.
constexpr std::chrono::milliseconds retry_delay(1000);

std::string utc_now_iso() {
  time_t now = time(nullptr);
  tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

struct Ending {
  std::string status, finished;
  NumericAttrs summary;
};

// Everything queued since the last successful flush.
struct Batch {
  std::vector<TrainRow> train;
  std::vector<std::vector<RecordedMetric>> recorded;  // recorded[i]: in the step of train[i]
  std::vector<ValRow> val;
  std::vector<std::pair<int64_t, std::string>> samples;
  std::optional<Ending> ending;

  bool empty() const { return train.empty() && val.empty() && samples.empty() && !ending; }
  // Puts `newer` after this batch's rows; a newer ending wins.
  void append(Batch&& newer) {
    train.insert(train.end(), newer.train.begin(), newer.train.end());
    recorded.insert(recorded.end(), std::make_move_iterator(newer.recorded.begin()),
                    std::make_move_iterator(newer.recorded.end()));
    val.insert(val.end(), newer.val.begin(), newer.val.end());
    samples.insert(samples.end(), std::make_move_iterator(newer.samples.begin()),
                   std::make_move_iterator(newer.samples.end()));
    if (newer.ending) ending = std::move(newer.ending);
  }
};

// Rows already in the file per group: where the next flush writes; and the recorded columns.
struct RowCounts {
  uint64_t train = 0, val = 0, samples = 0;
  std::map<std::string, uint64_t> recorded;                // group -> rows (not "train")
  std::map<std::string, std::set<std::string>> columns;    // group -> recorded columns
};

// The rows of one group that a flush writes: the steps, and every column, NaN where not recorded.
struct GroupRows {
  std::vector<int64_t> steps;
  std::map<std::string, std::vector<float>> columns;
};

// The recorded values of a batch by group. Group "train" has one row per train row of the batch
// (its steps are the train rows'); any other group one per train row that has a value of it.
std::map<std::string, GroupRows> recorded_rows(const Batch& b, const RowCounts& rows) {
  std::map<std::string, GroupRows> out;
  const auto add_row = [&](GroupRows& g, const std::string& group, int64_t step) {
    g.steps.push_back(step);
    if (auto it = rows.columns.find(group); it != rows.columns.end())
      for (const auto& name : it->second) g.columns[name];
    for (auto& [name, values] : g.columns) values.resize(g.steps.size(), NAN);
  };
  for (size_t i = 0; i < b.train.size(); ++i) {
    const std::vector<RecordedMetric> none;
    const auto& values = i < b.recorded.size() ? b.recorded[i] : none;
    std::set<std::string> groups;
    for (const RecordedMetric& m : values) groups.insert(m.group);
    if (rows.columns.count("train")) groups.insert("train");
    for (const auto& group : groups) {
      GroupRows& g = out[group];
      if (group == "train")  // one row per train row: the rows before this one have theirs
        while (g.steps.size() < i) add_row(g, group, b.train[g.steps.size()].step);
      add_row(g, group, b.train[i].step);
    }
    for (const RecordedMetric& m : values) {
      GroupRows& g = out[m.group];
      std::vector<float>& column = g.columns[m.name];
      column.resize(g.steps.size(), NAN);
      column.back() = m.value;
    }
  }
  if (auto it = out.find("train"); it != out.end())
    while (it->second.steps.size() < b.train.size())
      add_row(it->second, "train", b.train[it->second.steps.size()].step);
  return out;
}

template <class Row, class Field>
std::vector<float> gather(const std::vector<Row>& rows, Field field) {
  std::vector<float> v;
  v.reserve(rows.size());
  for (const Row& r : rows) v.push_back(r.*field);
  return v;
}

template <class Row>
std::vector<int64_t> steps_of(const std::vector<Row>& rows) {
  std::vector<int64_t> v;
  v.reserve(rows.size());
  for (const Row& r : rows) v.push_back(r.step);
  return v;
}

class Hdf5RunWriter final : public RunWriter {
 public:
  Hdf5RunWriter(std::filesystem::path file, store::RunLock lock, std::chrono::milliseconds interval,
                RowCounts rows, std::string run_id)
      : file_(std::move(file)), lock_(std::move(lock)), interval_(interval), rows_(rows),
        run_id_(std::move(run_id)) {
    io_ = std::thread([this] { run(); });
  }

  ~Hdf5RunWriter() override {
    {
      std::lock_guard lk(m_);
      if (!finished_) pending_.ending = Ending{"failed", utc_now_iso(), {}};
      stop_ = true;
    }
    wake_.notify_one();
    io_.join();
    if (error_ && !reported_) {
      try {
        std::rethrow_exception(error_);
      } catch (const std::exception& e) {
        std::cerr << "nanolab: the run log was not completely written: " << e.what() << '\n';
      }
    }
  }

  const std::string& run_id() const override { return run_id_; }

  using RunWriter::train;
  void train(const TrainRow& row, std::vector<RecordedMetric> recorded) override {
    enqueue([&](Batch& b) {
      b.recorded.resize(b.train.size());
      b.train.push_back(row);
      b.recorded.push_back(std::move(recorded));
    });
  }
  void val(const ValRow& row) override { enqueue([&](Batch& b) { b.val.push_back(row); }); }
  void sample(int64_t step, const std::string& text) override {
    enqueue([&](Batch& b) { b.samples.emplace_back(step, text); });
  }

  // Throws when the ending could not be recorded, or for an I/O error not yet reported unless
  // the run is finishing as failed: its caller is reporting the error that failed it, and an
  // error that check() already gave is not given again.
  void finish(const std::string& status, const NumericAttrs& summary) override {
    enqueue([&](Batch& b) { b.ending = Ending{status, utc_now_iso(), summary}; });
    {
      std::lock_guard lk(m_);
      finished_ = true;
    }
    wait_for_flush();
    std::lock_guard lk(m_);
    if (ending_error_) std::rethrow_exception(ending_error_);
    if (error_ && !reported_) {
      reported_ = true;
      if (status != "failed") std::rethrow_exception(error_);
    }
  }

  void flush() override {
    wait_for_flush();
    check();
  }

  void check() override {
    std::lock_guard lk(m_);
    if (!error_) return;
    reported_ = true;
    std::rethrow_exception(error_);
  }

 private:
  template <class F>
  void enqueue(F add) {
    bool was_empty;
    {
      std::lock_guard lk(m_);
      was_empty = pending_.empty();
      add(pending_);
    }
    // Only the first row starts the I/O thread's interval clock; later rows need no wake-up.
    if (was_empty) wake_.notify_one();
  }

  void wait_for_flush() {
    std::unique_lock lk(m_);
    const uint64_t ticket = ++requested_;
    wake_.notify_one();
    flushed_.wait(lk, [&] { return completed_ >= ticket; });
  }

  void run() {
    store::quiet_errors();
    std::unique_lock lk(m_);
    auto last = Clock::now();
    for (;;) {
      const auto due = last + (error_ ? std::max(interval_, retry_delay) : interval_);
      const bool now_due = !pending_.empty() && Clock::now() >= due;
      if (!stop_ && requested_ == completed_ && !now_due) {
        if (pending_.empty())
          wake_.wait(lk);
        else
          wake_.wait_until(lk, due);
        continue;
      }
      const uint64_t ticket = requested_;
      const bool stopping = stop_;
      Batch batch = std::exchange(pending_, Batch{});
      lk.unlock();
      std::exception_ptr failure, ending_failure;
      if (!batch.empty()) {
        try {
          write(batch, store::Writes::committed);
        } catch (...) {
          failure = std::current_exception();
          if (batch.ending) ending_failure = record_failure(*batch.ending);
        }
      }
      last = Clock::now();
      lk.lock();
      if (batch.ending) ending_error_ = ending_failure;
      if (failure) {
        if (!error_) error_ = failure;
        batch.append(std::exchange(pending_, Batch{}));
        pending_ = std::move(batch);
      }
      completed_ = ticket;
      flushed_.notify_all();
      if (stopping) return;
    }
  }

  // After a failed write: the ending alone, as `failed`, into the reserve. The error if even that
  // failed.
  std::exception_ptr record_failure(const Ending& ending) {
    Batch b;
    b.ending = Ending{"failed", ending.finished, ending.summary};
    try {
      write(b, store::Writes::last);
      return nullptr;
    } catch (...) {
      return std::current_exception();
    }
  }

  // One open-append-close cycle. rows_ moves on only when the whole batch is in the file.
  void write(const Batch& b, store::Writes writes) {
    Handle f = store::open_file(file_, H5F_ACC_RDWR, writes);
    for (const auto& c : store::train_columns)
      store::write_rows(f, column(store::train_group, c.name), rows_.train,
                        gather(b.train, c.field), file_);
    for (const auto& c : store::val_columns)
      store::write_rows(f, column(store::val_group, c.name), rows_.val, gather(b.val, c.field),
                        file_);
    std::vector<std::string> texts;
    std::vector<int64_t> sample_steps;
    for (const auto& [step, text] : b.samples) {
      sample_steps.push_back(step);
      texts.push_back(text);
    }
    store::write_rows(f, column(store::samples_group, "text"), rows_.samples, texts, file_);
    const std::map<std::string, GroupRows> recorded = recorded_rows(b, rows_);
    for (const auto& [group, g] : recorded) {
      const std::string path = store::recorded_group(group);
      if (!store::exists(f, path)) {
        store::create_group(f, path, file_);
        store::create_column(f, column(path.c_str(), "step"), store::Column::int64, file_);
      }
      for (const auto& [name, values] : g.columns) {
        const std::string c = column(path.c_str(), name.c_str());
        if (!store::exists(f, c)) store::create_column(f, c, store::Column::float32, file_);
        store::write_rows(f, c, first_row(group), values, file_);
      }
    }
    store::check(H5Fflush(f, H5F_SCOPE_LOCAL), file_, "write to disk");

    store::write_rows(f, column(store::train_group, "step"), rows_.train, steps_of(b.train), file_);
    store::write_rows(f, column(store::val_group, "step"), rows_.val, steps_of(b.val), file_);
    store::write_rows(f, column(store::samples_group, "step"), rows_.samples, sample_steps, file_);
    for (const auto& [group, g] : recorded)
      if (group != "train")
        store::write_rows(f, column(store::recorded_group(group).c_str(), "step"),
                          first_row(group), g.steps, file_);
    if (b.ending) {
      Handle summary = store::open_group(f, "summary", file_);
      for (const auto& [name, value] : b.ending->summary)
        store::write_attr(summary, name, value, file_);
      summary.reset();
      store::write_attr(f, "finished", b.ending->finished, file_);
      // Last, so that a reader who sees "completed" also sees the summary.
      store::write_attr(f, "status", b.ending->status, file_);
    }
    store::close_file(f, file_);
    rows_.train += b.train.size();
    rows_.val += b.val.size();
    rows_.samples += b.samples.size();
    for (const auto& [group, g] : recorded) {
      if (group != "train") rows_.recorded[group] += g.steps.size();
      for (const auto& [name, values] : g.columns) rows_.columns[group].insert(name);
    }
  }

  // Where the next rows of a recorded group go.
  uint64_t first_row(const std::string& group) const {
    if (group == "train") return rows_.train;
    auto it = rows_.recorded.find(group);
    return it == rows_.recorded.end() ? 0 : it->second;
  }

  const std::filesystem::path file_;
  store::RunLock lock_;
  const std::chrono::milliseconds interval_;
  RowCounts rows_;  // I/O thread only, once it runs
  const std::string run_id_;

  std::mutex m_;
  std::condition_variable wake_;     // the I/O thread waits here
  std::condition_variable flushed_;  // flush() waits here
  Batch pending_;
  uint64_t requested_ = 0, completed_ = 0;  // flush tickets
  bool stop_ = false, finished_ = false, reported_ = false;
  std::exception_ptr error_;         // the first I/O failure
  std::exception_ptr ending_error_;  // why the last ending queued could not be recorded
  std::thread io_;
};

// 128 random bits as 32 hex digits: no two runs share one, whoever and wherever made them.
std::string new_run_id() {
  std::random_device random;
  char text[33];
  std::snprintf(text, sizeof text, "%08x%08x%08x%08x", random(), random(), random(), random());
  return text;
}

void write_header(hid_t f, const RunWriter::Header& h, const std::string& run_id,
                  const std::filesystem::path& file) {
  using store::write_attr;
  write_attr(f, "format", std::string(store::run_format), file);
  write_attr(f, "format_version", store::run_format_version, file);
  write_attr(f, "status", std::string("running"), file);
  write_attr(f, "experiment", h.experiment, file);
  write_attr(f, "run", h.run, file);
  write_attr(f, "run_id", run_id, file);
  write_attr(f, "config_sha256", config_sha256(h.config_toml), file);
  write_attr(f, "created", utc_now_iso(), file);
  write_attr(f, "finished", std::string(), file);
  store::write_string(f, "config", h.config_toml, file);
  {
    Handle meta = store::create_group(f, "meta", file);
    for (const auto& [name, value] : h.meta) write_attr(meta, name, value, file);
  }
  {
    Handle plugins = store::create_group(f, "plugins", file);
    for (const auto& p : h.plugins) {
      Handle g = store::create_group(plugins, p.kind, file);
      write_attr(g, "name", p.name, file);
      write_attr(g, "version", p.version, file);
      write_attr(g, "file", p.file, file);
      write_attr(g, "sha256", p.sha256, file);
    }
  }
  store::write_bytes(f, "tokenizer", h.tokenizer, file);
  store::create_group(f, "metrics", file);
  for (const char* group : {store::train_group, store::val_group, store::samples_group}) {
    store::create_group(f, group, file);
    store::create_column(f, column(group, "step"), store::Column::int64, file);
  }
  for (const auto& c : store::train_columns)
    store::create_column(f, column(store::train_group, c.name), store::Column::float32, file);
  for (const auto& c : store::val_columns)
    store::create_column(f, column(store::val_group, c.name), store::Column::float32, file);
  store::create_column(f, column(store::samples_group, "text"), store::Column::string, file);
  store::create_group(f, "summary", file);
}

// Drops the rows of `group` logged after `step` (and any row whose step was never written);
// returns how many remain.
uint64_t keep_through(hid_t f, const std::string& group, int64_t step,
                      const std::vector<std::string>& columns, const std::filesystem::path& file) {
  const std::string step_column = group + "/step";
  uint64_t n = store::column_length(f, step_column, file);
  for (const auto& c : columns) n = std::min(n, store::column_length(f, group + "/" + c, file));
  const std::vector<int64_t> steps = store::read_int64_rows(f, step_column, n, file);
  const auto keep = uint64_t(
      std::find_if(steps.begin(), steps.end(), [&](int64_t s) { return s < 0 || s > step; }) -
      steps.begin());
  store::truncate_column(f, step_column, keep, file);
  for (const auto& c : columns) store::truncate_column(f, group + "/" + c, keep, file);
  return keep;
}

// Claims the run in `dir` and sets it back to running with the rows through `step` (-1: none);
// `on_claim` runs once the run is claimed, before anything changes.
template <class OnClaim>
std::unique_ptr<RunWriter> reclaim(const std::filesystem::path& dir, int64_t step,
                                   std::chrono::milliseconds flush_interval, OnClaim on_claim) {
  store::quiet_errors();
  const auto file = dir / "run.h5";
  if (!std::filesystem::exists(file))
    throw StorageError(file.string() + ": no run log here; is " + dir.string() +
                       " a run directory (made by `nanolab run`)?");
  store::RunLock lock = store::RunLock::claim(dir);
  on_claim();
  Handle f = store::open_file(file, H5F_ACC_RDWR, store::Writes::committed);
  store::require_run_format(f, file);
  const std::string run_id =
      store::has_attr(f, "run_id") ? store::read_string_attr(f, "run_id", file) : "";
  RowCounts rows;
  // Every group of /metrics: train and val with the columns the trainer records in them.
  for (const auto& group : store::metric_groups(f, file)) {
    const std::string path = store::recorded_group(group);
    std::vector<std::string> columns = store::metric_columns(f, group, file);
    const uint64_t kept = keep_through(f, path, step, columns, file);
    if (group == "val") {
      rows.val = kept;
      continue;
    }
    if (group == "train")
      rows.train = kept;
    else
      rows.recorded[group] = kept;
    for (const auto& builtin : store::names_of(store::train_columns))
      if (group == "train") std::erase(columns, builtin);
    rows.columns[group].insert(columns.begin(), columns.end());
    if (rows.columns[group].empty()) rows.columns.erase(group);
  }
  rows.samples = keep_through(f, store::samples_group, step, {"text"}, file);
  {
    // A summary belongs to a finished run; the resumed run writes its own at finish().
    Handle summary = store::open_group(f, "summary", file);
    for (const auto& name : store::attr_names(summary, file))
      store::delete_attr(summary, name, file);
  }
  store::write_attr(f, "finished", std::string(), file);
  store::write_attr(f, "status", std::string("running"), file);
  store::close_file(f, file);
  return std::make_unique<Hdf5RunWriter>(file, std::move(lock), flush_interval, rows, run_id);
}

}  // namespace

namespace store {

void extend_run(const std::filesystem::path& dir, const std::string& config_toml,
                const std::string& record) {
  quiet_errors();
  const auto file = dir / "run.h5";
  const RunLock lock = RunLock::claim(dir);
  Handle f = open_file(file, H5F_ACC_RDWR, Writes::committed);
  require_run_format(f, file);
  write_string(f, "config", config_toml, file);
  write_attr(f, "config_sha256", config_sha256(config_toml), file);
  {
    Handle meta = open_group(f, "meta", file);
    const std::string earlier =
        has_attr(meta, "extensions") ? read_string_attr(meta, "extensions", file) : "";
    write_attr(meta, "extensions", earlier + record + "\n", file);
  }
  close_file(f, file);
}

}  // namespace store

std::string run_dir_taken(const std::filesystem::path& dir) {
  const auto file = dir / "run.h5";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return "";
  return file.string() + ": the run directory already holds a run; use `nanolab resume " +
         dir.string() + "`, another --name or --out, or remove it";
}

std::unique_ptr<RunWriter> RunWriter::create(const std::filesystem::path& dir, const Header& header,
                                             std::chrono::milliseconds flush_interval) {
  store::quiet_errors();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw StorageError(dir.string() + ": could not create the run directory: " + ec.message());
  store::RunLock lock = store::RunLock::claim(dir);
  const auto file = dir / "run.h5";
  if (const std::string taken = run_dir_taken(dir); !taken.empty()) throw ConfigError(taken);
  const std::string run_id = new_run_id();
  try {
    Handle f = store::create_file(file, false, store::Writes::committed);
    write_header(f, header, run_id, file);
    store::close_file(f, file);
  } catch (...) {
    // EXCL made this file ours: a half-written header would only block the next attempt.
    std::filesystem::remove(file, ec);
    throw;
  }
  return std::make_unique<Hdf5RunWriter>(file, std::move(lock), flush_interval, RowCounts{},
                                         run_id);
}

std::unique_ptr<RunWriter> RunWriter::reopen(const std::filesystem::path& dir, int64_t step,
                                             std::chrono::milliseconds flush_interval) {
  return reclaim(dir, step, flush_interval, [] {});
}

std::unique_ptr<RunWriter> RunWriter::restart(const std::filesystem::path& dir,
                                              std::chrono::milliseconds flush_interval) {
  return reclaim(dir, -1, flush_interval, [&] {
    if (std::filesystem::exists(dir / "checkpoint.h5"))
      throw RunInUse(dir.string() + ": the run wrote a checkpoint while this command started "
                     "(its own process was still training it); run `nanolab resume " +
                     dir.string() + "` again if it did not complete");
  });
}

}  // namespace nanolab
