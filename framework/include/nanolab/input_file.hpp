// Opening a file that nanolab reads by path: an experiment and its includes, a dataset's text, a
// GPT-2 weight file, a tokenizer's files. Every such reader goes through open_input, which refuses
// what is not a regular file (a directory, a FIFO, a device such as /dev/zero, a socket) and a
// file over the reader's size limit, before a byte is read: a FIFO is opened with O_NONBLOCK, so
// that opening it cannot wait for a writer, and the checks are made with fstat on the opened
// descriptor, so that the file checked is the file read. Symlinks are followed; what they point at
// is checked. The errors carry the reader's exit status (`code`) and name the path
// (docs/cli.md#input-files). Not a file cache and not a writer: run files, checkpoints and shards
// are written by the store and data layers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "nanolab/errors.hpp"

namespace nanolab {

// The size limits of the readers (docs/cli.md#input-files), each far above any real file of its
// kind and below what would exhaust the memory a read allocates.
namespace input_limit {
constexpr uint64_t experiment = uint64_t(1) << 20;  // an experiment file or an include: 1 MiB
constexpr uint64_t text = uint64_t(1) << 32;        // a dataset's text, a text to encode: 4 GiB
constexpr uint64_t tokenizer = uint64_t(1) << 28;   // a tokenizer's file (encoder.json...): 256 MiB
constexpr uint64_t weights = uint64_t(1) << 36;     // a GPT-2 weight file: 64 GiB
constexpr uint64_t token_file = uint64_t(1) << 40;  // a token file, never read whole: 1 TiB
}  // namespace input_limit

// Why `path` cannot be read as an input of at most `max_bytes` ("no such file", "a FIFO, not a
// regular file", "5368709120 bytes, more than the 4294967296 this file may have", ...), or "" when
// it can: then `fd` is open for reading (blocking, close-on-exec; the caller closes it) and `size`
// is the file's size.
std::string open_input(const std::filesystem::path& path, uint64_t max_bytes, int& fd,
                       uint64_t& size);

// open_input's descriptor, or the error of `code` (DataError for ExitCode::data, ...) saying
// "<path>: <reason>".
int open_input(const std::filesystem::path& path, ExitCode code, uint64_t max_bytes);

// The whole file through open_input: why it cannot be read, or "" with its bytes in `bytes`.
std::string read_input(const std::filesystem::path& path, uint64_t max_bytes, std::string& bytes);
// The whole file, or the error of `code` saying "<path>: <reason>".
std::string read_input(const std::filesystem::path& path, ExitCode code, uint64_t max_bytes);

}  // namespace nanolab
