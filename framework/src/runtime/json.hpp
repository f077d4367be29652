// A small strict JSON reader and a string quoter: what nanolab needs to read the header of a
// safetensors file and a Hugging Face config.json, and to write them back. Internal.
//
// parse() takes RFC 8259 JSON (objects, arrays, strings with every escape, numbers, true, false,
// null) and refuses anything else with a JsonError giving the byte offset and what was expected:
// trailing text, a duplicate key in one object, nesting deeper than 64, a control character inside
// a string, a lone surrogate. An integer without fraction or exponent that fits in 64 bits keeps
// its exact value (a tensor's byte offsets can pass 2^53). Not a general JSON library: no
// writer beyond quote(), no streaming, no comments or other extensions.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nanolab::json {

struct JsonError : std::runtime_error {
  JsonError(size_t offset, const std::string& what)
      : std::runtime_error("at byte " + std::to_string(offset) + ": " + what), offset(offset) {}
  size_t offset;
};

struct Member;

struct Value {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  double number = 0;
  std::optional<uint64_t> integer;  // set for a non-negative integer literal that fits
  std::string string;
  std::vector<Value> items;     // array
  std::vector<Member> members;  // object, in the order written

  // The member named `key` of an object, or null when there is none (or this is no object).
  const Value* find(std::string_view key) const;
  // "an object", "a string \"F32\"", "the number 3": for messages.
  std::string describe() const;
};

// One member of an object. A struct of its own: clang 14 with libstdc++ refuses the
// std::pair<std::string, Value> that Value would hold while Value is still incomplete.
struct Member {
  Member(std::string key, Value value) : first(std::move(key)), second(std::move(value)) {}
  std::string first;  // the key
  Value second;
};

Value parse(std::string_view text);

// `s` as a JSON string literal, quotes included.
std::string quote(std::string_view s);

}  // namespace nanolab::json
