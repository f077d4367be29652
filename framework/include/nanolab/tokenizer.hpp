// Tokenizer: the plugin interface for turning text into token ids and back.
//
// A tokenizer that learns its vocabulary does it in `train` (others ignore it). `save` returns the
// whole tokenizer as bytes (stored in the run file and in standalone files) and `load` of those
// bytes into a fresh instance gives a tokenizer that encodes and decodes identically. Bytes that
// `load` cannot read throw DataError. Text is bytes (UTF-8 where the tokenizer cares).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nanolab/errors.hpp"

namespace nanolab {

class NANOLAB_VISIBLE Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual void train(std::string_view text, int64_t vocab_size) = 0;
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual std::string save() const = 0;
  virtual void load(std::string_view bytes) = 0;
};

// What bytes that a tokenizer's load() refused look like, for its message: "it is empty", "its
// lines end with CR LF" (a file in one of `headers`, the first lines of the formats that load()
// reads, with Windows line ends), "it is a saved 'char' tokenizer", "it is a minbpe .model of
// version 2", "it looks like JSON", or its first line; and then what load() reads. One line.
NANOLAB_VISIBLE std::string describe_tokenizer_bytes(std::string_view bytes,
                                                     const std::vector<std::string_view>& headers);

}  // namespace nanolab
