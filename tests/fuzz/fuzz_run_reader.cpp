// libFuzzer target: read_run (what compare, report, resume and sample use) on damaged run files.
// The input is a recipe, not the file's bytes: it builds a run.h5 with HDF5's own API, object by
// object in the run writer's layout, and decides for each object whether it is as the writer
// makes it, missing, of another type (int64, float32, float64, variable or fixed-length string,
// bytes), of another rank (scalar, 1-D, 2-D), a group where a value belongs or a value where a
// group belongs, and for columns how many rows they claim (up to 2^40, never written). Values
// come from the input. An empty input builds a valid run without rows. read_run must return
// a RunLog or throw a nanolab exception (StorageError); anything else escaping, a sanitizer
// report, an allocation past -rss_limit_mb or a hang is a finding.
// Deliberately not byte-level damage: HDF5 1.10.8 itself reads out of bounds, crashes or loops
// forever on some damaged bytes (its global heap and object header decoders, docs/fuzzing.md),
// which no caller can prevent and which stops a byte-mutating target within seconds, before it
// reaches nanolab's code.
#include <time.h>

#include <cstring>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/run_store.hpp"
#include "store/h5.hpp"
#include "store/run_layout.hpp"

// read_run tries a failed read again after 50 ms, for a writer that is in the middle of a flush.
// There is no writer here and most recipes give a file that fails to read: without these the
// target would run a few inputs a second. Defined in the executable, they take the place of
// libc's for libnanolab too; nothing else in this process sleeps.
extern "C" int nanosleep(const struct timespec*, struct timespec*) { return 0; }
extern "C" int clock_nanosleep(clockid_t, int, const struct timespec*, struct timespec*) {
  return 0;
}

namespace nanolab::fuzz {
namespace {

using store::Handle;

enum class Type { int64, float32, float64, string, fixed_string, bytes };
constexpr int n_types = 6;

// How an object differs from what the writer makes.
enum class Form { as_written, missing, other_type, other_rank, other_kind };

constexpr hsize_t huge_rows = hsize_t(1) << 40;
constexpr int max_rows = 8;

// The input read front to back, one decision after another, so that a mutation of one byte
// changes one decision; past the end every byte reads as 0.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t next() { return at_ < size_ ? data_[at_++] : 0; }
  int below(int n) { return next() % n; }
  std::string text(size_t max_length) {
    std::string t(size_t(below(int(max_length) + 1)), '\0');
    for (char& c : t) c = char(next());
    return t;
  }
  // n bytes for a buffer of raw values (numbers of any bit pattern).
  std::vector<unsigned char> raw(size_t n) {
    std::vector<unsigned char> v(n);
    for (auto& b : v) b = next();
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_, at_ = 0;
};

class Recipe {
 public:
  Recipe(const uint8_t* data, size_t size, const std::filesystem::path& file)
      : in_(data, size), file_(file) {}

  void build() {
    Handle f = store::create_file(file_, true);
    // The two attributes read_run checks first get the writer's values when written as is, or
    // every run would stop there.
    if (const Form how = form(); how == Form::as_written)
      store::write_attr(f, "format", std::string(store::run_format), file_);
    else
      attribute(f, "format", Type::string, how);
    if (const Form how = form(); how == Form::as_written)
      store::write_attr(f, "format_version", store::run_format_version, file_);
    else
      attribute(f, "format_version", Type::int64, how);
    for (const char* name : {"status", "experiment", "run", "created", "finished"})
      attribute(f, name, Type::string);
    dataset(f, "config", Type::string, 0);
    if (Handle meta = group(f, "meta"); meta >= 0)
      for (int i = 0, n = count(); i < n; ++i)
        attribute(meta, "key" + std::to_string(i), Type::string);
    if (Handle plugins = group(f, "plugins"); plugins >= 0) {
      for (const char* kind : {"attention", "optimizer", "loss", "tokenizer", "schedule"}) {
        Handle g = group(plugins, kind);
        if (g < 0) continue;
        for (const char* name : {"name", "version", "file", "sha256"})
          attribute(g, name, Type::string);
      }
    }
    dataset(f, "tokenizer", Type::bytes, 1);
    if (Handle metrics = group(f, "metrics"); metrics >= 0) {
      columns(f, store::train_group, store::names_of(store::train_columns), Type::float32);
      columns(f, store::val_group, store::names_of(store::val_columns), Type::float32);
    }
    columns(f, store::samples_group, {"text"}, Type::string);
    if (Handle summary = group(f, "summary"); summary >= 0)
      for (int i = 0, n = count(); i < n; ++i)
        attribute(summary, "key" + std::to_string(i), Type::float64);
    store::close_file(f, file_);
  }

