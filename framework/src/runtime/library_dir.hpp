// Where this installation of nanolab is: the folder of libnanolab.so (<build>/lib, or <prefix>/lib
// once installed). The plugin folder and the dataset recipes are found relative to it, so that
// neither a build nor an installation needs a setting. Internal.
#pragma once

#include <filesystem>

namespace nanolab::runtime {

// The absolute folder of libnanolab.so, or empty when the dynamic loader cannot say.
std::filesystem::path library_dir();

}  // namespace nanolab::runtime
