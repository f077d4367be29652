// The framework's exception types. Each carries the process exit status that the `nanolab`
// program returns for it (see docs/cli.md): a plugin throws these, the host catches them at the
// boundary and prints one message. Not a logging facility: the message is the whole report.
#pragma once

#include <stdexcept>
#include <string>

// Types thrown or shared across the plugin boundary keep default visibility even in plugins built
// with -fvisibility=hidden, so that catching by type and dynamic_cast work across libraries.
#define NANOLAB_VISIBLE __attribute__((visibility("default")))

namespace nanolab {

enum class ExitCode : int {
  ok = 0,
  internal = 1,
  config = 2,
  data = 3,
  plugin = 4,
  storage = 5,
  numerics = 6,
  checkpoint = 7,
  distributed = 8,  // an MPI job lost a rank, or could not start (distributed.hpp)
  run_in_use = 75,
  interrupted = 130,  // SIGINT or SIGTERM (interrupt.hpp)
};

class NANOLAB_VISIBLE Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

// A tensor of the wrong shape was passed to an op: a bug in the caller (exit 1).
struct NANOLAB_VISIBLE ShapeError : Error {
  explicit ShapeError(const std::string& what) : Error(ExitCode::internal, what) {}
};
struct NANOLAB_VISIBLE ConfigError : Error {
  explicit ConfigError(const std::string& what) : Error(ExitCode::config, what) {}
};
struct NANOLAB_VISIBLE DataError : Error {
  explicit DataError(const std::string& what) : Error(ExitCode::data, what) {}
};
struct NANOLAB_VISIBLE PluginError : Error {
  explicit PluginError(const std::string& what) : Error(ExitCode::plugin, what) {}
};
struct NANOLAB_VISIBLE StorageError : Error {
  explicit StorageError(const std::string& what) : Error(ExitCode::storage, what) {}
};
struct NANOLAB_VISIBLE NumericsError : Error {
  explicit NumericsError(const std::string& what) : Error(ExitCode::numerics, what) {}
};
struct NANOLAB_VISIBLE CheckpointError : Error {
  explicit CheckpointError(const std::string& what) : Error(ExitCode::checkpoint, what) {}
};
struct NANOLAB_VISIBLE DistributedError : Error {
  explicit DistributedError(const std::string& what) : Error(ExitCode::distributed, what) {}
};

}  // namespace nanolab
