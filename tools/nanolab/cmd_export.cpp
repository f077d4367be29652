// `nanolab export RUN_DIR|MODEL --format safetensors|llmc -o FILE`: a run's last checkpoint (or a
// GPT-2 weight file, to convert it) written as GPT-2's weights, for Hugging Face's transformers
// (FILE and a config.json beside it) or llm.c (docs/gpt2.md). A run whose model is not GPT-2's
// architecture (another attention's parameters, no learned positions) is a configuration error
// naming the parameter.
#include <cstdio>
#include <filesystem>
#include <string>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/gpt2.hpp"
#include "nanolab/run_store.hpp"

namespace nanolab::cli {

namespace {

int export_weights(const Parsed& a) {
  const std::string out = a.get("--out");
  const gpt2::Format format = gpt2::format_from_name(a.get("--format"), "--format");
  const std::filesystem::path source = a.get("RUN_DIR|MODEL");

  gpt2::Architecture arch;
  std::map<std::string, Tensor> tensors;
  std::error_code ec;
  if (std::filesystem::is_directory(source, ec)) {
    Checkpoint ck = read_checkpoint(source);
    const ExperimentConfig c =
        parse_resolved_config(ck.config_toml, (source / "checkpoint.h5").string());
    arch = {ck.model.count("wte.weight") ? ck.model.at("wte.weight").size(0) : 0, c.block_size,
            c.n_layer, c.n_head, c.n_embd};
    tensors = std::move(ck.model);
  } else {
    gpt2::Weights w = gpt2::read(source);
    if (w.info.arch.n_head == 0)
      throw ConfigError(source.string() + " does not say n_head, which " + a.get("--format") +
                        " needs; hint: put Hugging Face's config.json of the model beside it");
    arch = w.info.arch;
    tensors = std::move(w.tensors);
  }
  const std::filesystem::path file = out;
  gpt2::write(file, format, arch, tensors);
  std::fprintf(stderr,
               "wrote %s (%s: V=%lld, block_size=%lld, n_layer=%lld, n_head=%lld, n_embd=%lld)%s\n",
               file.c_str(), gpt2::format_name(format), static_cast<long long>(arch.vocab_size),
               static_cast<long long>(arch.block_size), static_cast<long long>(arch.n_layer),
               static_cast<long long>(arch.n_head), static_cast<long long>(arch.n_embd),
               format == gpt2::Format::safetensors
                   ? (" and " + (file.parent_path() / "config.json").string()).c_str()
                   : "");
  return 0;
}

}  // namespace

void add_export(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "export", "a run's weights as GPT-2's, for Hugging Face (safetensors) or llm.c");
  add_positional(app, "RUN_DIR|MODEL", "a run's directory, or a GPT-2 weight file to convert");
  add_value(app, "--format", "safetensors|llmc", "the file format")->required();
  add_value(app, "-o,--out", "FILE", "the file to write")->required();
  commands.push_back({app, export_weights});
}

}  // namespace nanolab::cli
