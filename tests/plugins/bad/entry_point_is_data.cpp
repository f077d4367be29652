// Bad test plugin: `nanolab_plugin_v1` is exported, but as a plain data object (what a plugin
// written without NANOLAB_PLUGIN, e.g. `extern "C" const int nanolab_plugin_v1[] = ...`, gives).
// The host reads the symbol as the pointer to the entry function and calls address 1, which
// kills whatever process does it; discovery must survive it and name the file.
extern "C" __attribute__((visibility("default"))) const long nanolab_plugin_v1[2] = {1, 0};
