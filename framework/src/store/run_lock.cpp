// The run lock (see run_lock.hpp).
#include "store/run_lock.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "nanolab/errors.hpp"
#include "nanolab/run_store.hpp"

namespace nanolab::store {
namespace {

std::string this_host() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

struct Holder {
  long pid = 0;
  std::string host;
};

// False when the file vanished between our attempt and this read (its holder just released it).
bool read_holder(const std::filesystem::path& lock, Holder& holder) {
  std::ifstream in(lock);
  if (!in) return false;
  in >> holder.pid >> holder.host;
  return true;
}

bool alive_here(long pid) { return pid > 0 && (kill(pid_t(pid), 0) == 0 || errno == EPERM); }

[[noreturn]] void storage_failure(const std::filesystem::path& file, const std::string& what) {
  throw StorageError(file.string() + ": could not " + what + ": " + std::strerror(errno) +
                     (errno == ENOSPC ? " (disk full?)" : ""));
}

}  // namespace

RunLock RunLock::claim(const std::filesystem::path& dir) {
  const auto lock = dir / "run.lock";
  // Unique per claim, not only per process: two writers of one process must not share it.
  static std::atomic<unsigned> claims{0};
  const auto mine =
      dir / ("run.lock." + std::to_string(getpid()) + "." + std::to_string(claims++));
  const std::string host = this_host();
  {
    std::ofstream out(mine, std::ios::trunc);
    out << getpid() << ' ' << host << '\n';
    if (!out.flush()) storage_failure(mine, "write the run lock");
  }
  // Three rounds: a stale lock taken over, or a lock released between our link and our read.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (link(mine.c_str(), lock.c_str()) == 0) {
      unlink(mine.c_str());
      return RunLock(lock);
    }
    if (errno != EEXIST) {
      int saved = errno;
      unlink(mine.c_str());
      errno = saved;
      storage_failure(lock, "create the run lock");
    }
    Holder holder;
    if (!read_holder(lock, holder)) continue;
    const bool ours_host = holder.host == host;
    if (!ours_host || alive_here(holder.pid)) {
      unlink(mine.c_str());
      throw RunInUse(dir.string() + " is in use by process " + std::to_string(holder.pid) +
                     (ours_host ? "" : " on host " + holder.host) +
                     " (" + lock.string() + ")\nhint: wait for that run to finish, or choose "
                     "another --name; if no nanolab process is writing this run, delete " +
                     lock.string());
    }
    std::cerr << "nanolab: " << lock.string() << " was left by process " << holder.pid
              << ", which is no longer running; taking the run over\n";
    unlink(lock.c_str());
  }
  unlink(mine.c_str());
  throw RunInUse(dir.string() + ": could not claim " + lock.string() +
                 ": other processes keep taking it");
}

void RunLock::release() noexcept {
  if (file_.empty()) return;
  unlink(file_.c_str());
  file_.clear();
}

}  // namespace nanolab::store
