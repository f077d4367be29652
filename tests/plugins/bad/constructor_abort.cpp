// Bad test plugin: a static constructor that calls abort(), so the library kills the process that
// loads it (SIGABRT). Discovery must survive it and name the file.
#include <cstdlib>

#include "nanolab/plugin.hpp"

namespace {

struct Aborts {
  Aborts() { std::abort(); }
} aborts;

nanolab::PluginDescriptor describe() {
  nanolab::PluginDescriptor d;
  d.kind = nanolab::PluginKind::tokenizer;
  d.name = "constructor_abort";
  d.version = "0.0.1";
  d.factory = [](const nanolab::Options&) { return std::unique_ptr<nanolab::Tokenizer>(); };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
