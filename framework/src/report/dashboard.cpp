// The runs, their JSON and the downsampling behind `nanolab serve` (dashboard.hpp). The metric
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
  const size_t buckets = std::max<size_t>(points / 2, 1);
  const double width = (hi - lo) / double(buckets);
  struct Bucket {
    size_t lo = SIZE_MAX, hi = SIZE_MAX;  // indices of the minimum and the maximum
  };
  std::vector<Bucket> at(buckets);
  for (size_t i = 0; i < n; ++i) {
    if (!finite(i)) continue;
    const double b = std::floor((curve.x[i] - lo) / width);
    Bucket& k = at[size_t(std::clamp(b, 0.0, double(buckets - 1)))];
    if (k.lo == SIZE_MAX || curve.y[i] < curve.y[k.lo]) k.lo = i;
    if (k.hi == SIZE_MAX || curve.y[i] > curve.y[k.hi]) k.hi = i;
  }
  for (size_t b = 0; b < buckets; ++b) {
    if (at[b].lo == SIZE_MAX) continue;
    const size_t first = std::min(at[b].lo, at[b].hi), second = std::max(at[b].lo, at[b].hi);
    out.x.push_back(lo + (double(b) + 0.25) * width);
    out.y.push_back(curve.y[first]);
    out.x.push_back(lo + (double(b) + 0.75) * width);
    out.y.push_back(curve.y[second]);
  }
  return out;
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
      } catch (const Error& err) {
        const std::string what = err.what();
        // The store's messages name the file; one that does not is given its name here.
        e->error = what.find(file.string()) == std::string::npos ? file.string() + ": " + what
                                                                  : what;
        if (before) e->run = before->run;
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
    int64_t last_step = -1;
    if (!run->log.train.empty()) last_step = run->log.train.back().step;
    if (!run->log.val.empty()) last_step = std::max(last_step, run->log.val.back().step);
    o["last_step"] = last_step;
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
                       const MetricsQuery& q) {
  // The column's points (NaN rows are not in it) after `since`, on the chosen axis.
  const auto from = std::upper_bound(series.steps.begin(), series.steps.end(), q.since);
  std::vector<Point> points;
  points.reserve(size_t(series.steps.end() - from));
  for (auto it = from; it != series.steps.end(); ++it)
    points.push_back({*it, series.values[size_t(it - series.steps.begin())]});
  Curve curve{x_values(run, points, q.x), {}};
  curve.y.reserve(points.size());
  for (const Point& p : points) curve.y.push_back(p.value);
  const bool own_range = std::isnan(q.lo) || std::isnan(q.hi);
  const Curve shown =
      downsample(curve, own_range ? (curve.x.empty() ? 0 : curve.x.front()) : q.lo,
                 own_range ? (curve.x.empty() ? 0 : curve.x.back()) : q.hi, q.points);
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
      std::string text = curve_json(run, name, series, q);
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

}  // namespace nanolab::report
