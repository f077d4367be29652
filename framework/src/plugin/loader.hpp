// Loads one plugin library and checks it, in the order that keeps a bad file from hurting the
// process: file check (elf_check.hpp), dlopen through Boost.DLL, entry point lookup, ABI version,
// then the descriptor itself. Internal to the registry, which decides what a failure means: it is
// run first in the plugin probe's process (probe.hpp), then in this one when a plugin is made.
//
// Every library that dlopen accepted stays loaded until the process exits, even when a later
// check refuses it: its static constructors have run, and objects or "unique" symbols of it may
// be referenced from elsewhere (STACK.md, Boost.DLL 1.74).
#pragma once

#include <filesystem>

#include "nanolab/registry.hpp"

namespace nanolab::plugin {

// The loaded, checked plugin; PluginError naming `file` when any check fails.
LoadedPlugin load_plugin(const std::filesystem::path& file);

// <directory of libnanolab.so>/nanolab/plugins: the build's or the installation's plugin folder.
std::filesystem::path default_plugin_dir();

}  // namespace nanolab::plugin
