// `nanolab eval RUN_DIR|MODEL [--data NAME] [--split val|train] [--max-tokens N] [--set k=v]...`:
// the loss and perplexity of a trained run (its last checkpoint and tokenizer) or of a GPT-2 weight
// file (docs/gpt2.md) over a text dataset's split. For a model file the run is an experiment of the
// defaults with model.init_from = MODEL and data.dataset = NAME, so the architecture and GPT-2's
// tokenizer come from the file as in `nanolab run`, and --set changes any other key (block_size,
// batch_size, the tokenizer of a model that is not GPT-2's vocabulary). Prints one line on stdout.
#include <cstdio>
#include <filesystem>
#include <string>

#include "args.hpp"
#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/options.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::cli {

int cmd_eval(const Args& args) {
  constexpr const char* usage =
      "usage: nanolab eval RUN_DIR|MODEL [--data NAME] [--split val|train] [--max-tokens N] "
      "[--set key=value]...";
  const ParsedArgs a = parse_args("eval", args, {"--data", "--split", "--max-tokens", "--set"});
  if (a.positional.size() != 1) throw ConfigError(usage);
  const std::filesystem::path target = a.positional[0];
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
    if (!dataset_set)
      throw ConfigError("--data NAME: a model file has no dataset of its own\n" +
                        std::string(usage));
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

}  // namespace nanolab::cli
