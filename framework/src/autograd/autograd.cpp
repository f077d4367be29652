// The tape: node numbering, recording, gradient accumulation and the backward pass.
#include "nanolab/autograd.hpp"

#include <algorithm>
#include <atomic>
#include <unordered_set>

#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"
#include "runtime/kernels.hpp"
#include "runtime/profile.hpp"
#include "tensor/impl.hpp"

namespace nanolab {
namespace {

std::atomic<uint64_t> next_seq{0};
thread_local bool grad_on = true;

// A node whose backward is a function object (the state it needs is captured in it), and the op
// kind its forward was timed under, which its backward is timed under too (runtime/profile.hpp).
struct FunctionNode final : Node {
  FunctionNode(std::vector<Tensor> in, std::function<void(const Tensor&)> fn)
      : Node(std::move(in)), fn(std::move(fn)), op_kind(profile::current_kind()) {}
  void backward(const Tensor& d) override { fn(d); }
  std::function<void(const Tensor&)> fn;
  profile::Kind op_kind;
};

// The kind a node's backward is timed under: its forward's; other for a node made elsewhere.
profile::Kind op_kind(const Node* n) {
  const auto* f = dynamic_cast<const FunctionNode*>(n);
  return f ? f->op_kind : profile::Kind::other;
}

}  // namespace

Node::Node(std::vector<Tensor> in) : seq(next_seq++), inputs(std::move(in)) {}

NoGrad::NoGrad() : previous_(grad_on) { grad_on = false; }
NoGrad::~NoGrad() { grad_on = previous_; }

namespace autograd {

bool grad_enabled() { return grad_on; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_on) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

void record(Tensor& dst, std::initializer_list<Tensor> inputs,
            std::function<void(const Tensor& diff_dst)> backward) {
  if (!grad_on) return;
  std::vector<Tensor> tracked;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) tracked.push_back(t);
  if (tracked.empty()) return;
  dst.set_grad_fn(std::make_shared<FunctionNode>(std::move(tracked), std::move(backward)));
}

void accumulate_grad(const Tensor& t, Tensor diff) {
  if (!t.defined() || !t.requires_grad()) return;
  if (diff.shape() != t.shape())
    throw ShapeError("accumulate_grad: gradient of shape " + diff.shape().str() +
                     " for a tensor of shape " + t.shape().str());
  Tensor& slot = t.grad_fn() ? t.grad_fn()->diff_dst : t.grad();
  if (!slot.defined()) {
    // The slot takes the buffer over if no one else can see it (a buffer shared with another slot
    // or a live tensor would change with the next accumulation into this one). A leaf's .grad
    // too: after reset_grad (the trainer's, before each step) a parameter's first gradient is
    // written once, with no zero-filled buffer to add it into and no second copy of it.
    slot = diff.sole_owner() ? std::move(diff) : diff.clone();
    return;
  }
  kernels::add_inplace(slot.data(), diff.data(), diff.numel());
}

Tensor accumulated_grad(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return Tensor();
  return t.grad_fn() ? t.grad_fn()->diff_dst : t.grad();
}

}  // namespace autograd

void Tensor::backward() const {
  if (numel() != 1)
    throw ShapeError("backward() without a gradient needs a one-element tensor, got " +
                     shape().str());
  backward(Tensor::full(shape(), 1.0f));
}

void Tensor::backward(const Tensor& diff_dst) const {
  if (diff_dst.shape() != shape())
    throw ShapeError("backward: gradient of shape " + diff_dst.shape().str() +
                     " for a tensor of shape " + shape().str());
  if (!requires_grad()) throw ShapeError("backward: the tensor does not require grad");
  NoGrad no_grad;  // the backward pass itself is not recorded
  if (!grad_fn()) {
    autograd::accumulate_grad(*this, diff_dst.clone());
    return;
  }
  // Collect the nodes reachable from this tensor; run them in reverse tape order.
  std::vector<Node*> nodes;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack{grad_fn().get()};
  seen.insert(stack.back());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    nodes.push_back(n);
    for (const Tensor& in : n->inputs)
      if (Node* p = in.grad_fn().get(); p && seen.insert(p).second) stack.push_back(p);
  }
  std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->seq > b->seq; });
  grad_fn()->diff_dst = diff_dst.clone();
  for (Node* n : nodes) {
    if (!n->diff_dst.defined()) continue;  // no path from the output carries a gradient here
    interruption_point();  // a backward longer than a signal may wait is cut between nodes
    Tensor d = std::move(n->diff_dst);
    n->diff_dst = Tensor();
    profile::Scope scope(profile::enabled() ? op_kind(n) : profile::Kind::other);
    n->backward(d);
  }
}

}  // namespace nanolab
