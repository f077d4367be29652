// `nanolab tokenizer train|encode|decode`: a tokenizer plugin outside an experiment
// (docs/cli.md, docs/tokenizers.md).
//
//   train TEXT_FILE|- --vocab-size N -o|--out FILE [--plugin bpe] [--pattern P] [--option k=v]...
//   encode (--tokenizer FILE | --gpt2 DIR) [--plugin bpe] [--option k=v]... [--count] [FILE|- | --text S]
//   encode (--tokenizer FILE | --gpt2 DIR) ... --shards DIR [--shard-tokens N] [--val-tokens N]
//          [--prefix NAME] FILE|-
//   decode (--tokenizer FILE | --gpt2 DIR) [--plugin bpe] [--option k=v]... IDS...|-
//
// A tokenizer file holds what the plugin's save() returns; `-o NAME.model` asks the plugin for
// minbpe's .model format instead (its option save_format = "minbpe"). `encode` prints the ids on
// one line (or only their number); `decode` writes the bytes exactly, with no newline added, so
// `encode F | decode -` gives F back; `encode --shards DIR` writes llm.c shards instead
// (nanolab/encode_shards.hpp), with its progress on stderr. Timing and sizes go to stderr, results to stdout. A file
// that cannot be read or that the plugin refuses is a data error (exit 3) naming the file.
// This command does not know any plugin's file format: it only moves bytes to and from save()/load().
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nanolab/encode_shards.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/input_file.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/registry.hpp"

namespace nanolab::cli {
namespace {

namespace fs = std::filesystem;

// A whole file of at most `max_bytes` (input_file.hpp), or standard input for "-"; DataError
// naming the file.
std::string read_file_or_stdin(const std::string& path, uint64_t max_bytes) {
  if (path == "-") {
    std::ostringstream s;
    s << std::cin.rdbuf();
    // A signal ends a read from a terminal or a pipe early (EINTR): not the end of the input.
    throw_if_interrupted();
    return s.str();
  }
  std::string bytes;
  if (const std::string reason = read_input(path, max_bytes, bytes); !reason.empty())
    throw DataError("cannot read '" + path + "': " + reason);
  return bytes;
}

// `--option k=v` values typed by the plugin's schema, so that `vocab_size=4096` reaches an integer
// option as an integer; a name the schema lacks passes through for validation to name it.
std::map<std::string, OptionValue> typed_options(const LoadedPlugin& plugin,
                                                 const std::vector<std::string>& assignments) {
  std::map<std::string, OptionValue> given;
  for (const std::string& kv : assignments) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError("--option: expected NAME=VALUE, got '" + kv + "'");
    const std::string name = kv.substr(0, eq), text = kv.substr(eq + 1);
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : flat_options(plugin.descriptor->options))
      if (s.name == name) spec = &s;
    auto bad = [&](const char* expected) {
      return ConfigError("--option " + name + ": expected " + expected + ", got '" + text + "'");
    };
    char* end = nullptr;
    if (!spec || spec->type == OptionType::string) {
      given[name] = text;
    } else if (spec->type == OptionType::boolean) {
      if (text != "true" && text != "false") throw bad("true or false");
      given[name] = text == "true";
    } else if (spec->type == OptionType::integer) {
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0') throw bad("an integer");
      given[name] = int64_t(v);
    } else if (spec->type == OptionType::number) {
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0') throw bad("a number");
      given[name] = v;
    } else if (spec->type == OptionType::string_list) {
      std::vector<std::string> list;
      std::istringstream items(text);
      for (std::string item; std::getline(items, item, ',');) list.push_back(item);
      given[name] = list;
    } else {
      std::vector<double> list;
      std::istringstream items(text);
      for (std::string item; std::getline(items, item, ',');) {
        const double v = std::strtod(item.c_str(), &end);
        if (item.empty() || *end != '\0') throw bad("numbers separated by commas");
        list.push_back(v);
      }
      given[name] = list;
    }
  }
  return given;
}

