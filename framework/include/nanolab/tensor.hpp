// Tensor: an f32, row-major, contiguous array of up to 4 dimensions over refcounted storage.
//
// A Tensor is a cheap handle (copying it shares the data). Storage comes from the framework's
// caching allocator, so a training step that allocates the same shapes every iteration takes
// nothing new from the system after its first run. `view` reshapes without copying and keeps
// autograd history. There are no strided views: ops that want a transposed operand take a flag
// (see ops.hpp). Not thread-safe for concurrent mutation of the same handle.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace nanolab {

// Up to 4 dimensions, outermost first.
class Shape {
 public:
  static constexpr int max_dims = 4;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  static Shape of(const int64_t* dims, int ndim);

  int ndim() const { return ndim_; }
  int64_t operator[](int i) const { return dims_[i < 0 ? i + ndim_ : i]; }
  int64_t numel() const;
  // Product of all dimensions but the last one (the "rows" of a row-major matrix view).
  int64_t rows() const { return ndim_ == 0 ? 1 : numel() / dims_[ndim_ - 1]; }
  int64_t last() const { return ndim_ == 0 ? 1 : dims_[ndim_ - 1]; }
  const int64_t* data() const { return dims_.data(); }
  std::string str() const;  // "(B=2, 3, 4)" style: "[2, 3, 4]"
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::array<int64_t, max_dims> dims_{};
  int ndim_ = 0;
};

struct Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false

  // New storage, uninitialised / zero / filled / copied from `values` (size must match).
  static Tensor empty(const Shape& shape);
  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor from(const std::vector<float>& values, const Shape& shape);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int ndim() const { return shape().ndim(); }
  int64_t size(int dim) const { return shape()[dim]; }
  int64_t numel() const { return shape().numel(); }

  // A Tensor is a handle, like a shared_ptr: a const handle still gives access to the data.
  float* data() const;
  std::vector<float> to_vector() const;
  float item() const;  // the value of a one-element tensor

  // Same storage, another shape with the same number of elements. Differentiable.
  Tensor view(const Shape& shape) const;
  // A new tensor with its own storage and the same values; no autograd history.
  Tensor clone() const;
  void fill(float value) const;
  void copy_from(const Tensor& src) const;  // same numel; no autograd history

  // Autograd. A leaf that requires grad gets `.grad()` filled by backward(); zero it (or reset
  // it) between steps yourself. A tensor made by an op from inputs that require grad carries
  // the node that made it (`grad_fn`).
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on = true);
  Tensor& grad() const;
  // Fills .grad with zeros, creating it if needed: the next backward adds into that buffer.
  void zero_grad() const;
  // Drops .grad: the next backward hands it the first gradient computed for this tensor as it
  // is (no zero fill, no add, no copy). The trainer resets every parameter before each step; the
  // caching allocator gives the same blocks back each time.
  void reset_grad() const;
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> node);
  // Reverse-mode pass from this tensor: one element with seed 1, or any shape with `diff_dst`.
  void backward() const;
  void backward(const Tensor& diff_dst) const;

  // True when no other handle or view shares this tensor's storage.
  bool sole_owner() const;
  // Identity of the underlying impl (two handles to the same tensor compare equal).
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace nanolab
