// Validation (loader.hpp): the merged keys become an ExperimentConfig, every value checked against
// its schema row, then the rules across keys, model.init_from's file (model/init_from.hpp), and the
// plugins each key names with their options (each problem at the place of its value).
#include <algorithm>
#include <cstdlib>
#include <set>

#include "config/loader.hpp"
#include "model/init_from.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/registry.hpp"

namespace nanolab::config {

namespace {

// The problems of a plugin's options, each at its value (or at the element of a list it is about),
// or at `fallback` (the plugin's name) for a default.
void add_option_problems(const std::vector<plugin::OptionProblem>& problems,
                         const std::string& table, const Entries& entries, const Origin& fallback,
                         Loader& loader, const std::string& plugin_name) {
  for (const auto& p : problems) {
    const std::string key = table + "." + p.option;
    const auto it = entries.find(key);
    const Origin at = it == entries.end() ? fallback : place_of(it->second, p.element);
    loader.problem(at, key, p.message,
                   "`nanolab plugins show " + plugin_name + "` lists its options");
  }
}

// model.init_from: the path is made absolute (relative to the file that names it), so that the
// resolved config names the same file from anywhere; a missing file is a mistake in the
// experiment. What the file then decides is the init_from policy (model/init_from.hpp).
void apply_init_from(ExperimentConfig& config, const Entries& entries, Loader& loader,
                     std::set<std::string>& refused) {
  auto origin_of = [&](const std::string& key) {
    auto it = entries.find(key);
    return it == entries.end() ? Origin{} : it->second.value_origin;
  };
  const Origin at = origin_of("model.init_from");
  const fs::path base = at.file.empty() ? fs::current_path() : fs::absolute(at.file).parent_path();
  config.init_from = (base / config.init_from).lexically_normal().string();
  std::error_code ec;
  // One that is not a regular file (a FIFO, a folder) or not GPT-2's is refused by the reader
  // (input_file.hpp) as a CheckpointError.
  if (!fs::exists(config.init_from, ec)) {
    loader.problem(at, "model.init_from", "no such file: " + config.init_from,
                   "a Hugging Face model.safetensors or an llm.c .bin (gpt2_124M.bin)");
    refused.insert("model.init_from");
    return;
  }
  auto given = [&](const std::string& key) { return entries.count(key) != 0; };
  for (auto& p : model::apply_init_from(config, given, refused))
    loader.problem(origin_of(p.key), p.key, std::move(p.message), std::move(p.hint));
}

}  // namespace

ExperimentConfig resolve(const Entries& entries, Loader& loader, bool read_init_from,
                         const std::vector<PluginKind>& used) {
  ExperimentConfig config = default_config();
  std::set<std::string> refused;  // keys whose value was refused: rules across keys skip them
  auto origin_of = [&](const std::string& key) {
    auto it = entries.find(key);
    return it == entries.end() ? Origin{} : it->second.value_origin;
  };
  auto given = [&](const std::string& key) { return entries.count(key) != 0; };

  for (const auto& spec : schema()) {
    if (!has_field(spec)) continue;
    if (spec.type() == KeyType::plugin) {
      PluginChoice choice{std::get<std::string>(spec.value.default_value), {}};
      const std::string name_key = spec.key + ".plugin";
      if (auto it = entries.find(name_key); it != entries.end()) {
        if (const auto* s = it->second.node->as_string()) {
          choice.plugin = s->get();
        } else {
          loader.problem(it->second.value_origin, name_key,
                         "expected a string (a plugin name), got " + describe(*it->second.node));
          refused.insert(name_key);
        }
      }
      const std::string prefix = spec.key + ".";
      for (auto it = entries.lower_bound(prefix);
           it != entries.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        if (it->first == name_key || find_key(it->first)) continue;  // optimizer.lr is ours
        if (auto option = to_option_value(*it->second.node)) {
          choice.options.emplace(it->first.substr(prefix.size()), std::move(*option));
        } else {
          loader.problem(it->second.value_origin, it->first,
                         "expected a boolean, number, string, or array of numbers or of strings, got " +
                             describe(*it->second.node));
          refused.insert(name_key);  // its options are incomplete: do not validate them
        }
      }
      config.*std::get<PluginChoice ExperimentConfig::*>(spec.field) = std::move(choice);
      continue;
    }
    auto it = entries.find(spec.key);
    if (it == entries.end()) continue;
    OptionValue value;
    const auto problems = check_node(spec.value, *it->second.node, value);
    for (const auto& p : problems)
      loader.problem(place_of(it->second, p.element), spec.key, p.message);
    if (!problems.empty()) {
      refused.insert(spec.key);
      continue;
    }
    set_field(config, spec, value);
  }

  if (const std::string problem = refused.count("experiment.name")
                                     ? std::string()
                                     : experiment_name_problem(config.name);
      !problem.empty()) {
    loader.problem(origin_of("experiment.name"), "experiment.name",
                   "must be a folder name, got " + to_string(OptionValue(config.name)) +
                       ", which " + problem,
                   "use letters, digits, '.', '_' and '-', at most 255 of them");
    refused.insert("experiment.name");
  }
  if (!refused.count("data.dataset") && config.dataset.empty()) {
    loader.problem(origin_of("data.dataset"), "data.dataset", "must not be empty",
                   "a recipe name, a path to a text file, or synthetic:sort");
  }
  // Plugin folders are relative to the file that names them (to the working folder for --set).
  if (!refused.count("experiment.plugin_dirs")) {
    const Origin at = origin_of("experiment.plugin_dirs");
    const fs::path base =
        at.file.empty() ? fs::current_path() : fs::absolute(at.file).parent_path();
    for (auto& dir : config.plugin_dirs) {
      dir = (base / dir).lexically_normal().string();
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) {
        loader.problem(at, "experiment.plugin_dirs", "no such folder: " + dir);
        refused.insert("experiment.plugin_dirs");
      }
    }
  }
  if (read_init_from && !config.init_from.empty() && !refused.count("model.init_from"))
    apply_init_from(config, entries, loader, refused);

