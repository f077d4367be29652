// The search (loader.hpp): [search] (method, trials, metric, mode, min_iters, reduction_factor)
// and [search.space] ("dotted.key" = { distribution = arguments }) read from the files, checked
// before any run starts, and expanded into runs: the trials drawn from the space
// (search_space.hpp), each running every run of the [sweep]. The order in which a search trains
// them, and ASHA's promotions, are nanolab/search.hpp's.
#include <cmath>

#include "config/search_space.hpp"
#include "nanolab/did_you_mean.hpp"
#include "nanolab/metrics.hpp"
#include "nanolab/rng.hpp"
#include "config/loader.hpp"

namespace nanolab::config {

namespace {

const std::vector<std::string> distribution_names = {"uniform", "log_uniform", "int_uniform",
                                                     "choice"};
const std::string distribution_hint =
    "a distribution is { uniform = [low, high] }, { log_uniform = [low, high] }, "
    "{ int_uniform = [low, high] } or { choice = [a, b, ...] }";

// The keys of [search], checked like the keys of a plugin's options.
const std::vector<OptionSpec>& setting_specs() {
  static const std::vector<OptionSpec> specs = {
      {"method", OptionType::string, std::string("grid"), {}, {}, {"grid", "random", "asha"}},
      {"trials", OptionType::integer, int64_t(10), Bound(1), Bound(10000)},
      {"metric", OptionType::string, std::string("val/loss")},
      {"mode", OptionType::string, std::string("min"), {}, {}, {"min", "max"}},
      {"min_iters", OptionType::integer, int64_t(1), Bound(1), Bound(1e12)},
      {"reduction_factor", OptionType::integer, int64_t(3), Bound(2), Bound(1000)},
  };
  return specs;
}

// Why no run writes `metric`, or "": an evaluation's column (val/loss, val/train_loss,
// val/accuracy), or a recorded metric's GROUP/NAME, GROUP being one of the groups the trainer and
// the plugins record into (docs/run-format.md). Whether a plugin records NAME is known only once a
// run has (nanolab/search.hpp's metric_at says so at the first rung).
std::string metric_problem(const std::string& metric) {
  static const std::vector<std::string> evaluation = {"loss", "train_loss", "accuracy"};
  static const std::vector<std::string> groups = {"val", "train", "loss", "optimizer",
                                                  "attention"};
  const size_t slash = metric.find('/');
  if (slash == std::string::npos)
    return "'" + metric + "' is not GROUP/NAME, a column of /metrics in the run files";
  const std::string group = metric.substr(0, slash), name = metric.substr(slash + 1);
  if (group == "val") {
    if (std::find(evaluation.begin(), evaluation.end(), name) != evaluation.end()) return "";
    return "an evaluation writes val/loss, val/train_loss and val/accuracy, not '" + metric + "'" +
           did_you_mean_hint(name, evaluation);
  }
  if (std::find(groups.begin(), groups.end(), group) == groups.end())
    return "no run writes the group '" + group + "' of '" + metric + "'" +
           did_you_mean_hint(group, groups) + "; the groups are val, train, loss, optimizer and " +
           "attention";
  if (const std::string why = metric_name_problem(name); !why.empty())
    return "no run records '" + metric + "': " + why;
  return "";
}

bool is_distribution_table(const toml::node& node) {
  const auto* table = node.as_table();
  if (!table || table->size() != 1) return false;
  const std::string name(table->cbegin()->first.str());
  return std::find(distribution_names.begin(), distribution_names.end(), name) !=
         distribution_names.end();
}

// FNV-1a: a key's name as 64 bits, for the sampler.
uint64_t name_bits(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// One key of the space, checked.
struct Dimension {
  std::string key;
  Distribution distribution;
  std::string name;      // as written: "log_uniform"
  double low = 0, high = 0;
  const toml::array* arguments = nullptr;
  Entry entry;           // where the key and its distribution were written
};

}  // namespace

double search_draw(uint64_t seed, int64_t trial, const std::string& key) {
  constexpr uint64_t search_stream = 0x5ea4c4;  // apart from the streams of a run
  return rng::uniform(rng::mix(rng::mix(rng::mix(seed, search_stream), uint64_t(trial)), name_bits(key)));
}

double search_value(Distribution distribution, double low, double high, double u) {
  switch (distribution) {
    case Distribution::uniform:
      return std::min(low + u * (high - low), std::nextafter(high, low));
    case Distribution::log_uniform:
      return std::min(std::exp(std::log(low) + u * (std::log(high) - std::log(low))),
                      std::nextafter(high, low));
    case Distribution::int_uniform:
    case Distribution::choice:
      return std::min(low + std::floor(u * (high - low + 1)), high);
  }
  return low;
}

void Loader::read_search(const toml::table& table, const Origin& origin, const Source& source,
                         SearchLayer& out) {
  out.origin = origin;
  out.given = true;
  std::vector<std::string> names;
  for (const auto& spec : setting_specs()) names.push_back(spec.name);
  names.push_back("space");
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    if (key == "space") {
      if (const auto* space = node.as_table())
        read_space("", *space, source, out.space);
      else
        problem(source.at(node.source()), "search.space",
                "expected a table of \"dotted.key\" = { distribution = [...] }, got " +
                    describe(node),
                distribution_hint);
      continue;
    }
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      problem(source.at(k.source()), "search." + key, "unknown key" + did_you_mean_hint(key, names),
              "the keys of [search] are " + join(names, ", "));
      continue;
    }
    out.settings.insert_or_assign(key, Entry{&node, source.at(k.source()), source.at(node.source())});
  }
}

