// The check a plugin file passes before it is handed to dlopen. Internal to the loader.
//
// dlopen maps a library's segments with mmap and touches them; a file shorter than its headers
// claim (a truncated copy, an interrupted download) then kills the process with SIGBUS inside
// dlopen, where no error handling can help. So the loader first reads the ELF header and the
// program headers itself and refuses a file that is not an ELF shared object for this machine, or
// whose program headers, loadable segments or section header table reach past the end of the
// file. This is not a full ELF validator: whatever passes here is still checked by dlopen.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace nanolab::plugin {

// nullopt when the file may be given to dlopen; otherwise why not (one line, no file name).
std::optional<std::string> elf_problem(const std::filesystem::path& file);

}  // namespace nanolab::plugin
