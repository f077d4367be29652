// `nanolab demo`: a check of the core until the trainer lands. Placeholder body replaced below.
#include "commands.hpp"

namespace nanolab::cli {

int cmd_demo(const Args&) { return 0; }

}  // namespace nanolab::cli
