// Plugin options: the schema a plugin declares and the validated values it receives.
//
// A plugin never parses its options: it declares each one (name, type, default, allowed range with
// closed or open ends, allowed values, list length, one line of doc; or a table of such options,
// nested as deep as it likes) and the framework checks what
// the experiment gives against that schema (unknown option with did-you-mean, wrong type, out of
// range, wrong length) before the plugin's factory runs, each problem at the file:line:col of the
// value. The factory then reads values with Options::get, which cannot fail for a declared option,
// and checks nothing the schema can say. The keys of an experiment file are declared with the same
// OptionSpec and checked by the same function (framework/src/config/schema.hpp), so a constraint
// is refused with the same words wherever it is written.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nanolab {

// `table` is last: it is the type of a declared option that holds options (OptionSpec::fields), never
// the type of a value.
enum class OptionType { boolean, integer, number, string, number_list, string_list, table };

// The alternatives are in OptionType order.
using OptionValue = std::variant<bool, int64_t, double, std::string, std::vector<double>,
                                 std::vector<std::string>>;

// One end of an allowed range: closed (the value itself is allowed) when written as a plain
// number, open when written exclusive(v).
struct Bound {
  double value;
  bool exclusive = false;
  Bound(double v, bool open = false) : value(v), exclusive(open) {}  // NOLINT: a number is closed
};
inline Bound exclusive(double value) { return Bound(value, true); }

// Whether v is inside the bounds (NaN never is).
bool in_range(const std::optional<Bound>& min, const std::optional<Bound>& max, double v);
// "[0, 1)", "> 0", "<= 1" ("" without bounds); whole numbers without ".0".
std::string range_text(const std::optional<Bound>& min, const std::optional<Bound>& max);

struct OptionSpec {
  std::string name;
  OptionType type;
  OptionValue default_value;
  std::optional<Bound> min{};          // of an integer, a number, each element of a number list
  std::optional<Bound> max{};
  std::vector<std::string> choices{};  // allowed values of a string or of each element of a string
                                       // list; empty means any
  std::string doc{};                   // one line
  std::optional<size_t> length{};      // a list: exactly this many elements
  std::vector<OptionSpec> fields{};    // a table: its options (default_value is unused)
};

// A table option: `fields` given in the experiment as `name = { field = value, ... }` (or a
// [section.name] table), and read by the factory as Options::get("name.field").
OptionSpec table_option(std::string name, std::vector<OptionSpec> fields, std::string doc);

// The schema with each table replaced by its fields, named "table.field" (at every depth): the
// options a factory reads, the names messages and `nanolab plugins show` use.
std::vector<OptionSpec> flat_options(const std::vector<OptionSpec>& schema);

// The values an option allows, as a user reads them ("[0, 1]", "2 numbers, each [0, 1)",
// "one of \"a\", \"b\""); empty when it allows any value of its type.
std::string allowed_text(const OptionSpec& spec);

const char* to_string(OptionType type);
std::string to_string(const OptionValue& value);  // as it would be written in TOML

// Validated options: every declared option is present (given or default) with its declared type;
// the fields of a table option by their dotted names ("window.size").
class Options {
 public:
  Options() = default;
  explicit Options(std::map<std::string, OptionValue> values) : values_(std::move(values)) {}

  template <class T>
  const T& get(const std::string& name) const {
    return std::get<T>(values_.at(name));
  }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, OptionValue>& values() const { return values_; }

 private:
  std::map<std::string, OptionValue> values_;
};

}  // namespace nanolab
