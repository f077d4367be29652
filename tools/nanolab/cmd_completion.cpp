// `nanolab completion bash|zsh`: a shell completion script for nanolab, made from the parser's
// declarations (command_line.hpp), so that it offers exactly what the program accepts: the
// commands and subcommands, each command's options once a word starts with '-', the choices of an
// option or argument whose value name lists them (`--format table|csv|json|markdown`), and files
// and folders (experiments, run directories) for the others. zsh gets the same function through
// its bash compatibility (bashcompinit). Installing it: docs/cli.md#shell-completion.
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nanolab/errors.hpp"

namespace nanolab::cli {
namespace {

// The choices of an option or argument, space-separated, when its value name is made of them
// ("table|csv|json|markdown", "runs"); "" for a value that is a file, a number or free text.
std::string choices(const CLI::Option& o) {
  std::string out = o.get_type_name();
  for (char& c : out) {
    if (c == '|')
      c = ' ';
    else if (!std::islower(static_cast<unsigned char>(c)) &&
             !std::isdigit(static_cast<unsigned char>(c)) && c != '_')
      return "";
  }
  return out;
}

std::vector<std::string> names(const CLI::Option& o) {
  std::vector<std::string> out;
  for (const std::string& s : o.get_snames()) out.push_back("-" + s);
  for (const std::string& l : o.get_lnames()) out.push_back("--" + l);
  return out;
}

// A word list quoted for bash; the words are command and option names and choices (no quotes).
std::string in_quotes(const std::string& words) { return "\"" + words + "\""; }

std::string bash_script(const CLI::App& nanolab) {
  std::vector<std::pair<std::string, const CLI::App*>> apps = {{"", &nanolab}};
  for (auto& [path, app] : command_paths(nanolab)) {
    std::string slashed = "/" + path;
    for (char& c : slashed)
      if (c == ' ') c = '/';
    apps.emplace_back(slashed, app);
  }
  std::string commands, values, words;
  for (const auto& [path, app] : apps) {
    std::string subcommands, options, positional_choices;
    bool files = false;
    for (const CLI::App* sub : app->get_subcommands({})) {
      subcommands += (subcommands.empty() ? "" : " ") + sub->get_name();
      commands += (commands.empty() ? "" : "|") + in_quotes(path + "/" + sub->get_name());
    }
    for (const CLI::Option* o : app->get_options()) {
      if (o->get_positional()) {
        const std::string c = choices(*o);
        positional_choices += (positional_choices.empty() || c.empty() ? "" : " ") + c;
        files = files || c.empty();
        continue;
      }
      if (o->get_group().empty()) continue;  // internal, hidden from the help too
      for (const std::string& name : names(*o)) {
        options += (options.empty() ? "" : " ") + name;
        if (o->get_expected_max() == 0) continue;  // a flag
        const std::string c = choices(*o);
        values += "    " + in_quotes(path + " " + name) + ") " +
                  (c.empty() ? std::string("_nanolab_files \"$cur\"")
                             : "COMPREPLY=($(compgen -W " + in_quotes(c) + " -- \"$cur\"))") +
                  "; return 0 ;;\n";
      }
    }
    words +=
        "    " + in_quotes(path) + ") words=" +
        in_quotes(subcommands + (subcommands.empty() || positional_choices.empty() ? "" : " ") +
                  positional_choices) +
        " options=" + in_quotes(options) + " files=" + (files ? "1" : "") + " ;;\n";
  }
  std::string script =
      R"(# bash completion of nanolab @VERSION@, printed by `nanolab completion bash` from
# the program's own declarations: commands, options, the choices of a value; files otherwise.
_nanolab_files() {
  local IFS=$'\n'
  COMPREPLY+=($(compgen -f -- "$1"))
}
_nanolab() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path= i
  local words options files
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "$path/${COMP_WORDS[i]}" in
    @COMMANDS@) path+="/${COMP_WORDS[i]}" ;;
    esac
  done
  case "$path $prev" in
@VALUES@  esac
  case "$path" in
@WORDS@  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    [[ -z $files ]] || _nanolab_files "$cur"
  fi
  return 0
}
complete -o filenames -F _nanolab nanolab
)";
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"@VERSION@", NANOLAB_VERSION},
        {"@COMMANDS@", commands},
        {"@VALUES@", values},
        {"@WORDS@", words}})
    script.replace(script.find(key), key.size(), value);
  return script;
}

int completion(const CLI::App& nanolab, const std::string& shell) {
  if (shell == "zsh")
    std::fputs(
        "# zsh completion of nanolab: the bash completion below, through zsh's bashcompinit.\n"
        "autoload -U +X bashcompinit && bashcompinit\n",
        stdout);
  else if (shell != "bash")
    throw ConfigError("completion: no script for the shell '" + shell + "'; expected bash or zsh");
  std::fputs(bash_script(nanolab).c_str(), stdout);
  return 0;
}

}  // namespace

void add_completion(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "completion", "print a shell completion script: `source <(nanolab completion bash)`");
  add_positional(app, "SHELL", "the shell")->type_name("bash|zsh");
  commands.push_back(
      {app, [&nanolab](const Parsed& a) { return completion(nanolab, a.get("SHELL")); }});
}

}  // namespace nanolab::cli
