// Checkpoints: a bit-exact round trip (the optimizer's scalars whole numbers), and every way a checkpoint can be bad (missing, not a
// checkpoint, truncated, a flipped byte in a weight) giving CheckpointError (exit 7) naming the
// file; a write killed half-way or failing for lack of space leaves the previous checkpoint whole.
//
// Comparisons are bitwise (memcmp), not by value: NaN payloads and -0.0 must survive too.
#include <sys/resource.h>

#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>
#include <hdf5.h>

#include "nanolab/run_store.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/child.hpp"
#include "support/skip.hpp"

namespace nanolab {
namespace {

using test::Child;
using test::read_file;
using test::TempDir;

// Values no other tensor holds, so a test can find this tensor's bytes in the file.
constexpr float marker_base = 12345.678f;

Checkpoint sample_checkpoint(int64_t step, float offset = 0.0f) {
  Checkpoint c;
  c.step = step;
  std::vector<float> wte(16 * 8);  // (V, C)
  for (size_t i = 0; i < wte.size(); ++i) wte[i] = offset + std::sin(float(i)) * 0.02f;
  wte[0] = -0.0f;
  wte[1] = std::numeric_limits<float>::denorm_min();
  wte[2] = std::numeric_limits<float>::quiet_NaN();
  wte[3] = std::numeric_limits<float>::infinity();
  c.model["wte.weight"] = Tensor::from(wte, {16, 8});
  std::vector<float> marker(64);
  for (size_t i = 0; i < marker.size(); ++i) marker[i] = marker_base + float(i);
  c.model["h.0.attn.c_attn.weight"] = Tensor::from(marker, {2, 2, 4, 4});
  c.model["odd/name%with slash"] = Tensor::from({1.5f, -2.5f}, {2});
  c.optimizer["bias_scale"] = Tensor::from({float(step)}, {});  // a scalar: no dimensions
  c.optimizer_scalars["step"] = (int64_t(1) << 40) + 1;  // no float holds it exactly
  c.optimizer["m.wte.weight"] = Tensor::full({16, 8}, 1e-3f + offset);
  c.tokenizer = std::string("bpe\0\x01\xfe merges", 14);
  c.config_toml = "[train]\nlearning_rate = 1e-3\n";
  c.counters = {{"tokens_seen", 1234567890123LL}, {"nonfinite_skips", 0}};
  c.values = {{"best_val_loss", 1.8812345678901234}, {"elapsed_s", 61.25}};
  return c;
}

void expect_same_tensors(const std::map<std::string, Tensor>& got,
                         const std::map<std::string, Tensor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, t] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    const Tensor& g = got.at(name);
    EXPECT_EQ(g.shape(), t.shape()) << name;
    ASSERT_EQ(g.numel(), t.numel()) << name;
    EXPECT_EQ(std::memcmp(g.data(), t.data(), sizeof(float) * size_t(t.numel())), 0) << name;
  }
}

void expect_same(const Checkpoint& got, const Checkpoint& want) {
  EXPECT_EQ(got.step, want.step);
  expect_same_tensors(got.model, want.model);
  expect_same_tensors(got.optimizer, want.optimizer);
  EXPECT_EQ(got.optimizer_scalars, want.optimizer_scalars);
  EXPECT_EQ(got.tokenizer, want.tokenizer);
  EXPECT_EQ(got.config_toml, want.config_toml);
  EXPECT_EQ(got.counters, want.counters);
  EXPECT_EQ(got.values, want.values);
}

// Reads the checkpoint in `dir`, expecting CheckpointError; returns its message.
std::string checkpoint_error(const std::filesystem::path& dir) {
  try {
    read_checkpoint(dir);
  } catch (const CheckpointError& e) {
    EXPECT_EQ(e.code(), ExitCode::checkpoint);
    return e.what();
  }
  ADD_FAILURE() << "read_checkpoint accepted a bad checkpoint in " << dir;
  return "";
}

TEST(Checkpoint, RoundTripIsBitExact) {
  TempDir tmp;
  const Checkpoint c = sample_checkpoint(500);
  write_checkpoint(tmp.path(), c);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "checkpoint.h5.tmp"));
  expect_same(read_checkpoint(tmp.path()), c);
}

// The optimizer's scalars are part of what the sha256 covers: a changed step count is caught.
TEST(Checkpoint, AChangedOptimizerScalarIsDetected) {
  TempDir tmp;
  write_checkpoint(tmp.path(), sample_checkpoint(500));
  ASSERT_EQ(read_checkpoint(tmp.path()).format_version, 2);
  const std::string file = (tmp.path() / "checkpoint.h5").string();
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hid_t a = H5Aopen_by_name(f, "optimizer", "step", H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(a, 0);
  const int64_t changed = 7;
  EXPECT_GE(H5Awrite(a, H5T_NATIVE_INT64, &changed), 0);
  H5Aclose(a);
  H5Fclose(f);
  const std::string what = checkpoint_error(tmp.path());
  EXPECT_NE(what.find(": corrupt: its contents hash to sha256"), std::string::npos) << what;
}

TEST(Checkpoint, ANewCheckpointReplacesThePreviousOne) {
  TempDir tmp;
  write_checkpoint(tmp.path(), sample_checkpoint(500));
  const Checkpoint later = sample_checkpoint(1000, 0.5f);
  write_checkpoint(tmp.path(), later);
  expect_same(read_checkpoint(tmp.path()), later);
}

TEST(Checkpoint, MissingOrForeignFilesAreNamed) {
  TempDir tmp;
  std::string message = checkpoint_error(tmp.path());
  EXPECT_NE(message.find((tmp.path() / "checkpoint.h5").string() + ": no checkpoint"),
            std::string::npos)
      << message;

  auto w = RunWriter::create(tmp.path() / "run", RunWriter::Header{});
  w->finish("completed", {});
  std::filesystem::copy_file(tmp.path() / "run" / "run.h5", tmp.path() / "checkpoint.h5");
  message = checkpoint_error(tmp.path());
  EXPECT_NE(message.find("not a nanolab checkpoint"), std::string::npos) << message;
  EXPECT_NE(message.find("hint:"), std::string::npos) << message;
}

TEST(Checkpoint, ATruncatedCheckpointIsRefused) {
  TempDir tmp;
  write_checkpoint(tmp.path(), sample_checkpoint(500));
  const auto file = tmp.path() / "checkpoint.h5";
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  const std::string message = checkpoint_error(tmp.path());
  EXPECT_EQ(message.rfind(file.string() + ": ", 0), 0u) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("hint:"), std::string::npos) << message;
}

