// Argument checks shared by the ops: one error naming the op, what was expected and what it got
// (ShapeError for shapes and masks, ConfigError for a dropout probability).
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

// An attention mask's window: 0 for none, w > 0 for the last w positions.
inline void require_window(const char* op, int64_t window) {
  if (window < 0)
    throw ShapeError(std::string(op) + ": window must be >= 0 (0 for none), got " +
                     std::to_string(window));
}

// A dropout probability, from the experiment file (model.dropout): the config schema should stop a
// bad value first, this is the last line.
inline void require_dropout_p(const char* op, float p) {
  if (!(p >= 0.0f && p < 1.0f))
    throw ConfigError(std::string(op) + ": the dropout probability " + std::to_string(p) +
                      " is outside [0, 1)");
}

}  // namespace nanolab::ops