// [search.space]: "dotted.key" = { distribution = arguments }; an unquoted dotted key makes
// nested tables, read the same way.
void Loader::read_space(const std::string& prefix, const toml::table& table, const Source& source,
                        Entries& out) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix + std::string(k.str());
    const Slot slot = classify(key);
    if (node.is_table() && !is_distribution_table(node) &&
        (slot == Slot::table || slot == Slot::plugin_table)) {
      read_space(key + ".", *node.as_table(), source, out);
      continue;
    }
    const Origin origin = source.at(k.source());
    // A plugin table searched by its plugins' names: "optimizer" = { choice = ["adamw", "lion"] }.
    const std::string full = slot == Slot::plugin_table ? key + ".plugin" : key;
    if (!check_varied_key(full, origin, "search.space." + key, true)) continue;
    out.insert_or_assign(full, Entry{&node, origin, source.at(node.source())});
  }
}

std::vector<RunSpec> expand_search(const Layers& layers, Loader& loader,
                                   std::optional<SearchPlan>& plan) {
  const SearchLayer& search = layers.search;
  const size_t problems_before = loader.problems.size();
  std::map<std::string, OptionValue> values;
  for (const auto& spec : setting_specs()) {
    const auto it = search.settings.find(spec.name);
    values[spec.name] = spec.default_value;
    if (it == search.settings.end()) continue;
    OptionValue value;
    const auto problems = check_node(spec, *it->second.node, value);
    for (const auto& p : problems)
      loader.problem(place_of(it->second, p.element), "search." + spec.name, p.message);
    if (problems.empty()) values[spec.name] = value;
  }
  const auto given = [&](const std::string& name) { return search.settings.count(name) > 0; };
  const auto place = [&](const std::string& name) { return search.settings.at(name).key_origin; };
  const std::string method = std::get<std::string>(values["method"]);
  if (!given("method")) {
    loader.problem(search.origin, "search.method",
                   "missing: a [search] names its method, \"grid\", \"random\" or \"asha\"",
                   "method = \"asha\", with trials, metric and min_iters");
    return {};
  }
  if (loader.problems.size() > problems_before &&
      std::any_of(loader.problems.begin() + long(problems_before), loader.problems.end(),
                  [](const Problem& p) { return p.key == "search.method"; }))
    return {};  // the rest depends on the method
  if (method == "grid") {
    for (const auto& [name, entry] : search.settings)
      if (name != "method")
        loader.problem(entry.key_origin, "search." + name, "only for method \"random\" or \"asha\"",
                       "method \"grid\" runs every run of the [sweep]");
    for (const auto& [key, entry] : search.space)
      loader.problem(entry.key_origin, "search.space." + key,
                     "a space is searched by method \"random\" or \"asha\"",
                     "method \"grid\" runs every run of the [sweep]");
    return expand_sweep(layers, loader);
  }
  if (method == "random")
    for (const std::string name : {"min_iters", "reduction_factor"})
      if (given(name))
        loader.problem(place(name), "search." + name, "only for method \"asha\"");
  if (method == "asha" && !given("min_iters"))
    loader.problem(search.origin, "search.min_iters",
                   "missing: asha needs the steps of its first rung",
                   "min_iters = 200: rungs at min_iters x reduction_factor^k, the last at "
                   "train.max_iters");
  if (search.space.empty())
    loader.problem(search.origin, "search.space",
                   "missing: a " + method + " search draws its trials from [search.space]",
                   distribution_hint);

  // Each key of the space: one distribution of the right arguments, whose every possible value
  // (both ends of a range, each element of a choice) makes a valid run.
  std::vector<Dimension> dimensions;
  for (const auto& [key, entry] : search.space) {
    const std::string shown = "search.space." + key;
    const auto* table = entry.node->as_table();
    if (!table || table->size() != 1) {
      loader.problem(entry.value_origin, shown,
                     "expected one distribution, got " + describe(*entry.node), distribution_hint);
      continue;
    }
    const std::string name(table->cbegin()->first.str());
    const toml::node& arguments = table->cbegin()->second;
    const Origin at = Source{entry.value_origin.file, entry.value_origin.from_set}.at(
        table->cbegin()->first.source());
    const auto known = std::find(distribution_names.begin(), distribution_names.end(), name);
    if (known == distribution_names.end()) {
      loader.problem(at, shown, "unknown distribution '" + name + "'" +
                                    did_you_mean_hint(name, distribution_names),
                     distribution_hint);
      continue;
    }
    Dimension d{key, Distribution(known - distribution_names.begin()), name, 0, 0,
                arguments.as_array(), entry};
    const Origin args_at = Source{at.file, at.from_set}.at(arguments.source());
    if (d.distribution == Distribution::choice) {
      if (!d.arguments || d.arguments->empty()) {
        loader.problem(args_at, shown, "expected a non-empty array of values, got " + describe(arguments),
                       "choice = [\"adamw\", \"lion\"]");
        continue;
      }
      d.high = double(d.arguments->size() - 1);
    } else {
      const bool integers = d.distribution == Distribution::int_uniform;
      const auto bound_ok = [&](const toml::node& n) {
        return integers ? n.is_integer() : n.is_number();
      };
      if (!d.arguments || d.arguments->size() != 2 || !bound_ok(*d.arguments->get(0)) ||
          !bound_ok(*d.arguments->get(1))) {
        loader.problem(args_at, shown,
                       "expected [low, high], two " + std::string(integers ? "integers" : "numbers") +
                           ", got " + describe(arguments),
                       name + " = [" + (integers ? "2, 6" : "0.0, 0.3") + "]");
        continue;
      }
      d.low = d.arguments->get(0)->value<double>().value_or(0);
      d.high = d.arguments->get(1)->value<double>().value_or(0);
      const std::string range = node_text(arguments);
      if (!std::isfinite(d.low) || !std::isfinite(d.high)) {
        loader.problem(args_at, shown, "the bounds must be finite numbers, got " + range);
        continue;
      }
      if (d.low > d.high || (d.low == d.high && !integers)) {
        loader.problem(args_at, shown,
                       (d.low > d.high ? "a reversed range " : "an empty range ") + range +
                           ": " + name + " needs low " + (integers ? "<=" : "<") + " high",
                       integers ? "" : "a key of one value is set in its table, not searched");
        continue;
      }
      if (d.distribution == Distribution::log_uniform && d.low <= 0) {
        loader.problem(args_at, shown,
                       "log_uniform needs bounds > 0, got " + range,
                       "use uniform for a range that holds 0 or negative numbers");
        continue;
      }
      if (const auto* spec = find_key(key);
          spec && spec->type() == KeyType::integer && !integers) {
        loader.problem(at, shown, key + " is an integer; " + name + " draws fractions",
                       "\"" + key + "\" = { int_uniform = [" + node_text(*d.arguments->get(0)) +
                           ", " + node_text(*d.arguments->get(1)) + "] }");
        continue;
      }
    }
    if (std::any_of(layers.sweep.begin(), layers.sweep.end(),
                    [&key = key](const Axis& a) { return a.sets(key); })) {
      loader.problem(entry.key_origin, shown, key + " is searched and swept",
                     "a key is varied by [sweep] or by [search.space], not both");
      continue;
    }
    // The values at the ends, checked as the key's value in a run (its type and range, and the
    // rules across keys with the file's other values).
    for (const toml::node& value : *d.arguments) {
      Entries entries = layers.entries;
      assign(entries, {{key, Entry{&value, entry.key_origin,
                                   Source{at.file, at.from_set}.at(value.source())}}});
      resolve(entries, loader, false);
    }
    dimensions.push_back(std::move(d));
  }
  if (loader.problems.size() > problems_before) return {};

  // Trials: the sweep's runs once for each, the trial's values over the file's.
  size_t per_trial = 1;
  for (const Axis& axis : layers.sweep) per_trial = std::min<size_t>(per_trial * axis.size(), 100001);
  const int64_t trials = std::get<int64_t>(values["trials"]);
  if (per_trial * size_t(trials) > 100000) {
    loader.problem(given("trials") ? place("trials") : search.origin, "search.trials",
                   std::to_string(trials) + " trials of " + std::to_string(per_trial) +
                       " runs each make more than 100000 runs");
    return {};
  }
  uint64_t seed = uint64_t(default_config().seed);
  if (const auto it = layers.entries.find("experiment.seed"); it != layers.entries.end())
    seed = uint64_t(it->second.node->value<int64_t>().value_or(int64_t(seed)));
  const size_t digits = std::to_string(trials).size();
  std::vector<RunSpec> runs;
  for (int64_t t = 0; t < trials; ++t) {
    toml::table drawn;
    for (size_t i = 0; i < dimensions.size(); ++i) {
      const Dimension& d = dimensions[i];
      const double v = search_value(d.distribution, d.low, d.high, search_draw(seed, t, d.key));
      if (d.distribution == Distribution::uniform || d.distribution == Distribution::log_uniform)
        drawn.insert(std::to_string(i), v);
      else if (d.distribution == Distribution::int_uniform)
        drawn.insert(std::to_string(i), int64_t(v));
    }
    const toml::table& kept = loader.keep(std::move(drawn));
    Layers trial = layers;
    Entries set;
    for (size_t i = 0; i < dimensions.size(); ++i) {
      const Dimension& d = dimensions[i];
      const toml::node* value =
          d.distribution == Distribution::choice
              ? d.arguments->get(size_t(search_value(d.distribution, d.low, d.high,
                                                     search_draw(seed, t, d.key))))
              : kept.get(std::to_string(i));
      set.insert_or_assign(d.key, Entry{value, d.entry.key_origin, d.entry.value_origin});
    }
    assign(trial.entries, set);
    std::string label = std::to_string(t + 1);
    label = "trial-" + std::string(digits - label.size(), '0') + label;
    for (RunSpec& run : expand_sweep(trial, loader)) {
      run.name = label + (run.name == "run" ? "" : "," + run.name);
      if (const std::string problem = folder_name_problem(run.name); !problem.empty())
        loader.problem(search.origin, "search", "the name of run '" + run.name + "' " + problem,
                       "sweep or --set fewer keys");
      for (const auto& [key, entry] : set) run.swept[key] = node_text(*entry.node);
      runs.push_back(std::move(run));
    }
  }
  if (runs.empty()) return runs;

  SearchPlan p;
  p.method = method;
  p.trials = trials;
  p.metric = std::get<std::string>(values["metric"]);
  p.maximize = std::get<std::string>(values["mode"]) == "max";
  p.min_iters = std::get<int64_t>(values["min_iters"]);
  p.reduction_factor = std::get<int64_t>(values["reduction_factor"]);
  p.max_iters = runs.front().config.max_iters;
  p.runs_per_trial = per_trial;
  for (const Dimension& d : dimensions)
    p.space.push_back({d.key, d.name, node_text(*d.arguments)});
  if (const std::string problem = metric_problem(p.metric); !problem.empty()) {
    loader.problem(place_of(search.settings.at("metric"), std::nullopt), "search.metric", problem,
                   "metric = \"val/loss\", or any column of /metrics in run.h5 (GROUP/NAME: "
                   "train/loss, train/grad_norm, loss/<name>, ...; docs/run-format.md)");
    return {};
  }
  for (const RunSpec& run : runs) {
    if (p.metric == "val/accuracy" && run.config.dataset.rfind("synthetic:", 0) != 0) {
      loader.problem(place("metric"), "search.metric",
                     "no run of " + run.config.dataset +
                         " writes val/accuracy: only the synthetic tasks have an accuracy",
                     "metric = \"val/loss\"");
      return {};
    }
    if (method == "asha" && run.config.max_iters != p.max_iters) {
      loader.problem(search.origin, "search.method",
                     "asha needs one train.max_iters for every run (its last rung); run " +
                         run.name + " has " + std::to_string(run.config.max_iters) + ", run " +
                         runs.front().name + " " + std::to_string(p.max_iters),
                     "sweep or search other keys than train.max_iters");
      return {};
    }
  }
  if (method == "asha" && p.min_iters > p.max_iters) {
    loader.problem(place("min_iters"), "search.min_iters",
                   "the first rung, " + std::to_string(p.min_iters) +
                       ", is above train.max_iters = " + std::to_string(p.max_iters),
                   "min_iters <= train.max_iters; rungs at min_iters x reduction_factor^k");
    return {};
  }
  plan = std::move(p);
  return runs;
}

}  // namespace nanolab::config
