// read_run on run files whose objects have the right names but the wrong shape: each test writes
// a valid run with RunWriter, replaces one object with HDF5's API, and expects the StorageError
// that names the object. These are the files with which the run file fuzz target
// (tests/fuzz/fuzz_run_reader.cpp) made the reader write past its buffers (an attribute, /config
// or /tokenizer holding more values than the buffer HDF5 was given) or allocate what a damaged
// length claimed (2^40 rows); a scalar column threw std::out_of_range, not a StorageError.
#include <hdf5.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nanolab/run_store.hpp"
#include "support/temp_dir.hpp"

namespace nanolab {
namespace {

using test::TempDir;

constexpr auto never = std::chrono::hours(1);

// A completed run with 5 train rows, 2 val rows and a sample; returns its run.h5.
std::filesystem::path write_run(const std::filesystem::path& dir) {
  RunWriter::Header h;
  h.experiment = "damaged";
  h.run = "run";
  h.config_toml = "[model]\nn_layer = 2\n";
  h.meta = {{"threads", "2"}};
  h.tokenizer = "char tokenizer bytes";
  auto w = RunWriter::create(dir, h, never);
  for (int64_t i = 0; i < 5; ++i) w->train({i, 2.0f, 1e-3f, 1.0f, 100.0f, 0.1f * float(i)});
  for (int64_t i = 0; i < 2; ++i) w->val({i * 4, 1.5f, 1.4f, 0.5f});
  w->sample(4, "To be");
  w->finish("completed", {{"best_val_loss", 1.5}});
  return dir / "run.h5";
}

// The file opened for writing with HDF5's C API, closed at the end of the scope.
class Rewrite {
 public:
  explicit Rewrite(const std::filesystem::path& file)
      : f_(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {
    EXPECT_GE(f_, 0) << file;
  }
  ~Rewrite() { H5Fclose(f_); }
  Rewrite(const Rewrite&) = delete;
  Rewrite& operator=(const Rewrite&) = delete;

  // Replaces attribute `name` of object `object` with a 1-D attribute of `values`.
  void strings_attr(const char* object, const char* name, const std::vector<const char*>& values) {
    ASSERT_GE(H5Adelete_by_name(f_, object, name, H5P_DEFAULT), 0) << name;
    const hid_t type = string_type();
    const hsize_t n = values.size();
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t a =
        H5Acreate_by_name(f_, object, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(a, 0) << name;
    if (n > 0) {
      EXPECT_GE(H5Awrite(a, type, values.data()), 0);
    }
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
  }
  void doubles_attr(const char* object, const char* name, const std::vector<double>& values) {
    ASSERT_GE(H5Adelete_by_name(f_, object, name, H5P_DEFAULT), 0) << name;
    const hsize_t n = values.size();
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t a = H5Acreate_by_name(f_, object, name, H5T_IEEE_F64LE, space, H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(a, 0) << name;
    EXPECT_GE(H5Awrite(a, H5T_NATIVE_DOUBLE, values.data()), 0);
    H5Aclose(a);
    H5Sclose(space);
  }

  // Replaces dataset `name` with one of `type` and `dims` (empty: a scalar) holding `data`.
  void dataset(const char* name, hid_t type, const std::vector<hsize_t>& dims, const void* data) {
    ASSERT_GE(H5Ldelete(f_, name, H5P_DEFAULT), 0) << name;
    const hid_t space = dims.empty() ? H5Screate(H5S_SCALAR)
                                     : H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    const hid_t d = H5Dcreate2(f_, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(d, 0) << name;
    EXPECT_GE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(d);
    H5Sclose(space);
  }

  // Sets the length of column `name` without writing the rows it gains.
  void extend(const char* name, hsize_t rows) {
    const hid_t d = H5Dopen2(f_, name, H5P_DEFAULT);
    ASSERT_GE(d, 0) << name;
    EXPECT_GE(H5Dset_extent(d, &rows), 0) << name;
    H5Dclose(d);
  }

  static hid_t string_type() {
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
  }

 private:
  hid_t f_;
};

// read_run's StorageError for `file`, or "" when it read the file.
std::string read_error(const std::filesystem::path& file) {
  try {
    read_run(file);
  } catch (const StorageError& e) {
    EXPECT_EQ(e.code(), ExitCode::storage);
    return e.what();
  }
  return "";
}

void expect_error(const std::filesystem::path& file, const std::string& what) {
  const std::string error = read_error(file);
  EXPECT_EQ(error,
            file.string() + ": " + what + " (the file is damaged or was not written by nanolab)");
}

TEST(DamagedRun, TheUnchangedRunReads) {
  TempDir tmp;
  const RunLog log = read_run(write_run(tmp.path() / "run"));
  EXPECT_EQ(log.train.size(), 5u);
  EXPECT_EQ(log.val.size(), 2u);
  EXPECT_EQ(log.tokenizer, "char tokenizer bytes");
}

TEST(DamagedRun, AnAttributeHoldingSeveralStringsIsRefused) {
  TempDir tmp;
  const auto file = write_run(tmp.path() / "run");
  Rewrite(file).strings_attr("/", "status", {"completed", "failed", "running", "x"});
  expect_error(file, "attribute status holds 4 values, not one");
}

TEST(DamagedRun, AMetaAttributeHoldingNoStringIsRefused) {
  TempDir tmp;
  const auto file = write_run(tmp.path() / "run");
  Rewrite(file).strings_attr("meta", "threads", {});
  expect_error(file, "attribute threads holds 0 values, not one");
}

TEST(DamagedRun, ASummaryAttributeHoldingSeveralNumbersIsRefused) {
  TempDir tmp;
  const auto file = write_run(tmp.path() / "run");
  Rewrite(file).doubles_attr("summary", "best_val_loss", {1.5, 1.6, 1.7});
  expect_error(file, "attribute best_val_loss holds 3 values, not one");
}

TEST(DamagedRun, AConfigOfSeveralStringsIsRefused) {
  TempDir tmp;
  const auto file = write_run(tmp.path() / "run");
  const std::vector<const char*> texts = {"[model]", "n_layer = 2", "n_head = 2"};
  const hid_t type = Rewrite::string_type();
  Rewrite(file).dataset("config", type, {3}, texts.data());
  H5Tclose(type);
  expect_error(file, "config holds 3 values, not one");
}

TEST(DamagedRun, ATwoDimensionalTokenizerIsRefused) {
  TempDir tmp;
  const auto file = write_run(tmp.path() / "run");
  const std::vector<unsigned char> bytes(64, 'b');
  Rewrite(file).dataset("tokenizer", H5T_NATIVE_UCHAR, {8, 8}, bytes.data());
  expect_error(file, "tokenizer has 2 dimensions, not 1");
}

TEST(DamagedRun, AScalarColumnIsRefused) {
  TempDir tmp;
  const auto file = write_run(tmp.path() / "run");
  const float loss = 1.5f;
  Rewrite(file).dataset("metrics/val/loss", H5T_NATIVE_FLOAT, {}, &loss);
  expect_error(file, "metrics/val/loss has 0 dimensions, not 1");
}

TEST(DamagedRun, ColumnsClaimingMoreRowsThanTheFileHoldsAreRefused) {
  TempDir tmp;
  const auto file = write_run(tmp.path() / "run");
  {
    Rewrite run(file);
    for (const char* c : {"step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"})
      run.extend(("metrics/train/" + std::string(c)).c_str(), hsize_t(1) << 40);
  }
  const std::string error = read_error(file);
  EXPECT_NE(error.find("metrics/train/step claims 1099511627776 rows, more than the file's "),
            std::string::npos)
      << error;
}

// A flush cut short by kill -9 between extending the columns and writing them leaves rows that
// read as the fill value: they are dropped, and the file is not called damaged.
TEST(DamagedRun, RowsOfAFlushCutShortAreStillDroppedQuietly) {
  TempDir tmp;
  const auto file = write_run(tmp.path() / "run");
  {
    Rewrite run(file);
    for (const char* c : {"step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"})
      run.extend(("metrics/train/" + std::string(c)).c_str(), 5 + 1000);
  }
  EXPECT_EQ(read_run(file).train.size(), 5u);
}

}  // namespace
}  // namespace nanolab
