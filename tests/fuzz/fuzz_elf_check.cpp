// libFuzzer target: the check every plugin file passes before dlopen (plugin/elf_check.hpp), on
// mutated libraries. It reads untrusted offsets and counts, so it must return (nullopt or a
// one-line reason) for any bytes, without a sanitizer report. Not a test of dlopen: a file that
// passes is never loaded here, because a mutated library that passes may still be refused or
// misbehave inside the loader, which the check does not promise to prevent.
#include "fuzz_input.hpp"
#include "plugin/elf_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = nanolab::fuzz::write_input("plugin.so", data, size);
  if (const auto problem = nanolab::plugin::elf_problem(file)) {
    if (problem->empty() || problem->find('\n') != std::string::npos)
      nanolab::fuzz::violated("elf_problem must give one non-empty line, gave \"" + *problem +
                              "\"");
  }
  return 0;
}
