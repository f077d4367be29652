// tokenizer `byte`: one id per byte, 256 ids, lossless for any input (valid UTF-8 or not). It
// learns nothing: train is a no-op and the saved form is only a versioned header, so that a run
// file says which tokenizer it holds and a load of anything else is refused. Not a byte-level BPE:
// no merges, every byte is its own token.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

constexpr std::string_view format = "nanolab-tokenizer byte 1\n";

class ByteTokenizer final : public Tokenizer {
 public:
  void train(std::string_view, int64_t) override {}

  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }

  std::string decode(std::span<const int32_t> ids) const override {
    std::string text(ids.size(), '\0');
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] > 255)
        throw DataError("byte tokenizer: id " + std::to_string(ids[i]) + " at position " +
                        std::to_string(i) + " is outside [0, 256)");
      text[i] = static_cast<char>(ids[i]);
    }
    return text;
  }

  int64_t vocab_size() const override { return 256; }

  std::string save() const override { return std::string(format); }

  void load(std::string_view bytes) override {
    if (bytes != format)
      throw DataError("byte tokenizer: cannot load the saved tokenizer: " +
                      (bytes.starts_with(format)
                           ? std::to_string(bytes.size() - format.size()) +
                                 " bytes after its one line, which is all a byte tokenizer saves"
                           : describe_tokenizer_bytes(bytes, {format.substr(0, format.size() - 1)})));
  }
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::tokenizer;
  d.name = "byte";
  d.version = "1.0.0";
  d.description = "one token per byte: 256 ids, lossless for any text, nothing to train";
  d.factory = [](const Options&) -> std::unique_ptr<Tokenizer> {
    return std::make_unique<ByteTokenizer>();
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