TEST(Checkpoint, AFlippedByteInAWeightIsDetected) {
  TempDir tmp;
  write_checkpoint(tmp.path(), sample_checkpoint(500));
  const auto file = tmp.path() / "checkpoint.h5";
  std::string bytes = read_file(file);
  float first[2] = {marker_base, marker_base + 1.0f};
  const std::string needle(reinterpret_cast<const char*>(first), sizeof first);
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos) << "the marker tensor's bytes are not in the file";
  ASSERT_EQ(bytes.find(needle, at + 1), std::string::npos) << "the marker is not unique";
  bytes[at + 5] ^= 0x01;  // the lowest mantissa bit of the second value: a tiny, silent change
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  const std::string message = checkpoint_error(tmp.path());
  EXPECT_NE(message.find(file.string() + ": corrupt"), std::string::npos) << message;
}

TEST(Checkpoint, AWriteKilledHalfWayLeavesThePreviousCheckpoint) {
  TempDir tmp;
  const Checkpoint previous = sample_checkpoint(500);
  write_checkpoint(tmp.path(), previous);
  Child child([&](const auto&) {
    // The kernel kills a process with SIGXFSZ when it writes past RLIMIT_FSIZE: the write dies
    // at a fixed point, half-way through the 4 MB tensor.
    rlimit no_core{0, 0}, limit{1 << 20, 1 << 20};
    setrlimit(RLIMIT_CORE, &no_core);
    setrlimit(RLIMIT_FSIZE, &limit);
    Checkpoint big = sample_checkpoint(1000, 0.5f);
    big.model["big"] = Tensor::full({1024, 1024}, 0.25f);
    write_checkpoint(tmp.path(), big);
  });
  const int status = child.wait();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ) << "wait status " << status;
  ASSERT_TRUE(std::filesystem::exists(tmp.path() / "checkpoint.h5.tmp"));
  expect_same(read_checkpoint(tmp.path()), previous);

  const Checkpoint next = sample_checkpoint(1500, 0.25f);
  write_checkpoint(tmp.path(), next);  // over the leftover .tmp
  expect_same(read_checkpoint(tmp.path()), next);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "checkpoint.h5.tmp"));
}

TEST(Checkpoint, AFailedWriteIsAStorageErrorAndKeepsThePreviousCheckpoint) {
  TempDir tmp;
  const Checkpoint previous = sample_checkpoint(500);
  write_checkpoint(tmp.path(), previous);
  const auto message = tmp.path() / "message.txt";
  Child child([&](const auto&) {
    // With SIGXFSZ ignored, writing past the limit fails with EFBIG, as a full disk with ENOSPC.
    rlimit limit{1 << 20, 1 << 20};
    setrlimit(RLIMIT_FSIZE, &limit);
    signal(SIGXFSZ, SIG_IGN);
    Checkpoint big = sample_checkpoint(1000, 0.5f);
    big.model["big"] = Tensor::full({1024, 1024}, 0.25f);
    try {
      write_checkpoint(tmp.path(), big);
    } catch (const StorageError& e) {
      std::ofstream(message) << e.what();
      return;
    }
    throw std::runtime_error("write_checkpoint did not fail");
  });
  const int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const std::string text = read_file(message);
  EXPECT_NE(text.find((tmp.path() / "checkpoint.h5.tmp").string()), std::string::npos) << text;
  EXPECT_NE(text.find("File too large"), std::string::npos) << text;
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "checkpoint.h5.tmp"));
  expect_same(read_checkpoint(tmp.path()), previous);
}

TEST(Checkpoint, ADiskFullErrorSaysSo) {
  NANOLAB_NEEDS(std::filesystem::exists("/dev/full"), "no /dev/full on this system");
  TempDir tmp;
  // Every write to /dev/full fails with ENOSPC: the .tmp is pointed there.
  std::filesystem::create_symlink("/dev/full", tmp.path() / "checkpoint.h5.tmp");
  try {
    write_checkpoint(tmp.path(), sample_checkpoint(500));
    FAIL() << "a write to /dev/full succeeded";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.code(), ExitCode::storage);
    EXPECT_NE(std::string(e.what()).find("No space left on device (errno 28) (disk full?)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "checkpoint.h5"));
}

}  // namespace
}  // namespace nanolab
