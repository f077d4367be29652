// `nanolab demo`: trains a one-block transformer, written with the framework's ops, on a toy task
// (predict the token two places back) with plain SGD, and prints the loss as it falls. It shows the
// core working end to end until `nanolab run` trains experiments; it is not a trainer.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/runtime.hpp"

namespace nanolab::cli {
namespace {

constexpr int64_t V = 16, T = 16, C = 64, NH = 4, B = 16;

Tensor randn(const Shape& s, float std, std::mt19937& rng) {
  std::normal_distribution<float> n(0.0f, std);
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (auto& x : v) x = n(rng);
  return Tensor::from(v, s).set_requires_grad();
}

}  // namespace

int cmd_demo(const Args& args) {
  int steps = 600;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--steps" && i + 1 < args.size()) {
      steps = std::atoi(args[++i].c_str());
      if (steps < 1) throw ConfigError("--steps: expected a positive number, got '" + args[i] + "'");
    } else {
      throw ConfigError("demo: unknown argument '" + args[i] + "' (usage: nanolab demo [--steps N])");
    }
  }
  std::mt19937 rng(1337);
  // wte, wpe, ln_1, c_attn, c_proj, ln_2, c_fc, mlp c_proj, ln_f
  std::vector<Tensor> p = {randn({V, C}, 0.3f, rng), randn({T, C}, 0.3f, rng),
                           Tensor::full({C}, 1).set_requires_grad(), randn({3 * C, C}, 0.1f, rng),
                           randn({C, C}, 0.05f, rng), Tensor::full({C}, 1).set_requires_grad(),
                           randn({4 * C, C}, 0.1f, rng), randn({C, 4 * C}, 0.05f, rng),
                           Tensor::full({C}, 1).set_requires_grad()};
  std::uniform_int_distribution<int32_t> tok(0, V - 1);
  std::vector<int32_t> ids(B * T), targets(B * T);
  std::printf("demo: one transformer block (C=%ld, %ld heads) learns to repeat the token two places"
              " back; %d threads\n", long(C), long(NH), runtime::num_threads());
  for (int step = 1; step <= steps; ++step) {
    for (int64_t i = 0; i < B * T; ++i) {
      ids[i] = tok(rng);
      targets[i] = i % T >= 2 ? ids[i - 2] : -1;
    }
    for (Tensor& t : p) t.zero_grad();
    Tensor x = ops::add(ops::embedding(p[0], ids, {B, T}), p[1]);
    auto qkv = ops::chunk(ops::linear(ops::layer_norm(x, p[2]), p[3]), 3);
    Tensor att = ops::causal_softmax(
        ops::matmul(ops::split_heads(qkv[0], NH), ops::split_heads(qkv[1], NH), false, true),
        1.0f / std::sqrt(float(C / NH)));
    x = ops::add(x, ops::linear(ops::merge_heads(ops::matmul(att, ops::split_heads(qkv[2], NH))), p[4]));
    x = ops::add(x, ops::linear(ops::gelu(ops::linear(ops::layer_norm(x, p[5]), p[6])), p[7]));
    Tensor loss = ops::cross_entropy(ops::linear(ops::layer_norm(x, p[8]), p[0]), targets);
    loss.backward();
    for (Tensor& t : p) {
      float* w = t.data();
      const float* g = t.grad().data();
      for (int64_t i = 0; i < t.numel(); ++i) w[i] -= 0.3f * g[i];
    }
    if (step == 1 || step % 100 == 0 || step == steps)
      std::printf("step %5d  loss %.4f\n", step, loss.item());
  }
  return 0;
}

}  // namespace nanolab::cli
