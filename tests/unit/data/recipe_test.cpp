// Recipes and raw-file lookup: $NANOLAB_DATA before the cache, the message for a missing file
// (where to put it, where it comes from), checksum mismatches, strict recipe files, the default
// paths, and the real tiny Shakespeare when $NANOLAB_DATA has it.
#include <gtest/gtest.h>

#include "data/recipe.hpp"
#include "data/text_dataset.hpp"
#include "data_test_util.hpp"
#include "runtime/sha256.hpp"
#include "support/skip.hpp"

namespace nanolab::test {
namespace {

const std::string tiny_text = [] {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "to be or not to be\n"[i % 19];
  return text;
}();
const std::string tiny_url = "https://example.org/tiny/input.txt";

// datasets/tiny/recipe.toml under `recipes`, for tiny_text unless told another checksum.
void write_tiny_recipe(const std::filesystem::path& recipes, const std::string& sha256 = runtime::sha256_hex(tiny_text)) {
  write_file(recipes / "tiny" / "recipe.toml",
             "description = \"a test\"\n[source]\nurl = \"" + tiny_url + "\"\nfile = \"input.txt\"\nsha256 = \"" +
                 sha256 + "\"\nsize = " + std::to_string(tiny_text.size()) + "\n[split]\ntrain_fraction = 0.9\n");
}

TEST(Recipe, MissingRawFileSaysWhereToPutItAndWhereItComesFrom) {
  ScratchDir dir;
  write_tiny_recipe(dir / "recipes");
  ScopedEnv data("NANOLAB_DATA", (dir / "data").string());
  TestByteTokenizer tok;
  const std::string msg = data_error(
      [&] { open_dataset(data_config("tiny", 8), tok, {dir / "recipes", dir / "cache"}); });
  EXPECT_NE(msg.find("$NANOLAB_DATA"), std::string::npos) << msg;
  EXPECT_NE(msg.find("download it from " + tiny_url + " into " + (dir / "data" / "tiny" / "input.txt").string()),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find((dir / "cache" / "tiny").string()), std::string::npos) << msg;
}

TEST(Recipe, MissingRawFileWithoutNanolabDataPointsToTheCache) {
  ScratchDir dir;
  write_tiny_recipe(dir / "recipes");
  ScopedEnv data("NANOLAB_DATA", std::nullopt);
  TestByteTokenizer tok;
  const std::string msg = data_error(
      [&] { open_dataset(data_config("tiny", 8), tok, {dir / "recipes", dir / "cache"}); });
  EXPECT_NE(msg.find("NANOLAB_DATA is not set"), std::string::npos) << msg;
  EXPECT_NE(msg.find("download it from " + tiny_url + " into " + (dir / "cache" / "tiny" / "input.txt").string()),
            std::string::npos)
      << msg;
}

TEST(Recipe, ChecksumMismatchNamesTheFileAndBothHashes) {
  ScratchDir dir;
  const std::string wrong = std::string(64, 'a');
  write_tiny_recipe(dir / "recipes", wrong);
  write_file(dir / "data" / "tiny" / "input.txt", tiny_text);
  ScopedEnv data("NANOLAB_DATA", (dir / "data").string());
  TestByteTokenizer tok;
  const std::string msg = data_error(
      [&] { open_dataset(data_config("tiny", 8), tok, {dir / "recipes", dir / "cache"}); });
  EXPECT_NE(msg.find((dir / "data" / "tiny" / "input.txt").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected sha256 " + wrong), std::string::npos) << msg;
  EXPECT_NE(msg.find("actual " + runtime::sha256_hex(tiny_text)), std::string::npos) << msg;
}

TEST(Recipe, NanolabDataComesBeforeTheCache) {
  ScratchDir dir;
  write_tiny_recipe(dir / "recipes");
  write_file(dir / "data" / "tiny" / "input.txt", tiny_text);
  write_file(dir / "cache" / "tiny" / "input.txt", tiny_text + "damaged");
  TestByteTokenizer tok;
  {
    ScopedEnv data("NANOLAB_DATA", (dir / "data").string());
    auto ds = open_dataset(data_config("tiny", 8), tok, {dir / "recipes", dir / "cache"});
    EXPECT_NE(ds->description().find((dir / "data" / "tiny" / "input.txt").string()), std::string::npos);
    EXPECT_EQ(dynamic_cast<data::TextDataset&>(*ds).tokens(Split::train).size(), 180u);
  }
  {  // Without NANOLAB_DATA the cache's copy is the one found, and its checksum is wrong.
    ScopedEnv data("NANOLAB_DATA", std::nullopt);
    const std::string msg = data_error(
        [&] { open_dataset(data_config("tiny", 8), tok, {dir / "recipes", dir / "cache"}); });
    EXPECT_NE(msg.find("checksum mismatch for " + (dir / "cache" / "tiny" / "input.txt").string()),
              std::string::npos)
        << msg;
  }
}

TEST(Recipe, UnknownKeyAndBadValuesAreErrorsNamingTheRecipe) {
  ScratchDir dir;
  const auto file = dir / "recipes" / "bad" / "recipe.toml";
  write_file(file, "[source]\nurl = \"u\"\nfile = \"input.txt\"\nsha265 = \"x\"\n");
  std::string msg = data_error([&] { data::load_recipe(dir / "recipes", "bad"); });
  EXPECT_NE(msg.find(file.string() + ":4:1: unknown key 'source.sha265'"), std::string::npos) << msg;

  write_file(file, "[source]\nurl = \"u\"\nfile = \"input.txt\"\nsha256 = \"abc\"\n");
  msg = data_error([&] { data::load_recipe(dir / "recipes", "bad"); });
  EXPECT_NE(msg.find("'source.sha256' must be 64 lowercase hex digits"), std::string::npos) << msg;

  write_file(file, "[source]\nurl = \"u\"\nfile = \"../x\"\nsha256 = \"" + std::string(64, '0') + "\"\n");
  msg = data_error([&] { data::load_recipe(dir / "recipes", "bad"); });
  EXPECT_NE(msg.find("'source.file' must be a plain file name"), std::string::npos) << msg;

  write_file(file, "[source]\nurl = \"u\"\nfile = \"input.txt\"\nsha256 = \"" + std::string(64, '0') +
                       "\"\n[split]\ntrain_fraction = 1.5\n");
  msg = data_error([&] { data::load_recipe(dir / "recipes", "bad"); });
  EXPECT_NE(msg.find("'split.train_fraction' must be in (0, 1)"), std::string::npos) << msg;

  write_file(file, "[source]\nurl = 3\n");
  msg = data_error([&] { data::load_recipe(dir / "recipes", "bad"); });
  EXPECT_NE(msg.find(file.string() + ":2:7: 'source.url' must be a string"), std::string::npos) << msg;
}

TEST(Recipe, UnknownDatasetListsTheRecipes) {
  ScratchDir dir;
  write_tiny_recipe(dir / "recipes");
  TestByteTokenizer tok;
  const std::string msg = data_error(
      [&] { open_dataset(data_config("tinyshakspeare", 8), tok, {dir / "recipes", dir / "cache"}); });
  EXPECT_NE(msg.find("no recipe " + (dir / "recipes" / "tinyshakspeare" / "recipe.toml").string()),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("(recipes: tiny)"), std::string::npos) << msg;
}

TEST(DataPaths, DefaultsFollowTheEnvironment) {
  {
    ScopedEnv recipes("NANOLAB_RECIPES", "/somewhere/recipes");
    ScopedEnv cache("XDG_CACHE_HOME", "/somewhere/cache");
    const DataPaths paths = default_data_paths();
    EXPECT_EQ(paths.recipes, "/somewhere/recipes");
    EXPECT_EQ(paths.cache, "/somewhere/cache/nanolab");
  }
  ScopedEnv recipes("NANOLAB_RECIPES", std::nullopt);
  ScopedEnv cache("XDG_CACHE_HOME", std::nullopt);
  ScopedEnv home("HOME", "/home/someone");
  const DataPaths paths = default_data_paths();
  // The unit tests run from the build tree, so the recipes are the source tree's datasets/.
  EXPECT_TRUE(std::filesystem::is_regular_file(paths.recipes / "tinyshakespeare" / "recipe.toml")) << paths.recipes;
  EXPECT_EQ(paths.cache, "/home/someone/.cache/nanolab");
  // The shipped recipe reads back as written.
  const data::Recipe r = data::load_recipe(paths.recipes, "tinyshakespeare");
  EXPECT_EQ(r.sha256, "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed");
  EXPECT_EQ(r.raw_file, "input.txt");
  EXPECT_EQ(r.size, 1115394);
  EXPECT_EQ(r.train_fraction, 0.9);
  EXPECT_EQ(r.url, "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt");
}

TEST(Recipe, RealTinyShakespeare) {
  const char* env = std::getenv("NANOLAB_DATA");
  const std::filesystem::path file =
      std::filesystem::path(env ? env : "$NANOLAB_DATA") / "tinyshakespeare" / "input.txt";
  NANOLAB_NEEDS(env && std::filesystem::is_regular_file(file), "tiny Shakespeare not found at " << file.string()
                 << " (set NANOLAB_DATA to the folder that holds tinyshakespeare/input.txt)");
  ScratchDir dir;
  TestByteTokenizer tok;
  auto ds = open_dataset(data_config("tinyshakespeare", 64), tok, {default_data_paths().recipes, dir / "cache"});
  const auto& text = dynamic_cast<data::TextDataset&>(*ds);
  // nanoGPT's prepare.py: 1,003,854 train and 111,540 val characters.
  EXPECT_EQ(text.tokens(Split::train).size(), 1003854u);
  EXPECT_EQ(text.tokens(Split::val).size(), 111540u);
  EXPECT_EQ(ds->decode(text.tokens(Split::train).subspan(0, 15)), "First Citizen:\n");
  EXPECT_NE(ds->description().find("86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),
            std::string::npos);
}

}  // namespace
}  // namespace nanolab::test
