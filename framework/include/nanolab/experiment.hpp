// Experiments: loading, validating and expanding TOML experiment files into runs.
//
// Every key has a default in one schema (framework/src/config/schema.cpp; docs/experiments.md is
// generated from the same table by `nanolab check --schema`); a file holds only what differs.
// load_experiment reads a file and its `include`s (earlier files first, later keys win), applies
// `--set key=value` overrides, validates everything (unknown keys with did-you-mean, types, ranges,
// cross-key rules such as n_embd % n_head, plugin names and their options against the plugins'
// schemas), and expands `[sweep]` (and `seeds = [...]`) into one RunSpec per combination, times the
// trials that a `[search]` draws from its `[search.space]`. Every
// problem of a file is reported at once, in one ConfigError, each as file:line:col: key: message.
// Nothing is created on disk.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nanolab/options.hpp"

namespace nanolab {

// A plugin named in an experiment with its options (validated against its schema).
struct PluginChoice {
  std::string plugin;
  std::map<std::string, OptionValue> options;  // only the keys the experiment gave

  bool operator==(const PluginChoice&) const = default;
};

// The fully resolved configuration of one run.
struct ExperimentConfig {
  // [experiment]
  std::string name;
  int64_t seed;
  std::vector<std::string> plugin_dirs;
  // [data]
  std::string dataset;      // recipe name in datasets/, a path to a text file, or synthetic:<task>
  PluginChoice tokenizer;   // data.tokenizer
  int64_t vocab_size;       // for tokenizers that learn one (0: the tokenizer decides)
  int64_t block_size;       // T
  int64_t batch_size;       // B per micro-step
  // [model]
  std::string init_from;    // a GPT-2 weight file to start from ("": GPT-2's random init)
  int64_t n_layer;
  int64_t n_head;
  int64_t n_embd;
  int64_t model_vocab_size; // model.vocab_size: rows of wte and the head (0: the tokenizer's)
  double dropout;
  bool bias;
  std::string position;     // "learned" | "rope" | "alibi" | "none"
  PluginChoice attention;   // model.attention
  // [optimizer]: plugin + lr are the framework's; every other key is a plugin option
  PluginChoice optimizer;
  double lr;
  std::vector<std::string> no_decay;  // name patterns of parameters without weight decay
  // [loss]
  PluginChoice loss;
  // [train]
  int64_t max_iters;
  int64_t warmup_iters;
  PluginChoice lr_schedule; // train.lr_schedule: cosine, linear, constant, wsd, ...
  double min_lr;
  int64_t lr_decay_iters;   // 0: max_iters
  double grad_clip;         // 0: off
  int64_t grad_accum_steps;
  int64_t eval_interval;
  int64_t eval_iters;
  int64_t log_interval;
  int64_t checkpoint_interval;
  int64_t sample_tokens;    // length of the text sample at each evaluation (0: none)
  std::string on_nonfinite; // "stop" | "skip"
  int64_t max_nonfinite_skips;
  bool diagnostics;         // per-layer gradient norm, update ratio, attention entropy

  bool operator==(const ExperimentConfig&) const = default;
};

struct RunSpec {
  std::string name;                          // run directory name ("run" or from the sweep values)
  ExperimentConfig config;
  std::string config_toml;                   // the fully resolved config, every key, as TOML
  std::map<std::string, std::string> swept;  // sweep key -> value (TOML text) of this run
};

// One key of [search.space]: its distribution and the arguments as written.
struct SearchDimension {
  std::string key;           // "optimizer.lr"
  std::string distribution;  // "uniform", "log_uniform", "int_uniform" or "choice"
  std::string arguments;     // "[0.0001, 0.01]"
};

// A [search] of method random or asha (docs/experiments.md#search). The experiment's runs are
// then trial-major: trial t (0-based) runs runs[t * runs_per_trial] to
// runs[(t + 1) * runs_per_trial - 1], one per run of the [sweep] (one without a sweep).
struct SearchPlan {
  std::string method;          // "random" or "asha"
  int64_t trials = 0;
  std::string metric;          // "val/loss", "val/train_loss" or "val/accuracy"
  bool maximize = false;       // mode = "max"
  int64_t min_iters = 0;       // asha: the first rung
  int64_t reduction_factor = 0;  // asha
  int64_t max_iters = 0;       // every run's train.max_iters: the last rung
  size_t runs_per_trial = 1;
  std::vector<SearchDimension> space;
};

struct Experiment {
  std::filesystem::path file;
  std::string name;
  std::vector<RunSpec> runs;
  std::optional<SearchPlan> search;  // none: every run is trained (a sweep, or method "grid")
};

// NAME_MAX of Linux file systems: the longest folder name, in bytes.
constexpr size_t max_folder_name_bytes = 255;

// Why `name` cannot be the name of a folder inside another (experiment.name, a run's name, `nanolab
// run --name`), or "" when it can: it must not be empty, "." or "..", hold a '/' (so no absolute
// path and no ".." component) or a control character (NUL included), nor be longer than
// max_folder_name_bytes. A run directory is always <out>/<experiment>/<run>/.
std::string folder_name_problem(const std::string& name);

// `overrides` are "key.path=value" strings (the value in TOML syntax; a bare word is a string).
// An empty `file` starts from the defaults alone (`nanolab eval MODEL` builds its run this way).
Experiment load_experiment(const std::filesystem::path& file,
                           const std::vector<std::string>& overrides = {});

enum class PluginKind;  // plugin.hpp

// Parses a fully resolved config (RunSpec::config_toml, as stored in a run file) back, validating
// it like a file named `origin`. Only the plugins of the kinds in `used` are looked up and their
// options checked (empty: every kind): sampling a run needs its tokenizer and attention, not the
// optimizer it was trained with.
ExperimentConfig parse_resolved_config(const std::string& toml_text, const std::string& origin,
                                       const std::vector<PluginKind>& used = {});

namespace config {
// The experiment schema as a Markdown table: key | type | default | allowed | description
// (`nanolab check --schema`; docs/experiments.md holds its output).
std::string schema_markdown();

// A resolved config as a run of an earlier version stored it, flattened to dotted keys and their
// values' text, in today's keys: a plugin's bare name ("train.lr_schedule") becomes
// "train.lr_schedule.plugin", train.lr_decay_frac becomes wsd's option
// "train.lr_schedule.decay_frac" (and is dropped with another schedule). compare uses it so that
// runs of every version line up key by key.
void upgrade_flat_config(std::map<std::string, std::string>& flat);
}  // namespace config

}  // namespace nanolab
