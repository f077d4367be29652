// The schema table (schema.hpp) and the texts derived from it. The defaults are nanoGPT's CPU
// configuration ("baby" Shakespeare char model) on the synthetic sorting task, so that an
// experiment file of a single line trains something sensible without a download.
#include "config/schema.hpp"

#include <algorithm>
#include <cmath>

#include "plugin/options_schema.hpp"

namespace nanolab::config {
namespace {

using C = ExperimentConfig;
using Strings = std::vector<std::string>;

// Upper bounds of the integer keys: far above any run that fits a machine, and low enough that
// the products the trainer forms (B x T x C, B x NH x T x T, tokens per step) and the memory
// estimate (memory.hpp) cannot overflow. Token ids are int32, so a vocabulary is below 2^31.
constexpr double max_vocab_size = 2147483647.0;  // 2^31 - 1
constexpr double max_block_size = 1 << 20;
constexpr double max_batch_size = 1 << 20;
constexpr double max_n_layer = 1 << 12;
constexpr double max_n_embd = 1 << 16;           // and n_head, which divides it
constexpr double max_steps = 1e12;               // max_iters and every count of steps
// The trainer keys a step's micro-batches as step x 4096 + micro-batch (trainer.cpp), so that
// their dropout masks never meet another step's.
constexpr double max_grad_accum_steps = 1 << 12;
constexpr double max_eval_iters = 1 << 20;
constexpr double max_sample_tokens = 1 << 20;

// The type of a row's value follows from its default (a plugin row's is its plugin's name).
KeySpec value_row(std::string key, Field field, OptionValue default_value, std::string doc,
                  std::optional<Bound> min = std::nullopt,
                  std::optional<Bound> max = std::nullopt) {
  KeySpec spec;
  spec.key = key;
  spec.field = field;
  const auto type = OptionType(default_value.index());
  spec.value = OptionSpec{std::move(key), type, std::move(default_value), min, max, {},
                          std::move(doc)};
  return spec;
}

KeySpec choice_row(std::string key, std::string C::*field, std::string default_value,
                   Strings choices, std::string doc) {
  KeySpec spec = value_row(std::move(key), field, std::move(default_value), std::move(doc));
  spec.value.choices = std::move(choices);
  return spec;
}

KeySpec plugin_row(std::string key, PluginChoice C::*field, PluginKind kind,
                   std::string default_plugin, std::string doc) {
  KeySpec spec = value_row(std::move(key), field, std::move(default_plugin), std::move(doc));
  spec.plugin_kind = kind;
  return spec;
}

KeySpec fixed(KeySpec spec) {
  spec.sweepable = false;
  return spec;
}

std::vector<KeySpec> make_schema() {
  std::vector<KeySpec> rows = {
      fixed(
          value_row("experiment.name", &C::name, std::string("experiment"),
                    "folder of the runs inside the output folder; letters, digits, '.', '_', "
                    "'-', at most 255")),
      value_row("experiment.seed", &C::seed, int64_t{1337},
                "seeds every random number of a run (weights, data order, dropout, samples)", 0.0),
      fixed(value_row("experiment.include", static_cast<Strings C::*>(nullptr), Strings{},
                      "files read before this one (relative to it); later keys win; not stored")),
      fixed(value_row("experiment.plugin_dirs", &C::plugin_dirs, Strings{},
                      "more plugin folders (relative to the file), searched after the built-in "
                      "folder and NANOLAB_PLUGIN_PATH")),

      value_row("data.dataset", &C::dataset, std::string("synthetic:sort"),
                "a recipe in datasets/, a path to a text file, token files (a folder with a '/', "
                "or a .bin: docs/data.md#token-shards), or synthetic:sort, synthetic:add, "
                "synthetic:copy"),
      plugin_row("data.tokenizer", &C::tokenizer, PluginKind::tokenizer, "char",
                 "the tokenizer: { plugin = NAME, option = value, ... }"),
      value_row("data.vocab_size", &C::vocab_size, int64_t{0},
                "vocabulary size for tokenizers that learn one; 0: the tokenizer decides", 0.0,
                max_vocab_size),
      value_row("data.block_size", &C::block_size, int64_t{64}, "context length T", 1.0,
                max_block_size),
      value_row("data.batch_size", &C::batch_size, int64_t{12}, "sequences B per micro-step", 1.0,
                max_batch_size),

      value_row("model.init_from", &C::init_from, std::string(""),
                "a GPT-2 weight file to start from (Hugging Face's model.safetensors or llm.c's "
                ".bin; relative to the file): n_layer, n_head, n_embd, vocab_size and block_size "
                "come from it; \"\": random init"),
      value_row("model.n_layer", &C::n_layer, int64_t{4}, "transformer blocks", 1.0, max_n_layer),
      value_row("model.n_head", &C::n_head, int64_t{4}, "attention heads NH; divides n_embd", 1.0,
                max_n_embd),
      value_row("model.n_embd", &C::n_embd, int64_t{128}, "embedding width C", 1.0, max_n_embd),
      value_row("model.vocab_size", &C::model_vocab_size, int64_t{0},
                "rows of wte and of the head; 0: the tokenizer's vocabulary; more pads it "
                "(nanoGPT's 50304)", 0.0, max_vocab_size),
      value_row("model.dropout", &C::dropout, 0.0,
                "dropout probability (embeddings, attention output, MLP)", 0.0, exclusive(1.0)),
      value_row("model.bias", &C::bias, false, "biases in the linear layers and layer norms"),
      choice_row("model.position", &C::position, "learned", {"learned", "rope", "alibi", "none"},
                 "position encoding: a learned table (wpe, GPT-2), rotary q/k (rope), ALiBi's "
                 "score bias, or none (causal attention alone)"),
      plugin_row("model.attention", &C::attention, PluginKind::attention, "causal_mha",
                 "the attention of every block: { plugin = NAME, option = value, ... }"),

      plugin_row(
          "optimizer", &C::optimizer, PluginKind::optimizer, "adamw",
          "the [optimizer] table: plugin = NAME; its keys other than lr and no_decay are the "
          "plugin's options"),
      value_row("optimizer.lr", &C::lr, 1e-3, "peak learning rate", exclusive(0.0)),
      value_row("optimizer.no_decay", &C::no_decay, Strings{},
                "globs on parameter names ('*' matches dots too) that get no weight decay, e.g. "
                "[\"wpe.*\"]; each must match a parameter"),

      plugin_row("loss", &C::loss, PluginKind::loss, "cross_entropy",
                 "the [loss] table: plugin = NAME; its other keys are the plugin's options"),

      value_row("train.max_iters", &C::max_iters, int64_t{2000}, "optimizer steps", 1.0, max_steps),
      value_row("train.warmup_iters", &C::warmup_iters, int64_t{100},
                "linear warmup steps from 0 to lr; at most max_iters", 0.0, max_steps),
      plugin_row("train.lr_schedule", &C::lr_schedule, PluginKind::schedule, "cosine",
                 "the learning rate after the warmup: a schedule's name (cosine, linear, "
                 "constant, wsd) or { plugin = NAME, option = value, ... }"),
      value_row("train.min_lr", &C::min_lr, 1e-4, "learning rate at the end of the decay; <= lr",
                0.0),
      value_row("train.lr_decay_iters", &C::lr_decay_iters, int64_t{0},
                "step at which the decay reaches min_lr; 0: max_iters", 0.0, max_steps),
      value_row("train.grad_clip", &C::grad_clip, 1.0, "clip the global gradient norm; 0: off",
                0.0),
      value_row("train.grad_accum_steps", &C::grad_accum_steps, int64_t{1},
                "micro-steps of batch_size per optimizer step", 1.0, max_grad_accum_steps),
      value_row("train.eval_interval", &C::eval_interval, int64_t{250},
                "evaluate (and sample) every this many steps", 1.0, max_steps),
      value_row("train.eval_iters", &C::eval_iters, int64_t{200},
                "batches per evaluation, of train and of val", 1.0, max_eval_iters),
      value_row("train.log_interval", &C::log_interval, int64_t{10},
                "log a train metrics row every this many steps", 1.0, max_steps),
      value_row("train.checkpoint_interval", &C::checkpoint_interval, int64_t{500},
                "write a checkpoint every this many steps (and at the end)", 1.0, max_steps),
      value_row("train.sample_tokens", &C::sample_tokens, int64_t{200},
                "tokens of the text sample at each evaluation; 0: none", 0.0, max_sample_tokens),
      choice_row("train.on_nonfinite", &C::on_nonfinite, "stop", {"stop", "skip"},
                 "a non-finite loss or gradient: stop (exit 6) or skip the step"),
      value_row("train.max_nonfinite_skips", &C::max_nonfinite_skips, int64_t{10},
                "with skip: stop after this many non-finite steps in a row", 1.0, max_steps),
      value_row("train.diagnostics", &C::diagnostics, false,
                "record at each logged step the gradient norm and update/weight ratio of each "
                "layer and its attention entropy (/metrics/train, /metrics/attention)"),
  };
  return rows;
}

}  // namespace

std::string KeySpec::parent() const {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? "" : key.substr(0, dot);
}

std::string KeySpec::leaf() const {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

const std::vector<KeySpec>& schema() {
  static const std::vector<KeySpec> rows = make_schema();
  return rows;
}

const KeySpec* find_key(const std::string& key) {
  for (const auto& spec : schema())
    if (spec.key == key) return &spec;
  return nullptr;
}

bool is_table_path(const std::string& path) {
  if (path.empty()) return true;
  for (const auto& spec : schema())
    if (spec.key.size() > path.size() && spec.key.compare(0, path.size(), path) == 0 &&
        spec.key[path.size()] == '.')
      return true;
  return false;
}

std::vector<std::string> keys_in(const std::string& table_path) {
  const std::string prefix = table_path.empty() ? "" : table_path + ".";
  std::vector<std::string> out;
  for (const auto& spec : schema()) {
    if (spec.key.size() <= prefix.size() || spec.key.compare(0, prefix.size(), prefix) != 0)
      continue;
    // A key inside a nested table names that table: "data.tokenizer" is inside "data".
    std::string child = spec.key.substr(0, spec.key.find('.', prefix.size()));
    if (std::find(out.begin(), out.end(), child) == out.end()) out.push_back(std::move(child));
  }
  return out;
}

std::vector<std::string> leaf_keys() {
  std::vector<std::string> out;
  for (const auto& spec : schema())
    out.push_back(spec.type() == KeyType::plugin ? spec.key + ".plugin" : spec.key);
  return out;
}

ExperimentConfig default_config() {
  ExperimentConfig config{};
  for (const auto& spec : schema()) {
    std::visit(
        [&](auto member) {
          if (member == nullptr) return;
          using Member = std::remove_reference_t<decltype(config.*member)>;
          if constexpr (std::is_same_v<Member, PluginChoice>)
            config.*member = PluginChoice{std::get<std::string>(spec.value.default_value), {}};
          else
            config.*member = std::get<Member>(spec.value.default_value);
        },
        spec.field);
  }
  return config;
}

std::string expected_text(const KeySpec& spec) {
  if (spec.type() != KeyType::plugin) return plugin::type_phrase(spec.value.type);
  return spec.key.find('.') == std::string::npos
             ? "a plugin's name or a table [" + spec.key + "] with plugin = \"NAME\""
             : "a plugin's name or a table { plugin = \"NAME\" }";
}

std::string schema_markdown() {
  static const char* type_names[] = {"boolean", "integer",     "number",
                                     "string",  "string list", "plugin table"};
  std::string out =
      "| key | type | default | allowed | description |\n"
      "| --- | --- | --- | --- | --- |\n";
  for (const auto& spec : schema()) {
    std::string def = to_string(spec.value.default_value);
    std::string allowed = allowed_text(spec.value);
    if (spec.type() == KeyType::plugin) {
      def = "{ plugin = " + def + " }";
      const std::string kind = to_string(spec.plugin_kind);
      const bool vowel = std::string("aeiou").find(kind[0]) != std::string::npos;
      allowed = (vowel ? "an " : "a ") + kind + " plugin (`nanolab plugins`)";
    }
    std::string doc = spec.value.doc;
    if (!spec.sweepable) doc += " (cannot be swept)";
    // A '|' inside a cell would end it.
    for (std::string* cell : {&def, &allowed, &doc})
      for (size_t at = cell->find('|'); at != std::string::npos; at = cell->find('|', at + 2))
        cell->replace(at, 1, "\\|");
    out += "| `" + spec.key + "` | " + type_names[size_t(spec.type())] + " | `" + def + "` | " +
           (allowed.empty() ? "any" : allowed) + " | " + doc + " |\n";
  }
  return out;
}

}  // namespace nanolab::config
