// Bad test plugin: a loss whose descriptor sets a tokenizer factory instead of a loss factory. The
// loader must refuse it at load time, not when an experiment first asks for it.
#include "nanolab/plugin.hpp"

namespace {

nanolab::PluginDescriptor describe() {
  nanolab::PluginDescriptor d;
  d.kind = nanolab::PluginKind::loss;
  d.name = "missing_factory";
  d.version = "0.0.1";
  d.description = "test loss without a loss factory";
  d.factory = [](const nanolab::Options&) -> std::unique_ptr<nanolab::Tokenizer> {
    return nullptr;
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
