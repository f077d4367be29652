// A run directory, <out>/<experiment>/<run>/, before a run is created in it: what `nanolab run`
// refuses and `nanolab check` reports beforehand.
#pragma once

#include <filesystem>
#include <string>

namespace nanolab {

// Why a new run cannot be created in `dir`, or "" when it can: it already holds a run (its run.h5).
// RunWriter::create refuses such a folder with this text (exit 2).
std::string run_dir_taken(const std::filesystem::path& dir);

}  // namespace nanolab
