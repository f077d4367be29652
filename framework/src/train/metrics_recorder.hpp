// MetricsRecorder: the Metrics (nanolab/metrics.hpp) that the trainer hands to the loss, the
// optimizer, the attention and itself, one per group, and the values they keep for the step.
//
// The trainer calls begin_step(logged) before each step: only a logged step (train.log_interval)
// listens, so recording costs one test of a flag otherwise. take() then hands the step's values
// to the run writer with the step's train row. Each group keeps its names in a vector in the order
// of their first use: record() looks a name up by comparison, allocates only when a name is new
// (after checking it once: letters, digits, '_', '.', '-', at most 64 characters, not `step`),
// and keeps the last value recorded in the step.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nanolab/metrics.hpp"
#include "nanolab/run_store.hpp"

namespace nanolab::train_detail {

class MetricsGroup final : public Metrics {
 public:
  // `owner` names who records here in an error message ("loss plugin 'focal'").
  MetricsGroup(std::string group, std::string owner, const bool& listening)
      : group_(std::move(group)), owner_(std::move(owner)), listening_(listening) {}

  bool enabled() const override { return listening_; }
  void record(std::string_view name, double value) override;

  const std::string& group() const { return group_; }
  void set_owner(std::string owner) { owner_ = std::move(owner); }
  // Appends the values recorded since the last take() to `out` and forgets them.
  void take(std::vector<RecordedMetric>& out);
  // The names seen so far (each kept once, in the order of first use).
  size_t names() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name;
    double value;
    bool recorded;
  };
  std::string group_, owner_;
  const bool& listening_;
  std::vector<Entry> entries_;
};

class MetricsRecorder {
 public:
  // The groups the trainer hands out: "loss", "optimizer", "attention" and "train".
  MetricsRecorder();
  MetricsRecorder(const MetricsRecorder&) = delete;
  MetricsRecorder& operator=(const MetricsRecorder&) = delete;

  // The Metrics of `group`; std::logic_error for a group not listed above.
  MetricsGroup& group(std::string_view group);
  // Whether the step about to be trained listens.
  void begin_step(bool logged) { listening_ = logged; }
  // The values of the step, group by group.
  std::vector<RecordedMetric> take();

 private:
  bool listening_ = false;
  std::vector<MetricsGroup> groups_;
};

}  // namespace nanolab::train_detail
