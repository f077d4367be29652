// The JSON reader and writer of safetensors headers and config.json (runtime/json.hpp) over
// nlohmann-json: members in the order written, exact 64-bit integers, the refusal of a key given
// twice, every refusal with what was expected at its byte offset, and text that reads back.
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

TEST(Json, ReadsEveryKindOfValueInTheOrderWritten) {
  const Json v = parse(R"( {"z": [1, -2.5e1, true, false, null], "b": {"c": "d"}, "e": 0} )");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v.begin().key(), "z");
  const Json& a = v.at("z");
  ASSERT_EQ(a.size(), 5u);
  EXPECT_TRUE(a[0].is_number_unsigned());
  EXPECT_EQ(a[1].get<double>(), -25.0);
  EXPECT_FALSE(a[1].is_number_unsigned());
  EXPECT_EQ(describe(a[2]), "true");
  EXPECT_EQ(describe(a[4]), "null");
  EXPECT_EQ(describe(v), "an object");
  EXPECT_EQ(describe(v.at("b").at("c")), "the string \"d\"");
  EXPECT_EQ(describe(v.at("e")), "the number 0");
}

TEST(Json, IntegersPast2To53StayExact) {
  EXPECT_EQ(parse("9007199254740993").get<uint64_t>(), 9007199254740993u);
  EXPECT_EQ(parse("18446744073709551615").get<uint64_t>(), 18446744073709551615u);
  EXPECT_FALSE(parse("18446744073709551616").is_number_unsigned()) << "past 64 bits";
  EXPECT_FALSE(parse("-1").is_number_unsigned());
}

TEST(Json, StringsReadBackWhateverTheyHold) {
  EXPECT_EQ(parse(R"("a\"b\\c\/d\b\f\n\r\t")").get<std::string>(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(parse(R"("\u00e9\u20ac\ud83d\ude00")").get<std::string>(),
            "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(dump(Json("a\"b\\\n\x01")), "\"a\\\"b\\\\\\n\\u0001\"");
  EXPECT_EQ(parse(dump(Json("h.0.attn \x1f\""))).get<std::string>(), "h.0.attn \x1f\"");
  // Bytes that are not UTF-8 (a name from a damaged file) are written, replaced, not thrown.
  EXPECT_EQ(dump(Json("a\xff")), "\"a\xEF\xBF\xBD\"");
}

TEST(Json, RefusesWhatIsNotJsonAtItsOffset) {
  EXPECT_EQ(error_of("{\"a\": 1, \"a\": 2}"), "the key \"a\" appears twice in one object");
  EXPECT_NO_THROW(parse("{\"a\": {\"b\": 1}, \"b\": {\"b\": 2}}")) << "one key in two objects";
  EXPECT_EQ(error_of("{\"a\" 1}"),
            "at byte 5: syntax error while parsing object separator - unexpected number literal; "
            "expected ':'");
  EXPECT_EQ(error_of("{\"a\": 1} x"),
            "at byte 9: syntax error while parsing value - invalid literal; last read: '1} x'; "
            "expected end of input");
  EXPECT_EQ(error_of("\"a\nb\""),
            "at byte 2: syntax error while parsing value - invalid string: control character "
            "U+000A (LF) must be escaped to \\u000A or \\n; last read: '\"a<U+000A>'");
  EXPECT_NE(error_of(R"("\ud83d")").find("surrogate"), std::string::npos);
  EXPECT_NE(error_of("012").find("at byte "), std::string::npos);
  EXPECT_NE(error_of("").find("at byte 0: "), std::string::npos);
  // Deep nesting is refused by nothing but the end of the text: it must not take the stack.
  EXPECT_NE(error_of(std::string(100000, '[')).find("unexpected end of input"), std::string::npos);
  EXPECT_EQ(parse(std::string(100000, '[') + std::string(100000, ']')).size(), 1u);
}

}  // namespace
}  // namespace nanolab::json
