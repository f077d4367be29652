// Bad test plugin: a valid shared library that exports no nanolab_plugin_v1 entry point (what a
// stray .so in a plugin folder looks like). The loader must refuse it by name.
extern "C" __attribute__((visibility("default"))) int not_a_nanolab_plugin() { return 42; }
