// The trainer's Metrics, one per group (metrics_recorder.hpp).
#include "train/metrics_recorder.hpp"

#include <stdexcept>

namespace nanolab::train_detail {
namespace {

// PluginError naming the owner and the name unless `name` can be a column of /metrics/<group>.
void check_name(std::string_view name, const std::string& group, const std::string& owner) {
  const std::string why = metric_name_problem(name);
  if (why.empty()) return;
  throw PluginError(owner + ": cannot record the metric '" + std::string(name) + "' (group " +
                    group + "): " + why + "; hint: a metric name is like z_loss or grad_norm.h.0");
}

}  // namespace

void MetricsGroup::record(std::string_view name, double value) {
  if (!listening_) return;
  for (Entry& e : entries_) {
    if (e.name == name) {
      e.value = value;
      e.recorded = true;
      return;
    }
  }
  check_name(name, group_, owner_);
  entries_.push_back({std::string(name), value, true});
}

void MetricsGroup::take(std::vector<RecordedMetric>& out) {
  for (Entry& e : entries_) {
    if (!e.recorded) continue;
    out.push_back({group_, e.name, float(e.value)});
    e.recorded = false;
  }
}

MetricsRecorder::MetricsRecorder() {
  groups_.reserve(4);
  for (const char* name : {"loss", "optimizer", "attention", "train"})
    groups_.emplace_back(name, std::string("the ") + name + " plugin", listening_);
  groups_.back().set_owner("the trainer");
}

MetricsGroup& MetricsRecorder::group(std::string_view group) {
  for (MetricsGroup& g : groups_)
    if (g.group() == group) return g;
  throw std::logic_error("no metrics group '" + std::string(group) + "'");
}

std::vector<RecordedMetric> MetricsRecorder::take() {
  std::vector<RecordedMetric> out;
  for (MetricsGroup& g : groups_) g.take(out);
  return out;
}

}  // namespace nanolab::train_detail
