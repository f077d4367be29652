// library_dir (library_dir.hpp): asks the dynamic loader which file holds this function.
#include "runtime/library_dir.hpp"

#include <dlfcn.h>

namespace nanolab::runtime {

std::filesystem::path library_dir() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&library_dir), &info) || !info.dli_fname) return {};
  return std::filesystem::absolute(info.dli_fname).parent_path();
}

}  // namespace nanolab::runtime
