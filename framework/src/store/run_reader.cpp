// read_run: the whole of a run.h5 into a RunLog, for compare, report, resume and sample.
//
// A run may be read while its writer appends. Each group's rows are cut to its shortest column
// and to the first row whose step was never written (the fill value -1), so a reader always gets
// a consistent prefix. Plain HDF5 (no SWMR) does not promise that a file is readable in the
// instant a writer is closing it, so a failed open or read is tried again a few times before it
// is reported; a file that opens but is not a run is reported at once.
#include <algorithm>
#include <cmath>
#include <thread>

#include "nanolab/run_store.hpp"
#include "store/h5.hpp"
#include "store/run_layout.hpp"

namespace nanolab {
namespace {

using store::column;
using store::Handle;

constexpr int read_attempts = 5;
constexpr std::chrono::milliseconds retry_pause(50);  // a flush takes well under a millisecond

// Rows of `group` a reader may trust: the shortest column, cut at the first unwritten step.
template <class Names>
std::vector<int64_t> trusted_steps(hid_t f, const std::string& group, const Names& columns,
                                   const std::filesystem::path& file) {
  uint64_t n = store::column_length(f, group + "/step", file);
  for (const auto& c : columns)
    n = std::min(n, store::column_length(f, group + "/" + std::string(c), file));
  std::vector<int64_t> steps = store::read_int64_rows(f, group + "/step", n, file);
  steps.erase(std::find_if(steps.begin(), steps.end(), [](int64_t s) { return s < 0; }),
              steps.end());
  return steps;
}

template <class Row, class Columns>
std::vector<Row> read_rows(hid_t f, const char* group, const Columns& columns,
                           const std::filesystem::path& file) {
  const std::vector<int64_t> steps = trusted_steps(f, group, store::names_of(columns), file);
  std::vector<Row> rows(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) rows[i].step = steps[i];
  for (const auto& c : columns) {
    const auto v = store::read_float_rows(f, column(group, c.name), steps.size(), file);
    for (size_t i = 0; i < steps.size(); ++i) rows[i].*c.field = v[i];
  }
  return rows;
}

// Every float column of every group of /metrics, to the group's trusted rows, without NaN rows.
std::map<std::string, MetricSeries> read_metrics(hid_t f, const std::filesystem::path& file) {
  std::map<std::string, MetricSeries> out;
  for (const auto& group : store::metric_groups(f, file)) {
    const std::string path = store::recorded_group(group);
    const std::vector<std::string> columns = store::metric_columns(f, group, file);
    const std::vector<int64_t> steps = trusted_steps(f, path, columns, file);
    for (const auto& name : columns) {
      const auto values = store::read_float_rows(f, path + "/" + name, steps.size(), file);
      MetricSeries& series = out[group + "/" + name];
      for (size_t i = 0; i < steps.size(); ++i) {
        if (std::isnan(values[i])) continue;
        series.steps.push_back(steps[i]);
        series.values.push_back(values[i]);
      }
    }
  }
  return out;
}

RunLog read_once(const std::filesystem::path& file) {
  Handle f = store::open_file(file, H5F_ACC_RDONLY);
  store::require_run_format(f, file);
  RunLog log;
  log.status = store::read_string_attr(f, "status", file);
  log.experiment = store::read_string_attr(f, "experiment", file);
  log.run = store::read_string_attr(f, "run", file);
  if (store::has_attr(f, "run_id")) log.run_id = store::read_string_attr(f, "run_id", file);
  log.created = store::read_string_attr(f, "created", file);
  log.finished = store::read_string_attr(f, "finished", file);
  log.config_toml = store::read_string(f, "config", file);
  {
    Handle meta = store::open_group(f, "meta", file);
    for (const auto& name : store::attr_names(meta, file))
      log.meta[name] = store::read_string_attr(meta, name, file);
  }
  {
    Handle plugins = store::open_group(f, "plugins", file);
    for (const auto& kind : store::link_names(plugins, file)) {
      Handle g = store::open_group(plugins, kind, file);
      log.plugins.push_back({kind, store::read_string_attr(g, "name", file),
                             store::read_string_attr(g, "version", file),
                             store::read_string_attr(g, "file", file),
                             store::read_string_attr(g, "sha256", file)});
    }
  }
  log.tokenizer = store::read_bytes(f, "tokenizer", file);

  log.train = read_rows<TrainRow>(f, store::train_group, store::train_columns, file);
  log.val = read_rows<ValRow>(f, store::val_group, store::val_columns, file);
  log.metrics = read_metrics(f, file);

  const std::vector<int64_t> steps =
      trusted_steps(f, store::samples_group, std::vector<const char*>{"text"}, file);
  const auto texts =
      store::read_string_rows(f, column(store::samples_group, "text"), steps.size(), file);
  for (size_t i = 0; i < steps.size(); ++i) log.samples.emplace_back(steps[i], texts[i]);

  Handle summary = store::open_group(f, "summary", file);
  for (const auto& name : store::attr_names(summary, file))
    log.summary[name] = store::read_double_attr(summary, name, file);
  return log;
}

}  // namespace

RunLog read_run(const std::filesystem::path& run_h5) {
  store::quiet_errors();
  if (!std::filesystem::exists(run_h5))
    throw StorageError(run_h5.string() + ": no such file (a run log is <run dir>/run.h5)");
  for (int attempt = 1;; ++attempt) {
    try {
      return read_once(run_h5);
    } catch (const store::NotARun&) {
      throw;
    } catch (const StorageError&) {
      if (attempt == read_attempts) throw;
    }
    std::this_thread::sleep_for(retry_pause);
  }
}

}  // namespace nanolab
