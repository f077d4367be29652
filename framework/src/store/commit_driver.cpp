// The commit driver (see commit_driver.hpp): HDF5's writes held in 4 KiB pages until H5Fflush or
// H5Fclose, then committed so that a failed write changes nothing HDF5 has written before.
#include "store/commit_driver.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <vector>

namespace nanolab::store {
namespace {

constexpr uint64_t page_bytes = 4096;
constexpr uint64_t zero_run_bytes = 64 * 1024;  // the most zeros one write extends the file by

struct Config {
  hbool_t spend_reserve;
};

struct Page {
  std::vector<unsigned char> data;
  std::vector<unsigned char> before;  // the page on disk when first written; empty past its end
};

struct State {
  int fd = -1;
  dev_t device = 0;
  ino_t inode = 0;
  bool spend_reserve = false;
  haddr_t eoa = 0, eof = 0;        // HDF5's end of allocation, and the end of file it is told
  uint64_t disk_size = 0;          // the file's size on disk, reserve included
  std::map<uint64_t, Page> pages;  // written since the last commit, by page number
  bool broken = false;             // a commit failed: nothing more reaches the disk
};

// HDF5 hands back the H5FD_t it was given; the driver's own state hangs off it.
struct CommitFile {
  H5FD_t pub;
  State* state;
};

State& state_of(const H5FD_t* f) { return *reinterpret_cast<const CommitFile*>(f)->state; }

uint64_t round_up(uint64_t n) { return (n + page_bytes - 1) / page_bytes * page_bytes; }

// The test hook: true for the write that is to fail. Writes are counted from the first one that
// saw the variable's present value (a forked child that sets it starts from 1). The driver's
// callbacks run under HDF5's global lock, one at a time.
bool fault_injected() {
  static std::string seen;
  static int64_t count = 0;
  const char* value = std::getenv("NANOLAB_FAULT_WRITE");
  if (!value) return false;
  if (seen != value) {
    seen = value;
    count = 0;
  }
  return ++count == std::strtoll(value, nullptr, 10);
}

// Writes all n bytes at `at`; false with errno set.
bool write_all(int fd, const void* p, uint64_t n, uint64_t at) {
  if (fault_injected()) {
    errno = EIO;
    return false;
  }
  auto* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = pwrite(fd, c, n, off_t(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;
      return false;
    }
    c += w;
    n -= uint64_t(w);
    at += uint64_t(w);
  }
  return true;
}

// Reads n bytes at `at`, zeros past the end of the file; false with errno set.
bool read_all(int fd, void* p, uint64_t n, uint64_t at) {
  auto* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = pread(fd, c, n, off_t(at));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (r == 0) {
      std::memset(c, 0, n);
      return true;
    }
    c += r;
    n -= uint64_t(r);
    at += uint64_t(r);
  }
  return true;
}

// Puts a record on HDF5's error stack in the shape of its own system-call errors, which
// innermost_reason() (h5.cpp) turns into "<what>: <strerror> (errno N)".
herr_t failed(const char* what, int err, hid_t minor) {
  H5Epush2(H5E_DEFAULT, __FILE__, what, __LINE__, H5E_ERR_CLS, H5E_VFL, minor,
           "%s: errno = %d, error message = '%s'", what, err, std::strerror(err));
  return -1;
}

// Step 1 of a commit: the file grows from disk_size to `end`, new pages written as they are and
// zeros everywhere else.
bool extend(State& s, uint64_t end) {
  static const std::vector<unsigned char> zeros(zero_run_bytes, 0);
  uint64_t at = s.disk_size;
  while (at < end) {
    const uint64_t page = at / page_bytes;
    if (at % page_bytes == 0) {
      if (auto it = s.pages.find(page); it != s.pages.end()) {
        if (!write_all(s.fd, it->second.data.data(), page_bytes, at)) return false;
        at += page_bytes;
        continue;
      }
    }
    // Zeros up to the next written page, the end, or zero_run_bytes.
    uint64_t stop = std::min(end, at + zero_run_bytes);
    if (auto next = s.pages.upper_bound(page); next != s.pages.end())
      stop = std::min(stop, std::max(at + 1, next->first * page_bytes));
    if (!write_all(s.fd, zeros.data(), stop - at, at)) return false;
    at = stop;
  }
  return true;
}

herr_t commit(State& s) {
  if (s.broken || s.pages.empty()) return 0;
  const uint64_t old_size = s.disk_size;
  const uint64_t end =
      round_up(std::max<uint64_t>(s.eoa, (s.pages.rbegin()->first + 1) * page_bytes));
  const uint64_t size = end + (s.spend_reserve ? 0 : reserve_bytes);
  auto give_up = [&](int err) {
    s.broken = true;
    if (ftruncate(s.fd, off_t(old_size)) != 0) {}  // only drops what this commit added
    return failed("file write failed", err, H5E_WRITEERROR);
  };
  if (size > old_size && !extend(s, size)) return give_up(errno);
  s.disk_size = std::max(old_size, size);
  // Pages inside the old file, from the end (new space in the old reserve first) to the
  // superblock's page 0.
  for (auto it = s.pages.rbegin(); it != s.pages.rend(); ++it) {
    const uint64_t at = it->first * page_bytes;
    if (at >= old_size) continue;
    if (!write_all(s.fd, it->second.data.data(), page_bytes, at)) {
      const int err = errno;
      for (auto back = s.pages.rbegin(); back != it; ++back)
        if (back->first * page_bytes < old_size)
          write_all(s.fd, back->second.before.data(), page_bytes, back->first * page_bytes);
      write_all(s.fd, it->second.before.data(), page_bytes, at);
      s.disk_size = old_size;
      return give_up(err);
    }
  }
  s.pages.clear();
  return 0;
}

H5FD_t* open_file(const char* name, unsigned flags, hid_t fapl, haddr_t) {
  int o = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
  if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
  if (flags & H5F_ACC_CREAT) o |= O_CREAT;
  if (flags & H5F_ACC_EXCL) o |= O_EXCL;
  const int fd = ::open(name, o | O_CLOEXEC, 0666);
  if (fd < 0) {
    failed("unable to open file", errno, H5E_CANTOPENFILE);
    return nullptr;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    failed("unable to fstat file", errno, H5E_CANTOPENFILE);
    close(fd);
    return nullptr;
  }
  const auto* config = static_cast<const Config*>(H5Pget_driver_info(fapl));
  auto* s = new (std::nothrow) State;
  auto* f = new (std::nothrow) CommitFile{};
  if (!s || !f) {
    delete s;
    delete f;
    close(fd);
    failed("unable to allocate file struct", ENOMEM, H5E_CANTALLOC);
    return nullptr;
  }
  s->fd = fd;
  s->device = st.st_dev;
  s->inode = st.st_ino;
  s->spend_reserve = config && config->spend_reserve;
  s->eof = s->disk_size = uint64_t(st.st_size);
  f->state = s;
  return &f->pub;
}

herr_t close_file(H5FD_t* f) {
  State* s = &state_of(f);
  const herr_t status = commit(*s);
  close(s->fd);
  delete s;
  delete reinterpret_cast<CommitFile*>(f);
  return status;
}

int compare(const H5FD_t* a, const H5FD_t* b) {
  const State &x = state_of(a), &y = state_of(b);
  if (x.device != y.device) return x.device < y.device ? -1 : 1;
  if (x.inode != y.inode) return x.inode < y.inode ? -1 : 1;
  return 0;
}

herr_t query(const H5FD_t*, unsigned long* flags) {
  *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
           H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
  return 0;
}

void* fapl_get(H5FD_t* f) {
  auto* c = static_cast<Config*>(std::malloc(sizeof(Config)));  // HDF5 frees it with free()
  if (c) c->spend_reserve = state_of(f).spend_reserve;
  return c;
}

haddr_t get_eoa(const H5FD_t* f, H5FD_mem_t) { return state_of(f).eoa; }
herr_t set_eoa(H5FD_t* f, H5FD_mem_t, haddr_t addr) {
  state_of(f).eoa = addr;
  return 0;
}
haddr_t get_eof(const H5FD_t* f, H5FD_mem_t) { return state_of(f).eof; }

herr_t get_handle(H5FD_t* f, hid_t, void** handle) {
  *handle = &state_of(f).fd;
  return 0;
}

herr_t read(H5FD_t* f, H5FD_mem_t, hid_t, haddr_t addr, size_t size, void* buffer) {
  State& s = state_of(f);
  if (!read_all(s.fd, buffer, size, addr)) return failed("file read failed", errno, H5E_READERROR);
  // Pages written since the last commit are newer than the disk.
  const uint64_t end = addr + size;
  for (auto it = s.pages.lower_bound(addr / page_bytes);
       it != s.pages.end() && it->first * page_bytes < end; ++it) {
    const uint64_t from = std::max<uint64_t>(addr, it->first * page_bytes);
    const uint64_t to = std::min<uint64_t>(end, (it->first + 1) * page_bytes);
    std::memcpy(static_cast<char*>(buffer) + (from - addr),
                it->second.data.data() + (from - it->first * page_bytes), to - from);
  }
  return 0;
}

herr_t write(H5FD_t* f, H5FD_mem_t, hid_t, haddr_t addr, size_t size, const void* buffer) {
  State& s = state_of(f);
  const uint64_t end = addr + size;
  for (uint64_t page = addr / page_bytes; page * page_bytes < end; ++page) {
    auto [it, added] = s.pages.try_emplace(page);
    Page& p = it->second;
    if (added) {
      p.data.resize(page_bytes);
      if (!read_all(s.fd, p.data.data(), page_bytes, page * page_bytes)) {
        const int err = errno;
        s.pages.erase(it);
        return failed("file read failed", err, H5E_READERROR);
      }
      if (page * page_bytes < s.disk_size) p.before = p.data;
    }
    const uint64_t from = std::max<uint64_t>(addr, page * page_bytes);
    const uint64_t to = std::min<uint64_t>(end, (page + 1) * page_bytes);
    std::memcpy(p.data.data() + (from - page * page_bytes),
                static_cast<const char*>(buffer) + (from - addr), to - from);
  }
  s.eof = std::max<uint64_t>(s.eof, end);
  return 0;
}

herr_t flush(H5FD_t* f, hid_t, hbool_t) { return commit(state_of(f)); }

// HDF5 makes the file end at its end of allocation; the disk keeps the reserve past it.
herr_t truncate(H5FD_t* f, hid_t, hbool_t) {
  State& s = state_of(f);
  s.eof = s.eoa;
  return 0;
}

const H5FD_class_t commit_class = {
    "nanolab_commit",
    haddr_t(INT64_MAX),
    H5F_CLOSE_WEAK,
    nullptr,  // terminate
    nullptr,  // sb_size
    nullptr,  // sb_encode
    nullptr,  // sb_decode
    sizeof(Config),
    fapl_get,
    nullptr,  // fapl_copy: HDF5 copies fapl_size bytes
    nullptr,  // fapl_free: HDF5 frees them
    0,        // dxpl_size
    nullptr,  // dxpl_copy
    nullptr,  // dxpl_free
    open_file,
    close_file,
    compare,
    query,
    nullptr,  // get_type_map
    nullptr,  // alloc: HDF5 allocates at the end of allocation
    nullptr,  // free
    get_eoa,
    set_eoa,
    get_eof,
    get_handle,
    read,
    write,
    flush,
    truncate,
    nullptr,  // lock: the run lock keeps writers apart (h5.hpp)
    nullptr,  // unlock
    H5FD_FLMAP_DICHOTOMY,
};

}  // namespace

herr_t use_commit_driver(hid_t fapl, bool spend_reserve) {
  static const hid_t driver = H5FDregister(&commit_class);
  const Config config{spend_reserve};
  return driver < 0 ? -1 : H5Pset_driver(fapl, driver, &config);
}

}  // namespace nanolab::store
