// The run lock: DIR/run.lock, a small text file "<pid> <host>\n" that says which process writes
// the run in DIR. It exists from the moment a process claims the run until its RunWriter is gone.
//
// Claiming: the lock file is written under a private name and hard-linked to run.lock, which is
// atomic and fails if run.lock exists, so a lock file is never seen half-written. An existing lock
// whose pid is alive on this host (or that names another host, where we cannot tell) means the
// run is in use: RunInUse (exit 75), nothing changed. A lock whose pid is dead is stale (the
// writer was killed) and is taken over with a note on stderr. Two processes taking over the same
// stale lock in the same instant are not told apart; both would have to be started by hand on a
// run whose writer just died.
//
// Not an flock: the lock must outlive a kill -9 so that the file records who held the run, and it
// must be visible to `ls`.
#pragma once

#include <filesystem>

namespace nanolab::store {

class RunLock {
 public:
  // Claims `dir` (which must exist). Throws RunInUse, or StorageError if the file cannot be made.
  static RunLock claim(const std::filesystem::path& dir);
  RunLock(RunLock&& o) noexcept : file_(std::move(o.file_)) { o.file_.clear(); }
  RunLock& operator=(RunLock&&) = delete;
  RunLock(const RunLock&) = delete;
  ~RunLock() { release(); }

  void release() noexcept;  // removes run.lock; idempotent

 private:
  explicit RunLock(std::filesystem::path file) : file_(std::move(file)) {}
  std::filesystem::path file_;  // empty once released
};

}  // namespace nanolab::store
