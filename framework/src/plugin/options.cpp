// Option values as TOML text, and the one validation of a value against its OptionSpec (plugin
// options and experiment keys alike).
//
// Types are strict with one exception that every TOML user expects: an integer given where a
// number is declared is converted (`lr = 1` means 1.0), in a number list too. A number must be
// finite (NaN and the infinities are refused, bounds or not). Every problem is collected, so the
// user fixes a file in one pass.
#include <algorithm>
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
    case OptionType::string_list: return "string list";
    case OptionType::table: return "table";
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
    std::string operator()(const std::vector<std::string>& v) const {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + string_text(v[i]);
      return out + "]";
    }
  };
  return std::visit(Visitor{}, value);
}

OptionSpec table_option(std::string name, std::vector<OptionSpec> fields, std::string doc) {
  OptionSpec spec{std::move(name), OptionType::table, false};
  spec.doc = std::move(doc);
  spec.fields = std::move(fields);
  return spec;
}

std::vector<OptionSpec> flat_options(const std::vector<OptionSpec>& schema) {
  std::vector<OptionSpec> out;
  for (const OptionSpec& spec : schema) {
    if (spec.type != OptionType::table) {
      out.push_back(spec);
      continue;
    }
    for (OptionSpec field : flat_options(spec.fields)) {
      field.name = spec.name + "." + field.name;
      out.push_back(std::move(field));
    }
  }
  return out;
}

bool in_range(const std::optional<Bound>& min, const std::optional<Bound>& max, double v) {
  // Written so that NaN fails every bound.
  const bool above = !min || (min->exclusive ? v > min->value : v >= min->value);
  const bool below = !max || (max->exclusive ? v < max->value : v <= max->value);
  return above && below;
}

std::string range_text(const std::optional<Bound>& min, const std::optional<Bound>& max) {
  // Whole bounds read best without ".0" ("[0, 1)").
  auto text = [](double v) {
    return v == std::trunc(v) && std::abs(v) < 1e15 ? std::to_string(int64_t(v)) : number_text(v);
  };
  std::string out;
  if (min && max)
    out.append(min->exclusive ? "(" : "[").append(text(min->value)).append(", ")
        .append(text(max->value)).append(max->exclusive ? ")" : "]");
  else if (min)
    out.append(min->exclusive ? "> " : ">= ").append(text(min->value));
  else if (max)
    out.append(max->exclusive ? "< " : "<= ").append(text(max->value));
  return out;
}

namespace plugin {
namespace {

// The variant alternatives are in OptionType order.
OptionType type_of(const OptionValue& value) { return OptionType(value.index()); }

std::string choices_text(const std::vector<std::string>& choices) {
  std::string out;
  for (const auto& c : choices) out.append(out.empty() ? "" : ", ").append(string_text(c));
  return out;
}

std::optional<std::string> choice_problem(const OptionSpec& spec, const std::string& s) {
  if (spec.choices.empty() ||
      std::find(spec.choices.begin(), spec.choices.end(), s) != spec.choices.end())
    return std::nullopt;
  return "must be one of " + choices_text(spec.choices) + ", got " + string_text(s) +
         did_you_mean_hint(s, spec.choices);
}

// What is wrong with the number v of an integer, a number or a number list's element.
std::optional<std::string> number_problem(const OptionSpec& spec, double v,
                                          const std::string& text) {
  const std::string range = range_text(spec.min, spec.max);
  if (!std::isfinite(v))
    return "must be a finite number" +
           (range.empty() ? "" : (range[0] == '[' || range[0] == '(' ? " in " : " ") + range) +
           ", got " + text;
  if (!in_range(spec.min, spec.max, v)) return "must be " + range + ", got " + text;
  return std::nullopt;
}

// Problems of a value that already has the declared type: finiteness, range, choices, length.
std::vector<OptionProblem> value_problems(const OptionSpec& spec, const OptionValue& value) {
  std::vector<OptionProblem> out;
  auto add = [&](std::optional<size_t> element, std::string message) {
    out.push_back({spec.name, element, std::move(message)});
  };
  if (spec.type == OptionType::integer) {
    if (auto p = number_problem(spec, double(std::get<int64_t>(value)), to_string(value)))
      add({}, *p);
  } else if (spec.type == OptionType::number) {
    if (auto p = number_problem(spec, std::get<double>(value), to_string(value))) add({}, *p);
  } else if (spec.type == OptionType::string) {
    if (auto p = choice_problem(spec, std::get<std::string>(value))) add({}, *p);
  }
  size_t size = 0;
  if (const auto* list = std::get_if<std::vector<double>>(&value)) {
    size = list->size();
    for (size_t i = 0; i < list->size(); ++i)
      if (auto p = number_problem(spec, (*list)[i], number_text((*list)[i])))
        add(i, "element " + std::to_string(i + 1) + " " + *p);
  } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
    size = list->size();
    for (size_t i = 0; i < list->size(); ++i)
      if (auto p = choice_problem(spec, (*list)[i]))
        add(i, "element " + std::to_string(i + 1) + " " + *p);
  } else {
    return out;
  }
  if (spec.length && size != *spec.length)
    add({}, "must be " + std::to_string(*spec.length) +
                (spec.type == OptionType::number_list ? " numbers" : " strings") + ", got " +
                std::to_string(size) + " (" + to_string(value) + ")");
  return out;
}

}  // namespace

