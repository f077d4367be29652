// A search's metric read from a run's log at a rung (nanolab/search.hpp's metric_at).
#include <cmath>

#include "nanolab/did_you_mean.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/search.hpp"

namespace nanolab::search {

double metric_at(const RunLog& log, const std::string& metric, int64_t step) {
  const std::string run = log.experiment + "/" + log.run;
  if (metric.rfind("val/", 0) == 0) {
    for (const ValRow& row : log.val)
      if (row.step == step) return val_column(row, metric);
    throw StorageError(run + ": no evaluation at step " + std::to_string(step) +
                       ", the rung the search reads " + metric + " at");
  }
  const auto series = log.metrics.find(metric);
  if (series == log.metrics.end()) {
    std::vector<std::string> names;
    for (const auto& [name, values] : log.metrics) names.push_back(name);
    std::string listed;
    for (const std::string& name : names) listed += (listed.empty() ? "" : ", ") + name;
    throw ConfigError("search.metric: run " + run + " has no metric '" + metric + "'" +
                      did_you_mean_hint(metric, names) + "\n    hint: its metrics are " + listed +
                      "; a plugin's appear once it records them");
  }
  const MetricSeries& s = series->second;
  for (size_t i = s.steps.size(); i-- > 0;)
    if (s.steps[i] >= 0 && s.steps[i] <= step && !std::isnan(s.values[i])) return s.values[i];
  throw ConfigError("search.metric: run " + run + " logged no value of '" + metric +
                    "' by step " + std::to_string(step) + ", the rung the search reads it at" +
                    "\n    hint: a value is kept at the logged steps (train.log_interval) only");
}

}  // namespace nanolab::search
