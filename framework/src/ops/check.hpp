// Shape checks shared by the ops: one ShapeError naming the op, what was expected and the shapes.
#pragma once

#include <string>

#include "nanolab/errors.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab::ops {

inline void require(bool ok, const char* op, const std::string& expected, const Shape& a) {
  if (!ok) throw ShapeError(std::string(op) + ": expected " + expected + ", got " + a.str());
}

inline void require(bool ok, const char* op, const std::string& expected, const Shape& a,
                    const Shape& b) {
  if (!ok)
    throw ShapeError(std::string(op) + ": expected " + expected + ", got " + a.str() + " and " +
                     b.str());
}

}  // namespace nanolab::ops
