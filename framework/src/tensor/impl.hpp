// TensorImpl: what a Tensor handle points to. Internal to the framework.
#pragma once

#include <memory>

#include "nanolab/autograd.hpp"
#include "nanolab/tensor.hpp"
#include "tensor/allocator.hpp"

namespace nanolab {

struct TensorImpl {
  Shape shape;
  std::shared_ptr<detail::Storage> storage;
  int64_t offset = 0;  // in floats, for views
  bool requires_grad = false;
  Tensor grad;                    // leaves only
  std::shared_ptr<Node> grad_fn;  // non-leaves only
};

}  // namespace nanolab
