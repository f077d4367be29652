// `nanolab eval RUN_DIR|MODEL [--data NAME] [--split val|train] [--max-tokens N] [--set k=v]...`:
// the loss and perplexity of a trained run (its last checkpoint and tokenizer) or of a GPT-2 weight
// file (docs/gpt2.md) over a text dataset's split. For a model file the run is an experiment of the
// defaults with model.init_from = MODEL and data.dataset = NAME, so the architecture and GPT-2's
// tokenizer come from the file as in `nanolab run`, and --set changes any other key (block_size,
// batch_size, the tokenizer of a model that is not GPT-2's vocabulary). Prints one line on stdout.
#include <cstdio>
#include <filesystem>
#include <string>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/options.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::cli {

namespace {

int eval(const Parsed& a) {
  const std::filesystem::path target = a.get("RUN_DIR|MODEL");
  EvalOptions o;
  o.dataset = a.get("--data");
  const std::string split = a.get("--split", "val");
  if (split != "val" && split != "train")
    throw ConfigError("--split: expected val or train, got '" + split + "'");
  o.split = split == "val" ? Split::val : Split::train;
  const double max_tokens = a.number("--max-tokens", 0);
  if (max_tokens < 0 || max_tokens != double(int64_t(max_tokens)))
    throw ConfigError("--max-tokens: expected 0 (the whole split) or a positive integer");
  o.max_tokens = int64_t(max_tokens);

  std::error_code ec;
  EvalResult r;
  if (std::filesystem::is_directory(target, ec)) {
    if (a.has("--set"))
      throw ConfigError(
          "--set: a run's configuration is the one it trained with; --set applies "
          "to a model file");
    r = evaluate_run(target, o);
  } else if (std::filesystem::exists(target, ec)) {
    std::vector<std::string> overrides = {"model.init_from=" +
                                          to_string(OptionValue(target.string()))};
    if (!o.dataset.empty())
      overrides.push_back("data.dataset=" + to_string(OptionValue(o.dataset)));
    bool dataset_set = !o.dataset.empty();
    for (const std::string& s : a.all("--set")) {
      overrides.push_back(s);
      dataset_set |= s.rfind("data.dataset", 0) == 0;
    }
    if (!dataset_set) throw ConfigError("--data NAME: a model file has no dataset of its own");
    const Experiment exp = load_experiment("", overrides);
    o.dataset.clear();  // it is in the run's configuration now (or --set gave it)
    r = evaluate_model(exp.runs.front(), o);
  } else {
    throw CheckpointError(target.string() + ": no such run folder or model file");
  }
  std::printf("%s %s: loss %.4f, perplexity %.3f over %lld tokens in windows of %lld (%.1f s)\n",
              r.dataset.c_str(), split.c_str(), r.loss, r.perplexity,
              static_cast<long long>(r.tokens), static_cast<long long>(r.block_size), r.seconds);
  std::fprintf(stderr, "%s\n", r.description.c_str());
  return 0;
}

}  // namespace

void add_eval(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "eval", "loss and perplexity of a run or a GPT-2 weight file over a dataset's split");
  add_positional(app, "RUN_DIR|MODEL", "a run's directory, or a GPT-2 weight file");
  add_value(app, "--data", "NAME", "the dataset (default: the run's; needed for a model file)");
  add_value(app, "--split", "val|train", "the split (default: val)");
  add_value(app, "--max-tokens", "N", "evaluate at most N tokens (default 0: the whole split)");
  add_repeated(app, "--set", "KEY=VALUE", "change a key of a model file's experiment");
  commands.push_back({app, eval});
}

}  // namespace nanolab::cli
