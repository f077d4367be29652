// The runs, their JSON and the downsampling behind `nanolab serve` (dashboard.hpp), row by row or
// through a column's min/max pyramid, with the same buckets and the same points. The metric
// rows are written as JSON by hand, with the shortest text that reads back as the same float:
// they are most of every answer, and nlohmann-json would give each float32 17 digits.
#include "report/dashboard.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>

#include "nanolab/interrupt.hpp"

namespace nanolab::report {
namespace {

namespace fs = std::filesystem;

void append_number(std::string& out, double v, bool as_float) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto end = as_float ? std::to_chars(buf, buf + sizeof buf, float(v)).ptr
                            : std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, end);
}

void append_array(std::string& out, const std::vector<double>& values, bool as_float) {
  out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    append_number(out, values[i], as_float);
  }
  out += ']';
}

// A number for JSON: NaN and infinities are null.
json::Json number(double v) { return std::isfinite(v) ? json::Json(v) : json::Json(nullptr); }

// The buckets of downsample(): `buckets` of equal width over [lo, hi], each with the index of its
// first minimum and first maximum, filled in the order of the rows.
class Buckets {
 public:
  Buckets(double lo, double hi, size_t points)
      : lo_(lo), count_(std::max<size_t>(points / 2, 1)), width_((hi - lo) / double(count_)),
        at_(count_) {}

  // The bucket of x (a point outside [lo, hi] falls into the first or last); monotonic in x.
  size_t of(double x) const {
    return size_t(std::clamp(std::floor((x - lo_) / width_), 0.0, double(count_ - 1)));
  }
  // Rows `min` and `max` (a minimum and a maximum of some rows after those already added) join
  // bucket b; ties keep the earlier row.
  template <class Values>
  void add(size_t b, size_t min, size_t max, const Values& y) {
    MinMaxPyramid::Block& k = at_[b];
    if (k.min == MinMaxPyramid::kNone || y[min] < y[k.min]) k.min = uint32_t(min);
    if (k.max == MinMaxPyramid::kNone || y[max] > y[k.max]) k.max = uint32_t(max);
  }
  // Each bucket's minimum and maximum in the order they came, at its first and third quarter.
  template <class Values>
  Curve curve(const Values& y) const {
    Curve out;
    for (size_t b = 0; b < count_; ++b) {
      if (at_[b].min == MinMaxPyramid::kNone) continue;
      const size_t first = std::min(at_[b].min, at_[b].max), second = std::max(at_[b].min, at_[b].max);
      out.x.push_back(lo_ + (double(b) + 0.25) * width_);
      out.y.push_back(double(y[first]));
      out.x.push_back(lo_ + (double(b) + 0.75) * width_);
      out.y.push_back(double(y[second]));
    }
    return out;
  }

 private:
  double lo_;
  size_t count_;
  double width_;
  std::vector<MinMaxPyramid::Block> at_;
};

}  // namespace

Curve downsample(const Curve& curve, double lo, double hi, size_t points) {
  Curve out;
  const size_t n = std::min(curve.x.size(), curve.y.size());
  const auto finite = [&](size_t i) { return std::isfinite(curve.x[i]) && std::isfinite(curve.y[i]); };
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) count += finite(i);
  if (count <= std::max<size_t>(points, 2) || !(hi > lo)) {
    out.x.reserve(count);
    out.y.reserve(count);
    for (size_t i = 0; i < n; ++i)
      if (finite(i)) {
        out.x.push_back(curve.x[i]);
        out.y.push_back(curve.y[i]);
      }
    return out;
  }
  Buckets buckets(lo, hi, points);
  for (size_t i = 0; i < n; ++i)
    if (finite(i)) buckets.add(buckets.of(curve.x[i]), i, i, curve.y);
  return buckets.curve(curve.y);
}

MinMaxPyramid min_max_pyramid(const MetricSeries& series) {
  MinMaxPyramid p;
  const std::vector<float>& y = series.values;
  const size_t n = std::min(series.steps.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    p.finite += std::isfinite(y[i]);
    if (i && series.steps[i] <= series.steps[i - 1]) p.sorted = false;
  }
  if (n >= MinMaxPyramid::kNone) p.sorted = false;  // the indices would not fit
  if (!p.sorted) return p;
  // Two blocks' extremes, the left one's on ties.
  const auto join = [&y](MinMaxPyramid::Block a, const MinMaxPyramid::Block& b) {
    if (b.min == MinMaxPyramid::kNone) return a;
    if (a.min == MinMaxPyramid::kNone) return b;
    if (y[b.min] < y[a.min]) a.min = b.min;
    if (y[b.max] > y[a.max]) a.max = b.max;
    return a;
  };
  std::vector<MinMaxPyramid::Block> level(n >> MinMaxPyramid::kFirstLevel);
  for (size_t j = 0; j < level.size(); ++j)
    for (size_t i = j << MinMaxPyramid::kFirstLevel; i < (j + 1) << MinMaxPyramid::kFirstLevel; ++i)
      if (std::isfinite(y[i])) level[j] = join(level[j], {uint32_t(i), uint32_t(i)});
  while (!level.empty()) {
    std::vector<MinMaxPyramid::Block> up(level.size() / 2);
    for (size_t j = 0; j < up.size(); ++j) up[j] = join(level[2 * j], level[2 * j + 1]);
    p.levels.push_back(std::move(level));
    level = std::move(up);
  }
  return p;
}

