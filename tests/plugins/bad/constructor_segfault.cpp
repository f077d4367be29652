// Bad test plugin: a static constructor that writes through a null pointer, so the library kills
// the process that loads it (SIGSEGV) before its entry point can be looked up. Discovery must
// survive it and name the file; a run that names it must fail with a plugin error.
#include "nanolab/plugin.hpp"

namespace {

struct WritesThroughNull {
  WritesThroughNull() {
    volatile int* volatile null = nullptr;  // volatile both: the compiler must do the write
    *null = 1;
  }
} writes_through_null;

nanolab::PluginDescriptor describe() {
  nanolab::PluginDescriptor d;
  d.kind = nanolab::PluginKind::tokenizer;
  d.name = "constructor_segfault";
  d.version = "0.0.1";
  d.factory = [](const nanolab::Options&) { return std::unique_ptr<nanolab::Tokenizer>(); };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
