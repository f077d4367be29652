// The HDF5 layer of store/ (see h5.hpp). Types in the file are fixed little-endian (I64LE, F32LE,
// U8LE) so a file reads the same on any machine; memory types are native.
#include "store/h5.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "nanolab/errors.hpp"
#include "store/commit_driver.hpp"

namespace nanolab::store {
namespace {

// When libnanolab is loaded, before any HDF5 call of the process (the environment record asks
// HDF5 for its version early): no HDF5 cleanup at exit. After a failed write (a full disk) HDF5
// keeps the object whose close failed, and its exit-time cleanup closed it again and crashed
// (SIGSEGV in H5D_close, after the error was reported and the run marked failed). Every file the
// store opens is closed by its Handle, so that cleanup has nothing else to do.
[[maybe_unused]] const bool no_hdf5_cleanup_at_exit = H5dont_atexit() >= 0;

constexpr hsize_t column_chunk_rows = 1024;  // 4 KB of float32: a few chunks for a long run
constexpr hsize_t unwritten_rows_allowed = 64 * column_chunk_rows;  // see column_length

// The innermost message of the calling thread's HDF5 error stack: the place the failure was first
// seen. For a failed system call HDF5 writes "file write failed: time = <ctime with a newline>,
// filename = ..., errno = 28, error message = 'No space left on device', ..."; that is cut down
// to "file write failed: No space left on device (errno 28)".
std::string innermost_reason() {
  std::string desc;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
        if (e->desc && *e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &desc);
  // The text after `key` up to `end`; empty when `key` is absent.
  auto field = [&](const std::string& key, char end) -> std::string {
    const size_t at = desc.find(key);
    if (at == std::string::npos) return "";
    const size_t begin = at + key.size();
    return desc.substr(begin, desc.find(end, begin) - begin);
  };
  const std::string number = field("errno = ", ','), message = field("error message = '", '\'');
  if (number.empty() || message.empty()) return desc;
  return desc.substr(0, desc.find(':')) + ": " + message + " (errno " + number + ")";
}

Handle string_type(const std::filesystem::path& file) {
  Handle t(H5Tcopy(H5T_C_S1), file, "make a string type");
  check(H5Tset_size(t, H5T_VARIABLE), file, "make a string type");
  check(H5Tset_cset(t, H5T_CSET_UTF8), file, "make a string type");
  return t;
}

Handle file_access(const std::filesystem::path& file, Writes writes) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), file, "make file access properties");
  check(H5Pset_file_locking(fapl, false, true), file, "turn file locking off");
  if (writes != Writes::direct)
    check(use_commit_driver(fapl, writes == Writes::last), file, "set up the commit driver");
  return fapl;
}

Handle scalar_space(const std::filesystem::path& file) {
  return Handle(H5Screate(H5S_SCALAR), file, "make a dataspace");
}

Handle simple_space(const std::vector<hsize_t>& dims, const std::filesystem::path& file) {
  return Handle(H5Screate_simple(int(dims.size()), dims.data(), nullptr), file, "make a dataspace");
}

Handle open_dataset(hid_t loc, const std::string& name, const std::filesystem::path& file) {
  return Handle(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), file, "open dataset " + name);
}

// What the readers below check before HDF5 writes into a buffer they sized: a damaged file (or
// one not written by nanolab) may hold any type and shape under a name nanolab uses, and HDF5
// writes every element the dataspace has, past the end of the caller's buffer.
[[noreturn]] void damaged(const std::filesystem::path& file, const std::string& what) {
  throw StorageError(file.string() + ": " + what +
                     " (the file is damaged or was not written by nanolab)");
}

// An attribute's or dataset's value must be one element (a scalar, or an array of one).
void require_one_value(hid_t space, const std::string& name, const std::filesystem::path& file) {
  const hssize_t points = H5Sget_simple_extent_npoints(space);
  if (points < 0) fail(file, "get the shape of " + name);
  if (points != 1) damaged(file, name + " holds " + std::to_string(points) + " values, not one");
}

// The length of a 1-D dataset; anything else under that name is refused.
hsize_t length_1d(hid_t space, const std::string& name, const std::filesystem::path& file) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail(file, "get the shape of " + name);
  if (rank != 1) damaged(file, name + " has " + std::to_string(rank) + " dimensions, not 1");
  hsize_t n = 0;
  check(H5Sget_simple_extent_dims(space, &n, nullptr), file, "get the shape of " + name);
  return n;
}

// The size in bytes of the open file that `loc` belongs to.
hsize_t file_size_of(hid_t loc, const std::filesystem::path& file) {
  Handle f(H5Iget_file_id(loc), file, "find the file of an object");
  hsize_t size = 0;
  check(H5Fget_filesize(f, &size), file, "get the file size");
  return size;
}