std::string type_phrase(OptionType type) {
  return (type == OptionType::integer ? "an " : "a ") + std::string(to_string(type));
}

std::vector<OptionProblem> check_value(const OptionSpec& spec, const OptionValue& given,
                                       OptionValue& value) {
  value = given;
  if (spec.type == OptionType::number && type_of(value) == OptionType::integer)
    value = double(std::get<int64_t>(value));
  // An empty array says nothing of its elements' type.
  if (spec.type == OptionType::string_list && type_of(value) == OptionType::number_list &&
      std::get<std::vector<double>>(value).empty())
    value = std::vector<std::string>{};
  if (type_of(value) != spec.type)
    return {{spec.name, {},
             "expected " + type_phrase(spec.type) + ", got " + type_phrase(type_of(value)) + " " +
                 to_string(value)}};
  return value_problems(spec, value);
}


std::vector<std::string> schema_problems(const std::vector<OptionSpec>& schema) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& spec : schema) {
    const std::string name = "option '" + spec.name + "'";
    if (spec.name.empty()) out.push_back("an option has no name");
    if (spec.name.find('.') != std::string::npos)
      out.push_back(name + ": a name holds no '.' (a table option nests its fields)");
    if (!seen.insert(spec.name).second) out.push_back(name + " is declared twice");
    if (size_t(spec.type) > size_t(OptionType::table)) {
      out.push_back(name + " has no known type");
      continue;
    }
    if (spec.type == OptionType::table) {
      if (spec.fields.empty()) out.push_back(name + " is a table without fields");
      for (const auto& p : schema_problems(spec.fields)) out.push_back(name + ": " + p);
      continue;
    }
    if (!spec.fields.empty()) out.push_back(name + " has fields but is not a table");
    if (type_of(spec.default_value) != spec.type) {
      out.push_back(name + " is declared " + to_string(spec.type) + " but its default " +
                    to_string(spec.default_value) + " is " +
                    type_phrase(type_of(spec.default_value)));
      continue;
    }
    for (const auto& p : value_problems(spec, spec.default_value))
      out.push_back(name + ": its default " + p.message);
  }
  return out;
}

std::vector<OptionProblem> check_options(const std::vector<OptionSpec>& declared,
                                         const std::map<std::string, OptionValue>& given,
                                         std::map<std::string, OptionValue>& complete) {
  std::vector<OptionProblem> problems;
  const std::vector<OptionSpec> schema = flat_options(declared);
  std::vector<std::string> names;
  for (const auto& spec : schema) names.push_back(spec.name);

  for (const auto& [key, value] : given) {
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    // A plain value where a table is declared.
    const std::string prefix = key + ".";
    std::string fields;
    for (const auto& n : names)
      if (n.compare(0, prefix.size(), prefix) == 0)
        fields += (fields.empty() ? "" : ", ") + n.substr(prefix.size());
    if (!fields.empty()) {
      problems.push_back({key, {},
                          "expected a table { " + fields + " }, got " +
                              type_phrase(type_of(value)) + " " + to_string(value)});
      continue;
    }
    std::string hint = did_you_mean_hint(key, names);
    if (hint.empty()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      hint = names.empty() ? "; this plugin takes no options" : "; its options are " + list;
    }
    problems.push_back({key, {}, "unknown option" + hint});
  }

  complete.clear();
  for (const auto& spec : schema) {
    auto it = given.find(spec.name);
    OptionValue value;
    auto found = check_value(spec, it == given.end() ? spec.default_value : it->second, value);
    if (!found.empty()) {
      for (auto& p : found) problems.push_back(std::move(p));
      continue;
    }
    complete.emplace(spec.name, std::move(value));
  }
  return problems;
}

}  // namespace plugin

std::string allowed_text(const OptionSpec& spec) {
  std::string out;
  if (spec.length)
    out = std::to_string(*spec.length) +
          (spec.type == OptionType::number_list ? " numbers" : " strings");
  if (spec.type == OptionType::table) {
    std::string fields;
    for (const auto& f : spec.fields) fields += (fields.empty() ? "" : ", ") + f.name;
    return "a table { " + fields + " }";
  }
  const std::string each = !spec.choices.empty() ? "one of " + plugin::choices_text(spec.choices)
                                                 : range_text(spec.min, spec.max);
  if (each.empty()) return out;
  const bool list = spec.type == OptionType::number_list || spec.type == OptionType::string_list;
  return out + (out.empty() ? "" : ", ") + (list ? "each " : "") + each;
}

}  // namespace nanolab
