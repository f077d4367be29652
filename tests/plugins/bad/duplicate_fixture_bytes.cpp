// Bad test plugin: a second tokenizer named "fixture_bytes" (tests/plugins/fixtures). Fine on its
// own; loaded beside the fixture it is a duplicate, an error naming both files.
#include "nanolab/plugin.hpp"

namespace {

class Empty final : public nanolab::Tokenizer {
 public:
  void train(std::string_view, int64_t) override {}
  std::vector<int32_t> encode(std::string_view) const override { return {}; }
  std::string decode(std::span<const int32_t>) const override { return {}; }
  int64_t vocab_size() const override { return 0; }
  std::string save() const override { return {}; }
  void load(std::string_view) override {}
};

nanolab::PluginDescriptor describe() {
  nanolab::PluginDescriptor d;
  d.kind = nanolab::PluginKind::tokenizer;
  d.name = "fixture_bytes";
  d.version = "0.0.1";
  d.description = "test tokenizer that duplicates fixture_bytes' kind and name";
  d.factory = [](const nanolab::Options&) -> std::unique_ptr<nanolab::Tokenizer> {
    return std::make_unique<Empty>();
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
