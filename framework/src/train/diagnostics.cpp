// The per-layer metrics of train.diagnostics (diagnostics.hpp).
#include "train/diagnostics.hpp"

#include <cmath>

namespace nanolab::train_detail {

std::string layer_of(const std::string& name) {
  const size_t first = name.find('.');
  if (first == std::string::npos) return name;
  if (name.compare(0, first, "h") == 0) {
    const size_t second = name.find('.', first + 1);
    return name.substr(0, second);
  }
  return name.substr(0, first);
}

void LayerDiagnostics::index(const Parameters& params) {
  if (layer_of_param_.size() == params.size()) return;
  layers_.clear();
  layer_of_param_.clear();
  for (const Parameter& p : params) {
    const std::string layer = layer_of(p.name);
    size_t i = 0;
    while (i < layers_.size() && layers_[i] != layer) ++i;
    if (i == layers_.size()) layers_.push_back(layer);
    layer_of_param_.push_back(i);
  }
  grad_names_.clear();
  ratio_names_.clear();
  for (const auto& layer : layers_) {
    grad_names_.push_back("grad_norm." + layer);
    ratio_names_.push_back("update_ratio." + layer);
  }
  sums_.assign(layers_.size(), 0.0);
  norms_.assign(layers_.size(), 0.0);
}

void LayerDiagnostics::record_grad_norms(const Parameters& params, Metrics& metrics) {
  index(params);
  sums_.assign(layers_.size(), 0.0);
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& grad = params[i].tensor.grad();
    if (!grad.defined()) continue;  // no gradient counts as zero, as in clipping
    const float* g = grad.data();
    double sum = 0;
    for (int64_t j = 0; j < grad.numel(); ++j) sum += double(g[j]) * g[j];
    sums_[layer_of_param_[i]] += sum;
  }
  for (size_t l = 0; l < layers_.size(); ++l) metrics.record(grad_names_[l], std::sqrt(sums_[l]));
}

void LayerDiagnostics::keep_weights(const Parameters& params) {
  index(params);
  before_.resize(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const float* w = params[i].tensor.data();
    before_[i].assign(w, w + params[i].tensor.numel());
  }
}

void LayerDiagnostics::record_update_ratios(const Parameters& params, Metrics& metrics) {
  if (before_.size() != params.size()) return;
  sums_.assign(layers_.size(), 0.0);
  norms_.assign(layers_.size(), 0.0);
  for (size_t i = 0; i < params.size(); ++i) {
    const float* w = params[i].tensor.data();
    const std::vector<float>& old = before_[i];
    double delta = 0, weight = 0;
    for (size_t j = 0; j < old.size(); ++j) {
      const double d = double(w[j]) - double(old[j]);
      delta += d * d;
      weight += double(old[j]) * old[j];
    }
    sums_[layer_of_param_[i]] += delta;
    norms_[layer_of_param_[i]] += weight;
  }
  for (size_t l = 0; l < layers_.size(); ++l)
    metrics.record(ratio_names_[l],
                   norms_[l] > 0 ? std::sqrt(sums_[l]) / std::sqrt(norms_[l]) : NAN);
}

}  // namespace nanolab::train_detail
