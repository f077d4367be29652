// The tokenizer contract, run over every tokenizer plugin the registry finds, on one shared list
// of edge cases (empty, one character, all 256 bytes, long runs, mixed Unicode, control bytes,
// text that is not UTF-8):
// - trained on a string (train is a no-op for those that do not learn), a tokenizer encodes it to
//   ids in [0, vocab_size) that decode back to the same bytes;
// - trained on the whole list, it round-trips each string;
// - save() and load() into a fresh instance give the same ids, text and saved form; load refuses
//   garbage and every truncation of a saved tokenizer (DataError);
// - decode refuses ids outside the vocabulary, and text outside the training data either round-
//   trips or is a DataError, never other text, while the text it was trained on always encodes.
// Then what only one plugin promises: char's sorted vocabulary and its error naming an unknown
// character, byte's identity ids without training.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "contract_util.hpp"
#include "nanolab/registry.hpp"

namespace nanolab {
namespace {

// Large enough for any tokenizer that learns merges on top of 256 bytes.
constexpr int64_t train_vocab_size = 512;

std::string all_bytes() {
  std::string s;
  for (int b = 0; b < 256; ++b) s += char(b);
  return s;
}

const std::vector<std::string>& edge_cases() {
  static const std::vector<std::string> cases{
      "",
      "a",
      all_bytes(),
      std::string(5000, 'z'),
      std::string(300, 'a') + std::string(300, 'b') + "ab" + std::string(700, ' '),
      "héllo wörld — 日本語 🙂",
      std::string("nul\0inside\n\ttabs\r\n", 18),
      "overlong \xC0\x80, surrogate \xED\xA0\x80, cut \xE6\x97",  // not UTF-8
  };
  return cases;
}

std::string joined_edge_cases() {
  std::string all;
  for (const std::string& s : edge_cases()) all += s;
  return all;
}

std::unique_ptr<Tokenizer> make(const std::string& name) {
  return Registry::instance().make<PluginKind::tokenizer>(name, {});
}

// A printable label for a test case: its index and length.
std::string label(size_t i) {
  return "edge case " + std::to_string(i) + " (" + std::to_string(edge_cases()[i].size()) +
         " bytes)";
}

void expect_round_trip(const Tokenizer& tok, const std::string& text) {
  const std::vector<int32_t> ids = tok.encode(text);
  for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.vocab_size()) << "id " << id;
  EXPECT_EQ(tok.decode(ids), text);
}

class TokenizerContract : public testing::TestWithParam<std::string> {};

TEST(TokenizerPlugins, HasPlugins) {
  EXPECT_FALSE(contract::plugin_names(PluginKind::tokenizer).empty())
      << "no tokenizer plugin was found; " << contract::registry_report();
}

TEST_P(TokenizerContract, RoundTripsEachEdgeCaseItWasTrainedOn) {
  for (size_t i = 0; i < edge_cases().size(); ++i) {
    SCOPED_TRACE(label(i));
    auto tok = make(GetParam());
    tok->train(edge_cases()[i], train_vocab_size);
    expect_round_trip(*tok, edge_cases()[i]);
  }
}

TEST_P(TokenizerContract, RoundTripsEveryEdgeCaseAfterTrainingOnAll) {
  auto tok = make(GetParam());
  tok->train(joined_edge_cases(), train_vocab_size);
  for (size_t i = 0; i < edge_cases().size(); ++i) {
    SCOPED_TRACE(label(i));
    expect_round_trip(*tok, edge_cases()[i]);
  }
}

TEST_P(TokenizerContract, SaveLoadRoundTrip) {
  auto tok = make(GetParam());
  tok->train(joined_edge_cases(), train_vocab_size);
  const std::string saved = tok->save();
  auto loaded = make(GetParam());
  loaded->load(saved);
  EXPECT_EQ(loaded->vocab_size(), tok->vocab_size());
  EXPECT_EQ(loaded->save(), saved);
  for (size_t i = 0; i < edge_cases().size(); ++i) {
    SCOPED_TRACE(label(i));
    const std::vector<int32_t> ids = tok->encode(edge_cases()[i]);
    EXPECT_EQ(loaded->encode(edge_cases()[i]), ids);
    EXPECT_EQ(loaded->decode(ids), edge_cases()[i]);
  }
}

TEST_P(TokenizerContract, LoadRefusesGarbageAndTruncations) {
  auto tok = make(GetParam());
  tok->train(joined_edge_cases(), train_vocab_size);
  const std::string saved = tok->save();
  auto fresh = make(GetParam());
  for (const std::string& garbage :
       {std::string("not a tokenizer"), saved + "trailing", all_bytes()})
    EXPECT_THROW(fresh->load(garbage), DataError) << "loaded: " << garbage.substr(0, 40);
  // A run file cut short must never load as a smaller, different tokenizer.
  for (size_t n = 0; n < saved.size(); ++n)
    EXPECT_THROW(fresh->load(saved.substr(0, n)), DataError)
        << "a truncation to " << n << " bytes loaded";
}

TEST_P(TokenizerContract, DecodeRefusesIdsOutsideTheVocabulary) {
  auto tok = make(GetParam());
  tok->train(joined_edge_cases(), train_vocab_size);
  const int32_t past = int32_t(tok->vocab_size());
  EXPECT_THROW(tok->decode(std::vector<int32_t>{-1}), DataError);
  EXPECT_THROW(tok->decode(std::vector<int32_t>{0, past}), DataError);
}

TEST_P(TokenizerContract, UnseenTextRoundTripsOrIsADataError) {
  auto tok = make(GetParam());
  tok->train("abc abc", train_vocab_size);
  // The text it was trained on is never a DataError: a tokenizer whose encode always refuses
  // must not pass this test by refusing everything below.
  expect_round_trip(*tok, "abc abc");
  expect_round_trip(*tok, "cab");
  for (const std::string& text : {std::string("abcz"), std::string("é"), all_bytes()}) {
    std::vector<int32_t> ids;
    try {
      ids = tok->encode(text);
    } catch (const DataError&) {
      continue;
    }
    EXPECT_EQ(tok->decode(ids), text);
  }
}

INSTANTIATE_TEST_SUITE_P(Every, TokenizerContract,
                         testing::ValuesIn(contract::plugin_names(PluginKind::tokenizer)),
                         contract::test_name);

TEST(CharTokenizer, VocabularyIsTheSortedCharactersOfTheText) {
  auto tok = make("char");
  tok->train("hello wörld", 0);
  EXPECT_EQ(tok->vocab_size(), 9);  // ' ' d e h l o r w ö, in code point order
  EXPECT_EQ(tok->encode("ö dehlorw"), (std::vector<int32_t>{8, 0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(CharTokenizer, UnknownCharacterIsNamedWithItsOffset) {
  auto tok = make("char");
  tok->train("hello", 0);
  try {
    tok->encode("hellé");
    FAIL() << "encoding an unknown character did not throw";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'é'"), std::string::npos) << what;
    EXPECT_NE(what.find("U+00E9"), std::string::npos) << what;
    EXPECT_NE(what.find("offset 4"), std::string::npos) << what;
  }
}

TEST(CharTokenizer, FallsBackToBytesForTextThatIsNotUtf8) {
  auto tok = make("char");
  const std::string text = "ab\xff\xfe";
  tok->train(text, 0);
  EXPECT_EQ(tok->vocab_size(), 4);
  EXPECT_EQ(tok->encode(text), (std::vector<int32_t>{0, 1, 3, 2}));
  try {
    tok->encode("a\x80");
    FAIL() << "encoding an unknown byte did not throw";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("0x80"), std::string::npos) << e.what();
  }
  // An overlong NUL and a UTF-16 surrogate are not UTF-8 either: 5 distinct bytes.
  tok->train("\xC0\x80 \xED\xA0\x80", 0);
  EXPECT_EQ(tok->vocab_size(), 5);
}

TEST(ByteTokenizer, IdsAreTheBytesWithoutTraining) {
  auto tok = make("byte");
  EXPECT_EQ(tok->vocab_size(), 256);
  const std::vector<int32_t> ids = tok->encode(all_bytes());
  for (int b = 0; b < 256; ++b) EXPECT_EQ(ids[size_t(b)], b);
  EXPECT_EQ(tok->encode("é"), (std::vector<int32_t>{0xC3, 0xA9}));
}

}  // namespace
}  // namespace nanolab
