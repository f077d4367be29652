// `nanolab serve [PATH...] [--port 8080] [--host 127.0.0.1]`: the live dashboard over run
// folders (docs/compare.md). The server is the framework's (nanolab/serve.hpp); this file maps
// the options onto it and prints where it listens.
#include <cstdio>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/serve.hpp"

namespace nanolab::cli {

namespace {

int serve(const Parsed& a) {
  serve::ServeOptions o;
  for (const std::string& path : a.positional()) o.roots.emplace_back(path);
  if (o.roots.empty()) o.roots.emplace_back("runs");
  o.host = a.get("--host", "127.0.0.1");
  const double port = a.number("--port", 8080);
  if (port < 0 || port > 65535 || port != int(port))
    throw ConfigError("--port " + a.get("--port") + ": expected a port number from 0 to 65535");
  o.port = int(port);
  o.on_listening = [&](const std::string& url, size_t runs) {
    std::printf("nanolab serve: %s (%zu run(s); Ctrl-C stops)\n", url.c_str(), runs);
    if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1")
      std::fprintf(stderr,
                   "nanolab serve: warning: listening on %s: anyone who can reach this machine "
                   "can read the runs\n",
                   o.host.c_str());
    std::fflush(stdout);
  };
  serve::serve(o);
  return 0;
}

}  // namespace

void add_serve(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "serve", "a live web dashboard over run folders, on this machine (read-only)");
  add_positional(app, "PATH", "run directories, run.h5 files, or folders holding runs (default: runs)",
                 0, -1);
  add_value(app, "--port", "N", "the port to listen on (default: 8080; 0: any free port)");
  add_value(app, "--host", "ADDRESS",
            "the address to listen on (default: 127.0.0.1, this machine only)");
  commands.push_back({app, serve});
}

}  // namespace nanolab::cli
