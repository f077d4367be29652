// The JSON reader and quoter of json.hpp: a recursive-descent parser over the text, every read
// bounds-checked against its end.
#include "runtime/json.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "nanolab/utf8.hpp"

namespace nanolab::json {
namespace {

constexpr int max_depth = 64;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Value document() {
    Value v = value(0);
    skip_space();
    if (at_ < s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw JsonError(at_, what); }

  void skip_space() {
    while (at_ < s_.size() &&
           (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r'))
      ++at_;
  }

  char peek() {
    skip_space();
    if (at_ >= s_.size()) fail("the text ends where a value or delimiter was expected");
    return s_[at_];
  }

  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "', found '" + s_[at_] + "'");
    ++at_;
  }

  void literal(std::string_view word) {
    if (s_.substr(at_, word.size()) != word) fail("expected a JSON value");
    at_ += word.size();
  }

  Value value(int depth) {
    if (depth > max_depth) fail("nested deeper than " + std::to_string(max_depth) + " levels");
    Value v;
    switch (peek()) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        v.type = Value::Type::string;
        v.string = string();
        return v;
      case 't':
        literal("true");
        v.type = Value::Type::boolean;
        v.boolean = true;
        return v;
      case 'f':
        literal("false");
        v.type = Value::Type::boolean;
        return v;
      case 'n':
        literal("null");
        return v;
      default:
        return number();
    }
  }

  Value object(int depth) {
    Value v;
    v.type = Value::Type::object;
    expect('{');
    if (peek() == '}') {
      ++at_;
      return v;
    }
    while (true) {
      if (peek() != '"') fail("expected a string key");
      const size_t key_at = at_;
      std::string key = string();
      for (const auto& [k, _] : v.members)
        if (k == key) throw JsonError(key_at, "the key " + quote(key) + " appears twice");
      expect(':');
      v.members.emplace_back(std::move(key), value(depth + 1));
      if (peek() == '}') {
        ++at_;
        return v;
      }
      expect(',');
    }
  }

  Value array(int depth) {
    Value v;
    v.type = Value::Type::array;
    expect('[');
    if (peek() == ']') {
      ++at_;
      return v;
    }
    while (true) {
      v.items.push_back(value(depth + 1));
      if (peek() == ']') {
        ++at_;
        return v;
      }
      expect(',');
    }
  }

  uint32_t hex4() {
    if (at_ + 4 > s_.size()) fail("a \\u escape needs 4 hex digits");
    uint32_t u = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[at_++];
      u <<= 4;
      if (c >= '0' && c <= '9')
        u |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        u |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        u |= uint32_t(c - 'A' + 10);
      else
        fail("a \\u escape needs 4 hex digits");
    }
    return u;
  }

  std::string string() {
    ++at_;  // the opening quote, checked by the caller
    std::string out;
    while (true) {
      if (at_ >= s_.size()) fail("a string is not closed");
      const char c = s_[at_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) {
        --at_;
        fail("a control character inside a string");
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= s_.size()) fail("a string is not closed");
      switch (const char e = s_[at_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate: its low half must follow
            if (s_.substr(at_, 2) != "\\u") fail("a lone surrogate in a \\u escape");
            at_ += 2;
            const uint32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("a lone surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("a lone surrogate in a \\u escape");
          }
          utf8::append(out, cp);
          break;
        }
        default:
          --at_;
          fail(std::string("unknown escape \\") + e);
      }
    }
  }

  Value number() {
    const size_t start = at_;
    auto digits = [&] {
      const size_t from = at_;
      while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') ++at_;
      return at_ - from;
    };
    bool integral = true;
    if (at_ < s_.size() && s_[at_] == '-') ++at_;
    const size_t int_at = at_;
    const size_t n = digits();
    if (n == 0) {
      at_ = start;
      fail("expected a JSON value");
    }
    if (n > 1 && s_[int_at] == '0') fail("a number with a leading zero");
    if (at_ < s_.size() && s_[at_] == '.') {
      ++at_;
      integral = false;
      if (digits() == 0) fail("a number needs digits after '.'");
    }
    if (at_ < s_.size() && (s_[at_] == 'e' || s_[at_] == 'E')) {
      ++at_;
      integral = false;
      if (at_ < s_.size() && (s_[at_] == '+' || s_[at_] == '-')) ++at_;
      if (digits() == 0) fail("a number needs digits in its exponent");
    }
    const std::string text(s_.substr(start, at_ - start));
    Value v;
    v.type = Value::Type::number;
    v.number = std::strtod(text.c_str(), nullptr);
    if (integral && text[0] != '-') {
      errno = 0;
      const unsigned long long u = std::strtoull(text.c_str(), nullptr, 10);
      if (errno == 0) v.integer = uint64_t(u);
    }
    return v;
  }

  std::string_view s_;
  size_t at_ = 0;
};

}  // namespace

const Value* Value::find(std::string_view key) const {
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

std::string Value::describe() const {
  switch (type) {
    case Type::null:
      return "null";
    case Type::boolean:
      return boolean ? "true" : "false";
    case Type::number: {
      if (integer) return "the number " + std::to_string(*integer);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", number);
      return std::string("the number ") + buf;
    }
    case Type::string:
      return "the string " + quote(string.size() > 40 ? string.substr(0, 40) + "..." : string);
    case Type::array:
      return "an array";
    case Type::object:
      return "an object";
  }
  return "?";
}

Value parse(std::string_view text) { return Parser(text).document(); }

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace nanolab::json
