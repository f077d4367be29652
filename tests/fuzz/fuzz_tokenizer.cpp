// libFuzzer target: the char, byte and bpe tokenizer plugins (found by the registry in the build's
// plugin folder) on arbitrary bytes. The first byte picks the tokenizer and the operation, the
// rest is the payload:
// - load: a fresh tokenizer loads the payload as a saved tokenizer. It throws DataError or
//   loads; a loaded one saves to bytes that load into another fresh one and save identically.
// - round trip: a ready tokenizer (bpe from the committed minbpe GPT-4 model, char trained on the
//   BPE corpus fixture, byte as it is) encodes the payload as text: ids in [0, vocab_size) that
//   decode to exactly the payload, or DataError (a character char never saw, a special token bpe
//   refuses). byte, the identity tokenizer, may not refuse anything.
// - decode: the payload as int32 ids; decode succeeds when every id is in the vocabulary and is
//   a DataError otherwise.
// What decoding gives for which ids is the contract suite's business (tests/plugins), not this.
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/registry.hpp"
#include "support/files.hpp"

namespace nanolab::fuzz {
namespace {

const char* const names[] = {"char", "byte", "bpe"};
constexpr int n_names = 3;

std::unique_ptr<Tokenizer> fresh(const std::string& name) {
  return Registry::instance().make<PluginKind::tokenizer>(name, {});
}

// Built once per process: training and loading are the slow part, the inputs are the payloads.
const Tokenizer& ready(int which) {
  static const std::vector<std::unique_ptr<Tokenizer>> tokenizers = [] {
    const std::filesystem::path fixtures = NANOLAB_FUZZ_FIXTURES_DIR;
    std::vector<std::unique_ptr<Tokenizer>> t;
    t.push_back(fresh("char"));
    t.back()->train(test::read_file(fixtures / "bpe_corpus.txt"), 0);
    t.push_back(fresh("byte"));
    t.push_back(fresh("bpe"));
    t.back()->load(test::read_file(fixtures / "bpe_minbpe_gpt4_512.model"));
    return t;
  }();
  return *tokenizers[size_t(which)];
}

void check_load(const std::string& name, std::string_view payload) {
  auto tok = fresh(name);
  try {
    tok->load(payload);
  } catch (const DataError&) {
    return;
  }
  const std::string saved = tok->save();
  auto again = fresh(name);
  again->load(saved);  // anything thrown here escapes: a saved form must always load
  if (again->save() != saved) violated(name + ": save() of a loaded tokenizer does not reload");
}

void check_round_trip(int which, std::string_view text) {
  const Tokenizer& tok = ready(which);
  const std::string name = names[which];
  std::vector<int32_t> ids;
  try {
    ids = tok.encode(text);
  } catch (const DataError&) {
    if (name == "byte") throw;  // every byte is a token: nothing to refuse
    return;
  }
  for (int32_t id : ids)
    if (id < 0 || id >= tok.vocab_size())
      violated(name + ": encode gave id " + std::to_string(id) + " outside [0, " +
               std::to_string(tok.vocab_size()) + ")");
  if (tok.decode(ids) != text) violated(name + ": decode(encode(text)) != text");
}

void check_decode(int which, std::string_view payload) {
  const Tokenizer& tok = ready(which);
  std::vector<int32_t> ids(payload.size() / sizeof(int32_t));
  if (!ids.empty()) std::memcpy(ids.data(), payload.data(), ids.size() * sizeof(int32_t));
  bool in_vocab = true;
  for (int32_t id : ids) in_vocab = in_vocab && id >= 0 && id < tok.vocab_size();
  try {
    tok.decode(ids);
  } catch (const DataError&) {
    if (in_vocab) throw;
    return;
  }
  if (!in_vocab)
    violated(std::string(names[which]) + ": decode accepted an id outside the vocabulary");
}

}  // namespace
}  // namespace nanolab::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanolab::fuzz;
  if (size == 0) return 0;
  const int which = data[0] % n_names, operation = data[0] / n_names % 3;
  const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (operation) {
    case 0:
      check_load(names[which], payload);
      break;
    case 1:
      check_round_trip(which, payload);
      break;
    default:
      check_decode(which, payload);
      break;
  }
  return 0;
}
