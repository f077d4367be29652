// libFuzzer target: the bpe plugin loading GPT-2's tokenizer files (options encoder_json and
// vocab_bpe) from arbitrary bytes. The first two bytes (little-endian) give the length of
// encoder.json, the rest of the input is vocab.bpe. Making the tokenizer must succeed or throw
// DataError; a tokenizer made must encode a fixed text to ids in [0, vocab_size) that decode to
// exactly that text, and its saved form must load into a fresh bpe tokenizer that saves
// identically.
#include <algorithm>
#include <string>

#include "fuzz_input.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanolab;
  if (size < 2) return 0;
  const size_t encoder_size = std::min(size - 2, size_t(data[0]) | size_t(data[1]) << 8);
  const auto encoder = fuzz::write_input("encoder.json", data + 2, encoder_size);
  const auto vocab = fuzz::write_input("vocab.bpe", data + 2 + encoder_size, size - 2 - encoder_size);
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = Registry::instance().make<PluginKind::tokenizer>(
        "bpe", {{"encoder_json", encoder.string()},
                {"vocab_bpe", vocab.string()},
                {"special_tokens", std::vector<std::string>{"<|endoftext|>"}},
                {"on_special", std::string("allow")}});
  } catch (const DataError&) {
    return 0;
  }
  const std::string text = "Hello world<|endoftext|> it's\n\n \xff\xfe 2024";
  const std::vector<int32_t> ids = tok->encode(text);
  for (int32_t id : ids)
    if (id < 0 || id >= tok->vocab_size())
      fuzz::violated("id " + std::to_string(id) + " outside the vocabulary of " +
                     std::to_string(tok->vocab_size()));
  if (tok->decode(ids) != text) fuzz::violated("the text does not decode back");
  const std::string saved = tok->save();
  auto again = Registry::instance().make<PluginKind::tokenizer>("bpe", {});
  again->load(saved);  // anything thrown here escapes: a saved form must always load
  if (again->save() != saved) fuzz::violated("the saved form does not save identically");
  return 0;
}
