// JSON in the framework: nlohmann-json's ordered_json (an object keeps its members in the order
// written), plus what the library does not do for the files nanolab reads and writes. Internal.
//
// parse() is the library's strict RFC 8259 reader (it reads iteratively: deep nesting cannot
// overflow the stack) with one refusal of its own: a key that appears twice in one object (the
// library keeps the last; a safetensors header or config.json with two values for one key is
// ambiguous). Every refusal is a JsonError saying what was expected, at its byte offset where the
// library gives one. A non-negative integer literal that fits in 64 bits keeps its exact value
// (is_number_unsigned(): a tensor's byte offsets can pass 2^53).
// dump() writes text that Python's json reads back, whatever bytes a string holds: invalid UTF-8
// becomes U+FFFD instead of an exception.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace nanolab::json {

using Json = nlohmann::ordered_json;

struct JsonError : std::runtime_error {
  JsonError(size_t offset, const std::string& what)
      : std::runtime_error("at byte " + std::to_string(offset) + ": " + what) {}
  explicit JsonError(const std::string& what) : std::runtime_error(what) {}
};

Json parse(std::string_view text);

// "an object", "the string \"F32\"", "the number 3": for messages.
std::string describe(const Json& v);

// `v` as JSON text: compact (indent < 0) or `indent` spaces a level.
std::string dump(const Json& v, int indent = -1);

}  // namespace nanolab::json
