// The plugin probe: discovery reads plugins in a child process, so that a library whose static
// constructors or entry point crash, abort or never return can only take that child down.
//
// The child is the small program `nanolab-plugin-probe`, installed beside the plugin folder
// (<directory of libnanolab.so>/nanolab/nanolab-plugin-probe). It runs the whole loader
// (loader.hpp) on each file it is given, in order, and writes one record per file to file
// descriptor 3: the descriptor's kind, name, version, description and options schema with the
// file's sha256, or the loader's refusal. A file during which the child dies (a signal, another
// exit status) or stays silent for `probe_timeout` is a problem naming how; the probe then
// starts again with the files after it. One child reads a whole folder of good plugins.
//
// The descriptors it returns have no factories: the registry loads a plugin into its own process
// only when one is made, and only after its probe succeeded.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "nanolab/plugin.hpp"

namespace nanolab::plugin {

// How long one file may take in the probe before the probe is stopped.
inline constexpr std::chrono::seconds probe_timeout{10};

struct ProbeResult {
  std::optional<PluginDescriptor> descriptor;  // without factories; set when the file is good
  std::string sha256;                          // of the file, hex, when it is good
  std::string problem;                         // one line, no file name, when it is not
};

// One result per file, in the order given.
std::vector<ProbeResult> probe_plugins(const std::vector<std::filesystem::path>& files);

// The probe program's whole work: loads each file of argv[1..] and writes its record to fd 3.
int probe_main(int argc, char** argv);

// <directory of libnanolab.so>/nanolab/nanolab-plugin-probe.
std::filesystem::path probe_program();

}  // namespace nanolab::plugin
