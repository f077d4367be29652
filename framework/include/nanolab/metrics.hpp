// Metrics: named scalars that the trainer and plugins record as a run trains.
//
// A component records through the Metrics in the context it is given: `metrics.record("z_loss",
// v)`. Each component's Metrics is scoped to its group (the plugin kind: "loss", "optimizer",
// "attention"; or "train" for the trainer's own), and a value lands in run.h5 under
// /metrics/<group>/<name> with the step it was recorded at (docs/run-format.md). When nothing
// listens (sampling, eval, a step that is not logged) `enabled()` is false and `record` does
// nothing, so a value that costs work to compute is computed only when enabled(). Recording a name
// allocates only the first time that name is seen.
#pragma once

#include <string>
#include <string_view>

#include "nanolab/errors.hpp"

namespace nanolab {

// Why `name` cannot be the name of a recorded metric (a column of /metrics/<group>), or "" when it
// can: letters, digits, '_', '.' and '-', 1 to 64 characters, not "step", "." or "..".
NANOLAB_VISIBLE std::string metric_name_problem(std::string_view name);

class NANOLAB_VISIBLE Metrics {
 public:
  virtual ~Metrics() = default;
  // Whether a recorded value is kept at this call.
  virtual bool enabled() const { return false; }
  // Keeps `value` under `name` (letters, digits, '_', '.', '-'; at most 64 characters) for the
  // current step; the last value recorded in a step wins.
  virtual void record(std::string_view /*name*/, double /*value*/) {}

  // A Metrics that keeps nothing.
  static Metrics& none() {
    static Metrics nothing;
    return nothing;
  }
};

}  // namespace nanolab
