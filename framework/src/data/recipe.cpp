// Recipe files and raw-file lookup (recipe.hpp). A recipe is read strictly, like an experiment: an
// unknown key is an error rather than a silently ignored typo, since a misspelled sha256 key would
// otherwise switch the checksum off.
#include "data/recipe.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <toml++/toml.h>

#include "nanolab/errors.hpp"
#include "nanolab/input_file.hpp"

namespace nanolab::data {
namespace {

std::string where(const toml::source_region& source) {
  return std::to_string(source.begin.line) + ":" + std::to_string(source.begin.column);
}

class RecipeReader {
 public:
  RecipeReader(const std::filesystem::path& file, const toml::table& root) : file_(file), root_(root) {}

  // Every key of `table` (at `path`) must be one of `known`.
  void only(const toml::table& table, const std::string& path, const std::set<std::string>& known) {
    for (const auto& [key, node] : table) {
      if (!known.contains(std::string(key.str())))
        fail(where(key.source()), "unknown key '" + path + std::string(key.str()) + "'");
    }
  }

  template <class T>
  std::optional<T> get(const std::string& key_path, const char* type) {
    const toml::node_view<const toml::node> node = root_.at_path(key_path);
    if (!node) return std::nullopt;
    if (auto v = node.value_exact<T>()) return v;
    if constexpr (std::is_same_v<T, double>) {
      if (auto i = node.value_exact<int64_t>()) return double(*i);
    }
    fail(where(node.node()->source()), "'" + key_path + "' must be " + type);
  }

  template <class T>
  T require(const std::string& key_path, const char* type) {
    auto v = get<T>(key_path, type);
    if (!v) fail("", "missing '" + key_path + "' (" + type + ")");
    return *v;
  }

  [[noreturn]] void fail(const std::string& at, const std::string& what) const {
    throw DataError("dataset recipe " + file_.string() + (at.empty() ? "" : ":" + at) + ": " + what);
  }

 private:
  std::filesystem::path file_;
  const toml::table& root_;
};

}  // namespace

Recipe load_recipe(const std::filesystem::path& recipes, const std::string& name) {
  Recipe r;
  r.name = name;
  r.file = recipes / name / "recipe.toml";
  if (!std::filesystem::is_regular_file(r.file)) {
    std::string known;
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(recipes, ec))
      if (std::filesystem::is_regular_file(entry.path() / "recipe.toml")) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw DataError("dataset '" + name + "': no recipe " + r.file.string() +
                    (known.empty() ? " (the recipes folder " + recipes.string() + " has none;" +
                                         " set NANOLAB_RECIPES to the project's datasets/ folder)"
                                   : " (recipes: " + known + ")") +
                    "; a path to a text file needs a '/' or the .txt suffix");
  }
  const std::string text = read_input(r.file, ExitCode::data, input_limit::experiment);
  toml::table root;
  try {
    root = toml::parse(text, r.file.string());
  } catch (const toml::parse_error& e) {
    throw DataError("dataset recipe " + r.file.string() + ":" + where(e.source()) + ": " +
                    std::string(e.description()));
  }
  RecipeReader in(r.file, root);
  in.only(root, "", {"description", "source", "split"});
  if (const auto* source = root["source"].as_table()) in.only(*source, "source.", {"url", "file", "sha256", "size"});
  if (const auto* split = root["split"].as_table()) in.only(*split, "split.", {"train_fraction"});

  in.get<std::string>("description", "a string");  // for people reading the recipe; checked, not used
  r.url = in.require<std::string>("source.url", "a string");
  r.raw_file = in.require<std::string>("source.file", "a string");
  r.sha256 = in.require<std::string>("source.sha256", "a string");
  r.size = in.get<int64_t>("source.size", "an integer").value_or(-1);
  r.train_fraction = in.get<double>("split.train_fraction", "a number").value_or(0.9);

  // The raw file name is joined to two folders: a '/' or ".." would let it point elsewhere.
  if (r.raw_file.empty() || r.raw_file.find('/') != std::string::npos || r.raw_file == "." || r.raw_file == "..")
    in.fail("", "'source.file' must be a plain file name, not '" + r.raw_file + "'");
  const bool hex = r.sha256.size() == 64 && std::all_of(r.sha256.begin(), r.sha256.end(), [](char c) {
                     return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                   });
  if (!hex) in.fail("", "'source.sha256' must be 64 lowercase hex digits, not '" + r.sha256 + "'");
  if (!(r.train_fraction > 0.0 && r.train_fraction < 1.0))
    in.fail("", "'split.train_fraction' must be in (0, 1), not " + std::to_string(r.train_fraction));
  return r;
}

std::filesystem::path find_raw_file(const Recipe& recipe, const std::filesystem::path& cache) {
  const char* env = std::getenv("NANOLAB_DATA");
  const bool have_env = env && *env;
  std::filesystem::path from_env;
  if (have_env) {
    from_env = std::filesystem::path(env) / recipe.name / recipe.raw_file;
    if (std::filesystem::is_regular_file(from_env)) return from_env;
  }
  const std::filesystem::path from_cache = cache / recipe.name / recipe.raw_file;
  if (std::filesystem::is_regular_file(from_cache)) return from_cache;

  // Where to put it: under $NANOLAB_DATA when the user has one, so the data stays where they
  // keep data; otherwise the cache, which needs no setting.
  const std::filesystem::path target = have_env ? from_env : from_cache;
  throw DataError("dataset '" + recipe.name + "': raw file " + recipe.raw_file + " not found in " +
                  (have_env ? "$NANOLAB_DATA/" + recipe.name + " (" + from_env.parent_path().string() + ")"
                            : std::string("$NANOLAB_DATA/") + recipe.name + " (NANOLAB_DATA is not set)") +
                  " nor in the cache (" + from_cache.parent_path().string() + ").\nhint: download it from " +
                  recipe.url + " into " + target.string() + " (sha256 " + recipe.sha256 + ")");
}

void check_sha256(const Recipe& recipe, const std::filesystem::path& file, int64_t actual_size,
                  const std::string& actual_sha256) {
  if (actual_sha256 == recipe.sha256) return;
  std::string sizes;
  if (recipe.size >= 0 && recipe.size != actual_size)
    sizes = " (the file has " + std::to_string(actual_size) + " bytes, the recipe expects " +
            std::to_string(recipe.size) + ")";
  throw DataError("dataset '" + recipe.name + "': checksum mismatch for " + file.string() +
                  ": expected sha256 " + recipe.sha256 + ", actual " + actual_sha256 + sizes +
                  ".\nhint: the file is damaged or a different version; download it again from " + recipe.url);
}

}  // namespace nanolab::data