// The plugin named by --plugin (default bpe) with the options given, `defaults` first so that an
// --option of the same name wins.
std::unique_ptr<Tokenizer> make(const Parsed& a, std::map<std::string, OptionValue> defaults) {
  const Registry& registry = Registry::instance();
  const LoadedPlugin& plugin = registry.find(PluginKind::tokenizer, a.get("--plugin", "bpe"), "--plugin");
  for (auto& [k, v] : typed_options(plugin, a.all("--option"))) defaults[k] = v;
  return registry.make<PluginKind::tokenizer>(plugin.descriptor->name, defaults);
}

// The tokenizer of --tokenizer FILE (the plugin's saved bytes, or any format its load() reads) or
// of --gpt2 DIR (GPT-2's encoder.json + vocab.bpe, with <|endoftext|> as id 50256).
std::unique_ptr<Tokenizer> open_tokenizer(const Parsed& a) {
  if (a.has("--tokenizer") == a.has("--gpt2"))
    throw ConfigError("give one of --tokenizer FILE or --gpt2 DIR");
  if (a.has("--gpt2")) {
    const fs::path dir = a.get("--gpt2");
    return make(a, {{"encoder_json", (dir / "encoder.json").string()},
                    {"vocab_bpe", (dir / "vocab.bpe").string()},
                    {"special_tokens", std::vector<std::string>{"<|endoftext|>"}}});
  }
  const std::string path = a.get("--tokenizer");
  const std::string bytes = read_file_or_stdin(path, input_limit::tokenizer);
  std::unique_ptr<Tokenizer> tok = make(a, {});
  try {
    tok->load(bytes);
  } catch (const DataError& e) {
    throw DataError("'" + path + "' is not a tokenizer the " + a.get("--plugin", "bpe") +
                    " plugin can read: " + e.what());
  }
  return tok;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Written to a temporary name beside FILE and renamed, so that a failed write never leaves a
// truncated tokenizer under the final name.
void write_file(const fs::path& path, const std::string& bytes) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    if (!f.flush()) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw StorageError("cannot write '" + path.string() + "'");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw StorageError("cannot write '" + path.string() + "': " + ec.message());
}

int train(const Parsed& a) {
  const std::string input = a.get("TEXT_FILE|-");
  const double vocab_size = a.number("--vocab-size", 0);
  if (vocab_size < 1 || vocab_size != double(int64_t(vocab_size)))
    throw ConfigError("--vocab-size: expected a positive integer, got '" + a.get("--vocab-size") + "'");
  const fs::path out = a.get("--out");
  std::map<std::string, OptionValue> defaults;
  if (a.has("--pattern")) defaults["pattern"] = a.get("--pattern");
  if (out.extension() == ".model") {
    const LoadedPlugin& plugin =
        Registry::instance().find(PluginKind::tokenizer, a.get("--plugin", "bpe"), "--plugin");
    bool writes_minbpe = false;
    for (const OptionSpec& s : flat_options(plugin.descriptor->options))
      if (s.name == "save_format")
        for (const std::string& c : s.choices) writes_minbpe |= c == "minbpe";
    if (!writes_minbpe)
      throw ConfigError("-o " + out.string() + ": a .model file is minbpe's format, which the " +
                        plugin.descriptor->name + " plugin cannot write; use another extension");
    defaults["save_format"] = std::string("minbpe");
  }
  std::unique_ptr<Tokenizer> tok = make(a, defaults);

  const std::string text = read_file_or_stdin(input, input_limit::text);
  if (text.empty())
    throw DataError("'" + input +
                    "' is empty: there is no text to train the tokenizer "
                    "on; hint: give the text file the tokenizer should learn from");
  std::fprintf(stderr, "training %s to vocab %lld on %zu bytes of %s\n",
               a.get("--plugin", "bpe").c_str(), static_cast<long long>(vocab_size), text.size(),
               input.c_str());
  const auto start = std::chrono::steady_clock::now();
  tok->train(text, int64_t(vocab_size));
  std::fprintf(stderr, "trained in %.3f s: vocab %lld\n", seconds_since(start),
               static_cast<long long>(tok->vocab_size()));
  if (tok->vocab_size() != int64_t(vocab_size))
    std::fprintf(stderr, "note: the text gave a vocab of %lld, not %lld (too little text to merge)\n",
                 static_cast<long long>(tok->vocab_size()), static_cast<long long>(vocab_size));
  std::string saved;
  try {
    saved = tok->save();
  } catch (const ConfigError& e) {
    if (out.extension() != ".model") throw;
    throw ConfigError(std::string(e.what()) + "; -o with another extension than .model writes it");
  }
  write_file(out, saved);
  std::fprintf(stderr, "wrote %s (%zu bytes)\n", out.c_str(), saved.size());
  return 0;
}

