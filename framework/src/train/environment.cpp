// Gathers the /meta attributes of a run (environment.hpp).
#include "train/environment.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>

#include <hdf5.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/tbb/version.h>

#include "nanolab/runtime.hpp"

namespace nanolab::train_detail {
namespace {

// stdout of a shell command, or "" if it fails.
std::string capture(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>/dev/null").c_str(), "r"), pclose);
  if (!pipe) return "";
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  return out;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Attrs environment(const std::string& command_line) {
  Attrs a;
  a["command_line"] = command_line;
  const std::string commit = trimmed(capture("git rev-parse HEAD"));
  a["git_commit"] = commit.empty() ? "unknown (not in a git repository)" : commit;
  if (!commit.empty()) {
    const std::string diff = capture("git diff HEAD");
    a["git_dirty"] = diff.empty() ? "false" : "true";
    a["git_diff"] = diff;
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  a["host"] = host;
  a["threads"] = std::to_string(runtime::num_threads());
  a["omp_wait_policy"] = runtime::omp_wait_policy_passive() ? "passive" : "not passive";
  a["nanolab_version"] = NANOLAB_VERSION;
  const dnnl_version_t* d = dnnl_version();
  a["onednn_version"] = std::to_string(d->major) + "." + std::to_string(d->minor) + "." +
                        std::to_string(d->patch);
  a["tbb_version"] = TBB_runtime_version();
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  a["hdf5_version"] = std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel);
  a["compiler"] = __VERSION__;
  a["build_flags"] = NANOLAB_BUILD_FLAGS;
  return a;
}

}  // namespace nanolab::train_detail
