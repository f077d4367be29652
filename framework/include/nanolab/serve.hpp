// `nanolab serve`: a local, read-only web dashboard over run folders (docs/compare.md). One HTTP
// server (Debian's cpp-httplib, seen by one source file only) answers the page, built into the
// library with its charting library so that it works offline, and a JSON API that the page and
// scripts use: GET /api/runs, GET /api/runs/<id>/metrics, GET /api/metrics (several runs at
// once), and GET /files/<root>/<path> for the files under the roots.
//
// It only reads: no request changes a file, every method but GET and HEAD is refused, and no file
// outside the given roots is ever sent. It is not a multi-user service: it binds to loopback
// unless told otherwise, and then answers only requests addressed to a loopback name.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "nanolab/errors.hpp"

namespace nanolab::serve {

struct ServeOptions {
  // Run directories, run.h5 files, or folders searched for runs; each must exist, and may hold no
  // run yet: new runs are found while serving.
  std::vector<std::filesystem::path> roots;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  // Called once the server listens, with its address ("http://127.0.0.1:8080/") and the number
  // of runs found.
  std::function<void(const std::string& url, size_t runs)> on_listening;
};

// Reads the runs, listens and answers until SIGINT or SIGTERM (nanolab/interrupt.hpp), then stops
// and throws Interrupted (exit 130). A port that cannot be had is a ConfigError naming it; a
// root that does not exist is one too.
NANOLAB_VISIBLE void serve(const ServeOptions& options);

}  // namespace nanolab::serve
