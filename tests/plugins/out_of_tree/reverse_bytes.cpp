// An out-of-tree example plugin: a byte tokenizer that emits the ids of a text in reverse order
// (id = byte, 256 ids, lossless). Small on purpose: it shows the whole shape of a plugin (the
// class, the descriptor with one option, NANOLAB_PLUGIN) and is not meant for training.
#include <algorithm>

#include "nanolab/plugin.hpp"

namespace {

class ReverseBytes final : public nanolab::Tokenizer {
 public:
  void train(std::string_view, int64_t) override {}  // 256 fixed ids: nothing to learn
  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids(text.rbegin(), text.rend());
    for (auto& id : ids) id = int32_t(static_cast<unsigned char>(id));
    return ids;
  }
  std::string decode(std::span<const int32_t> ids) const override {
    std::string text;
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) text += char(*it);
    return text;
  }
  int64_t vocab_size() const override { return 256; }
  std::string save() const override { return {}; }  // no state
  void load(std::string_view) override {}
};

nanolab::PluginDescriptor describe() {
  nanolab::PluginDescriptor d;
  d.kind = nanolab::PluginKind::tokenizer;
  d.name = "reverse_bytes";
  d.version = "0.1.0";
  d.description = "byte tokenizer that reverses the text (an out-of-tree example)";
  d.options = {{"note", nanolab::OptionType::string, std::string(""), {}, {}, {},
                "free text, shown by `nanolab plugins show`"}};
  d.factory = [](const nanolab::Options&) -> std::unique_ptr<nanolab::Tokenizer> {
    return std::make_unique<ReverseBytes>();
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