// An attribute that a scalar read may fill: it holds exactly one value.
Handle open_scalar_attr(hid_t obj, const std::string& name, const std::filesystem::path& file) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), file, "open attribute " + name);
  Handle space(H5Aget_space(a), file, "get the dataspace of attribute " + name);
  require_one_value(space, "attribute " + name, file);
  return a;
}

Handle open_or_create_attr(hid_t obj, const std::string& name, hid_t file_type,
                           const std::filesystem::path& file) {
  if (has_attr(obj, name)) return Handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), file,
                                         "open attribute " + name);
  return Handle(H5Acreate2(obj, name.c_str(), file_type, scalar_space(file), H5P_DEFAULT,
                           H5P_DEFAULT),
                file, "create attribute " + name);
}

void write_span(hid_t loc, const std::string& name, uint64_t first, uint64_t n, hid_t mem_type,
                const void* data, const std::filesystem::path& file) {
  if (n == 0) return;
  Handle ds = open_dataset(loc, name, file);
  hsize_t end = first + n, start = first, count = n;
  check(H5Dset_extent(ds, &end), file, "extend " + name);
  Handle fspace(H5Dget_space(ds), file, "get the dataspace of " + name);
  check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, nullptr, &count, nullptr), file,
        "select rows of " + name);
  Handle mspace = simple_space({count}, file);
  check(H5Dwrite(ds, mem_type, mspace, fspace, H5P_DEFAULT, data), file, "write " + name);
}

// Reads rows [0, n) of a column into `data`.
void read_span(hid_t loc, const std::string& name, uint64_t n, hid_t mem_type, void* data,
               const std::filesystem::path& file) {
  if (n == 0) return;
  Handle ds = open_dataset(loc, name, file);
  Handle fspace(H5Dget_space(ds), file, "get the dataspace of " + name);
  length_1d(fspace, name, file);  // H5Sselect_hyperslab reads a start and count per dimension
  hsize_t start = 0, count = n;
  check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, nullptr, &count, nullptr), file,
        "select rows of " + name);
  Handle mspace = simple_space({count}, file);
  check(H5Dread(ds, mem_type, mspace, fspace, H5P_DEFAULT, data), file, "read " + name);
}

}  // namespace

void quiet_errors() {
  thread_local bool quiet = false;
  if (!quiet) quiet = H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0;
}

void fail(const std::filesystem::path& file, const std::string& what) {
  std::string reason = innermost_reason();
  std::string message = file.string() + ": could not " + what;
  if (!reason.empty()) message += ": " + reason;
  if (reason.find("(errno " + std::to_string(ENOSPC) + ")") != std::string::npos)
    message += " (disk full?)";
  throw StorageError(message);
}

Handle::Handle(hid_t id, const std::filesystem::path& file, const std::string& what) : id_(id) {
  if (id < 0) fail(file, what);
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0) H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

void check(herr_t status, const std::filesystem::path& file, const std::string& what) {
  if (status < 0) fail(file, what);
}

Handle open_file(const std::filesystem::path& file, unsigned flags, Writes writes) {
  return Handle(H5Fopen(file.c_str(), flags, file_access(file, writes)), file,
                flags == H5F_ACC_RDONLY ? "open for reading" : "open for writing");
}

Handle create_file(const std::filesystem::path& file, bool truncate, Writes writes) {
  return Handle(H5Fcreate(file.c_str(), truncate ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT,
                          file_access(file, writes)),
                file, "create the file");
}

void close_file(Handle& f, const std::filesystem::path& file) {
  check(H5Fflush(f, H5F_SCOPE_LOCAL), file, "write to disk");
  check(H5Fclose(f.release()), file, "close");
}

Handle create_group(hid_t loc, const std::string& name, const std::filesystem::path& file) {
  return Handle(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), file,
                "create group " + name);
}

Handle open_group(hid_t loc, const std::string& name, const std::filesystem::path& file) {
  return Handle(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), file, "open group " + name);
}

bool exists(hid_t loc, const std::string& name) {
  return H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0;
}

void write_attr(hid_t obj, const std::string& name, const std::string& value,
                const std::filesystem::path& file) {
  Handle type = string_type(file);
  Handle a = open_or_create_attr(obj, name, type, file);
  const char* p = value.c_str();
  check(H5Awrite(a, type, &p), file, "write attribute " + name);
}

void write_attr(hid_t obj, const std::string& name, int64_t value,
                const std::filesystem::path& file) {
  Handle a = open_or_create_attr(obj, name, H5T_STD_I64LE, file);
  check(H5Awrite(a, H5T_NATIVE_INT64, &value), file, "write attribute " + name);
}