  // Rules across keys: reported at the key the user gave (the first named when both were).
  auto rule_origin = [&](const std::string& a, const std::string& b) {
    return given(a) || !given(b) ? std::pair{a, origin_of(a)} : std::pair{b, origin_of(b)};
  };
  auto both_ok = [&](const char* a, const char* b) {
    return !refused.count(a) && !refused.count(b);
  };
  if (both_ok("model.n_embd", "model.n_head") && config.n_embd % config.n_head != 0) {
    const int64_t nearest = std::max<int64_t>(
        config.n_head, (config.n_embd + config.n_head / 2) / config.n_head * config.n_head);
    auto [key, at] = rule_origin("model.n_embd", "model.n_head");
    loader.problem(at, key,
                   "n_embd = " + std::to_string(config.n_embd) +
                       " is not divisible by n_head = " + std::to_string(config.n_head),
                   "each head gets n_embd / n_head channels; e.g. n_embd = " +
                       std::to_string(nearest) + " with n_head = " + std::to_string(config.n_head));
  }
  if (both_ok("train.warmup_iters", "train.max_iters") && config.warmup_iters > config.max_iters) {
    auto [key, at] = rule_origin("train.warmup_iters", "train.max_iters");
    loader.problem(at, key,
                   "warmup_iters = " + std::to_string(config.warmup_iters) +
                       " is more than max_iters = " + std::to_string(config.max_iters));
  }
  if (both_ok("train.min_lr", "optimizer.lr") && config.min_lr > config.lr) {
    auto [key, at] = rule_origin("train.min_lr", "optimizer.lr");
    loader.problem(at, key,
                   "min_lr = " + to_string(OptionValue(config.min_lr)) +
                       " is more than optimizer.lr = " + to_string(OptionValue(config.lr)),
                   "the schedule decays from lr down to min_lr");
  }

  // tokens_seen, the run's count of tokens, is a float64 in the run file: exact up to 2^53.
  if (both_ok("train.max_iters", "train.grad_accum_steps") &&
      both_ok("data.batch_size", "data.block_size")) {
    const double tokens = double(config.max_iters) * double(config.grad_accum_steps) *
                          double(config.batch_size) * double(config.block_size);
    if (tokens > 9007199254740992.0) {  // 2^53
      auto [key, at] = rule_origin("train.max_iters", "data.batch_size");
      loader.problem(at, key,
                     "max_iters x grad_accum_steps x batch_size x block_size = " +
                         to_string(OptionValue(tokens)) +
                         " tokens, more than the 2^53 a run can count exactly");
    }
  }

  Registry& registry = Registry::instance();
  if (!refused.count("experiment.plugin_dirs") && !config.plugin_dirs.empty())
    registry.add_directories(
        std::vector<fs::path>(config.plugin_dirs.begin(), config.plugin_dirs.end()));
  // The plugin `name` of `kind`, or null after a problem at `key`.
  auto find_plugin = [&](PluginKind kind, const std::string& name,
                         const std::string& key) -> const LoadedPlugin* {
    try {
      return &registry.find(kind, name, key);
    } catch (const ConfigError& e) {
      std::string message = e.what();
      if (message.rfind(key + ": ", 0) == 0) message.erase(0, key.size() + 2);
      loader.problem(origin_of(key), key, message);
      return nullptr;
    }
  };
  for (const auto& spec : schema()) {
    if (!used.empty() && std::find(used.begin(), used.end(), spec.plugin_kind) == used.end())
      continue;
    if (spec.type() != KeyType::plugin) continue;
    const std::string name_key = spec.key + ".plugin";
    if (refused.count(name_key)) continue;
    PluginChoice& choice = config.*std::get<PluginChoice ExperimentConfig::*>(spec.field);
    const LoadedPlugin* plugin = find_plugin(spec.plugin_kind, choice.plugin, name_key);
    if (!plugin) continue;
    std::map<std::string, OptionValue> complete;
    const auto problems = plugin::check_options(plugin->descriptor->options, choice.options, complete);
    // Keep only what was given, with the declared types (an integer given for a number).
    if (problems.empty())
      for (auto& [name, value] : choice.options) value = complete.at(name);
    add_option_problems(problems, spec.key, entries, origin_of(name_key), loader, choice.plugin);
  }
  return config;
}

}  // namespace nanolab::config
