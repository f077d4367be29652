// `nanolab help [CMD [SUBCMD]]`: the help of the program or of one command, the text that
// `nanolab CMD --help` prints, made by CLI11 from the declarations that parse the command
// (command_line.hpp). An unknown command is a usage error with the closest name.
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nanolab/did_you_mean.hpp"
#include "nanolab/errors.hpp"

namespace nanolab::cli {

void add_help(CLI::App& nanolab, Commands& commands) {
  std::string names;  // the commands added before this one, then help and completion
  for (const CLI::App* sub : nanolab.get_subcommands({}))
    names += (names.empty() ? "" : "|") + sub->get_name();
  CLI::App* app = nanolab.add_subcommand("help", "the help of the program, or of a command");
  add_positional(app, "CMD", "a command, then a subcommand (`nanolab help tokenizer encode`)", 0, 2)
      ->type_name(names + "|help|completion");
  commands.push_back({app, [&nanolab](const Parsed& a) {
                        const CLI::App* shown = &nanolab;
                        std::string path = "nanolab";
                        for (const std::string& name : a.positional()) {
                          std::vector<std::string> known;
                          const CLI::App* next = nullptr;
                          for (const CLI::App* sub : shown->get_subcommands({})) {
                            known.push_back(sub->get_name());
                            if (sub->get_name() == name) next = sub;
                          }
                          if (!next)
                            throw ConfigError("`" + path + "` has no command '" + name + "'" +
                                              did_you_mean_hint(name, known));
                          shown = next;
                          path += " " + name;
                        }
                        // make_help, not help(): the program's help() shows the selected command's,
                        // which is `help` itself.
                        const std::string text = shown->get_formatter()->make_help(
                            shown, path, CLI::AppFormatMode::Normal);
                        std::fputs(text.c_str(), stdout);
                        return 0;
                      }});
}

}  // namespace nanolab::cli
