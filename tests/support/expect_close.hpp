// Test helper: a tensor of nanolab against the same tensor from PyTorch, element by element, with
// a tolerance relative to the reference's scale; a failure names the worst index and both values.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace nanolab::test {

// |nanolab - torch| <= tol * max(1, max |torch|) over the tensor.
inline void expect_close(const std::vector<float>& ours, const std::vector<float>& torch,
                         double tol, const std::string& what) {
  ASSERT_EQ(ours.size(), torch.size()) << what;
  double scale = 1, worst = 0;
  size_t at = 0;
  for (float t : torch) scale = std::max(scale, double(std::fabs(t)));
  for (size_t i = 0; i < ours.size(); ++i) {
    const double e = std::fabs(double(ours[i]) - double(torch[i]));
    if (!(e <= worst)) worst = e, at = i;
  }
  EXPECT_LE(worst, tol * scale) << what << ": worst at index " << at << ": nanolab " << ours[at]
                                << ", PyTorch " << torch[at];
}

}  // namespace nanolab::test
