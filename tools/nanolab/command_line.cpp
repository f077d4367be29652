// The program's parser and the reading of what it parsed (command_line.hpp).
#include "command_line.hpp"

#include <cstdlib>

#include "commands.hpp"
#include "nanolab/errors.hpp"

namespace nanolab::cli {

std::unique_ptr<CLI::App> make_parser(Commands& commands) {
  auto nanolab = std::make_unique<CLI::App>(
      "nanolab: experiments on GPT-style language models: train, resume, sample, evaluate and "
      "compare runs",
      "nanolab");
  nanolab->set_help_flag("-h,--help", "print this help and exit");
  nanolab->set_version_flag("--version", std::string("nanolab ") + NANOLAB_VERSION,
                            "print the version and exit");
  nanolab->require_subcommand(0, 1);
  for (auto add : {add_run, add_resume, add_sample, add_check, add_plugins, add_eval, add_export,
                   add_compare, add_diff, add_report, add_serve, add_tokenizer, add_help, add_completion})
    add(*nanolab, commands);
  // After the commands, which would inherit it.
  nanolab->footer(
      "`nanolab help CMD` or `nanolab CMD --help`: a command's arguments and options.\n"
      "environment: NANOLAB_THREADS (threads for oneDNN and TBB; default: all cores), "
      "NANOLAB_PLUGIN_PATH, NANOLAB_DATA (docs/cli.md)");
  return nanolab;
}

CLI::Option* add_value(CLI::App* app, const std::string& name, const std::string& value_name,
                       const std::string& doc) {
  return app->add_option(name)->description(doc)->type_name(value_name);
}

CLI::Option* add_repeated(CLI::App* app, const std::string& name, const std::string& value_name,
                          const std::string& doc) {
  return app->add_option(name)
      ->description(doc + " (repeatable)")
      ->type_name(value_name)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

CLI::Option* add_flag(CLI::App* app, const std::string& name, const std::string& doc) {
  return app->add_flag(name)->description(doc);
}

CLI::Option* add_positional(CLI::App* app, const std::string& name, const std::string& doc, int min,
                            int max) {
  CLI::Option* o = app->add_option(name)->description(doc)->type_name("")->expected(min, max);
  // CLI11 gives a positional more than its minimum only when it allows "extra" arguments.
  if (max != min) o->allow_extra_args();
  return min > 0 ? o->required() : o;
}

const CLI::Option& Parsed::option(const std::string& name) const { return *app_.get_option(name); }

bool Parsed::has(const std::string& name) const {
  const CLI::Option& o = option(name);
  if (o.count() == 0) return false;
  return o.get_expected_max() != 0 || o.as<bool>();  // a flag: its last value
}

std::string Parsed::get(const std::string& name, const std::string& fallback) const {
  const CLI::results_t& r = option(name).results();
  return r.empty() ? fallback : r.back();
}

std::vector<std::string> Parsed::all(const std::string& name) const {
  return option(name).results();
}

double Parsed::number(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string s = get(name);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0') throw ConfigError(name + ": expected a number, got '" + s + "'");
  return v;
}

std::vector<std::string> Parsed::positional() const {
  std::vector<std::string> out;
  for (const CLI::Option* o : app_.get_options())
    if (o->get_positional())
      for (const std::string& r : o->results()) out.push_back(r);
  return out;
}

namespace {

void add_paths(const CLI::App& app, const std::string& prefix,
               std::vector<std::pair<std::string, const CLI::App*>>& out) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    const std::string path = prefix.empty() ? sub->get_name() : prefix + " " + sub->get_name();
    out.emplace_back(path, sub);
    add_paths(*sub, path, out);
  }
}

}  // namespace

std::vector<std::pair<std::string, const CLI::App*>> command_paths(const CLI::App& nanolab) {
  std::vector<std::pair<std::string, const CLI::App*>> out;
  add_paths(nanolab, "", out);
  return out;
}

}  // namespace nanolab::cli
