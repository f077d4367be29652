// Plugin options: the schema a plugin declares and the validated values it receives.
//
// A plugin never parses its options: it declares each one (name, type, default, allowed range or
// values, one line of doc) and the framework checks what the experiment gives against that schema
// (unknown option with did-you-mean, wrong type, out of range) before the plugin's factory runs.
// The factory then reads values with Options::get, which cannot fail for a declared option.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nanolab {

enum class OptionType { boolean, integer, number, string, number_list };

using OptionValue = std::variant<bool, int64_t, double, std::string, std::vector<double>>;

struct OptionSpec {
  std::string name;
  OptionType type;
  OptionValue default_value;
  std::optional<double> min{};         // inclusive bounds for integer and number
  std::optional<double> max{};
  std::vector<std::string> choices{};  // allowed values of a string option; empty means any
  std::string doc{};                   // one line
};

const char* to_string(OptionType type);
std::string to_string(const OptionValue& value);  // as it would be written in TOML

// Validated options: every declared option is present (given or default) with its declared type.
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
