// The commands of the `nanolab` program. Each lives in its own cmd_<name>.cpp and takes the
// arguments after its name; it returns the exit status or throws a nanolab::Error, which main()
// turns into one message and the error's exit status (docs/cli.md).
#pragma once

#include <string>
#include <vector>

namespace nanolab::cli {

using Args = std::vector<std::string>;

int cmd_plugins(const Args& args);
int cmd_check(const Args& args);
int cmd_run(const Args& args);
int cmd_resume(const Args& args);
int cmd_sample(const Args& args);
int cmd_compare(const Args& args);
int cmd_diff(const Args& args);
int cmd_report(const Args& args);
int cmd_tokenizer(const Args& args);
int cmd_eval(const Args& args);
int cmd_export(const Args& args);

}  // namespace nanolab::cli
