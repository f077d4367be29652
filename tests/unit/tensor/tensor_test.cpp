// Tensor and caching-allocator behaviour: shapes, views, storage sharing, reuse of freed blocks.
#include <gtest/gtest.h>

#include "nanolab/errors.hpp"
#include "nanolab/runtime.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab {
namespace {

TEST(Shape, NumelRowsAndText) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.ndim(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.rows(), 6);
  EXPECT_EQ(s.last(), 4);
  EXPECT_EQ(s[-1], 4);
  EXPECT_EQ(s.str(), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_THROW((Shape{1, 2, 3, 4, 5}), ShapeError);
  EXPECT_THROW((Shape{2, -1}), ShapeError);
}

TEST(Tensor, FromAndToVector) {
  Tensor t = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.to_vector(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(Tensor::from({1, 2, 3}, {2, 2}), ShapeError);
  EXPECT_EQ(Tensor::full({3}, 2.5f).to_vector(), (std::vector<float>{2.5f, 2.5f, 2.5f}));
  EXPECT_FLOAT_EQ(Tensor::from({7}, {}).item(), 7.0f);
  EXPECT_THROW(t.item(), ShapeError);
}

TEST(Tensor, ViewSharesStorageCloneDoesNot) {
  Tensor t = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor v = t.view({3, 2});
  Tensor c = t.clone();
  v.data()[5] = 60;
  EXPECT_EQ(t.data()[5], 60);
  EXPECT_EQ(c.data()[5], 6);
  EXPECT_EQ(v.shape(), (Shape{3, 2}));
  EXPECT_THROW(t.view({4, 2}), ShapeError);
}

TEST(Allocator, FreedBlocksAreReusedWithoutSystemAllocation) {
  { Tensor warm = Tensor::empty({1000, 37}); }
  auto before = runtime::stats();
  for (int i = 0; i < 10; ++i) {
    Tensor t = Tensor::empty({1000, 37});
    t.fill(1.0f);
  }
  auto after = runtime::stats();
  EXPECT_EQ(after.system_allocations, before.system_allocations);
  EXPECT_EQ(after.cache_hits, before.cache_hits + 10);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
}

TEST(Allocator, StorageIsAligned) {
  for (int n : {1, 3, 17, 1000, 100003}) {
    Tensor t = Tensor::empty({n});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u) << n;
  }
}

}  // namespace
}  // namespace nanolab
