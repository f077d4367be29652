// A thin layer over the HDF5 C API for the run log and checkpoints: owning handles, errors turned
// into StorageError, string/number attributes, whole-value datasets and extendible 1-D columns.
//
// Every failure throws StorageError "<file>: <what failed>: <HDF5's innermost reason>", with
// "(disk full?)" added when the reason is ENOSPC. HDF5's own printing of its error stack is turned
// off (quiet_errors) because that stack is the library's internals, not a message for a user.
// Files are opened with HDF5's file locking off: the run lock (run_lock.hpp) is what keeps two
// writers apart, and a reader (h5py, `nanolab compare`) holding a shared lock must never make a
// training run's flush fail.
//
// Deliberately not a general HDF5 wrapper: only the types and shapes nanolab's files use.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace nanolab::store {

// Turns off HDF5's automatic error printing for the calling thread (the setting is per thread in
// a thread-safe HDF5); cheap after the first call. Every entry point of store/ calls it.
void quiet_errors();

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what);

// An owned hid_t of any kind (file, group, dataset, dataspace, type, attribute, property list),
// released with H5Idec_ref. A handle is checked when made: an id < 0 throws through fail().
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, const std::filesystem::path& file, const std::string& what);
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  operator hid_t() const { return id_; }
  void reset();
  hid_t release() {  // gives up ownership
    hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

void check(herr_t status, const std::filesystem::path& file, const std::string& what);

// How the writes of a file reach the disk.
enum class Writes {
  direct,     // HDF5's POSIX driver, each write as HDF5 makes it (checkpoints: written to a .tmp)
  committed,  // the commit driver (commit_driver.hpp): a failed flush leaves the file as it was
  last,       // committed, and may spend the reserve: the write that records a failure
};

// Files. Both open with file locking off (see above). create uses EXCL unless `truncate`.
Handle open_file(const std::filesystem::path& file, unsigned flags,
                 Writes writes = Writes::direct);
Handle create_file(const std::filesystem::path& file, bool truncate,
                   Writes writes = Writes::direct);
// Flushes and closes, reporting what the close wrote (an ENOSPC at close must not pass silently).
void close_file(Handle& f, const std::filesystem::path& file);

Handle create_group(hid_t loc, const std::string& name, const std::filesystem::path& file);
Handle open_group(hid_t loc, const std::string& name, const std::filesystem::path& file);
bool exists(hid_t loc, const std::string& name);

// Attributes: variable-length UTF-8 strings (h5py reads them as str), int64 and float64 scalars.
// Writing an attribute that exists overwrites it in place.
void write_attr(hid_t obj, const std::string& name, const std::string& value,
                const std::filesystem::path& file);
void write_attr(hid_t obj, const std::string& name, int64_t value,
                const std::filesystem::path& file);
void write_attr(hid_t obj, const std::string& name, double value,
                const std::filesystem::path& file);
bool has_attr(hid_t obj, const std::string& name);
std::string read_string_attr(hid_t obj, const std::string& name, const std::filesystem::path& file);
int64_t read_int_attr(hid_t obj, const std::string& name, const std::filesystem::path& file);
double read_double_attr(hid_t obj, const std::string& name, const std::filesystem::path& file);
std::vector<std::string> attr_names(hid_t obj, const std::filesystem::path& file);
std::vector<std::string> link_names(hid_t group, const std::filesystem::path& file);
void delete_attr(hid_t obj, const std::string& name, const std::filesystem::path& file);

// Whole-value datasets: a scalar variable-length string (write_string replaces the value of one
// that exists), and a 1-D uint8 array of opaque bytes.
void write_string(hid_t loc, const std::string& name, const std::string& value,
                  const std::filesystem::path& file);
std::string read_string(hid_t loc, const std::string& name, const std::filesystem::path& file);
void write_bytes(hid_t loc, const std::string& name, const std::string& bytes,
                 const std::filesystem::path& file);
std::string read_bytes(hid_t loc, const std::string& name, const std::filesystem::path& file);

// Extendible, chunked 1-D columns of one row type. Unwritten rows read as the fill value (-1 for
// int64, NaN for float32), so a reader can tell a row that was never written.
enum class Column { int64, float32, string };
void create_column(hid_t loc, const std::string& name, Column type,
                   const std::filesystem::path& file);
// Writes rows [first, first + n) and extends the column to first + n. Writing the same rows again
// gives the same file, so a flush that failed half-way can simply be repeated.
void write_rows(hid_t loc, const std::string& name, uint64_t first, const std::vector<int64_t>& v,
                const std::filesystem::path& file);
void write_rows(hid_t loc, const std::string& name, uint64_t first, const std::vector<float>& v,
                const std::filesystem::path& file);
void write_rows(hid_t loc, const std::string& name, uint64_t first,
                const std::vector<std::string>& v, const std::filesystem::path& file);
uint64_t column_length(hid_t loc, const std::string& name, const std::filesystem::path& file);
void truncate_column(hid_t loc, const std::string& name, uint64_t n,
                     const std::filesystem::path& file);
// The first n rows.
std::vector<int64_t> read_int64_rows(hid_t loc, const std::string& name, uint64_t n,
                                     const std::filesystem::path& file);
std::vector<float> read_float_rows(hid_t loc, const std::string& name, uint64_t n,
                                   const std::filesystem::path& file);
std::vector<std::string> read_string_rows(hid_t loc, const std::string& name, uint64_t n,
                                          const std::filesystem::path& file);

// N-D float32 arrays (checkpoint tensors): dims outermost first; an empty dims is a scalar.
void write_floats(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const float* data, const std::filesystem::path& file);
std::vector<hsize_t> dataset_dims(hid_t loc, const std::string& name,
                                  const std::filesystem::path& file);
void read_floats(hid_t loc, const std::string& name, float* data,
                 const std::filesystem::path& file);

}  // namespace nanolab::store