void write_attr(hid_t obj, const std::string& name, double value,
                const std::filesystem::path& file) {
  Handle a = open_or_create_attr(obj, name, H5T_IEEE_F64LE, file);
  check(H5Awrite(a, H5T_NATIVE_DOUBLE, &value), file, "write attribute " + name);
}

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::string read_string_attr(hid_t obj, const std::string& name,
                             const std::filesystem::path& file) {
  Handle a = open_scalar_attr(obj, name, file);
  Handle type = string_type(file);
  char* p = nullptr;
  check(H5Aread(a, type, &p), file, "read attribute " + name);
  std::string value = p ? p : "";
  H5free_memory(p);
  return value;
}

int64_t read_int_attr(hid_t obj, const std::string& name, const std::filesystem::path& file) {
  Handle a = open_scalar_attr(obj, name, file);
  int64_t value = 0;
  check(H5Aread(a, H5T_NATIVE_INT64, &value), file, "read attribute " + name);
  return value;
}

double read_double_attr(hid_t obj, const std::string& name, const std::filesystem::path& file) {
  Handle a = open_scalar_attr(obj, name, file);
  double value = 0;
  check(H5Aread(a, H5T_NATIVE_DOUBLE, &value), file, "read attribute " + name);
  return value;
}

std::vector<std::string> attr_names(hid_t obj, const std::filesystem::path& file) {
  std::vector<std::string> names;
  check(H5Aiterate2(
            obj, H5_INDEX_NAME, H5_ITER_INC, nullptr,
            [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
              static_cast<std::vector<std::string>*>(out)->push_back(name);
              return 0;
            },
            &names),
        file, "list attributes");
  return names;
}

std::vector<std::string> link_names(hid_t group, const std::filesystem::path& file) {
  std::vector<std::string> names;
  check(H5Literate(
            group, H5_INDEX_NAME, H5_ITER_INC, nullptr,
            [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
              static_cast<std::vector<std::string>*>(out)->push_back(name);
              return 0;
            },
            &names),
        file, "list a group");
  return names;
}

void delete_attr(hid_t obj, const std::string& name, const std::filesystem::path& file) {
  check(H5Adelete(obj, name.c_str()), file, "delete attribute " + name);
}

void write_string(hid_t loc, const std::string& name, const std::string& value,
                  const std::filesystem::path& file) {
  Handle type = string_type(file);
  Handle ds(exists(loc, name) ? H5Dopen2(loc, name.c_str(), H5P_DEFAULT)
                              : H5Dcreate2(loc, name.c_str(), type, scalar_space(file),
                                           H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            file, "open or create dataset " + name);
  const char* p = value.c_str();
  check(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), file, "write " + name);
}

std::string read_string(hid_t loc, const std::string& name, const std::filesystem::path& file) {
  Handle ds = open_dataset(loc, name, file);
  Handle space(H5Dget_space(ds), file, "get the dataspace of " + name);
  require_one_value(space, name, file);
  Handle type = string_type(file);
  char* p = nullptr;
  check(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), file, "read " + name);
  std::string value = p ? p : "";
  H5free_memory(p);
  return value;
}

void write_bytes(hid_t loc, const std::string& name, const std::string& bytes,
                 const std::filesystem::path& file) {
  Handle ds(H5Dcreate2(loc, name.c_str(), H5T_STD_U8LE, simple_space({bytes.size()}, file),
                       H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            file, "create dataset " + name);
  if (!bytes.empty())
    check(H5Dwrite(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()), file,
          "write " + name);
}

std::string read_bytes(hid_t loc, const std::string& name, const std::filesystem::path& file) {
  Handle ds = open_dataset(loc, name, file);
  Handle space(H5Dget_space(ds), file, "get the dataspace of " + name);
  const hsize_t n = length_1d(space, name, file);
  // Written whole (never extended), so every byte is in the file.
  if (const hsize_t size = file_size_of(loc, file); n > size)
    damaged(file, name + " claims " + std::to_string(n) + " bytes, more than the file's " +
                      std::to_string(size));
  std::string bytes(n, '\0');
  if (!bytes.empty()) {
    check(H5Dread(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()), file,
          "read " + name);
  }
  return bytes;
}

void create_column(hid_t loc, const std::string& name, Column type,
                   const std::filesystem::path& file) {
  hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = column_chunk_rows;
  Handle space(H5Screate_simple(1, &zero, &unlimited), file, "make a dataspace");
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), file, "make dataset properties");
  check(H5Pset_chunk(dcpl, 1, &chunk), file, "set the chunk size of " + name);
  Handle str;
  hid_t file_type = H5T_STD_I64LE;
  if (type == Column::int64) {
    const int64_t fill = -1;
    check(H5Pset_fill_value(dcpl, H5T_NATIVE_INT64, &fill), file, "set the fill of " + name);
  } else if (type == Column::float32) {
    file_type = H5T_IEEE_F32LE;
    const float fill = std::numeric_limits<float>::quiet_NaN();
    check(H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &fill), file, "set the fill of " + name);
  } else {
    str = string_type(file);
    file_type = str;
  }
  Handle ds(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), file,
            "create dataset " + name);
}

