// Experiment files (experiment.hpp): read, include, override, validate, expand the sweep, write the
// resolved config back as TOML.
//
// The TOML tree of each file is flattened into dotted keys ("model.n_embd", "optimizer.betas"),
// each remembering where it was written; files merge key by key (included files first, the
// including file over them, then --set), so "later keys win" is a map assignment. Every check
// appends a Problem instead of throwing, so one ConfigError lists all of them. Syntax and include
// errors stop before validation (what is left of the tree would give errors that are not real).
// The entry points are here; each concern has its file (config/loader.hpp lists them).
#include "config/loader.hpp"

namespace nanolab {
namespace fs = std::filesystem;

Experiment load_experiment(const fs::path& file, const std::vector<std::string>& overrides) {
  using namespace config;
  Loader loader;
  Layers layers;
  if (!file.empty()) loader.load_file(file, layers);
  for (const auto& assignment : overrides) loader.apply_set(assignment, layers);
  const std::string main_file = file.empty() ? "(the defaults)" : file.string();
  if (loader.structure_broken) throw_problems(loader, main_file);

  Experiment experiment;
  experiment.file = file;
  experiment.runs = layers.search.given ? expand_search(layers, loader, experiment.search)
                                        : expand_sweep(layers, loader);
  throw_problems(loader, main_file);
  for (auto& run : experiment.runs) run.config_toml = to_toml(run.config);
  experiment.name = experiment.runs.front().config.name;
  return experiment;
}

ExperimentConfig parse_resolved_config(const std::string& toml_text, const std::string& origin,
                                       const std::vector<PluginKind>& used) {
  using namespace config;
  Loader loader;
  Layers layers;
  loader.parse_text(toml_text, origin, layers, false);
  if (loader.structure_broken) throw_problems(loader, origin);
  ExperimentConfig config = resolve(layers.entries, loader, false, used);
  throw_problems(loader, origin);
  return config;
}

}  // namespace nanolab
