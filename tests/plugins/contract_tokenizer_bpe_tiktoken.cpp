// The bpe tokenizer against tiktoken itself (the npm `tiktoken` package, the WASM build of OpenAI's
// tiktoken, run by node through tools/reference/tiktoken/tiktoken_ids.cjs): every Unicode code
// point that PCRE2's tables assign (below), each in a set of contexts where the split patterns
// differ (alone, after a space, a letter, a digit, a newline, a tab, before "'s", doubled, before
// CR...), encodes to tiktoken's ids with GPT-2's vocabulary (from $NANOLAB_DATA/gpt2) and with
// cl100k_base (its ranks, converted by the script to nanolab's saved form, `gpt4` pattern).
// Needs node and `npm ci` in tools/reference/tiktoken (tools/install-deps.sh); skipped outside CI
// without them, failed under CI=true.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <gtest/gtest.h>
#include <pcre2.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "nanolab/registry.hpp"
#include "nanolab/utf8.hpp"
#include "support/skip.hpp"
#include "support/temp_dir.hpp"

namespace nanolab {
namespace {

namespace fs = std::filesystem;

const fs::path reference_dir =
    fs::path(NANOLAB_TEST_FIXTURES).parent_path().parent_path() / "tools/reference/tiktoken";

std::string read(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string utf8(int cp) {
  std::string s;
  nanolab::utf8::append(s, uint32_t(cp));
  return s;
}

// Whether PCRE2's Unicode tables leave `cp` unassigned (\p{Cn}).
bool unassigned_in_pcre2(int cp) {
  static pcre2_code* cn = [] {
    int error = 0;
    PCRE2_SIZE offset = 0;
    const std::string pattern = R"(^\p{Cn}$)";
    return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                         PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  }();
  static pcre2_match_data* match = pcre2_match_data_create_from_pattern(cn, nullptr);
  const std::string s = utf8(cp);
  return pcre2_match(cn, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, match, nullptr) >= 0;
}

// Every code point that PCRE2's tables assign (see below), each in every context (X stands for
// it), one after another. Each context ends with a newline, so that runs of letters, digits or
// symbols stay short (the byte-pair merge of a chunk costs its length squared, in tiktoken as here).
// Left out: the surrogates, and the code points PCRE2's Unicode leaves unassigned. Debian 12's
// PCRE2 10.42 has Unicode 14; tiktoken's regex has a later Unicode, where some of those are
// letters (U+1C89 CYRILLIC CAPITAL LETTER TJE, Unicode 16): before "'s" such a letter splits
// differently (docs/tokenizers.md).
std::string every_code_point_in_context() {
  const std::vector<std::string> contexts{"X",  " X",  "aX", "1X",  "\nX", "X's",
                                          "XX", "  Xa", "X1", "X\r", "\t X  "};
  std::vector<int> assigned;
  for (int cp = 0; cp <= 0x10FFFF; ++cp)
    if ((cp < 0xD800 || cp > 0xDFFF) && !unassigned_in_pcre2(cp)) assigned.push_back(cp);
  std::string text;
  for (const std::string& context : contexts)
    for (int cp : assigned) {
      for (char c : context)
        if (c == 'X')
          text += utf8(cp);
        else
          text += c;
      text += '\n';
    }
  return text;
}

bool has_tiktoken() {
  return std::system("command -v node > /dev/null") == 0 &&
         fs::exists(reference_dir / "node_modules/tiktoken/package.json");
}

std::string node(const std::string& args) {
  return "node " + (reference_dir / "tiktoken_ids.cjs").string() + " " + args;
}

std::vector<int32_t> tiktoken_ids(const std::string& encoding, const fs::path& text_file,
                                  const fs::path& scratch) {
  const fs::path ids_file = scratch / (encoding + ".ids");
  const std::string command = node("ids " + encoding + " " + text_file.string() + " " + ids_file.string());
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  const std::string bytes = read(ids_file);
  std::vector<int32_t> ids(bytes.size() / 4);
  std::memcpy(ids.data(), bytes.data(), ids.size() * 4);
  return ids;
}

// The first id where `ours` and `theirs` part, shown with the code points of the text there.
void expect_same_ids(const Tokenizer& tok, const std::vector<int32_t>& ours,
                     const std::vector<int32_t>& theirs) {
  size_t i = 0;
  while (i < ours.size() && i < theirs.size() && ours[i] == theirs[i]) ++i;
  if (i == ours.size() && i == theirs.size()) return;
  const size_t from = i < 4 ? 0 : i - 4;
  const std::string before = tok.decode(std::span(ours).first(from));
  std::string ours_there, theirs_there;
  for (size_t k = from; k < std::min(ours.size(), i + 6); ++k) ours_there += std::to_string(ours[k]) + " ";
  for (size_t k = from; k < std::min(theirs.size(), i + 6); ++k)
    theirs_there += std::to_string(theirs[k]) + " ";
  std::string bytes_there;
  char hex[4];
  for (unsigned char c : tok.decode(std::span(ours).subspan(from, std::min(ours.size(), i + 6) - from))) {
    std::snprintf(hex, sizeof hex, "%02x ", c);
    bytes_there += hex;
  }
  ADD_FAILURE() << "the ids part at id " << i << " (byte " << before.size() << " of the text): "
                << "nanolab " << ours_there << "| tiktoken " << theirs_there << "| the text there: "
                << bytes_there;
}

TEST(BpeTiktoken, Gpt2IdsOfEveryCodePointInContext) {
  NANOLAB_NEEDS(has_tiktoken(), "needs node and tiktoken: (cd " + reference_dir.string() + " && npm ci)");
  const char* data = std::getenv("NANOLAB_DATA");
  NANOLAB_NEEDS(data && fs::exists(fs::path(data) / "gpt2/vocab.bpe"), "needs $NANOLAB_DATA/gpt2/");
  test::TempDir scratch("bpe-tiktoken");
  const std::string text = every_code_point_in_context();
  std::ofstream(scratch.path() / "text.txt", std::ios::binary) << text;
  auto gpt2 = Registry::instance().make<PluginKind::tokenizer>(
      "bpe", {{"encoder_json", (fs::path(data) / "gpt2/encoder.json").string()},
              {"vocab_bpe", (fs::path(data) / "gpt2/vocab.bpe").string()}});
  expect_same_ids(*gpt2, gpt2->encode(text), tiktoken_ids("gpt2", scratch.path() / "text.txt", scratch.path()));
}

TEST(BpeTiktoken, Cl100kIdsOfEveryCodePointInContext) {
  NANOLAB_NEEDS(has_tiktoken(), "needs node and tiktoken: (cd " + reference_dir.string() + " && npm ci)");
  test::TempDir scratch("bpe-tiktoken");
  const std::string command = node("nanolab cl100k_base " + (scratch.path() / "cl100k.tok").string());
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  auto cl100k = Registry::instance().make<PluginKind::tokenizer>("bpe", {});
  cl100k->load(read(scratch.path() / "cl100k.tok"));
  ASSERT_EQ(cl100k->vocab_size(), 100256);
  const std::string text = every_code_point_in_context();
  std::ofstream(scratch.path() / "text.txt", std::ios::binary) << text;
  expect_same_ids(*cl100k, cl100k->encode(text),
                  tiktoken_ids("cl100k_base", scratch.path() / "text.txt", scratch.path()));
}

}  // namespace
}  // namespace nanolab