 private:
  // Half of all byte values (and the end of the input) leave an object as written, so that
  // random bytes still give files deep enough to reach the rows.
  Form form() {
    const uint8_t b = in_.next();
    return b < 128 ? Form::as_written : Form(1 + b % 4);
  }
  int count() { return in_.below(4); }
  Type other_than(Type t) { return Type((int(t) + 1 + in_.below(n_types - 1)) % n_types); }

  // A group as written (returned open), missing, or a scalar dataset in its place (both return
  // an invalid handle, so nothing is made inside).
  Handle group(hid_t loc, const char* name) {
    switch (form()) {
      case Form::as_written:
        return store::create_group(loc, name, file_);
      case Form::missing:
        return Handle();
      default:
        value(loc, name, false, other_than(Type::bytes), 0, false);
        return Handle();
    }
  }

  void attribute(hid_t obj, const std::string& name, Type type) {
    attribute(obj, name, type, form());
  }
  void attribute(hid_t obj, const std::string& name, Type type, Form how) {
    switch (how) {
      case Form::as_written:
        return value(obj, name, true, type, 0, false);
      case Form::missing:
      case Form::other_kind:  // an attribute cannot be a group: left out
        return;
      case Form::other_type:
        return value(obj, name, true, other_than(type), 0, false);
      case Form::other_rank:
        return value(obj, name, true, type, 1 + in_.below(2), false);
    }
  }

  // A whole-value dataset of `rank` 0 or 1 (config, tokenizer).
  void dataset(hid_t loc, const char* name, Type type, int rank) {
    switch (form()) {
      case Form::as_written:
        return value(loc, name, false, type, rank, false);
      case Form::missing:
        return;
      case Form::other_type:
        return value(loc, name, false, other_than(type), rank, false);
      case Form::other_rank:
        return value(loc, name, false, type, (rank + 1 + in_.below(2)) % 3, false);
      case Form::other_kind:
        store::create_group(loc, name, file_);
        return;
    }
  }

  // The group of a metrics table: an int64 step column and `names` columns of `type`.
  void columns(hid_t f, const char* group_name, const std::vector<const char*>& names, Type type) {
    Handle g = group(f, group_name);
    if (g < 0) return;
    column(g, "step", Type::int64);
    for (const char* name : names) column(g, name, type);
  }

  // An extendible column as the writer makes it (store::create_column, store::write_rows) with
  // 0 to max_rows rows, or one claiming huge_rows that were never written; or another form.
  void column(hid_t g, const char* name, Type type) {
    const Form how = form();
    if (how != Form::as_written) {
      if (how == Form::other_kind) {
        store::create_group(g, name, file_);
      } else if (how != Form::missing) {
        const Type t = how == Form::other_type ? other_than(type) : type;
        value(g, name, false, t, how == Form::other_rank ? 2 * in_.below(2) : 1, false);
      }
      return;
    }
    const int rows = in_.below(max_rows + 2);
    if (rows > max_rows) return value(g, name, false, type, 1, true);
    const store::Column kind = type == Type::int64     ? store::Column::int64
                               : type == Type::float32 ? store::Column::float32
                                                       : store::Column::string;
    store::create_column(g, name, kind, file_);
    if (kind == store::Column::int64) {
      std::vector<int64_t> v(static_cast<size_t>(rows));
      for (auto& x : v) x = int64_t(in_.next()) - 1;  // -1 is the fill: a row never written
      store::write_rows(g, name, 0, v, file_);
    } else if (kind == store::Column::float32) {
      std::vector<float> v(static_cast<size_t>(rows));
      for (auto& x : v) {
        const auto bits = in_.raw(sizeof x);
        std::memcpy(&x, bits.data(), sizeof x);
      }
      store::write_rows(g, name, 0, v, file_);
    } else {
      std::vector<std::string> v(static_cast<size_t>(rows));
      for (auto& x : v) x = in_.text(32);
      store::write_rows(g, name, 0, v, file_);
    }
  }

