// SHA-256 (FIPS 180-4): the content hash nanolab records for plugin libraries, run logs and raw
// dataset files. Internal to the framework.
//
// A plain portable implementation, incremental (update any number of times, then finish) so that
// large files are hashed in fixed-size chunks. Not a general crypto library: no HMAC, no other
// digests, no constant-time guarantees (nothing here is secret).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace nanolab::runtime {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // The digest of everything given so far; the object must not be updated afterwards.
  Digest finish();

 private:
  void compress(const uint8_t* block);  // one 64-byte block

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string to_hex(const Sha256::Digest& digest);  // 64 lowercase hex digits

std::string sha256_hex(std::string_view bytes);
// Hashes a file in chunks; throws StorageError naming the file when it cannot be read.
std::string sha256_file_hex(const std::filesystem::path& file);

}  // namespace nanolab::runtime
