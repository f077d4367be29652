// Opening an input file by path (nanolab/input_file.hpp): a regular file, also through a symlink,
// is read; a directory, a FIFO (without waiting for a writer), a device, a file over the limit and
// a missing file are refused with the reader's error type and the path.
#include "nanolab/input_file.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "support/temp_dir.hpp"

namespace nanolab {
namespace {

namespace fs = std::filesystem;

std::string problem_of(const fs::path& path, uint64_t max_bytes = 1 << 20) {
  std::string bytes;
  return read_input(path, max_bytes, bytes);
}

TEST(InputFile, ARegularFileAndASymlinkToOneAreRead) {
  test::TempDir dir;
  std::ofstream(dir.path() / "a.txt") << "hello";
  fs::create_symlink(dir.path() / "a.txt", dir.path() / "link.txt");
  EXPECT_EQ(read_input(dir.path() / "a.txt", ExitCode::data, 5), "hello");
  EXPECT_EQ(read_input(dir.path() / "link.txt", ExitCode::data, 5), "hello");
  std::ofstream(dir.path() / "empty.txt");
  EXPECT_EQ(read_input(dir.path() / "empty.txt", ExitCode::data, 5), "");
}

TEST(InputFile, WhatIsNotARegularFileIsRefusedBeforeItIsRead) {
  test::TempDir dir;
  const fs::path fifo = dir.path() / "fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  fs::create_symlink(fifo, dir.path() / "to-fifo");
  EXPECT_EQ(problem_of(fifo), "a FIFO, not a regular file");  // and no writer was waited for
  EXPECT_EQ(problem_of(dir.path() / "to-fifo"), "a FIFO, not a regular file");
  EXPECT_EQ(problem_of(dir.path()), "a directory, not a regular file");
  EXPECT_EQ(problem_of("/dev/zero"), "a character device, not a regular file");
  EXPECT_EQ(problem_of(dir.path() / "missing"), "no such file");
  EXPECT_EQ(problem_of(dir.path() / "missing" / "below"), "no such file");
}

TEST(InputFile, AFileOverTheLimitIsRefusedWithBothSizes) {
  test::TempDir dir;
  std::ofstream(dir.path() / "big") << std::string(1001, 'x');
  EXPECT_EQ(problem_of(dir.path() / "big", 1000),
            "1001 bytes, more than the 1000 a file of this kind may have");
  EXPECT_EQ(problem_of(dir.path() / "big", 1001), "");
}

TEST(InputFile, TheErrorHasTheReadersTypeAndNamesThePath) {
  test::TempDir dir;
  const fs::path missing = dir.path() / "missing";
  try {
    read_input(missing, ExitCode::data, 10);
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), missing.string() + ": no such file");
  }
  try {
    open_input(dir.path(), ExitCode::checkpoint, 10);
    ADD_FAILURE() << "expected a CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()), dir.path().string() + ": a directory, not a regular file");
  }
  EXPECT_THROW(read_input("/dev/zero", ExitCode::config, 10), ConfigError);
}

TEST(InputFile, TheDescriptorReadsTheFileAndBlocks) {
  test::TempDir dir;
  std::ofstream(dir.path() / "a") << "abc";
  const int fd = open_input(dir.path() / "a", ExitCode::data, 3);
  ASSERT_GE(fd, 0);
  char buf[4] = {};
  EXPECT_EQ(::read(fd, buf, 3), 3);
  EXPECT_STREQ(buf, "abc");
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  ::close(fd);
}

}  // namespace
}  // namespace nanolab
