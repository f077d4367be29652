// Reverse-mode automatic differentiation on a tape.
//
// Every op that produces a tensor from inputs that require grad records a Node: the inputs, the
// state its backward needs, and the backward function. Nodes are numbered as they are made (the
// tape order); Tensor::backward() collects the nodes reachable from its tensor and runs them in
// reverse tape order, each turning the gradient of its output (diff_dst) into gradients of its
// inputs (diff_src) with accumulate_grad(). A plugin may record its own fused op the same way:
//
//   Tensor dst = Tensor::empty(...);  ... compute ...
//   autograd::record(dst, {a, b}, [a, b, saved](const Tensor& diff_dst) {
//     autograd::accumulate_grad(a, ...); autograd::accumulate_grad(b, ...);
//   });
//
// NoGrad turns recording off for its scope (evaluation, sampling) on the current thread.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <vector>

#include "nanolab/tensor.hpp"

namespace nanolab {

struct Node {
  explicit Node(std::vector<Tensor> inputs);
  virtual ~Node() = default;
  // Turn the gradient of this node's output into gradients of `inputs` (accumulate_grad).
  virtual void backward(const Tensor& diff_dst) = 0;

  uint64_t seq;                // position on the tape
  std::vector<Tensor> inputs;  // the inputs that require grad
  Tensor diff_dst;             // gradient of the output, summed over its uses during backward
};

namespace autograd {

bool grad_enabled();
// True if grad is enabled and any input requires grad: the op must record a node.
bool needs_grad(std::initializer_list<const Tensor*> inputs);

// Record `backward` as the node that made `dst` from `inputs` (those that do not require grad are
// dropped). Does nothing if no input requires grad or grad is disabled.
void record(Tensor& dst, std::initializer_list<Tensor> inputs,
            std::function<void(const Tensor& diff_dst)> backward);

// Add `diff` into the gradient of `t` (its node's diff_dst, or .grad for a leaf). `diff` may be
// taken over without a copy when `t` has no gradient yet, so do not reuse it after the call.
// Does nothing if `t` does not require grad.
void accumulate_grad(const Tensor& t, Tensor diff);

// The gradient accumulated into `t` so far (its node's diff_dst, or .grad for a leaf); undefined
// when there is none yet or `t` does not require grad. An op whose gradient touches a few rows of
// a large tensor (an embedding's) adds them into it in place: what accumulate_grad would do with
// a full-size diff, without making one.
Tensor accumulated_grad(const Tensor& t);

}  // namespace autograd

// Disables recording on this thread for the lifetime of the object.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

}  // namespace nanolab
