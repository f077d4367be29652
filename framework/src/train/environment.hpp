// What a run records about where it ran (/meta in the run file): command line, git commit, dirty
// flag and uncommitted diff of the working directory's repository, host, threads, library
// versions, compiler and build flags. Internal.
#pragma once

#include <string>

#include "nanolab/run_store.hpp"

namespace nanolab::train_detail {

Attrs environment(const std::string& command_line);

}  // namespace nanolab::train_detail