// A count option of --shards: a whole number in [1, 2^31 - 1] (llm.c's header holds an int32).
int64_t token_count(const Parsed& a, const std::string& name, int64_t fallback) {
  const double v = a.number(name, double(fallback));
  if (v < 1 || v > 2147483647.0 || v != double(int64_t(v)))
    throw ConfigError(name + ": expected a whole number of tokens from 1 to 2147483647, got '" +
                      a.get(name) + "'");
  return int64_t(v);
}

int encode_to_shards(const Parsed& a) {
  if (a.positional().size() != 1 || a.has("--text") || a.has("--count"))
    throw ConfigError("encode --shards needs one FILE (or -), and neither --text nor --count");
  data::ShardPlan plan;
  plan.shard_tokens = token_count(a, "--shard-tokens", plan.shard_tokens);
  if (a.has("--val-tokens")) plan.val_tokens = token_count(a, "--val-tokens", 1);
  const std::string input = a.positional()[0];
  plan.name = a.get("--prefix", input == "-" ? "tokens" : fs::path(input).stem().string());
  if (const std::string problem = folder_name_problem(plan.name); !problem.empty())
    throw ConfigError("--prefix '" + plan.name + "': " + problem);
  std::unique_ptr<Tokenizer> tok = open_tokenizer(a);
  const std::string text = read_file_or_stdin(input, input_limit::text);
  if (text.empty())
    throw DataError("'" + input + "' is empty: there is no text to encode into shards");

  // On a terminal one line updated in place; otherwise a line for every tenth of the text.
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const auto start = std::chrono::steady_clock::now();
  int tenths = 0;
  auto progress = [&](uint64_t done, uint64_t total) {
    const double mb = double(done) / 1e6, rate = mb / std::max(seconds_since(start), 1e-9);
    if (tty) {
      std::fprintf(stderr, "\rencoding %s: %.1f / %.1f MB, %.1f MB/s", input.c_str(), mb,
                   double(total) / 1e6, rate);
    } else if (done * 10 >= uint64_t(tenths + 1) * total) {
      tenths = int(done * 10 / total);
      std::fprintf(stderr, "encoding %s: %.1f / %.1f MB, %.1f MB/s\n", input.c_str(), mb,
                   double(total) / 1e6, rate);
    }
  };
  const data::ShardSummary s = data::encode_shards(*tok, text, a.get("--shards"), plan, progress);
  std::fprintf(stderr,
               "%swrote %zu shards to %s: val %lld tokens, train %lld tokens; %zu bytes in %.3f s "
               "(%.1f MB/s)\n",
               tty ? "\n" : "", s.files.size(), a.get("--shards").c_str(),
               static_cast<long long>(s.val_tokens), static_cast<long long>(s.train_tokens),
               text.size(), seconds_since(start), double(text.size()) / 1e6 / seconds_since(start));
  return 0;
}

