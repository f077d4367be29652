// Option values as TOML text, and the validation of options against a plugin's schema.
//
// Types are strict with one exception that every TOML user expects: an integer given where a
// number is declared is converted (`lr = 1` means 1.0). Bounds are inclusive, and NaN is outside
// any bound. Every problem is collected, so the user fixes a file in one pass.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "nanolab/did_you_mean.hpp"
#include "nanolab/registry.hpp"
#include "plugin/options_schema.hpp"

namespace nanolab {
namespace {

std::string number_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
  std::string text(buf, end);
  // TOML reads "1" as an integer: keep a number a number.
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

std::string string_text(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

}  // namespace

const char* to_string(OptionType type) {
  switch (type) {
    case OptionType::boolean: return "boolean";
    case OptionType::integer: return "integer";
    case OptionType::number: return "number";
    case OptionType::string: return "string";
    case OptionType::number_list: return "number list";
  }
  return "unknown type";
}

std::string to_string(const OptionValue& value) {
  struct Visitor {
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return number_text(v); }
    std::string operator()(const std::string& v) const { return string_text(v); }
    std::string operator()(const std::vector<double>& v) const {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + number_text(v[i]);
      return out + "]";
    }
  };
  return std::visit(Visitor{}, value);
}

namespace plugin {
namespace {

// The variant alternatives are in OptionType order.
OptionType type_of(const OptionValue& value) { return OptionType(value.index()); }

std::string bound_text(const OptionSpec& spec, double v) {
  const bool integral = spec.type == OptionType::integer && std::abs(v) < 9e15 && v == std::trunc(v);
  return integral ? std::to_string(int64_t(v)) : number_text(v);
}

std::string range_text(const OptionSpec& spec) {
  std::string out;
  if (spec.min && spec.max)
    out.append("[").append(bound_text(spec, *spec.min)).append(", ")
        .append(bound_text(spec, *spec.max)).append("]");
  else if (spec.min)
    out.append(">= ").append(bound_text(spec, *spec.min));
  else if (spec.max)
    out.append("<= ").append(bound_text(spec, *spec.max));
  return out;
}

std::string choices_text(const std::vector<std::string>& choices) {
  std::string out;
  for (const auto& c : choices) out.append(out.empty() ? "" : ", ").append(string_text(c));
  return out;
}

bool in_range(const OptionSpec& spec, double v) {
  // Written so that NaN fails any bound.
  return (!spec.min || v >= *spec.min) && (!spec.max || v <= *spec.max);
}

// Problems of a value that already has the declared type: range and choices.
std::vector<std::string> value_problems(const OptionSpec& spec, const OptionValue& value) {
  std::vector<std::string> out;
  if (spec.type == OptionType::integer || spec.type == OptionType::number) {
    double v = spec.type == OptionType::integer ? double(std::get<int64_t>(value))
                                                : std::get<double>(value);
    if (!in_range(spec, v))
      out.push_back(to_string(value) + " is out of range " + range_text(spec));
  } else if (spec.type == OptionType::number_list) {
    const auto& list = std::get<std::vector<double>>(value);
    for (size_t i = 0; i < list.size(); ++i)
      if (!in_range(spec, list[i]))
        out.push_back("element " + std::to_string(i + 1) + " (" + number_text(list[i]) +
                      ") is out of range " + range_text(spec));
  } else if (spec.type == OptionType::string && !spec.choices.empty()) {
    const auto& s = std::get<std::string>(value);
    bool allowed = false;
    for (const auto& c : spec.choices) allowed = allowed || c == s;
    if (!allowed)
      out.push_back(string_text(s) + " is not one of " + choices_text(spec.choices) +
                    did_you_mean_hint(s, spec.choices));
  }
  return out;
}

std::string a_type(OptionType type) {
  return (type == OptionType::integer ? "an " : "a ") + std::string(to_string(type));
}

}  // namespace

std::string allowed_text(const OptionSpec& spec) {
  if (!spec.choices.empty()) return "one of " + choices_text(spec.choices);
  return range_text(spec);
}

std::vector<std::string> schema_problems(const std::vector<OptionSpec>& schema) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& spec : schema) {
    const std::string name = "option '" + spec.name + "'";
    if (spec.name.empty()) out.push_back("an option has no name");
    if (!seen.insert(spec.name).second) out.push_back(name + " is declared twice");
    if (type_of(spec.default_value) != spec.type) {
      out.push_back(name + " is declared " + to_string(spec.type) + " but its default " +
                    to_string(spec.default_value) + " is " + a_type(type_of(spec.default_value)));
      continue;
    }
    for (const auto& p : value_problems(spec, spec.default_value))
      out.push_back(name + ": its default " + p);
  }
  return out;
}

std::vector<std::string> check_options(const std::vector<OptionSpec>& schema,
                                       const std::map<std::string, OptionValue>& given,
                                       const std::string& where,
                                       std::map<std::string, OptionValue>& complete) {
  std::vector<std::string> problems;
  const std::string prefix = where.empty() ? "" : where + ".";
  std::vector<std::string> names;
  for (const auto& spec : schema) names.push_back(spec.name);

  for (const auto& [key, value] : given) {
    bool declared = false;
    for (const auto& spec : schema) declared = declared || spec.name == key;
    if (declared) continue;
    std::string hint = did_you_mean_hint(key, names);
    if (hint.empty()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      hint = names.empty() ? "; this plugin takes no options" : "; its options are " + list;
    }
    problems.push_back(prefix + key + ": unknown option" + hint);
  }

  complete.clear();
  for (const auto& spec : schema) {
    auto it = given.find(spec.name);
    OptionValue value = it == given.end() ? spec.default_value : it->second;
    if (spec.type == OptionType::number && type_of(value) == OptionType::integer)
      value = double(std::get<int64_t>(value));
    if (type_of(value) != spec.type) {
      problems.push_back(prefix + spec.name + ": expected " + a_type(spec.type) + ", got " +
                         a_type(type_of(value)) + " (" + to_string(value) + ")");
      continue;
    }
    for (const auto& p : value_problems(spec, value)) problems.push_back(prefix + spec.name + ": " + p);
    complete.emplace(spec.name, std::move(value));
  }
  return problems;
}

}  // namespace plugin
}  // namespace nanolab
