// The data behind `nanolab serve` (nanolab/serve.hpp), without any HTTP: the runs under the
// served roots, kept fresh by re-reading a run file only when its size or modification time
// changed; the JSON of the page's API; the per-pixel downsampling of a curve (with a pyramid of
// each column's minima and maxima, so that a first answer need not read every row); and the check
// that keeps a requested file inside the roots. serve.cpp puts these behind a socket; the unit
// tests call them directly.
//
// A run file that cannot be read (damaged, or caught in the instant of a write) never stops
// anything: the run keeps the last rows read from it and its JSON says why it could not be read
// again ("error"); a file never read whole is listed with status "damaged".
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nanolab/report.hpp"
#include "runtime/json.hpp"

namespace nanolab::report {

// A curve for a chart `points` pixels wide showing x in [lo, hi]. A curve of at most `points`
// points is returned as it is. A longer one is cut into points / 2 buckets of equal width over
// [lo, hi] (a point outside falls into the first or last): each bucket keeps its minimum and its
// maximum, in the order they came, placed at the first and the third quarter of the bucket, so
// that a spike survives and every long curve drawn on the same [lo, hi] shares the same x.
// Points whose x or y is not finite are left out.
struct Curve {
  std::vector<double> x, y;
};
Curve downsample(const Curve& curve, double lo, double hi, size_t points);

// The minimum and the maximum of a column's values over aligned blocks of 16, 32, 64... rows (the
// index of the first row holding each), so that downsample_column() reads a few blocks per bucket
// instead of every row: the first chart of a thousand runs of 10,000 rows then costs no pass over
// the rows. About one byte a row. Built with the run's entry, which a new read of the file
// replaces, so it never outlives the rows it was made from.
struct MinMaxPyramid {
  static constexpr size_t kFirstLevel = 4;  // the smallest blocks: 2^4 rows
  static constexpr uint32_t kNone = UINT32_MAX;  // a block without a finite value
  struct Block {
    uint32_t min = kNone, max = kNone;
  };
  std::vector<std::vector<Block>> levels;  // [k]: blocks of 2^(kFirstLevel + k) rows, whole ones
  size_t finite = 0;                       // how many values are finite
  bool sorted = true;                      // the steps increase (else only downsample() works)
};
MinMaxPyramid min_max_pyramid(const MetricSeries& series);

// downsample() of the column's curve with x = step x scale (scale >= 0), the same points, read
// through its pyramid.
Curve downsample_column(const MetricSeries& series, const MinMaxPyramid& pyramid, double scale,
                        double lo, double hi, size_t points);

// The file `relative` (a URL path after the root's prefix, percent-decoded) under `root`: a folder
// root gives the regular files below it, a file root only itself (relative empty). 404: no such
// file; 403: a path with a `.` or `..` component, an absolute one, or one that a symbolic link
// leads out of the root.
struct FileLookup {
  int status = 404;  // 200 when `file` is the file to serve
  std::filesystem::path file;
};
FileLookup file_inside(const std::filesystem::path& root, const std::string& relative);

// What GET /api/runs/<id>/metrics asks for.
struct MetricsQuery {
  XAxis x = XAxis::step;
  size_t points = 1000;  // see downsample()
  double lo = NAN, hi = NAN;  // the chart's x range; NaN: each curve's own
  int64_t since = -1;  // only the points after this step
  std::vector<std::string> metrics;  // group/name; empty: every metric of the run
};

// The last step of a run's train or val rows; -1 when it has none.
int64_t last_step(const Run& run);

// A table as JSON: {"columns": [...], "rows": [[...], ...]}, every cell the table's text.
json::Json table_json(const Table& table);

// One run's object of GET /api/runs (see RunIndex::runs_json); `run` null: a file never read
// whole. `error`: why the last read failed, "" when it did not.
json::Json run_json(size_t id, const std::filesystem::path& file, const std::string& url,
                    const Run* run, uint64_t version, const std::string& error);
// The member `"name":{"x":[...],"y":[...]}` of GET /api/runs/<id>/metrics: the run's column
// `name` (its `series`) after query.since, on query.x, downsampled to query.points over [query.lo,
// query.hi] (NaN: the curve's own range); `pyramid` is min_max_pyramid(series).
std::string curve_json(const Run& run, const std::string& name, const MetricSeries& series,
                       const MinMaxPyramid& pyramid, const MetricsQuery& query);

class RunIndex {
 public:
  // Each root must exist (a ConfigError names one that does not); it may hold no run yet.
  explicit RunIndex(const std::vector<std::filesystem::path>& roots);

  // Finds the run files under the roots and reads those that are new or changed since the last
  // call. Returns early after a signal (nanolab/interrupt.hpp). One caller at a time.
  void refresh();

  // GET /api/runs: a JSON array, one object per run in the order found: id, path, file (its URL
  // under /files/), experiment, name, status, error (when the last read failed), version (which
  // changes with every read), last_step, max_iters, tokens_per_step, wall_s, config (flat keys),
  // summary, metrics (the group/name of every column).
  std::string runs_json() const;
  // GET /api/runs/<id>/metrics: {"id", "version", "x", "metrics": {name: {"x": [...], "y":
  // [...]}}}; nullopt for an unknown id.
  std::optional<std::string> metrics_json(size_t id, const MetricsQuery& query) const;
  // GET /api/runs/<id>/samples: [[step, text], ...]; nullopt for an unknown id.
  std::optional<std::string> samples_json(size_t id) const;
  // GET /api/compare: table_json(spread_cells(compare_table(...))) of the runs `ids` (every run
  // read when empty; a file never read whole is left out), the table that `nanolab report`
  // embeds; nullopt when an id is unknown. A ConfigError says what is wrong with the options.
  // Every client asks the same while no run changes: answers are kept by query and versions.
  std::optional<std::string> compare_json(const CompareOptions& options,
                                          const std::vector<size_t>& ids) const;
  size_t size() const;

  const std::vector<std::filesystem::path>& roots() const { return roots_; }

 private:
  struct Entry {
    std::filesystem::path file;
    size_t root = 0;
    std::string url;  // "/files/<root>/<path below it>", or "" when it is not below its root
    std::filesystem::file_time_type mtime{};
    uintmax_t bytes = 0;
    uint64_t version = 0;
    std::shared_ptr<const Run> run;  // the last read that succeeded
    std::string error;       // why the last read failed; "" when it did not
    std::map<std::string, MinMaxPyramid> pyramids;  // of run->log.metrics, by name
    // metrics_json's answers for this version of the file, by query.
    mutable std::mutex cache_mutex;
    mutable std::map<std::string, std::string> cache;
  };
  std::shared_ptr<const Entry> entry(size_t id) const;

  std::vector<std::filesystem::path> roots_;  // canonical
  mutable std::mutex mutex_;                  // guards entries_ (the entries themselves are const)
  std::vector<std::shared_ptr<const Entry>> entries_;  // by id
  mutable std::mutex compare_mutex_;                   // guards compare_cache_
  mutable std::map<std::string, std::string> compare_cache_;
};

}  // namespace nanolab::report
