// StatefulOptimizer (nanolab/optimizer.hpp): the state an optimizer plugin declares, allocated,
// handed to its steps, read out for checkpoints and checked and restored on resume. The plugin
// holds only its update rule.
#include <algorithm>
#include <set>

#include "nanolab/optimizer.hpp"

namespace nanolab {
namespace {

bool applies(const StateTensor& t, const Parameter& p) { return !t.applies || t.applies(p); }

// The names a checkpoint may hold, for a message: "<param>.exp_avg", "step", ...
std::string expected_entries(const StateSpec& spec) {
  std::string out;
  for (const StateTensor& t : spec.tensors) out += (out.empty() ? "'<param>." : ", '<param>.") + t.name + "'";
  for (const std::string& s : spec.scalars) out += (out.empty() ? "'" : ", '") + s + "'";
  return out.empty() ? "none: this optimizer keeps no state" : out;
}

}  // namespace

StatefulOptimizer::StatefulOptimizer(std::unique_ptr<Optimizer> optimizer,
                                     std::span<const Parameter> params, double peak_lr)
    : optimizer_(std::move(optimizer)), spec_(optimizer_->state_spec()), peak_lr_(peak_lr) {
  for (const StateTensor& t : spec_.tensors)
    if (t.name.empty() || t.name.find('.') != std::string::npos)
      throw PluginError("optimizer: state tensor name '" + t.name +
                        "' must be non-empty and hold no '.' (it is saved as <param>.<name>)");
  for (const Parameter& p : params) {
    names_.push_back(p.name);
    std::vector<Tensor>& state = state_.emplace_back();
    for (const StateTensor& t : spec_.tensors)
      state.push_back(applies(t, p) ? Tensor::full(t.shape(p.tensor.shape()), t.initial)
                                    : Tensor());
  }
  scalars_.assign(spec_.scalars.size(), 0);
}

void StatefulOptimizer::step(std::span<const Parameter> params, float lr, int64_t step,
                             Metrics& metrics) {
  if (params.size() != names_.size())
    throw Error(ExitCode::internal, "optimizer: stepped with " + std::to_string(params.size()) +
                                        " parameters, made for " + std::to_string(names_.size()));
  std::vector<ParameterState> updated;
  updated.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& grad = params[i].tensor.grad();
    if (grad.defined()) updated.push_back({params[i], grad, state_[i]});
  }
  optimizer_->step({updated, scalars_, lr, peak_lr_, step, metrics});
}

OptimizerState StatefulOptimizer::state() const {
  OptimizerState out;
  for (size_t i = 0; i < names_.size(); ++i)
    for (size_t k = 0; k < spec_.tensors.size(); ++k)
      if (state_[i][k].defined()) out.tensors[names_[i] + "." + spec_.tensors[k].name] = state_[i][k];
  for (size_t k = 0; k < spec_.scalars.size(); ++k) out.scalars[spec_.scalars[k]] = scalars_[k];
  return out;
}

void StatefulOptimizer::load_state(const OptimizerState& state, bool missing_is_initial) {
  // Every entry is checked before anything is copied, so a refused state changes nothing.
  std::set<std::string> used;
  for (size_t i = 0; i < names_.size(); ++i)
    for (size_t k = 0; k < spec_.tensors.size(); ++k) {
      if (!state_[i][k].defined()) continue;
      const std::string key = names_[i] + "." + spec_.tensors[k].name;
      auto it = state.tensors.find(key);
      if (it == state.tensors.end()) {
        if (missing_is_initial) continue;
        throw CheckpointError("optimizer state: no entry '" + key + "' (the state '" +
                              spec_.tensors[k].name + "' of parameter '" + names_[i] + "')");
      }
      if (it->second.shape() != state_[i][k].shape())
        throw CheckpointError("optimizer state: parameter '" + names_[i] + "', state '" +
                              spec_.tensors[k].name + "': the checkpoint's has shape " +
                              it->second.shape().str() + ", the parameter needs " +
                              state_[i][k].shape().str());
      used.insert(key);
    }
  for (const auto& [key, t] : state.tensors)
    if (!used.count(key))
      throw CheckpointError("optimizer state: unexpected entry '" + key + "' (expected " +
                            expected_entries(spec_) + ", for the model's parameters)");
  for (size_t k = 0; k < spec_.scalars.size(); ++k)
    if (!state.scalars.count(spec_.scalars[k]) && !missing_is_initial)
      throw CheckpointError("optimizer state: no scalar '" + spec_.scalars[k] + "'");
  for (const auto& [name, v] : state.scalars) {
    if (std::find(spec_.scalars.begin(), spec_.scalars.end(), name) == spec_.scalars.end())
      throw CheckpointError("optimizer state: unexpected scalar '" + name + "' (expected " +
                            expected_entries(spec_) + ")");
    if (v < 0)
      throw CheckpointError("optimizer state: scalar '" + name + "' = " + std::to_string(v) +
                            " must be >= 0");
  }

  for (size_t i = 0; i < names_.size(); ++i)
    for (size_t k = 0; k < spec_.tensors.size(); ++k) {
      Tensor& t = state_[i][k];
      if (!t.defined()) continue;
      auto it = state.tensors.find(names_[i] + "." + spec_.tensors[k].name);
      if (it != state.tensors.end())
        t = it->second.clone();
      else
        t = Tensor::full(t.shape(), spec_.tensors[k].initial);
    }
  for (size_t k = 0; k < spec_.scalars.size(); ++k) {
    auto it = state.scalars.find(spec_.scalars[k]);
    scalars_[k] = it == state.scalars.end() ? 0 : it->second;
  }
}

}  // namespace nanolab
