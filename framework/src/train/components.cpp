// Builds a run's parts from its configuration through the plugin registry.
#include "train/components.hpp"

#include <algorithm>
#include <cstdio>

#include "nanolab/memory.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/registry.hpp"
#include "optim/no_decay.hpp"
#include "runtime/sha256.hpp"
#include "train/schedule.hpp"

namespace nanolab::train_detail {
namespace {

PluginRecord record(const Registry& registry, PluginKind kind, const std::string& name) {
  const LoadedPlugin& p = registry.find(kind, name);
  return {to_string(kind), p.descriptor->name, p.descriptor->version, p.file.string(), p.sha256};
}

}  // namespace

Components build(const ExperimentConfig& config, Purpose purpose, const std::string& saved_tokenizer) {
  Registry& registry = Registry::instance();
  std::vector<std::filesystem::path> dirs(config.plugin_dirs.begin(), config.plugin_dirs.end());
  registry.add_directories(dirs);

  Components c;
  c.tokenizer =
      registry.make<PluginKind::tokenizer>(config.tokenizer.plugin, config.tokenizer.options);
  c.plugins.push_back(record(registry, PluginKind::tokenizer, config.tokenizer.plugin));
  if (!saved_tokenizer.empty()) c.tokenizer->load(saved_tokenizer);
  // Sampling from a text dataset needs only the tokenizer (saved in the run), not the raw file.
  const bool synthetic = config.dataset.rfind("synthetic:", 0) == 0;
  if (purpose != Purpose::sample || synthetic) c.dataset = open_dataset(config, *c.tokenizer);
  const int64_t data_vocab = c.dataset ? c.dataset->vocab_size() : c.tokenizer->vocab_size();
  if (config.model_vocab_size > 0 && config.model_vocab_size < data_vocab)
    throw ConfigError("model.vocab_size = " + std::to_string(config.model_vocab_size) +
                      " is smaller than the vocabulary of " + std::to_string(data_vocab) + " of " +
                      config.dataset + " with the " + config.tokenizer.plugin +
                      " tokenizer: ids past the model's rows would have no embedding");
  const int64_t vocab_size = config.model_vocab_size > 0 ? config.model_vocab_size : data_vocab;

  // Estimated again with the tokenizer's own vocabulary; the dataset is in memory already.
  if (purpose == Purpose::train)
    config::require_memory(config::estimate_memory(config, vocab_size, 0), "the run");

  GptConfig gpt{vocab_size,   config.block_size, config.n_layer,
                config.n_head, config.n_embd,     config.dropout,
                config.bias,   position_from_name(config.position)};
  const PluginChoice& attention = config.attention;
  c.model = std::make_unique<Gpt>(gpt, [&](const AttentionConfig& ac) {
    return registry.make<PluginKind::attention>(attention.plugin, attention.options, ac);
  });
  c.plugins.push_back(record(registry, PluginKind::attention, attention.plugin));
  if (purpose == Purpose::train) {
    optim::apply_no_decay(*c.model, config.no_decay);
    c.optimizer = std::make_unique<StatefulOptimizer>(
        registry.make<PluginKind::optimizer>(config.optimizer.plugin, config.optimizer.options),
        c.model->parameters(), config.lr);
    c.plugins.push_back(record(registry, PluginKind::optimizer, config.optimizer.plugin));
    c.loss = registry.make<PluginKind::loss>(config.loss.plugin, config.loss.options);
    c.plugins.push_back(record(registry, PluginKind::loss, config.loss.plugin));
    c.schedule = registry.make<PluginKind::schedule>(config.lr_schedule.plugin,
                                                     config.lr_schedule.options,
                                                     schedule_config(config));
    c.plugins.push_back(record(registry, PluginKind::schedule, config.lr_schedule.plugin));
  }
  return c;
}

void reopen_recorded_plugins(const std::vector<PluginRecord>& records,
                             const std::vector<PluginKind>& kinds, const std::string& run) {
  Registry& registry = Registry::instance();
  for (const PluginRecord& r : records) {
    auto kind = std::find_if(kinds.begin(), kinds.end(),
                             [&](PluginKind k) { return r.kind == to_string(k); });
    if (kind == kinds.end() || r.file.empty()) continue;
    const auto& found = registry.of_kind(*kind);
    if (std::any_of(found.begin(), found.end(),
                    [&](const LoadedPlugin* p) { return p->descriptor->name == r.name; }))
      continue;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(r.file, ec)) continue;
    const std::string sha256 = runtime::sha256_file_hex(r.file);
    if (sha256 != r.sha256)
      throw PluginError(run + ": the " + r.kind + " plugin '" + r.name +
                        "' is not in the plugin folders, and the file the run recorded, " + r.file +
                        ", has changed since (sha256 " + sha256 + ", recorded " + r.sha256 +
                        "); hint: put the plugin's folder on NANOLAB_PLUGIN_PATH, or rebuild the "
                        "version the run used");
    registry.add_file(r.file);
    std::fprintf(stderr,
                 "note: the %s plugin '%s' is not in the plugin folders; using the file %s "
                 "recorded by %s (same sha256)\n",
                 r.kind.c_str(), r.name.c_str(), r.file.c_str(), run.c_str());
  }
}

}  // namespace nanolab::train_detail
