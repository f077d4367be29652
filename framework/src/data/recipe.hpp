// Dataset recipes (datasets/<name>/recipe.toml) and the lookup of their raw files. Internal to
// data/.
//
// A recipe says where a raw file comes from, its sha256 and how it is split into train and val.
// The raw file is looked up in $NANOLAB_DATA/<name>/<file>, then in <cache>/<name>/<file>; nanolab
// never downloads it (the message says from where and to where). Not a dataset: reading,
// tokenizing and sharding are text_dataset's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace nanolab::data {

struct Recipe {
  std::string name;                 // the folder name in datasets/
  std::filesystem::path file;       // the recipe.toml it was read from
  std::string url;                  // where the raw file comes from
  std::string raw_file;             // its file name, e.g. input.txt
  std::string sha256;               // 64 lowercase hex digits
  int64_t size = -1;                // bytes, -1 when the recipe does not say
  double train_fraction = 0.9;      // first fraction of the bytes is train, the rest val
};

// Reads datasets/<name>/recipe.toml under `recipes`; DataError naming the file on a missing
// recipe, a syntax error, an unknown key or a missing or malformed value.
Recipe load_recipe(const std::filesystem::path& recipes, const std::string& name);

// The raw file of `recipe`: $NANOLAB_DATA/<name>/<file>, else <cache>/<name>/<file>; DataError
// saying where to put it and where it comes from when neither exists.
std::filesystem::path find_raw_file(const Recipe& recipe, const std::filesystem::path& cache);

// DataError naming `file`, the expected and the actual sha256 when they differ.
void check_sha256(const Recipe& recipe, const std::filesystem::path& file, int64_t actual_size,
                  const std::string& actual_sha256);

}  // namespace nanolab::data
