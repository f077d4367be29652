// `nanolab plugins` and `nanolab plugins show NAME`: what the registry found (docs/plugins.md);
// `nanolab plugins new` writes a new plugin project (scaffold.hpp).
//
// The list goes to stdout as aligned columns (kind, name, version, file); each file that could not
// be loaded is one line on stderr naming it, and the status is then 4, so a script can tell a
// damaged plugin folder from a clean one while a person still sees the good plugins. `show` prints
// one plugin's description and options. Folders come from the registry's discovery only
// (NANOLAB_PLUGIN_PATH): there is deliberately no command-line option for them.
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nanolab/did_you_mean.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/plugin.hpp"
#include "nanolab/registry.hpp"
#include "scaffold.hpp"

namespace nanolab::cli {
namespace {

using Row = std::vector<std::string>;

// Left-aligned columns two spaces apart; the last column is not padded.
void print_table(const std::vector<Row>& rows, const std::string& indent = "") {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i)
      line += i + 1 < row.size() ? row[i] + std::string(width[i] - row[i].size() + 2, ' ') : row[i];
    std::printf("%s\n", line.c_str());
  }
}

std::string joined(const std::vector<std::filesystem::path>& dirs) {
  std::string out;
  for (const auto& d : dirs) out += (out.empty() ? "" : ", ") + d.string();
  return out.empty() ? "none" : out;
}

int list(const Registry& registry) {
  if (registry.plugins().empty()) {
    std::printf("no plugins found\n");
  } else {
    std::vector<Row> rows = {{"KIND", "NAME", "VERSION", "FILE"}};
    for (const auto& p : registry.plugins())
      rows.push_back({to_string(p.descriptor->kind), p.descriptor->name, p.descriptor->version,
                      p.file.string()});
    print_table(rows);
  }
  std::printf("searched: %s\n", joined(registry.directories()).c_str());
  for (const auto& problem : registry.problems())
    std::fprintf(stderr, "nanolab plugins: error: %s: %s\n", problem.file.c_str(),
                 problem.message.c_str());
  return int(registry.problems().empty() ? ExitCode::ok : ExitCode::plugin);
}

void show(const LoadedPlugin& p) {
  const auto& d = *p.descriptor;
  print_table({{"kind", to_string(d.kind)},
               {"name", d.name},
               {"version", d.version},
               {"file", p.file.string()},
               {"sha256", p.sha256},
               {"description", d.description}});
  if (d.options.empty()) {
    std::printf("options: none\n");
    return;
  }
  std::printf("options:\n");
  std::vector<Row> rows = {{"NAME", "TYPE", "DEFAULT", "ALLOWED", "DOC"}};
  for (const auto& o : flat_options(d.options)) {
    std::string allowed = allowed_text(o);
    rows.push_back({o.name, to_string(o.type), to_string(o.default_value),
                    allowed.empty() ? "any" : allowed, o.doc});
  }
  print_table(rows, "  ");
}

int show(const Registry& registry, const std::string& name) {
  std::vector<const LoadedPlugin*> matches;
  std::vector<std::string> names;
  for (const auto& p : registry.plugins()) {
    if (p.descriptor->name == name) matches.push_back(&p);
    names.push_back(p.descriptor->name);
  }
  if (matches.empty())
    throw ConfigError("no plugin named '" + name + "'" + did_you_mean_hint(name, names) +
                      " (searched " + joined(registry.directories()) +
                      "; `nanolab plugins` lists what was found)");
  for (size_t i = 0; i < matches.size(); ++i) {
    if (i) std::printf("\n");
    show(*matches[i]);
  }
  return 0;
}

}  // namespace

void add_plugins(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "plugins",
      "the plugins found: kind, name, version and file, and the files that are "
      "damaged");
  app->require_subcommand(0, 1);
  commands.push_back({app, [](const Parsed&) { return list(Registry::instance()); }});

  CLI::App* show_app = app->add_subcommand("show", "one plugin's description and options");
  add_positional(show_app, "NAME", "the plugin's name");
  commands.push_back(
      {show_app, [](const Parsed& a) { return show(Registry::instance(), a.get("NAME")); }});

  CLI::App* new_app = app->add_subcommand(
      "new",
      "write a plugin project of that kind, which builds and passes its contract suite as "
      "it is");
  std::string kinds;
  for (size_t k = 0; k < plugin_kind_count; ++k)
    kinds += (kinds.empty() ? "" : "|") + std::string(to_string(PluginKind(k)));
  add_positional(new_app, "KIND", "the plugin's kind")->type_name(kinds);
  add_positional(new_app, "NAME", "the plugin's name (a lower-case letter, then a-z, 0-9, _)");
  add_value(new_app, "--dir", "D", "write D/NAME/ (default: the current folder)");
  commands.push_back({new_app, [](const Parsed& a) {
                        return plugins_new(a.get("KIND"), a.get("NAME"), a.get("--dir", "."));
                      }});
}

}  // namespace nanolab::cli
