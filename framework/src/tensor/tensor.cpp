// Shape and Tensor: construction, views, data access. Autograd entry points live in
// autograd/autograd.cpp.
#include <algorithm>
#include <cstring>
#include <sstream>

#include "nanolab/errors.hpp"
#include "runtime/kernels.hpp"
#include "tensor/impl.hpp"

namespace nanolab {

Shape::Shape(std::initializer_list<int64_t> dims) {
  if (dims.size() > max_dims)
    throw ShapeError("a tensor has at most 4 dims, got " + std::to_string(dims.size()));
  for (int64_t d : dims) {
    if (d < 0) throw ShapeError("negative dimension " + std::to_string(d));
    dims_[ndim_++] = d;
  }
}

Shape Shape::of(const int64_t* dims, int ndim) {
  if (ndim > max_dims)
    throw ShapeError("a tensor has at most 4 dims, got " + std::to_string(ndim));
  Shape s;
  for (int i = 0; i < ndim; ++i) s.dims_[s.ndim_++] = dims[i];
  return s;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[i];
  return n;
}

std::string Shape::str() const {
  std::ostringstream s;
  s << '[';
  for (int i = 0; i < ndim_; ++i) s << (i ? ", " : "") << dims_[i];
  s << ']';
  return s.str();
}

bool Shape::operator==(const Shape& o) const {
  return ndim_ == o.ndim_ && std::equal(dims_.begin(), dims_.begin() + ndim_, o.dims_.begin());
}

Tensor Tensor::empty(const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->storage = detail::allocate_storage(size_t(shape.numel()));
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill(value);
  return t;
}

Tensor Tensor::from(const std::vector<float>& values, const Shape& shape) {
  if (int64_t(values.size()) != shape.numel())
    throw ShapeError("Tensor::from: " + std::to_string(values.size()) +
                     " values for shape " + shape.str());
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

const Shape& Tensor::shape() const { return impl_->shape; }
float* Tensor::data() const { return impl_->storage->data + impl_->offset; }

std::vector<float> Tensor::to_vector() const { return {data(), data() + numel()}; }

float Tensor::item() const {
  if (numel() != 1) throw ShapeError("item: tensor of shape " + shape().str() + " is not one element");
  return data()[0];
}

Tensor Tensor::view(const Shape& shape) const {
  if (shape.numel() != numel())
    throw ShapeError("view: cannot view " + this->shape().str() + " as " + shape.str());
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  Tensor dst(std::move(impl));
  Tensor src = *this;
  autograd::record(dst, {src}, [src](const Tensor& diff_dst) {
    autograd::accumulate_grad(src, diff_dst.view(src.shape()));
  });
  return dst;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape());
  kernels::copy(data(), t.data(), numel());
  return t;
}

void Tensor::fill(float value) const { kernels::fill(data(), value, numel()); }

void Tensor::copy_from(const Tensor& src) const {
  if (src.numel() != numel())
    throw ShapeError("copy_from: " + src.shape().str() + " into " + shape().str());
  kernels::copy(src.data(), data(), numel());
}

bool Tensor::sole_owner() const {
  return impl_.use_count() == 1 && impl_->storage.use_count() == 1;
}

bool Tensor::requires_grad() const { return impl_->requires_grad; }
Tensor& Tensor::set_requires_grad(bool on) {
  impl_->requires_grad = on;
  return *this;
}
Tensor& Tensor::grad() const { return impl_->grad; }
void Tensor::zero_grad() const {
  if (!impl_->grad.defined()) impl_->grad = Tensor::empty(shape());
  impl_->grad.fill(0.0f);
}
void Tensor::reset_grad() const { impl_->grad = Tensor(); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_->grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> node) {
  impl_->grad_fn = std::move(node);
  impl_->requires_grad = impl_->grad_fn != nullptr;
}

}  // namespace nanolab
