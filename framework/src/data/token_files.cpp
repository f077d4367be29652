// nanoGPT's and llm.c's token files (token_files.hpp): open_input, then pread with
// POSIX_FADV_RANDOM (batches read a few rows at random offsets: read-ahead would only fill the
// page cache with ids no batch uses); write_atomically to write.
#include "data/token_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "data/shard.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/input_file.hpp"

namespace nanolab::data {
namespace {

static_assert(std::endian::native == std::endian::little,
              "token files are little-endian and read as they are");

constexpr uint64_t llmc_header_bytes = llmc_header_ints * sizeof(int32_t);

[[noreturn]] void bad_file(const std::filesystem::path& file, uint64_t offset,
                           const std::string& what) {
  throw DataError(file.string() + ": at byte offset " + std::to_string(offset) + ": " + what);
}

}  // namespace

TokenFormat token_format_of(const std::filesystem::path& file) {
  const std::string name = file.filename().string();
  return name == "train.bin" || name == "val.bin" ? TokenFormat::nanogpt : TokenFormat::llmc;
}

TokenFile::TokenFile(const std::filesystem::path& file, TokenFormat format)
    : format_(format), file_(file) {
  uint64_t size = 0;
  if (const std::string problem = open_input(file, input_limit::token_file, fd_, size);
      !problem.empty())
    throw DataError(file.string() + ": " + problem);
  file_size_ = size;
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM);

  if (format == TokenFormat::nanogpt) {
    if (size % 2 != 0)
      bad_file(file, size - 1,
               "a nanoGPT token file is uint16 ids, 2 bytes each, but it has an odd size of " +
                   std::to_string(size) + " bytes (cut short?); hint: write it again (prepare.py)");
    count_ = int64_t(size / 2);
    return;
  }

  const std::string layout =
      "; an llm.c shard starts with 256 int32: magic 20240520, version (1: uint16 ids, 2: uint32 "
      "ids), token count";
  if (size < llmc_header_bytes)
    bad_file(file, size,
             "the file ends after " + std::to_string(size) + " bytes, inside llm.c's " +
                 std::to_string(llmc_header_bytes) + "-byte header" + layout);
  int32_t header[3];
  read_bytes(0, sizeof header, header);
  if (header[0] != llmc_magic)
    bad_file(file, 0,
             "magic " + std::to_string(header[0]) + ", expected llm.c's " +
                 std::to_string(llmc_magic) + layout +
                 "; hint: a file of raw uint16 ids (nanoGPT's prepare.py) must be named train.bin "
                 "or val.bin");
  if (header[1] != 1 && header[1] != 2)
    bad_file(file, 4, "version " + std::to_string(header[1]) + ", expected 1 or 2" + layout);
  id_bytes_ = header[1] == 1 ? 2 : 4;
  header_bytes_ = llmc_header_bytes;
  const uint64_t payload = size - llmc_header_bytes;
  if (header[2] < 0 || uint64_t(header[2]) * id_bytes_ != payload)
    bad_file(file, 8,
             "token count " + std::to_string(header[2]) + ", but the " + std::to_string(payload) +
                 " bytes after the header hold " + std::to_string(payload / id_bytes_) +
                 (payload % id_bytes_ ? " ids and a part of one" : " ids") + " of " +
                 std::to_string(id_bytes_) +
                 " bytes; hint: the file was cut short or appended to: write it again");
  count_ = header[2];
}

TokenFile::TokenFile(TokenFile&& other) noexcept { *this = std::move(other); }

TokenFile& TokenFile::operator=(TokenFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    file_size_ = other.file_size_;
    id_bytes_ = other.id_bytes_;
    header_bytes_ = other.header_bytes_;
    count_ = std::exchange(other.count_, 0);
    format_ = other.format_;
    file_ = std::move(other.file_);
  }
  return *this;
}

TokenFile::~TokenFile() {
  if (fd_ >= 0) ::close(fd_);
}

void TokenFile::read_bytes(uint64_t offset, size_t n, void* out) const {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, p, n, off_t(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) bad_file(file_, offset, std::string("cannot read it: ") + std::strerror(errno));
    if (got == 0)
      bad_file(file_, offset,
               "the file ends there, but it had " + std::to_string(file_size_) +
                   " bytes when it was opened: it was cut short while in use");
    p += got;
    offset += uint64_t(got);
    n -= size_t(got);
  }
}

void TokenFile::copy(int64_t first, int64_t n, int32_t* out) const {
  if (id_bytes_ == 4) {
    read_bytes(byte_offset(first), size_t(n) * 4, out);
    return;
  }
  // uint16 ids: a block at a time, widened into `out`.
  uint16_t block[4096];
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min<int64_t>(n - done, std::size(block));
    read_bytes(byte_offset(first + done), size_t(k) * 2, block);
    for (int64_t i = 0; i < k; ++i) out[done + i] = block[i];
    done += k;
  }
}

bool TokenFile::starts_with_llmc_magic() const {
  int32_t first = 0;
  if (file_size_ < sizeof first) return false;
  read_bytes(0, sizeof first, &first);
  return first == llmc_magic;
}

void write_llmc_shard(const std::filesystem::path& file, std::span<const int32_t> ids,
                      int64_t vocab_size) {
  const bool narrow = vocab_size <= 65536;
  std::vector<int32_t> header(llmc_header_ints, 0);
  header[0] = llmc_magic;
  header[1] = narrow ? 1 : 2;
  header[2] = int32_t(ids.size());
  const std::span<const char> head(reinterpret_cast<const char*>(header.data()), llmc_header_bytes);
  if (!narrow) {
    write_atomically(file, {head, {reinterpret_cast<const char*>(ids.data()), ids.size_bytes()}});
    return;
  }
  const std::vector<uint16_t> narrowed(ids.begin(), ids.end());
  write_atomically(file, {head, {reinterpret_cast<const char*>(narrowed.data()),
                                 narrowed.size() * sizeof(uint16_t)}});
}

}  // namespace nanolab::data
