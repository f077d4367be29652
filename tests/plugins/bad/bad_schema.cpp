// Bad test plugin: an optimizer whose option `lr` has a default (5.0) outside its own declared
// range [0, 1]. The loader must refuse the schema, so validated options can always be trusted.
#include "nanolab/plugin.hpp"

namespace {

nanolab::PluginDescriptor describe() {
  nanolab::PluginDescriptor d;
  d.kind = nanolab::PluginKind::optimizer;
  d.name = "bad_schema";
  d.version = "0.0.1";
  d.description = "test optimizer with an inconsistent options schema";
  d.options = {{"lr", nanolab::OptionType::number, 5.0, 0.0, 1.0, {}, "learning rate"}};
  d.factory = [](const nanolab::Options&) -> std::unique_ptr<nanolab::Optimizer> {
    return nullptr;
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