Curve downsample_column(const MetricSeries& series, const MinMaxPyramid& pyramid, double scale,
                        double lo, double hi, size_t points) {
  const std::vector<float>& y = series.values;
  const size_t n = std::min(series.steps.size(), y.size());
  const auto x = [&](size_t i) { return double(series.steps[i]) * scale; };
  if (!pyramid.sorted || !(scale >= 0) || !std::isfinite(scale) ||
      pyramid.finite <= std::max<size_t>(points, 2) || !(hi > lo)) {
    Curve all;
    all.x.reserve(n);
    all.y.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      all.x.push_back(x(i));
      all.y.push_back(y[i]);
    }
    return downsample(all, lo, hi, points);
  }
  // From each row, the largest aligned whole block that starts there and lies in one bucket (the
  // steps increase, so its first and last rows tell), else the row alone.
  Buckets buckets(lo, hi, points);
  for (size_t i = 0; i < n;) {
    const size_t b = buckets.of(x(i));
    size_t level = 0, size = 1;
    for (size_t k = 0; k < pyramid.levels.size(); ++k) {
      const size_t s = size_t(1) << (MinMaxPyramid::kFirstLevel + k);
      if (i % s || i / s >= pyramid.levels[k].size() || buckets.of(x(i + s - 1)) != b) break;
      level = k;
      size = s;
    }
    if (size == 1) {
      if (std::isfinite(y[i])) buckets.add(b, i, i, y);
    } else if (const MinMaxPyramid::Block& k = pyramid.levels[level][i / size];
               k.min != MinMaxPyramid::kNone) {
      buckets.add(b, k.min, k.max, y);
    }
    i += size;
  }
  return buckets.curve(y);
}

FileLookup file_inside(const fs::path& root, const std::string& relative) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    if (relative.empty() || relative == "/") return {200, root};
    return {404, {}};
  }
  const fs::path rel(relative);
  if (relative.find('\0') != std::string::npos || rel.is_absolute()) return {403, {}};
  for (const fs::path& part : rel)
    if (part == ".." || part == ".") return {403, {}};
  const fs::path real = fs::canonical(root / rel, ec);
  if (ec) return {404, {}};
  const fs::path below = real.lexically_relative(root);
  if (below.empty() || *below.begin() == "..") return {403, {}};
  if (!fs::is_regular_file(real, ec)) return {404, {}};
  return {200, real};
}

RunIndex::RunIndex(const std::vector<fs::path>& roots) {
  for (const fs::path& root : roots) {
    std::error_code ec;
    const fs::path real = fs::canonical(root, ec);
    if (ec)
      throw ConfigError(root.string() + ": " + ec.message() +
                        " (give run directories, run.h5 files, or folders that hold runs)");
    roots_.push_back(real);
  }
}

std::shared_ptr<const RunIndex::Entry> RunIndex::entry(size_t id) const {
  std::lock_guard lock(mutex_);
  return id < entries_.size() ? entries_[id] : nullptr;
}

