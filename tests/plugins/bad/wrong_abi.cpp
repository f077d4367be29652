// Bad test plugin: a descriptor claiming plugin ABI version 999; the loader must refuse it and
// name both versions (999 and the host's).
#include "nanolab/plugin.hpp"

namespace {

nanolab::PluginDescriptor describe() {
  nanolab::PluginDescriptor d;
  d.abi_version = 999;
  d.kind = nanolab::PluginKind::loss;
  d.name = "from_the_future";
  d.version = "9.9.9";
  d.description = "test plugin built for another plugin ABI";
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
