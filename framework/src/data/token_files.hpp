// Token files as nanoGPT and llm.c write them, read in place, and llm.c's shard writer.
// Internal to data/.
//
// nanoGPT's prepare.py writes train.bin and val.bin: the token ids as raw little-endian uint16,
// nothing else. llm.c writes shards (dev/data/data_common.py, write_datafile): a header of 256
// little-endian int32 (magic 20240520, version, token count, the rest 0), then the ids: uint16 for
// version 1 (GPT-2), uint32 for version 2 (Llama 3). A file's format follows from its name
// (token_format_of: train.bin and val.bin are nanoGPT's, any other name is llm.c's), never from
// its first bytes, so that a damaged llm.c header is reported as one rather than read as ids.
// The ids stay on disk: a TokenFile keeps the file open and reads the ids a caller asks for with
// pread, widened to int32. Not mmap: a mapped page counts in the process's resident set for as long
// as it stays mapped, and the kernel maps a whole large folio of the page cache on a fault (a file
// just written, or read sequentially, is cached in folios of up to 2 MiB): training 100 steps of
// 16 rows on a 4 GB shard set that had just been written grew the resident set to 2.1 GiB, where
// pread keeps it at the size of the model (docs/data.md#token-shards).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

namespace nanolab::data {

enum class TokenFormat { nanogpt, llmc };

constexpr int32_t llmc_magic = 20240520;
constexpr int64_t llmc_header_ints = 256;  // the header: 1024 bytes

// nanogpt for a file named train.bin or val.bin, llmc for any other.
TokenFormat token_format_of(const std::filesystem::path& file);

class TokenFile {
 public:
  // Opens `file` and checks its header (llm.c: magic, version, token count against the file's
  // size; nanoGPT: a whole number of uint16). DataError naming the file, the byte offset and what
  // was expected, with a hint.
  TokenFile(const std::filesystem::path& file, TokenFormat format);
  TokenFile(TokenFile&& other) noexcept;
  TokenFile& operator=(TokenFile&& other) noexcept;
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;
  ~TokenFile();

  int64_t size() const { return count_; }  // ids
  // Ids [first, first + n) as int32 into `out`; the range must be inside the file. Safe to call
  // from several threads at once.
  void copy(int64_t first, int64_t n, int32_t* out) const;
  // Where id `i` starts in the file.
  uint64_t byte_offset(int64_t i) const { return header_bytes_ + uint64_t(i) * id_bytes_; }
  const std::filesystem::path& file() const { return file_; }
  TokenFormat format() const { return format_; }
  // Whether the file's first four bytes are llm.c's magic (a hint for a nanoGPT-named file).
  bool starts_with_llmc_magic() const;

 private:
  // `n` bytes at `offset` into `out`; DataError naming the file and the offset when they cannot
  // be read (an I/O error, or a file cut short since it was opened).
  void read_bytes(uint64_t offset, size_t n, void* out) const;

  int fd_ = -1;
  uint64_t file_size_ = 0;
  uint32_t id_bytes_ = 2;
  uint64_t header_bytes_ = 0;
  int64_t count_ = 0;
  TokenFormat format_ = TokenFormat::nanogpt;
  std::filesystem::path file_;
};

// Writes `ids` as an llm.c shard at `file` (write_atomically): version 1 (uint16 ids) when
// `vocab_size` <= 65536, else version 2 (uint32 ids). Every id must be in [0, vocab_size).
void write_llmc_shard(const std::filesystem::path& file, std::span<const int32_t> ids,
                      int64_t vocab_size);

}  // namespace nanolab::data
