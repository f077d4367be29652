// `nanolab sample RUN_DIR [--prompt S] [--tokens N] [--temperature T] [--top-k K] [--seed S]`:
// text from a trained run's last checkpoint, generated with the KV cache, printed on stdout.
#include <cstdio>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::cli {

namespace {

int sample_run(const Parsed& a) {
  SampleOptions o;
  o.prompt = a.get("--prompt");
  o.tokens = int64_t(a.number("--tokens", 200));
  o.temperature = a.number("--temperature", 1.0);
  o.top_k = int64_t(a.number("--top-k", 0));
  o.seed = uint64_t(a.number("--seed", 1337));
  if (o.tokens < 1) throw ConfigError("--tokens: expected a positive number");
  if (!(o.temperature > 0)) throw ConfigError("--temperature: expected a number > 0");
  if (o.top_k < 0) throw ConfigError("--top-k: expected 0 (all) or a positive number");
  const std::string text = sample(a.get("RUN_DIR"), o);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

void add_sample(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "sample", "text from a trained run's last checkpoint, generated with the KV cache");
  add_positional(app, "RUN_DIR", "the run's directory");
  add_value(app, "--prompt", "S", "the text to continue (default: the start of a text)");
  add_value(app, "--tokens", "N", "how many tokens to generate (default: 200)");
  add_value(app, "--temperature", "T", "divides the logits (default: 1)");
  add_value(app, "--top-k", "K", "sample among the K likeliest tokens only (default 0: all)");
  add_value(app, "--seed", "S", "the random seed (default: 1337)");
  commands.push_back({app, sample_run});
}

}  // namespace nanolab::cli
