// Bad test plugin: its descriptor factory (the function NANOLAB_PLUGIN calls on the first call of
// the entry point) throws. The exception crosses the C entry point into the loader, which must
// turn it into a problem naming the file instead of letting it end the process.
#include <stdexcept>

#include "nanolab/plugin.hpp"

namespace {

nanolab::PluginDescriptor describe() { throw std::runtime_error("describe() failed on purpose"); }

}  // namespace

NANOLAB_PLUGIN(describe)
