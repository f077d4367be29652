// Keys and values against the schema (loader.hpp): TOML values as text for messages, their
// conversion to option values and check against an OptionSpec (a key's or a plugin option's), and
// where a dotted key belongs (a value, a plugin's table or option, a table, or nothing), with the
// merge of keys that follows from it.
#include <sstream>

#include "nanolab/did_you_mean.hpp"
#include "config/loader.hpp"

namespace nanolab::config {

void merge(Layers& into, Entries entries, std::vector<Axis> sweep) {
  assign(into.entries, entries);
  // An axis swept again by a later file replaces the earlier one in its place.
  for (auto& axis : sweep) {
    auto same = [&](const Axis& a) { return a.key == axis.key; };
    auto it = std::find_if(into.sweep.begin(), into.sweep.end(), same);
    if (it != into.sweep.end())
      *it = std::move(axis);
    else
      into.sweep.push_back(std::move(axis));
  }
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// ---- describing TOML values in messages ---------------------------------------------------

std::string node_text(const toml::node& node) {
  if (const auto* v = node.as_string()) return to_string(OptionValue(v->get()));
  if (const auto* v = node.as_integer()) return std::to_string(v->get());
  if (const auto* v = node.as_floating_point()) return to_string(OptionValue(v->get()));
  if (const auto* v = node.as_boolean()) return v->get() ? "true" : "false";
  if (const auto* a = node.as_array()) {
    std::vector<std::string> items;
    for (const auto& element : *a) items.push_back(node_text(element));
    // Appended, not "[" + ...: GCC 12 warns falsely (-Wrestrict) about that operator+.
    std::string text = "[";
    text.append(join(items, ", ")).append("]");
    return text;
  }
  if (node.is_table()) return "{ ... }";
  std::ostringstream out;  // dates and times, in TOML's own format
  if (const auto* v = node.as_date()) out << v->get();
  if (const auto* v = node.as_time()) out << v->get();
  if (const auto* v = node.as_date_time()) out << v->get();
  return out.str();
}

// `a string "four"`, `an integer 4`, `a table`.
std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string " + node_text(node);
    case toml::node_type::integer:
      return "an integer " + node_text(node);
    case toml::node_type::floating_point:
      return "a number " + node_text(node);
    case toml::node_type::boolean:
      return "a boolean " + node_text(node);
    case toml::node_type::array:
      return "an array " + node_text(node);
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date " + node_text(node);
    case toml::node_type::time:
      return "a time " + node_text(node);
    case toml::node_type::date_time:
      return "a date-time " + node_text(node);
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// ---- values against the schema ---------------------------------------------------------------

std::optional<OptionValue> to_option_value(const toml::node& node) {
  if (const auto* v = node.as_boolean()) return OptionValue(v->get());
  if (const auto* v = node.as_integer()) return OptionValue(int64_t(v->get()));
  if (const auto* v = node.as_floating_point()) return OptionValue(v->get());
  if (const auto* v = node.as_string()) return OptionValue(v->get());
  if (const auto* a = node.as_array()) {
    if (!a->empty() && a->is_homogeneous(toml::node_type::string)) {
      std::vector<std::string> list;
      for (const auto& element : *a) list.push_back(element.as_string()->get());
      return OptionValue(std::move(list));
    }
    std::vector<double> list;
    for (const auto& element : *a) {
      if (const auto* i = element.as_integer())
        list.push_back(double(i->get()));
      else if (const auto* f = element.as_floating_point())
        list.push_back(f->get());
      else
        return std::nullopt;
    }
    return OptionValue(std::move(list));  // [] too: check_value takes it for either list
  }
  return std::nullopt;
}

std::vector<plugin::OptionProblem> check_node(const OptionSpec& spec, const toml::node& node,
                                              OptionValue& value) {
  const auto given = to_option_value(node);
  if (!given)
    return {{spec.name, {},
             "expected " + plugin::type_phrase(spec.type) + ", got " + describe(node)}};
  return plugin::check_value(spec, *given, value);
}

Origin place_of(const Entry& entry, std::optional<size_t> element) {
  Origin at = entry.value_origin;
  const auto* list = entry.node->as_array();
  if (element && list && *element < list->size() && !at.from_set) {
    const auto& begin = list->get(*element)->source().begin;
    at.line = begin.line;
    at.column = begin.column;
  }
  return at;
}

OptionValue field_value(const ExperimentConfig& config, const KeySpec& spec) {
  return std::visit(
      [&](auto member) -> OptionValue {
        using Member = std::remove_cv_t<std::remove_reference_t<decltype(config.*member)>>;
        if constexpr (std::is_same_v<Member, PluginChoice>)
          return (config.*member).plugin;
        else
          return config.*member;
      },
      spec.field);
}

void set_field(ExperimentConfig& config, const KeySpec& spec, const OptionValue& value) {
  std::visit(
      [&](auto member) {
        using Member = std::remove_reference_t<decltype(config.*member)>;
        if constexpr (!std::is_same_v<Member, PluginChoice>)
          config.*member = std::get<Member>(value);
      },
      spec.field);
}

bool has_field(const KeySpec& spec) {
  return std::visit([](auto member) { return member != nullptr; }, spec.field);
}

// ---- where a dotted key belongs ---------------------------------------------------------------

Slot classify(const std::string& path) {
  if (const auto* spec = find_key(path))
    return spec->type() == KeyType::plugin ? Slot::plugin_table : Slot::value;
  // Inside a plugin's table, at any depth: an option, or a field of a table option.
  for (auto dot = path.rfind('.'); dot != std::string::npos && dot > 0;
       dot = path.rfind('.', dot - 1)) {
    const auto* ancestor = find_key(path.substr(0, dot));
    if (ancestor && ancestor->type() == KeyType::plugin) return Slot::plugin_leaf;
  }
  return is_table_path(path) ? Slot::table : Slot::unknown;
}

std::string parent_of(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? "" : path.substr(0, dot);
}

std::string leaf_of(const std::string& path) { return path.substr(path.rfind('.') + 1); }

// Sets `from` over `into`, later keys winning. A plugin's options belong to the plugin named with
// them: when `from` names another plugin for a table ("optimizer.plugin" = "sgd" over "adamw"),
// the options `into` holds for the earlier plugin are dropped with it.
void assign(Entries& into, const Entries& from) {
  for (const auto& [key, entry] : from) {
    if (leaf_of(key) != "plugin") continue;
    const auto earlier = into.find(key);
    if (earlier == into.end() || node_text(*earlier->second.node) == node_text(*entry.node))
      continue;
    const std::string table = key.substr(0, key.size() - std::string("plugin").size());
    for (auto it = into.lower_bound(table); it != into.end() && it->first.rfind(table, 0) == 0;)
      it = classify(it->first) == Slot::plugin_leaf && leaf_of(it->first) != "plugin"
               ? into.erase(it)
               : std::next(it);
  }
  for (const auto& [key, entry] : from) into.insert_or_assign(key, entry);
}


// " (did you mean 'model.n_layer'?)" from the keys of the same table, or else a key of the same
// name in another table ("model.lr" -> "optimizer.lr"); `hint` gets the table's keys when neither.
// A table that does not exist ("foo" of foo.bar) has no keys: the hint then names it and the keys
// of the nearest table that exists (the top-level tables for foo.bar).
std::string unknown_key_suggestion(const std::string& path, std::vector<std::string> siblings,
                                   std::string& hint) {
  std::string table = parent_of(path), missing;
  while (siblings.empty() && !table.empty()) {
    missing = table;
    table = parent_of(table);
    siblings = keys_in(table);
    if (table.empty()) siblings.insert(siblings.end(), {"sweep", "search"});
  }
  if (auto near = did_you_mean(missing.empty() ? path : missing, siblings))
    return " (did you mean '" + *near + "'?)";
  for (const auto& key : leaf_keys())
    if (leaf_of(key) == leaf_of(path) && key != path)
      return " (did you mean '" + key + "'? it belongs to [" + parent_of(key) + "])";
  for (auto& s : siblings) s = leaf_of(s);
  hint = (missing.empty() ? "" : "there is no table [" + missing + "]; ") +
         (table.empty() ? "the top-level tables are " : "the keys of [" + table + "] are ") +
         join(siblings, ", ");
  return "";
}

void upgrade_flat_config(std::map<std::string, std::string>& flat) {
  for (const auto& spec : schema()) {
    if (spec.type() != KeyType::plugin) continue;
    if (auto it = flat.find(spec.key); it != flat.end()) {
      flat.insert_or_assign(spec.key + ".plugin", it->second);
      flat.erase(spec.key);
    }
  }
  upgrade_retired_keys(flat, [](const std::string& value) { return value; });
}

}  // namespace nanolab::config
