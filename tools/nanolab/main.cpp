// The `nanolab` command-line program: applies the process-wide thread policy, parses the command
// line (command_line.hpp: a usage error is one line and exit 2), joins the MPI job when mpirun
// started it (docs/scaling.md), takes SIGINT and SIGTERM for the life of the process
// (nanolab/interrupt.hpp), runs the command, and turns framework exceptions into one message on
// stderr and the documented exit status (docs/cli.md). Never lets an exception escape as an abort.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "nanolab/did_you_mean.hpp"
#include "nanolab/distributed.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"

namespace {

// A usage error (CLI11's, or an unknown command) as one line naming the command, and exit 2.
int usage_error(const std::string& command, std::string message) {
  for (char& c : message)
    if (c == '\n') c = ' ';
  // "The following argument ..." reads on after "error:" in lower case; a name ("EXP.toml is
  // required", "RUN_DIR ...") keeps its spelling.
  if (message.size() > 1 && std::islower(static_cast<unsigned char>(message[1])))
    message[0] = char(std::tolower(static_cast<unsigned char>(message[0])));
  const std::string who = command.empty() ? "nanolab" : "nanolab " + command;
  std::fprintf(stderr, "%s: error: %s; `%s --help` lists %s\n", who.c_str(), message.c_str(),
               who.c_str(), command.empty() ? "the commands" : "its arguments and options");
  return int(nanolab::ExitCode::config);
}

// libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT when it is loaded, before main(). The thread
// policy wants OpenMP's workers to spin briefly after a oneDNN call and then sleep
// (framework/src/runtime/threads.cpp), so set both and start again, once, unless the user chose a
// policy; a GOMP_SPINCOUNT of the user's own is kept.
void apply_omp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("NANOLAB_NO_REEXEC")) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  setenv("GOMP_SPINCOUNT", "1000", 0);
  setenv("NANOLAB_NO_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  // exec failed: go on with the policy the process has
}

}  // namespace

int main(int argc, char** argv) {
  apply_omp_wait_policy(argv);
  nanolab::cli::Commands commands;
  const std::unique_ptr<CLI::App> parser = nanolab::cli::make_parser(commands);
  if (argc >= 2 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* sub : parser->get_subcommands({})) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end())
      return usage_error("", std::string("unknown command '") + argv[1] + "'" +
                                 nanolab::did_you_mean_hint(argv[1], names));
  }
  // The command as far as it was parsed: "run", "tokenizer encode".
  auto selected = [&] {
    CLI::App* app = parser.get();
    std::string path;
    while (!app->get_subcommands().empty()) {
      app = app->get_subcommands().front();
      path += (path.empty() ? "" : " ") + app->get_name();
    }
    return std::make_pair(app, path);
  };
  try {
    parser->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" of exit status 0, printed on stdout.
    if (e.get_exit_code() == 0) return parser->exit(e);
    return usage_error(selected().second, e.what());
  }
  const auto [app, path] = selected();
  // Named capture: clang 14 (the sanitizer build) cannot capture a structured binding.
  const auto command =
      std::find_if(commands.begin(), commands.end(),
                   [&app = app](const nanolab::cli::Command& c) { return c.app == app; });
  if (command == commands.end()) {  // no command: the program's help, as a usage error
    std::fputs(parser->help().c_str(), stderr);
    return int(nanolab::ExitCode::config);
  }
  try {
    nanolab::distributed::init(&argc, &argv);
    // After MPI's set-up, which may install handlers of its own: SIGINT and SIGTERM are ours for
    // the rest of the process (nanolab/interrupt.hpp).
    nanolab::install_interrupt_handlers();
    std::string command_line = "nanolab";
    for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
    const int status = command->run(nanolab::cli::Parsed(*app, command_line));
    // Only after success: MPI_Finalize waits for every rank, and a rank that failed must instead
    // exit, so that mpirun ends the job (the other ranks then record their runs as failed).
    nanolab::distributed::finalize();
    return status;
  } catch (const nanolab::Error& e) {
    // An interruption is what the user asked for: reported, but not as an error.
    const char* kind = dynamic_cast<const nanolab::Interrupted*>(&e) ? "" : "error: ";
    const auto& world = nanolab::distributed::world();
    if (world.size > 1)
      std::fprintf(stderr, "nanolab %s: rank %d of %d: %s%s\n", argv[1], world.rank, world.size,
                   kind, e.what());
    else
      std::fprintf(stderr, "nanolab %s: %s%s\n", argv[1], kind, e.what());
    return int(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nanolab %s: internal error: %s\n", argv[1], e.what());
    return int(nanolab::ExitCode::internal);
  }
}
