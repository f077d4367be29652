// `nanolab sample RUN_DIR [--prompt S] [--tokens N] [--temperature T] [--top-k K] [--seed S]`:
// text from a trained run's last checkpoint, generated with the KV cache, printed on stdout.
#include <cstdio>

#include "args.hpp"
#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::cli {

int cmd_sample(const Args& args) {
  const ParsedArgs a = parse_args("sample", args,
                                  {"--prompt", "--tokens", "--temperature", "--top-k", "--seed"});
  if (a.positional.size() != 1)
    throw ConfigError("usage: nanolab sample RUN_DIR [--prompt S] [--tokens N] [--temperature T] "
                      "[--top-k K] [--seed S]");
  SampleOptions o;
  o.prompt = a.get("--prompt");
  o.tokens = int64_t(a.number("--tokens", 200));
  o.temperature = a.number("--temperature", 1.0);
  o.top_k = int64_t(a.number("--top-k", 0));
  o.seed = uint64_t(a.number("--seed", 1337));
  if (o.tokens < 1) throw ConfigError("--tokens: expected a positive number");
  if (!(o.temperature > 0)) throw ConfigError("--temperature: expected a number > 0");
  if (o.top_k < 0) throw ConfigError("--top-k: expected 0 (all) or a positive number");
  const std::string text = sample(a.positional[0], o);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace nanolab::cli
