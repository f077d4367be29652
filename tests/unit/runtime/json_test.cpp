// The JSON reader of safetensors headers and config.json (runtime/json.hpp): values, escapes and
// surrogate pairs, exact 64-bit integers, and every refusal with its byte offset.
#include "runtime/json.hpp"

#include <gtest/gtest.h>

namespace nanolab::json {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const JsonError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a JsonError for " << text;
  return "";
}

TEST(Json, ReadsEveryKindOfValue) {
  const Value v = parse(R"( {"a": [1, -2.5e1, true, false, null], "b": {"c": "d"}, "e": 0} )");
  ASSERT_EQ(v.type, Value::Type::object);
  ASSERT_EQ(v.members.size(), 3u);
  EXPECT_EQ(v.members[0].first, "a");  // in the order written
  const Value& a = *v.find("a");
  ASSERT_EQ(a.items.size(), 5u);
  EXPECT_EQ(a.items[0].integer, 1u);
  EXPECT_EQ(a.items[1].number, -25.0);
  EXPECT_FALSE(a.items[1].integer);
  EXPECT_TRUE(a.items[2].boolean);
  EXPECT_EQ(a.items[3].type, Value::Type::boolean);
  EXPECT_EQ(a.items[4].type, Value::Type::null);
  EXPECT_EQ(v.find("b")->find("c")->string, "d");
  EXPECT_EQ(v.find("e")->integer, 0u);
  EXPECT_EQ(v.find("x"), nullptr);
}

TEST(Json, IntegersPast2To53StayExact) {
  EXPECT_EQ(parse("9007199254740993").integer, 9007199254740993u);
  EXPECT_EQ(parse("18446744073709551615").integer, 18446744073709551615u);
  EXPECT_FALSE(parse("18446744073709551616").integer) << "past 64 bits: a number, not an integer";
  EXPECT_FALSE(parse("-1").integer);
}

TEST(Json, StringEscapesAndSurrogatePairs) {
  EXPECT_EQ(parse(R"("a\"b\\c\/d\b\f\n\r\t")").string, "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(parse(R"("\u00e9\u20ac\ud83d\ude00")").string, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(quote("a\"b\\\n\x01"), "\"a\\\"b\\\\\\n\\u0001\"");
  EXPECT_EQ(parse(quote("h.0.attn \x1f\"")).string, "h.0.attn \x1f\"");
}

TEST(Json, RefusesWhatIsNotJsonAtItsOffset) {
  EXPECT_EQ(error_of("{\"a\": 1} x"), "at byte 9: unexpected text after the JSON value");
  EXPECT_EQ(error_of("{\"a\": 1, \"a\": 2}"), "at byte 9: the key \"a\" appears twice");
  EXPECT_EQ(error_of("{\"a\" 1}"), "at byte 5: expected ':', found '1'");
  EXPECT_EQ(error_of("[1, 2"), "at byte 5: the text ends where a value or delimiter was expected");
  EXPECT_EQ(error_of("\"abc"), "at byte 4: a string is not closed");
  EXPECT_EQ(error_of("\"a\nb\""), "at byte 2: a control character inside a string");
  EXPECT_EQ(error_of(R"("\ud83d")"), "at byte 7: a lone surrogate in a \\u escape");
  EXPECT_EQ(error_of(R"("\x")"), "at byte 2: unknown escape \\x");
  EXPECT_EQ(error_of("012"), "at byte 3: a number with a leading zero");
  EXPECT_EQ(error_of("1."), "at byte 2: a number needs digits after '.'");
  EXPECT_EQ(error_of("nul"), "at byte 0: expected a JSON value");
  EXPECT_EQ(error_of(""), "at byte 0: the text ends where a value or delimiter was expected");
  EXPECT_EQ(error_of(std::string(100, '[') + std::string(100, ']')),
            "at byte 65: nested deeper than 64 levels");
}

}  // namespace
}  // namespace nanolab::json