  // Makes attribute (or dataset) `name` of `type` and `rank` (0: scalar; 1, 2: up to max_rows
  // per dimension, or, when `huge`, a chunked 1-D dataset extended to huge_rows without writing).
  void value(hid_t loc, const std::string& name, bool attr, Type type, int rank, bool huge) {
    std::vector<hsize_t> dims;
    for (int d = 0; d < rank; ++d) dims.push_back(hsize_t(in_.below(max_rows + 1)));
    hsize_t points = 1;
    for (hsize_t d : dims) points *= d;

    Handle type_id = file_type(type);
    Handle space, dcpl(H5Pcreate(H5P_DATASET_CREATE), file_, "make dataset properties");
    if (huge) {
      const hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = 1024;
      space = Handle(H5Screate_simple(1, &zero, &unlimited), file_, "make a dataspace");
      store::check(H5Pset_chunk(dcpl, 1, &chunk), file_, "set a chunk size");
      points = 0;
    } else {
      space =
          Handle(rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), nullptr),
                 file_, "make a dataspace");
    }
    Handle obj =
        attr ? Handle(H5Acreate2(loc, name.c_str(), type_id, space, H5P_DEFAULT, H5P_DEFAULT),
                      file_, "create attribute " + name)
             : Handle(H5Dcreate2(loc, name.c_str(), type_id, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                      file_, "create dataset " + name);
    if (huge) {
      store::check(H5Dset_extent(obj, &huge_rows), file_, "extend " + name);
      return;
    }
    if (points == 0) return;

    // Values of the type, from the input: the buffer that H5Awrite/H5Dwrite reads.
    std::vector<unsigned char> buffer;
    std::vector<std::string> strings;
    std::vector<const char*> pointers;
    const void* data = nullptr;
    if (type == Type::string) {
      for (hsize_t i = 0; i < points; ++i) strings.push_back(in_.text(32));
      for (const auto& s : strings) pointers.push_back(s.c_str());
      data = pointers.data();
    } else {
      buffer = in_.raw(size_t(points) * H5Tget_size(type_id));
      data = buffer.data();
    }
    if (attr)
      store::check(H5Awrite(obj, type_id, data), file_, "write attribute " + name);
    else
      store::check(H5Dwrite(obj, type_id, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), file_,
                   "write " + name);
  }

  // The type both in memory and in the file: little-endian numbers on this host, UTF-8 strings.
  Handle file_type(Type type) {
    hid_t base = type == Type::int64     ? H5T_NATIVE_INT64
                 : type == Type::float32 ? H5T_NATIVE_FLOAT
                 : type == Type::float64 ? H5T_NATIVE_DOUBLE
                 : type == Type::bytes   ? H5T_NATIVE_UCHAR
                                         : H5T_C_S1;
    Handle t(H5Tcopy(base), file_, "make a type");
    if (type == Type::string) store::check(H5Tset_size(t, H5T_VARIABLE), file_, "make a type");
    if (type == Type::fixed_string) store::check(H5Tset_size(t, 8), file_, "make a type");
    return t;
  }

  Bytes in_;
  const std::filesystem::path& file_;
};

}  // namespace
}  // namespace nanolab::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanolab;
  const std::filesystem::path file = fuzz::scratch_dir() / "run.h5";
  try {
    fuzz::Recipe(data, size, file).build();
  } catch (const StorageError&) {
    return 0;  // a recipe HDF5 refuses to write (say, an attribute too large): nothing to read
  }
  try {
    read_run(file);
  } catch (const Error&) {
  }
  return 0;
}
