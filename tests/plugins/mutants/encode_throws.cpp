// Test plugin: a byte tokenizer whose encode always throws a DataError, as if every text were
// outside its vocabulary. The tokenizer contract (tests/plugins/contract_tokenizer.cpp) must fail
// it: a DataError is an allowed answer for text the tokenizer never saw, never for the text it was
// trained on. tests/CMakeLists.txt runs the contract suite over it and passes only when that
// test fails. Not shipped: it lives in a plugin folder of its own.
#include <string>

#include "nanolab/plugin.hpp"

namespace {

class EncodeThrows final : public nanolab::Tokenizer {
 public:
  void train(std::string_view, int64_t) override {}
  std::vector<int32_t> encode(std::string_view) const override {
    throw nanolab::DataError("encode_throws: no text is in the vocabulary");
  }
  std::string decode(std::span<const int32_t> ids) const override {
    std::string text;
    for (int32_t id : ids) {
      if (id < 0 || id >= 256) throw nanolab::DataError("encode_throws: id out of range");
      text += char(id);
    }
    return text;
  }
  int64_t vocab_size() const override { return 256; }
  std::string save() const override { return "encode_throws"; }
  void load(std::string_view bytes) override {
    if (bytes != "encode_throws") throw nanolab::DataError("encode_throws: not its saved form");
  }
};

nanolab::PluginDescriptor describe() {
  nanolab::PluginDescriptor d;
  d.kind = nanolab::PluginKind::tokenizer;
  d.name = "encode_throws";
  d.version = "1.0.0";
  d.description = "test tokenizer whose encode always throws";
  d.factory = [](const nanolab::Options&) -> std::unique_ptr<nanolab::Tokenizer> {
    return std::make_unique<EncodeThrows>();
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
