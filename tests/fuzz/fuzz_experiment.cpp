// libFuzzer target: any bytes as an experiment file. load_experiment (which reads the file, its
// includes, validates every key and expands the sweep) and parse_resolved_config (the same
// validation from a string, as a run file stores it) must either succeed or throw a nanolab
// exception (ConfigError, with line and column). Anything else escaping, or a sanitizer report, is
// a crash. Not a check of the messages' wording: the config unit tests do that.
#include <string>

#include "fuzz_input.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/experiment.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The name a user would give it; an `include` of "experiment.toml" is then a cycle to report.
  const auto file = nanolab::fuzz::write_input("experiment.toml", data, size);
  try {
    nanolab::load_experiment(file);
  } catch (const nanolab::Error&) {
  }
  try {
    nanolab::parse_resolved_config(std::string(reinterpret_cast<const char*>(data), size),
                                   file.string());
  } catch (const nanolab::Error&) {
  }
  return 0;
}
