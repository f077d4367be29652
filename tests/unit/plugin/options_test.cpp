// Option values written as TOML (what `nanolab plugins show` prints and the run log stores), the
// names of types and kinds, and the schema's checks of open and closed bounds, list lengths and
// string lists (plugin/options_schema.hpp). Exact strings: these are read back by people and TOML
// parsers.
#include <gtest/gtest.h>

#include <limits>

#include "nanolab/plugin.hpp"
#include "plugin/options_schema.hpp"

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
  EXPECT_EQ(to_string(OptionValue(std::vector<std::string>{"<|a|>", "b\"c"})),
            "[\"<|a|>\", \"b\\\"c\"]");
}

TEST(Options, TypeAndKindNames) {
  EXPECT_STREQ(to_string(OptionType::boolean), "boolean");
  EXPECT_STREQ(to_string(OptionType::integer), "integer");
  EXPECT_STREQ(to_string(OptionType::number), "number");
  EXPECT_STREQ(to_string(OptionType::string), "string");
  EXPECT_STREQ(to_string(OptionType::number_list), "number list");
  EXPECT_STREQ(to_string(OptionType::string_list), "string list");
  EXPECT_STREQ(to_string(OptionType::table), "table");
  EXPECT_STREQ(to_string(PluginKind::attention), "attention");
  EXPECT_STREQ(to_string(PluginKind::optimizer), "optimizer");
  EXPECT_STREQ(to_string(PluginKind::loss), "loss");
  EXPECT_STREQ(to_string(PluginKind::tokenizer), "tokenizer");
  EXPECT_STREQ(to_string(PluginKind::schedule), "schedule");
}

// The problems of `given` against `schema`, one "option[element]: message" line each.
std::vector<std::string> problems_of(const std::vector<OptionSpec>& schema,
                                     const std::map<std::string, OptionValue>& given) {
  std::map<std::string, OptionValue> complete;
  std::vector<std::string> out;
  for (const auto& p : plugin::check_options(schema, given, complete)) {
    std::string line = p.option;  // appended piece by piece: GCC 12 warns falsely on "[" + string
    if (p.element) line.append("[").append(std::to_string(*p.element)).append("]");
    out.push_back(line.append(": ").append(p.message));
  }
  return out;
}

using Lines = std::vector<std::string>;

// A table option's fields, nested at any depth, are options named "table.field": checked, defaulted,
// suggested and reported by those names; a plain value where the table is declared is refused
// naming its fields.
TEST(OptionSchema, TableOptionsNestTheirFieldsUnderDottedNames) {
  const std::vector<OptionSpec> schema = {
      {"eps", OptionType::number, 1e-8, exclusive(0.0), std::nullopt, {}, "> 0"},
      table_option("warmup",
                   {{"steps", OptionType::integer, int64_t{10}, 0.0, std::nullopt, {}, ""},
                    table_option("shape", {{"power", OptionType::number, 1.0, 1.0, 4.0, {}, ""}},
                                 "")},
                   "a table"),
  };
  EXPECT_EQ(plugin::schema_problems(schema), std::vector<std::string>{});
  std::map<std::string, OptionValue> complete;
  EXPECT_TRUE(plugin::check_options(schema, {{"warmup.shape.power", int64_t{2}}}, complete).empty());
  EXPECT_EQ(complete, (std::map<std::string, OptionValue>{
                          {"eps", 1e-8}, {"warmup.steps", int64_t{10}}, {"warmup.shape.power", 2.0}}));
  EXPECT_EQ(problems_of(schema, {{"warmup.steps", int64_t{-1}},
                                 {"warmup.shape.powr", 2.0},
                                 {"warmup", int64_t{3}}}),
            (Lines{"warmup: expected a table { steps, shape.power }, got an integer 3",
                   "warmup.shape.powr: unknown option (did you mean 'warmup.shape.power'?)",
                   "warmup.steps: must be >= 0, got -1"}));
  EXPECT_EQ(allowed_text(schema[1]), "a table { steps, shape }");
  std::vector<std::string> names;
  for (const auto& spec : flat_options(schema)) names.push_back(spec.name);
  EXPECT_EQ(names, (std::vector<std::string>{"eps", "warmup.steps", "warmup.shape.power"}));
  // A schema whose table is empty, or whose names hold a dot, is refused.
  EXPECT_EQ(plugin::schema_problems({table_option("t", {}, ""),
                                     {"a.b", OptionType::boolean, true, {}, {}, {}, ""}}),
            (std::vector<std::string>{"option 't' is a table without fields",
                                      "option 'a.b': a name holds no '.' (a table option nests "
                                      "its fields)"}));
}

