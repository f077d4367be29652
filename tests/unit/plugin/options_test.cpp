// Option values written as TOML (what `nanolab plugins show` prints and the run log stores) and
// the names of types and kinds. Exact strings: these are read back by people and TOML parsers.
#include <gtest/gtest.h>

#include <limits>

#include "nanolab/plugin.hpp"

namespace nanolab {
namespace {

TEST(Options, ValuesAsToml) {
  EXPECT_EQ(to_string(OptionValue(true)), "true");
  EXPECT_EQ(to_string(OptionValue(false)), "false");
  EXPECT_EQ(to_string(OptionValue(int64_t{-42})), "-42");
  EXPECT_EQ(to_string(OptionValue(1.0)), "1.0");  // stays a float in TOML
  EXPECT_EQ(to_string(OptionValue(1e-3)), "0.001");
  EXPECT_EQ(to_string(OptionValue(0.1)), "0.1");  // shortest text that reads back exactly
  EXPECT_EQ(to_string(OptionValue(1e300)), "1e+300");
  EXPECT_EQ(to_string(OptionValue(std::numeric_limits<double>::infinity())), "inf");
  EXPECT_EQ(to_string(OptionValue(-std::numeric_limits<double>::infinity())), "-inf");
  EXPECT_EQ(to_string(OptionValue(std::numeric_limits<double>::quiet_NaN())), "nan");
  EXPECT_EQ(to_string(OptionValue(std::string("a\"b\\c\n\x01"))), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(to_string(OptionValue(std::vector<double>{0.9, 0.95, 2})), "[0.9, 0.95, 2.0]");
  EXPECT_EQ(to_string(OptionValue(std::vector<double>{})), "[]");
}

TEST(Options, TypeAndKindNames) {
  EXPECT_STREQ(to_string(OptionType::boolean), "boolean");
  EXPECT_STREQ(to_string(OptionType::integer), "integer");
  EXPECT_STREQ(to_string(OptionType::number), "number");
  EXPECT_STREQ(to_string(OptionType::string), "string");
  EXPECT_STREQ(to_string(OptionType::number_list), "number list");
  EXPECT_STREQ(to_string(PluginKind::attention), "attention");
  EXPECT_STREQ(to_string(PluginKind::optimizer), "optimizer");
  EXPECT_STREQ(to_string(PluginKind::loss), "loss");
  EXPECT_STREQ(to_string(PluginKind::tokenizer), "tokenizer");
}

}  // namespace
}  // namespace nanolab