size_t RunIndex::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void RunIndex::refresh() {
  std::map<fs::path, size_t> known;
  {
    std::lock_guard lock(mutex_);
    for (size_t id = 0; id < entries_.size(); ++id) known.emplace(entries_[id]->file, id);
  }
  for (size_t r = 0; r < roots_.size(); ++r) {
    std::vector<fs::path> files;
    std::vector<Skipped> unlisted;  // a folder that cannot be listed hides only its own runs
    try {
      files = find_runs({roots_[r]}, &unlisted);
    } catch (const ConfigError&) {
      continue;  // no run there yet
    }
    for (const fs::path& file : files) {
      if (interrupted()) return;
      std::error_code ec;
      const auto mtime = fs::last_write_time(file, ec);
      const uintmax_t bytes = ec ? 0 : fs::file_size(file, ec);
      if (ec) continue;  // gone since it was listed
      const auto old = known.find(file);
      std::shared_ptr<const Entry> before = old == known.end() ? nullptr : entry(old->second);
      if (before && before->mtime == mtime && before->bytes == bytes) continue;
      auto e = std::make_shared<Entry>();
      e->file = file;
      e->root = r;
      if (before) {
        e->url = before->url;
      } else {
        const fs::path below = file.lexically_relative(roots_[r]);
        if (file == roots_[r])
          e->url = "/files/" + std::to_string(r);
        else if (!below.empty() && *below.begin() != "..")
          e->url = "/files/" + std::to_string(r) + "/" + below.generic_string();
      }
      // The size and time seen before the read: a write during the read makes the next refresh
      // read the file again.
      e->mtime = mtime;
      e->bytes = bytes;
      e->version = before ? before->version + 1 : 0;
      try {
        e->run = std::make_shared<const Run>(load_run(file));
        for (const auto& [name, series] : e->run->log.metrics)
          e->pyramids.emplace(name, min_max_pyramid(series));
      } catch (const Error& err) {
        const std::string what = err.what();
        // The store's messages name the file; one that does not is given its name here.
        e->error = what.find(file.string()) == std::string::npos ? file.string() + ": " + what
                                                                  : what;
        if (before) {
          e->run = before->run;
          e->pyramids = before->pyramids;
        }
      }
      std::lock_guard lock(mutex_);
      if (before) {
        entries_[old->second] = std::move(e);
      } else {
        known.emplace(file, entries_.size());
        entries_.push_back(std::move(e));
      }
    }
  }
}

int64_t last_step(const Run& run) {
  int64_t last = -1;
  if (!run.log.train.empty()) last = run.log.train.back().step;
  if (!run.log.val.empty()) last = std::max(last, run.log.val.back().step);
  return last;
}

json::Json table_json(const Table& table) {
  json::Json rows = json::Json::array();
  for (const auto& row : table.rows) rows.push_back(row);
  return {{"columns", table.columns}, {"rows", std::move(rows)}};
}

json::Json run_json(size_t id, const fs::path& file, const std::string& url, const Run* run,
                    uint64_t version, const std::string& error) {
  // Members are added in order (ordered_json), and never through a reference kept across an
  // insertion: the object's members move when it grows.
  json::Json o = json::Json::object();
  o["id"] = id;
  o["path"] = file.string();
  o["file"] = url;
  o["experiment"] = run ? run->log.experiment : "";
  o["name"] = run ? run->log.run : file.parent_path().filename().string();
  o["status"] = run ? run->log.status : "damaged";
  if (!error.empty()) o["error"] = error;
  o["version"] = version;
  json::Json config = json::Json::object(), summary = json::Json::object(),
             metrics = json::Json::array();
  if (run) {
    o["last_step"] = last_step(*run);
    const auto max_iters = run->config.find("train.max_iters");
    o["max_iters"] = max_iters == run->config.end()
                         ? json::Json(nullptr)
                         : number(std::strtod(max_iters->second.c_str(), nullptr));
    o["tokens_per_step"] = x_values(*run, {{1, 0.0}}, XAxis::tokens).front();
    o["wall_s"] = run->log.train.empty() ? json::Json(nullptr)
                                         : number(run->log.train.back().elapsed_s);
    for (const auto& [key, value] : run->config) config[key] = value;
    for (const auto& [key, value] : run->log.summary) summary[key] = number(value);
    for (const auto& [name, series] : run->log.metrics) metrics.push_back(name);
  }
  o["config"] = std::move(config);
  o["summary"] = std::move(summary);
  o["metrics"] = std::move(metrics);
  return o;
}

std::string curve_json(const Run& run, const std::string& name, const MetricSeries& series,
                       const MinMaxPyramid& pyramid, const MetricsQuery& q) {
  const bool own_range = std::isnan(q.lo) || std::isnan(q.hi);
  const bool whole = series.steps.empty() || q.since < series.steps.front();
  Curve shown;
  if (whole && q.x != XAxis::wall) {
    // Steps and tokens are the step times a factor: the pyramid answers.
    const double scale = q.x == XAxis::step ? 1.0 : x_values(run, {{1, 0.0}}, q.x).front();
    const bool none = series.steps.empty();
    shown = downsample_column(
        series, pyramid, scale, !own_range ? q.lo : none ? 0 : double(series.steps.front()) * scale,
        !own_range ? q.hi : none ? 0 : double(series.steps.back()) * scale, q.points);
  } else {
    // The column's points (NaN rows are not in it) after `since`, on the chosen axis.
    const auto from = std::upper_bound(series.steps.begin(), series.steps.end(), q.since);
    std::vector<Point> points;
    points.reserve(size_t(series.steps.end() - from));
    for (auto it = from; it != series.steps.end(); ++it)
      points.push_back({*it, series.values[size_t(it - series.steps.begin())]});
    Curve curve{x_values(run, points, q.x), {}};
    curve.y.reserve(points.size());
    for (const Point& p : points) curve.y.push_back(p.value);
    shown = downsample(curve, own_range ? (curve.x.empty() ? 0 : curve.x.front()) : q.lo,
                       own_range ? (curve.x.empty() ? 0 : curve.x.back()) : q.hi, q.points);
  }
  std::string text = json::dump(json::Json(name)) + ":{\"x\":";
  append_array(text, shown.x, false);
  text += ",\"y\":";
  append_array(text, shown.y, true);
  text += '}';
  return text;
}

