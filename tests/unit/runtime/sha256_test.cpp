// SHA-256 against the FIPS 180-2 test vectors (appendix B: "abc", the 448-bit message, one
// million 'a') plus the empty string, the 896-bit message of FIPS 180-4's examples, the padding
// boundaries (55, 56, 64 bytes, whose digests were computed with Python's hashlib), incremental
// updates in uneven pieces, and file hashing. Exact comparisons: a hash has no tolerance.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nanolab/errors.hpp"
#include "runtime/sha256.hpp"

namespace nanolab::runtime {
namespace {

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
                       "nopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundaries) {
  EXPECT_EQ(sha256_hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256_hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256_hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += char(i * 7 + 3);
  Sha256 h;
  size_t at = 0;
  for (size_t piece = 1; at < text.size(); piece = piece * 3 % 131 + 1) {
    size_t n = std::min(piece, text.size() - at);
    h.update(text.data() + at, n);
    at += n;
  }
  EXPECT_EQ(to_hex(h.finish()), sha256_hex(text));
}

TEST(Sha256, FileEqualsBytes) {
  auto file = std::filesystem::temp_directory_path() / "nanolab-sha256-test.bin";
  std::string bytes(200000, '\0');  // spans several read chunks
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char(i * 31 % 251);
  std::ofstream(file, std::ios::binary) << bytes;
  EXPECT_EQ(sha256_file_hex(file), sha256_hex(bytes));
  std::filesystem::remove(file);
  EXPECT_THROW(sha256_file_hex(file), StorageError);
}

}  // namespace
}  // namespace nanolab::runtime
