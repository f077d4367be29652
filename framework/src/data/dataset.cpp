// open_dataset and default_data_paths (data.hpp): what a `dataset = "..."` value names, and where
// recipes and the cache live.
//
// The recipes folder is $NANOLAB_RECIPES, else found from where libnanolab.so is: in the build
// tree (lib/ of the build, known at compile time as NANOLAB_BUILD_LIB_DIR) it is the source tree's
// datasets/ (NANOLAB_SOURCE_DATASETS_DIR); in an installation it is NANOLAB_DATASETS_FROM_LIBDIR
// relative to the library's folder (<prefix>/share/nanolab/datasets). All three are compile
// definitions of this file only (framework/CMakeLists.txt).
#include <cstdlib>

#include "data/recipe.hpp"
#include "data/shard_dataset.hpp"
#include "data/synthetic.hpp"
#include "data/text_dataset.hpp"
#include "nanolab/data.hpp"
#include "nanolab/errors.hpp"
#include "runtime/library_dir.hpp"

namespace nanolab {
namespace {

constexpr std::string_view synthetic_prefix = "synthetic:";

std::filesystem::path env_path(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::filesystem::path(v) : std::filesystem::path();
}

std::filesystem::path default_recipes() {
  if (auto dir = env_path("NANOLAB_RECIPES"); !dir.empty()) return dir;
  const std::filesystem::path lib_dir = runtime::library_dir();
  std::error_code ec;
  if (lib_dir.empty() || std::filesystem::equivalent(lib_dir, NANOLAB_BUILD_LIB_DIR, ec))
    return NANOLAB_SOURCE_DATASETS_DIR;
  return (lib_dir / NANOLAB_DATASETS_FROM_LIBDIR).lexically_normal();
}

std::filesystem::path default_cache() {
  // XDG base directories: a relative XDG_CACHE_HOME is invalid and ignored.
  if (auto xdg = env_path("XDG_CACHE_HOME"); xdg.is_absolute()) return xdg / "nanolab";
  if (auto home = env_path("HOME"); !home.empty()) return home / ".cache" / "nanolab";
  return std::filesystem::temp_directory_path() / "nanolab-cache";
}

}  // namespace

DataPaths default_data_paths() { return {default_recipes(), default_cache()}; }

bool names_token_files(const std::string& dataset) {
  std::error_code ec;
  return dataset.ends_with(".bin") ||
         (dataset.find('/') != std::string::npos && std::filesystem::is_directory(dataset, ec));
}

std::string missing_dataset_files(const std::string& name, const DataPaths& paths) {
  if (name.empty() || name.starts_with(synthetic_prefix)) return "";
  if (names_token_files(name) || name.find('/') != std::string::npos || name.ends_with(".txt")) {
    std::error_code ec;
    return std::filesystem::exists(name, ec) ? ""
                                             : "dataset '" + name + "': " + name + ": no such file";
  }
  try {
    data::find_raw_file(data::load_recipe(paths.recipes, name), paths.cache);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

std::unique_ptr<Dataset> open_dataset(const ExperimentConfig& config, Tokenizer& tokenizer,
                                      const DataPaths& paths) {
  const std::string& name = config.dataset;
  if (name.empty()) throw DataError("no dataset given (data.dataset is empty)");
  if (name.starts_with(synthetic_prefix))
    return std::make_unique<data::SyntheticTask>(name.substr(synthetic_prefix.size()), config.block_size);
  if (names_token_files(name))
    return std::make_unique<data::ShardDataset>(name, name, data::Recipe{}.train_fraction, config,
                                                tokenizer);
  if (name.find('/') != std::string::npos || name.ends_with(".txt"))
    return std::make_unique<data::TextDataset>(name, name, nullptr, data::Recipe{}.train_fraction, config,
                                               tokenizer, paths.cache);
  const data::Recipe recipe = data::load_recipe(paths.recipes, name);
  return std::make_unique<data::TextDataset>(name, data::find_raw_file(recipe, paths.cache), &recipe,
                                             recipe.train_fraction, config, tokenizer, paths.cache);
}

}  // namespace nanolab
