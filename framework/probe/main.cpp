// nanolab-plugin-probe: the child process in which discovery reads plugin libraries
// (framework/src/plugin/probe.hpp), so that a library that crashes while it loads takes down only
// this process. Not meant to be run by hand: `nanolab plugins` shows what it finds.
#include "plugin/probe.hpp"

int main(int argc, char** argv) { return nanolab::plugin::probe_main(argc, argv); }
