// Bad test plugin: a static constructor that never returns (it waits for a signal that never
// comes, without using the CPU), so dlopen of this library never returns either. Discovery must
// give up on it after its time limit, say so, and still list the plugins beside it.
#include <unistd.h>

#include "nanolab/plugin.hpp"

namespace {

struct NeverReturns {
  NeverReturns() {
    for (;;) pause();
  }
} never_returns;

nanolab::PluginDescriptor describe() {
  nanolab::PluginDescriptor d;
  d.kind = nanolab::PluginKind::tokenizer;
  d.name = "constructor_hangs";
  d.version = "0.0.1";
  d.factory = [](const nanolab::Options&) { return std::unique_ptr<nanolab::Tokenizer>(); };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
