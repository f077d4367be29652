// LayerDiagnostics: the built-in metrics of train.diagnostics that the trainer records at a logged
// step, layer by layer, in its own group ("train"): `grad_norm.<layer>`, the L2 norm of the
// layer's gradients before clipping, and `update_ratio.<layer>`, ||p_after - p_before|| / ||p_before||
// over the layer's parameters for the step's update. A layer is a transformer block (`h.0`,
// `h.1`...; every parameter named h.<i>.*) or a parameter outside them by its first name component
// (`wte`, `wpe`, `ln_f`...). The attention entropy is recorded by the attention itself
// (ForwardContext::metrics).
//
// Cost, at logged steps only: a pass over the gradients, a copy of the weights before the update
// (memory of one more copy of the parameters, kept between logged steps) and a pass after it.
#pragma once

#include <string>
#include <vector>

#include "nanolab/metrics.hpp"
#include "nanolab/parameter.hpp"

namespace nanolab::train_detail {

// The layer of a parameter name: "h.3.attn.c_attn.weight" -> "h.3", "wte.weight" -> "wte".
std::string layer_of(const std::string& parameter_name);

class LayerDiagnostics {
 public:
  void record_grad_norms(const Parameters& params, Metrics& metrics);
  // Copies the weights that record_update_ratios compares with.
  void keep_weights(const Parameters& params);
  void record_update_ratios(const Parameters& params, Metrics& metrics);

 private:
  // The layers of `params`, in order of first appearance; index_[i] is params[i]'s layer.
  void index(const Parameters& params);

  std::vector<std::string> layers_;
  std::vector<size_t> layer_of_param_;
  std::vector<std::string> grad_names_, ratio_names_;  // per layer, made once
  std::vector<std::vector<float>> before_;             // per parameter
  std::vector<double> sums_, norms_;                   // per layer
};

}  // namespace nanolab::train_detail
