// The `nanolab` command-line program: applies the process-wide thread policy, joins the MPI job
// when mpirun started it (docs/scaling.md), takes SIGINT and SIGTERM for the life of the process
// (nanolab/interrupt.hpp), dispatches to the command, and turns framework exceptions into one
// message on stderr and the documented exit status (docs/cli.md). Never lets an exception escape
// as an abort.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <string>

#include "commands.hpp"
#include "nanolab/distributed.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"

namespace {

using Command = std::function<int(const nanolab::cli::Args&)>;

struct CommandInfo {
  Command run;
  const char* usage;
};

const std::map<std::string, CommandInfo>& commands() {
  static const std::map<std::string, CommandInfo> table = {
      {"plugins", {nanolab::cli::cmd_plugins, "plugins [show NAME | new KIND NAME]   the plugins found, their versions, files and options; new: a plugin project to start from"}},
      {"check", {nanolab::cli::cmd_check, "check EXP.toml [--set k=v]... | check --schema   validate an experiment and list its runs; the keys of an experiment"}},
      {"run", {nanolab::cli::cmd_run, "run EXP.toml [--set k=v]... [--out DIR] [--name RUN] [--quiet] [--profile] [--distribute runs]   train one run, or every run of the sweep; --profile: time per op kind per step; under mpirun: data-parallel, or --distribute runs: the sweep's runs shared between the ranks"}},
      {"resume", {nanolab::cli::cmd_resume, "resume RUN_DIR [--quiet] [--profile]   continue an interrupted run from its last checkpoint"}},
      {"sample", {nanolab::cli::cmd_sample, "sample RUN_DIR [--prompt S] [--tokens N] [--temperature T] [--top-k K] [--seed S]   text from a trained run"}},
      {"compare", {nanolab::cli::cmd_compare, "compare PATH... [--metric KEY] [--sort KEY] [--where k=v[,v]]... [--all-keys] [--group-seeds] [--format table|csv|json|markdown] [--plot FILE.svg] [--x step|tokens|wall] [--log-y] [--smooth N]   the runs side by side, only the keys that differ"}},
      {"diff", {nanolab::cli::cmd_diff, "diff RUN_A RUN_B [--format table|csv|json|markdown]   config, plugins, git, versions and summary of two runs side by side"}},
      {"report", {nanolab::cli::cmd_report, "report PATH... -o report.html [--metric KEY] [--sort KEY] [--where k=v[,v]]... [--group-seeds]   one self-contained HTML page: table, curves, config diff, samples"}},
      {"eval", {nanolab::cli::cmd_eval, "eval RUN_DIR|MODEL [--data NAME] [--split val|train] [--max-tokens N] [--set k=v]...   loss and perplexity of a run or a GPT-2 weight file over a dataset's split"}},
      {"export", {nanolab::cli::cmd_export, "export RUN_DIR|MODEL --format safetensors|llmc -o FILE   a run's weights as GPT-2's, for Hugging Face or llm.c"}},
      {"tokenizer", {nanolab::cli::cmd_tokenizer, "tokenizer train|encode|decode ...   a tokenizer outside an experiment: train one to a file, encode text to ids, decode ids (`nanolab tokenizer` for its usage)"}},
  };
  return table;
}

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: nanolab <command> [args...]\n\ncommands:\n");
  for (const auto& [name, info] : commands()) std::fprintf(out, "  %s\n", info.usage);
  std::fprintf(out, "\nenvironment: NANOLAB_THREADS (threads for oneDNN and TBB; default: all cores)\n");
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
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? int(nanolab::ExitCode::config) : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("nanolab %s\n", NANOLAB_VERSION);
    return 0;
  }
  auto it = commands().find(argv[1]);
  if (it == commands().end()) {
    std::fprintf(stderr, "nanolab: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return int(nanolab::ExitCode::config);
  }
  nanolab::cli::Args args(argv + 2, argv + argc);
  try {
    nanolab::distributed::init(&argc, &argv);
    // After MPI's set-up, which may install handlers of its own: SIGINT and SIGTERM are ours for
    // the rest of the process (nanolab/interrupt.hpp).
    nanolab::install_interrupt_handlers();
    const int status = it->second.run(args);
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
