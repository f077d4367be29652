// Option parsing for the commands (args.hpp).
#include "args.hpp"

#include <cstdlib>

#include "nanolab/errors.hpp"

namespace nanolab::cli {

std::string ParsedArgs::get(const std::string& name, const std::string& fallback) const {
  auto range = options.equal_range(name);
  return range.first == range.second ? fallback : std::prev(range.second)->second;
}

std::vector<std::string> ParsedArgs::all(const std::string& name) const {
  std::vector<std::string> v;
  for (auto [it, end] = options.equal_range(name); it != end; ++it) v.push_back(it->second);
  return v;
}

double ParsedArgs::number(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string s = get(name);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0')
    throw ConfigError(name + ": expected a number, got '" + s + "'");
  return v;
}

ParsedArgs parse_args(const std::string& command, const Args& args,
                      const std::set<std::string>& with_value, const std::set<std::string>& flags) {
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      out.positional.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (flags.count(name)) {
      if (eq != std::string::npos) throw ConfigError(name + " takes no value (nanolab " + command + ")");
      out.options.emplace(name, "");
    } else if (with_value.count(name)) {
      if (eq != std::string::npos) {
        out.options.emplace(name, a.substr(eq + 1));
      } else if (i + 1 < args.size()) {
        out.options.emplace(name, args[++i]);
      } else {
        throw ConfigError(name + " needs a value (nanolab " + command + ")");
      }
    } else {
      std::string known;
      for (const auto& o : with_value) known += " " + o;
      for (const auto& o : flags) known += " " + o;
      throw ConfigError("unknown option " + name + " for nanolab " + command +
                        "; its options are:" + known);
    }
  }
  return out;
}

}  // namespace nanolab::cli
