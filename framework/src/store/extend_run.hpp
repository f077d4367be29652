// Extending a run (`nanolab resume --set train.max_iters=N`, trainer.cpp): run.h5 takes the
// configuration of the new length and a line that says how. Internal.
#pragma once

#include <filesystem>
#include <string>

namespace nanolab::store {

// Claims the run in `dir` (RunInUse, exit 75, while a live process holds it), sets /config and
// config_sha256 to `config_toml`, and adds `record` as a line to the /meta attribute `extensions`.
// The claim ends on return; RunWriter::reopen then claims the run to train it on.
void extend_run(const std::filesystem::path& dir, const std::string& config_toml,
                const std::string& record);

}  // namespace nanolab::store