TEST(OptionSchema, OpenAndClosedBounds) {
  const std::vector<OptionSpec> schema = {
      {"eps", OptionType::number, 1e-8, exclusive(0.0), std::nullopt, {}, "> 0"},
      {"momentum", OptionType::number, 0.0, 0.0, exclusive(1.0), {}, "[0, 1)"},
      {"decay", OptionType::number, -0.8, std::nullopt, exclusive(0.0), {}, "< 0"},
  };
  EXPECT_EQ(problems_of(schema, {{"eps", 1e-12}, {"momentum", 0.0}, {"decay", -1e-9}}), Lines{});
  EXPECT_EQ(problems_of(schema, {{"eps", 0.0}, {"momentum", 1.0}, {"decay", int64_t{0}}}),
            (Lines{"eps: must be > 0, got 0.0", "momentum: must be [0, 1), got 1.0",
                   "decay: must be < 0, got 0.0"}));
  EXPECT_EQ(allowed_text(schema[0]), "> 0");
  EXPECT_EQ(allowed_text(schema[1]), "[0, 1)");
  EXPECT_EQ(range_text(exclusive(0.5), 2.5), "(0.5, 2.5]");
}

TEST(OptionSchema, ListLengthAndElementBoundsNameTheElement) {
  const std::vector<OptionSpec> schema = {
      {"betas", OptionType::number_list, std::vector<double>{0.9, 0.999}, 0.0, exclusive(1.0), {},
       "two numbers in [0, 1)", 2},
  };
  EXPECT_EQ(problems_of(schema, {{"betas", std::vector<double>{0.0, 0.5}}}), Lines{});
  EXPECT_EQ(problems_of(schema, {{"betas", std::vector<double>{0.9, 1.0}}}),
            Lines{"betas[1]: element 2 must be [0, 1), got 1.0"});
  EXPECT_EQ(problems_of(schema, {{"betas", std::vector<double>{0.9}}}),
            Lines{"betas: must be 2 numbers, got 1 ([0.9])"});
  EXPECT_EQ(allowed_text(schema[0]), "2 numbers, each [0, 1)");
  // A default that breaks its own schema is the plugin's bug, found when it is loaded.
  std::vector<OptionSpec> bad = schema;
  bad[0].default_value = std::vector<double>{0.9, 0.99, 0.999};
  EXPECT_EQ(plugin::schema_problems(bad),
            Lines{"option 'betas': its default must be 2 numbers, got 3 ([0.9, 0.99, 0.999])"});
}

TEST(OptionSchema, StringListsTakeChoicesPerElementAndAnEmptyArray) {
  const std::vector<OptionSpec> schema = {
      {"specials", OptionType::string_list, std::vector<std::string>{}, std::nullopt,
       std::nullopt, {}, "any strings"},
      {"modes", OptionType::string_list, std::vector<std::string>{"raise"}, std::nullopt,
       std::nullopt, {"raise", "allow"}, "each raise or allow"},
  };
  std::map<std::string, OptionValue> complete;
  // An empty TOML array arrives as an empty number list: it is an empty list of any type.
  EXPECT_TRUE(plugin::check_options(schema, {{"specials", std::vector<double>{}}}, complete).empty());
  EXPECT_EQ(std::get<std::vector<std::string>>(complete.at("specials")), std::vector<std::string>{});
  EXPECT_EQ(problems_of(schema, {{"modes", std::vector<std::string>{"raise", "alow"}}}),
            Lines{"modes[1]: element 2 must be one of \"raise\", \"allow\", got \"alow\" (did you "
                  "mean 'allow'?)"});
  EXPECT_EQ(problems_of(schema, {{"specials", std::string("<|a|>,<|b|>")}}),
            Lines{"specials: expected a string list, got a string \"<|a|>,<|b|>\""});
}

}  // namespace
}  // namespace nanolab
