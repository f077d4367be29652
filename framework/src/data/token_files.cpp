// nanoGPT's and llm.c's token files (token_files.hpp): open_input and mmap to read, with
// MADV_RANDOM (batches read a few rows at random offsets: read-ahead would only fill the page
// cache and the resident set with ids no batch uses); write_atomically to write.
#include "data/token_files.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <bit>
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
              "token files are little-endian and read in place");

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
  int fd = -1;
  uint64_t size = 0;
  if (const std::string problem = open_input(file, input_limit::token_file, fd, size);
      !problem.empty())
    throw DataError(file.string() + ": " + problem);
  if (size > 0) {
    map_ = ::mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file open
    if (map_ == MAP_FAILED) {
      map_ = nullptr;
      throw DataError(file.string() + ": cannot map it: " + std::strerror(err));
    }
    map_size_ = size_t(size);
    ::madvise(map_, map_size_, MADV_RANDOM);
  } else {
    ::close(fd);
  }
  const auto* bytes = static_cast<const unsigned char*>(map_);

  if (format == TokenFormat::nanogpt) {
    if (size % 2 != 0)
      bad_file(file, size - 1,
               "a nanoGPT token file is uint16 ids, 2 bytes each, but it has an odd size of " +
                   std::to_string(size) + " bytes (cut short?); hint: write it again (prepare.py)");
    count_ = int64_t(size / 2);
    ids_ = bytes;
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
  std::memcpy(header, bytes, sizeof header);
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
  ids_ = bytes + llmc_header_bytes;
}

TokenFile::TokenFile(TokenFile&& other) noexcept { *this = std::move(other); }

TokenFile& TokenFile::operator=(TokenFile&& other) noexcept {
  if (this != &other) {
    if (map_) ::munmap(map_, map_size_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    ids_ = std::exchange(other.ids_, nullptr);
    id_bytes_ = other.id_bytes_;
    header_bytes_ = other.header_bytes_;
    count_ = std::exchange(other.count_, 0);
    format_ = other.format_;
    file_ = std::move(other.file_);
  }
  return *this;
}

TokenFile::~TokenFile() {
  if (map_) ::munmap(map_, map_size_);
}

void TokenFile::copy(int64_t first, int64_t n, int32_t* out) const {
  if (id_bytes_ == 4) {
    std::memcpy(out, ids_ + uint64_t(first) * 4, size_t(n) * 4);
    return;
  }
  // The ids after an llm.c header or at the start of a file are 2-byte aligned.
  const auto* src = reinterpret_cast<const uint16_t*>(ids_) + first;
  for (int64_t i = 0; i < n; ++i) out[i] = src[i];
}

bool TokenFile::starts_with_llmc_magic() const {
  int32_t first = 0;
  if (map_size_ < sizeof first) return false;
  std::memcpy(&first, map_, sizeof first);
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