int encode(const Parsed& a) {
  if (a.has("--shards")) return encode_to_shards(a);
  for (const char* name : {"--shard-tokens", "--val-tokens", "--prefix"})
    if (a.has(name)) throw ConfigError(std::string(name) + " needs --shards DIR");
  if (a.positional().size() + size_t(a.has("--text")) != 1)
    throw ConfigError("encode needs one FILE (or -) or --text S");
  std::unique_ptr<Tokenizer> tok = open_tokenizer(a);
  const std::string text =
      a.has("--text") ? a.get("--text") : read_file_or_stdin(a.positional()[0], input_limit::text);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = tok->encode(text);
  const double s = seconds_since(start);
  std::fprintf(stderr, "encoded %zu bytes to %zu tokens in %.3f s\n", text.size(), ids.size(), s);
  if (a.has("--count")) {
    std::printf("%zu\n", ids.size());
    return 0;
  }
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  return 0;
}

int decode(const Parsed& a) {
  std::unique_ptr<Tokenizer> tok = open_tokenizer(a);
  std::vector<std::string> words = a.positional();
  if (words.size() == 1 && words[0] == "-") {
    words.clear();
    for (std::string w; std::cin >> w;) words.push_back(w);
  }
  std::vector<int32_t> ids;
  for (size_t i = 0; i < words.size(); ++i) {
    char* end = nullptr;
    const long long v = std::strtoll(words[i].c_str(), &end, 10);
    if (words[i].empty() || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
      throw DataError("id " + std::to_string(i) + " is not an integer: '" + words[i] + "'");
    ids.push_back(int32_t(v));
  }
  const std::string text = tok->decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

// --plugin and --option, which every subcommand takes, and --tokenizer or --gpt2, which encode and
// decode read.
void add_plugin_options(CLI::App* app) {
  add_value(app, "--plugin", "NAME", "the tokenizer plugin (default: bpe)");
  add_repeated(app, "--option", "NAME=VALUE",
               "an option of the plugin (`nanolab plugins show bpe` lists them)");
}

void add_tokenizer_file(CLI::App* app) {
  add_value(app, "--tokenizer", "FILE",
            "a tokenizer file: one the plugin saved, or a minbpe .model");
  add_value(app, "--gpt2", "DIR", "GPT-2's tokenizer: DIR/encoder.json and DIR/vocab.bpe");
}

}  // namespace

void add_tokenizer(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "tokenizer",
      "a tokenizer outside an experiment: train one to a file, encode text to ids, "
      "decode ids");
  app->require_subcommand(1);

  CLI::App* train_app = app->add_subcommand(
      "train",
      "train the plugin on a text and write what it saves to a file (.model: minbpe's "
      "format)");
  add_positional(train_app, "TEXT_FILE|-", "the text to train on (-: standard input)");
  add_value(train_app, "--vocab-size", "N", "the vocabulary to reach")->required();
  add_value(train_app, "-o,--out", "FILE", "the tokenizer file to write")->required();
  add_value(train_app, "--pattern", "P", "short for --option pattern=P");
  add_plugin_options(train_app);
  commands.push_back({train_app, train});

  CLI::App* encode_app = app->add_subcommand(
      "encode", "text to ids on one line (or their number), or to llm.c shards with --shards");
  add_positional(encode_app, "FILE|-", "the text to encode (-: standard input)", 0, 1);
  add_tokenizer_file(encode_app);
  add_plugin_options(encode_app);
  add_value(encode_app, "--text", "S", "encode S instead of a file");
  add_flag(encode_app, "--count", "print only the number of ids");
  add_value(encode_app, "--shards", "DIR", "write the ids as llm.c shards into DIR");
  add_value(encode_app, "--shard-tokens", "N", "ids per train shard (default: 100,000,000)");
  add_value(encode_app, "--val-tokens", "N", "ids of the val shard (default: a tenth)");
  add_value(encode_app, "--prefix", "NAME", "the shards' name (default: the file's, no extension)");
  commands.push_back({encode_app, encode});

  CLI::App* decode_app =
      app->add_subcommand("decode", "ids to text, written exactly (no newline added)");
  add_positional(decode_app, "IDS|-", "the ids (-: read them from standard input)", 1, -1);
  add_tokenizer_file(decode_app);
  add_plugin_options(decode_app);
  commands.push_back({decode_app, decode});
}

}  // namespace nanolab::cli