std::string RunIndex::runs_json() const {
  std::vector<std::shared_ptr<const Entry>> entries;
  {
    std::lock_guard lock(mutex_);
    entries = entries_;
  }
  json::Json all = json::Json::array();
  for (size_t id = 0; id < entries.size(); ++id) {
    const Entry& e = *entries[id];
    all.push_back(run_json(id, e.file, e.url, e.run.get(), e.version, e.error));
  }
  return json::dump(all);
}

std::optional<std::string> RunIndex::metrics_json(size_t id, const MetricsQuery& q) const {
  const std::shared_ptr<const Entry> e = entry(id);
  if (!e) return std::nullopt;
  static const char* axis_names[] = {"step", "tokens", "wall"};
  std::string out = "{\"id\":" + std::to_string(id) + ",\"version\":" +
                    std::to_string(e->version) + ",\"x\":\"" + axis_names[int(q.x)] +
                    "\",\"metrics\":{";
  bool first = true;
  if (e->run) {
    const Run& run = *e->run;
    char key[160];
    for (const auto& [name, series] : run.log.metrics) {
      if (!q.metrics.empty() && std::find(q.metrics.begin(), q.metrics.end(), name) == q.metrics.end())
        continue;
      out += first ? "" : ",";
      first = false;
      // Every client of a page asks the same: each answer is kept with the run's entry (which a
      // new read of the file replaces).
      std::snprintf(key, sizeof key, "%s|%d|%zu|%.17g|%.17g|%lld", name.c_str(), int(q.x), q.points,
                    q.lo, q.hi, static_cast<long long>(q.since));
      {
        std::lock_guard lock(e->cache_mutex);
        const auto hit = e->cache.find(key);
        if (hit != e->cache.end()) {
          out += hit->second;
          continue;
        }
      }
      std::string text = curve_json(run, name, series, e->pyramids.at(name), q);
      out += text;
      std::lock_guard lock(e->cache_mutex);
      if (e->cache.size() >= 256) e->cache.clear();  // a bound, for clients that vary the query
      e->cache.emplace(key, std::move(text));
    }
  }
  return out + "}}";
}

std::optional<std::string> RunIndex::samples_json(size_t id) const {
  const std::shared_ptr<const Entry> e = entry(id);
  if (!e) return std::nullopt;
  json::Json all = json::Json::array();
  if (e->run)
    for (const auto& [step, text] : e->run->log.samples) all.push_back({step, text});
  return json::dump(all);
}

std::optional<std::string> RunIndex::compare_json(const CompareOptions& options,
                                                  const std::vector<size_t>& ids) const {
  std::vector<std::shared_ptr<const Entry>> entries;
  {
    std::lock_guard lock(mutex_);
    if (ids.empty()) {
      entries = entries_;
    } else {
      for (size_t id : ids) {
        if (id >= entries_.size()) return std::nullopt;
        entries.push_back(entries_[id]);
      }
    }
  }
  std::string key = options.metric.name + (options.group_seeds ? "|seeds|" : "|runs|");
  RunRefs runs;
  for (const auto& e : entries) {
    if (!e->run) continue;
    runs.push_back(e->run.get());
    key += e->file.string() + '@' + std::to_string(e->version) + ',';
  }
  {
    std::lock_guard lock(compare_mutex_);
    const auto hit = compare_cache_.find(key);
    if (hit != compare_cache_.end()) return hit->second;
  }
  std::string text =
      json::dump(table_json(spread_cells(compare_table(runs, options), options.metric)));
  std::lock_guard lock(compare_mutex_);
  if (compare_cache_.size() >= 16) compare_cache_.clear();  // a bound: versions move on
  compare_cache_.emplace(std::move(key), text);
  return text;
}

}  // namespace nanolab::report
