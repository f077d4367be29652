// Opening an input file by path (input_file.hpp): open with O_NONBLOCK, then fstat the descriptor.
#include "nanolab/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nanolab {
namespace {

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a file";
}

// The error type of each exit status, so that a caller catching DataError still catches it.
[[noreturn]] void throw_error(ExitCode code, const std::string& what) {
  switch (code) {
    case ExitCode::config: throw ConfigError(what);
    case ExitCode::data: throw DataError(what);
    case ExitCode::plugin: throw PluginError(what);
    case ExitCode::storage: throw StorageError(what);
    case ExitCode::checkpoint: throw CheckpointError(what);
    default: throw Error(code, what);
  }
}

}  // namespace

std::string open_input(const std::filesystem::path& path, uint64_t max_bytes, int& fd,
                       uint64_t& size) {
  fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return "no such file";
    return "cannot open it: " + std::string(std::strerror(errno));
  }
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0)
    problem = "cannot stat it: " + std::string(std::strerror(errno));
  else if (!S_ISREG(st.st_mode))
    problem = kind_of(st.st_mode) + ", not a regular file";
  else if (uint64_t(st.st_size) > max_bytes)
    problem = std::to_string(st.st_size) + " bytes, more than the " + std::to_string(max_bytes) +
              " a file of this kind may have";
  else if (const int flags = ::fcntl(fd, F_GETFL);
           flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    problem = "cannot open it: " + std::string(std::strerror(errno));
  if (!problem.empty()) {
    ::close(fd);
    fd = -1;
    return problem;
  }
  size = uint64_t(st.st_size);
  return "";
}

int open_input(const std::filesystem::path& path, ExitCode code, uint64_t max_bytes) {
  int fd = -1;
  uint64_t size = 0;
  if (std::string problem = open_input(path, max_bytes, fd, size); !problem.empty())
    throw_error(code, path.string() + ": " + problem);
  return fd;
}

std::string read_input(const std::filesystem::path& path, uint64_t max_bytes,
                       std::string& bytes) {
  int fd = -1;
  uint64_t size = 0;
  if (std::string problem = open_input(path, max_bytes, fd, size); !problem.empty())
    return problem;
  bytes.assign(size, '\0');
  uint64_t done = 0;
  int err = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, bytes.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : 0;
      break;
    }
    done += uint64_t(n);
  }
  ::close(fd);
  if (done == size) return "";
  bytes.clear();
  return err ? "read failed: " + std::string(std::strerror(err))
             : "it became shorter while it was read";
}

std::string read_input(const std::filesystem::path& path, ExitCode code, uint64_t max_bytes) {
  std::string bytes;
  if (std::string problem = read_input(path, max_bytes, bytes); !problem.empty())
    throw_error(code, path.string() + ": " + problem);
  return bytes;
}

}  // namespace nanolab