void write_rows(hid_t loc, const std::string& name, uint64_t first, const std::vector<int64_t>& v,
                const std::filesystem::path& file) {
  write_span(loc, name, first, v.size(), H5T_NATIVE_INT64, v.data(), file);
}

void write_rows(hid_t loc, const std::string& name, uint64_t first, const std::vector<float>& v,
                const std::filesystem::path& file) {
  write_span(loc, name, first, v.size(), H5T_NATIVE_FLOAT, v.data(), file);
}

void write_rows(hid_t loc, const std::string& name, uint64_t first,
                const std::vector<std::string>& v, const std::filesystem::path& file) {
  std::vector<const char*> pointers;
  pointers.reserve(v.size());
  for (const auto& s : v) pointers.push_back(s.c_str());
  write_span(loc, name, first, v.size(), string_type(file), pointers.data(), file);
}

uint64_t column_length(hid_t loc, const std::string& name, const std::filesystem::path& file) {
  Handle ds = open_dataset(loc, name, file);
  Handle space(H5Dget_space(ds), file, "get the dataspace of " + name);
  const hsize_t n = length_1d(space, name, file);
  // A reader allocates every row a column claims. Written rows are in the file; rows past them
  // are only those of a flush cut short (extended, not yet written), a batch far below
  // unwritten_rows_allowed. More than that is a damaged length, not a run.
  Handle type(H5Dget_type(ds), file, "get the type of " + name);
  const hsize_t row_bytes = std::max<hsize_t>(H5Tget_size(type), 1);
  if (const hsize_t size = file_size_of(loc, file); n > size / row_bytes + unwritten_rows_allowed)
    damaged(file, name + " claims " + std::to_string(n) + " rows, more than the file's " +
                      std::to_string(size) + " bytes can hold");
  return n;
}

void truncate_column(hid_t loc, const std::string& name, uint64_t n,
                     const std::filesystem::path& file) {
  Handle ds = open_dataset(loc, name, file);
  hsize_t end = n;
  check(H5Dset_extent(ds, &end), file, "truncate " + name);
}

std::vector<int64_t> read_int64_rows(hid_t loc, const std::string& name, uint64_t n,
                                     const std::filesystem::path& file) {
  std::vector<int64_t> v(n);
  read_span(loc, name, n, H5T_NATIVE_INT64, v.data(), file);
  return v;
}

std::vector<float> read_float_rows(hid_t loc, const std::string& name, uint64_t n,
                                   const std::filesystem::path& file) {
  std::vector<float> v(n);
  read_span(loc, name, n, H5T_NATIVE_FLOAT, v.data(), file);
  return v;
}

std::vector<std::string> read_string_rows(hid_t loc, const std::string& name, uint64_t n,
                                          const std::filesystem::path& file) {
  std::vector<char*> pointers(n, nullptr);
  Handle type = string_type(file);
  read_span(loc, name, n, type, pointers.data(), file);
  std::vector<std::string> v;
  v.reserve(n);
  for (char* p : pointers) {
    v.emplace_back(p ? p : "");
    H5free_memory(p);
  }
  return v;
}

void write_floats(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const float* data, const std::filesystem::path& file) {
  Handle space = dims.empty() ? scalar_space(file) : simple_space(dims, file);
  Handle ds(H5Dcreate2(loc, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                       H5P_DEFAULT),
            file, "create dataset " + name);
  if (H5Sget_simple_extent_npoints(space) > 0)
    check(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), file,
          "write " + name);
}

std::vector<hsize_t> dataset_dims(hid_t loc, const std::string& name,
                                  const std::filesystem::path& file) {
  Handle ds = open_dataset(loc, name, file);
  Handle space(H5Dget_space(ds), file, "get the dataspace of " + name);
  int ndim = H5Sget_simple_extent_ndims(space);
  if (ndim < 0) fail(file, "get the shape of " + name);
  std::vector<hsize_t> dims(ndim);
  check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), file, "get the shape of " + name);
  return dims;
}

void read_floats(hid_t loc, const std::string& name, float* data,
                 const std::filesystem::path& file) {
  Handle ds = open_dataset(loc, name, file);
  check(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), file, "read " + name);
}

}  // namespace nanolab::store
