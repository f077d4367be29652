// tokenizer `char`: one id per character, the vocabulary learned from the training text as in
// nanoGPT's shakespeare_char. Characters are Unicode code points when the training text is valid
// UTF-8 and bytes otherwise; ids follow the sorted order of the characters. The vocabulary size is
// whatever the text holds (train's vocab_size is not a target for it). Encoding a character the
// training text did not have is a DataError naming the character and its byte offset: silently
// mapping it to some other id would corrupt the data. Saved as a short versioned text: a header,
// the mode and the count, then the characters as decimal numbers on one line. Not a byte fallback
// tokenizer: it cannot encode what it has not seen.
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nanolab/plugin.hpp"
#include "nanolab/utf8.hpp"

namespace {

using namespace nanolab;

constexpr std::string_view header = "nanolab-tokenizer char 1\n";
using utf8::Decoded;
using utf8::is_surrogate;
using utf8::max_code_point;

// Reads the saved form strictly: any deviation, including a truncation anywhere, is an error.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  void expect(std::string_view literal, const char* what) {
    if (!rest_.starts_with(literal)) fail(what);
    rest_.remove_prefix(literal.size());
  }
  bool take(std::string_view literal) {
    if (!rest_.starts_with(literal)) return false;
    rest_.remove_prefix(literal.size());
    return true;
  }
  uint64_t number(const char* what) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), v);
    if (ec != std::errc() || end == rest_.data()) fail(what);
    rest_.remove_prefix(size_t(end - rest_.data()));
    return v;
  }
  void expect_end() {
    if (!rest_.empty()) fail("the end of the data");
  }
  [[noreturn]] static void fail(const std::string& what) {
    throw DataError("char tokenizer: cannot load the saved tokenizer: expected " + what +
                    " (the data is damaged, truncated or not a char tokenizer)");
  }

 private:
  std::string_view rest_;
};

class CharTokenizer final : public Tokenizer {
 public:
  CharTokenizer() { set_vocabulary({}); }

  void train(std::string_view text, int64_t) override {
    utf8_ = utf8::valid(text);
    std::vector<bool> seen(utf8_ ? max_code_point + 1 : 256);
    for (size_t at = 0; at < text.size();) {
      const Decoded d =
          utf8_ ? utf8::decode(text, at) : Decoded{static_cast<unsigned char>(text[at]), 1};
      seen[d.code_point] = true;
      at += d.length;
    }
    std::vector<uint32_t> chars;
    for (uint32_t c = 0; c < seen.size(); ++c)
      if (seen[c]) chars.push_back(c);
    set_vocabulary(std::move(chars));
  }

  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    ids.reserve(text.size());
    for (size_t at = 0; at < text.size();) {
      Decoded d{static_cast<unsigned char>(text[at]), 1};
      if (utf8_) {
        d = utf8::decode(text, at);
        if (d.length == 0)
          throw DataError("char tokenizer: invalid UTF-8 at byte offset " + std::to_string(at) +
                          "; this tokenizer learned UTF-8 characters; hint: train it on the "
                          "same kind of text, or use the byte tokenizer");
      }
      const int32_t id = id_of(d.code_point);
      if (id < 0)
        throw DataError("char tokenizer: " + describe_char(d.code_point) + " at byte offset " +
                        std::to_string(at) + " is not in the vocabulary of " +
                        std::to_string(chars_.size()) +
                        " characters learned from the training text; hint: train the tokenizer "
                        "on text that contains it");
      ids.push_back(id);
      at += d.length;
    }
    return ids;
  }

  std::string decode(std::span<const int32_t> ids) const override {
    std::string text;
    text.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || size_t(ids[i]) >= chars_.size())
        throw DataError("char tokenizer: id " + std::to_string(ids[i]) + " at position " +
                        std::to_string(i) + " is outside [0, " + std::to_string(chars_.size()) +
                        ")");
      if (utf8_)
        utf8::append(text, chars_[size_t(ids[i])]);
      else
        text += char(chars_[size_t(ids[i])]);
    }
    return text;
  }

  int64_t vocab_size() const override { return int64_t(chars_.size()); }

  std::string save() const override {
    std::string out(header);
    out += utf8_ ? "utf8 " : "bytes ";
    out += std::to_string(chars_.size());
    out += '\n';
    for (size_t i = 0; i < chars_.size(); ++i) {
      if (i) out += ' ';
      out += std::to_string(chars_[i]);
    }
    out += '\n';
    return out;
  }

  void load(std::string_view bytes) override {
    Reader in(bytes);
    if (!bytes.starts_with(header))
      throw DataError("char tokenizer: cannot load the saved tokenizer: " +
                      describe_tokenizer_bytes(bytes, {header.substr(0, header.size() - 1)}));
    in.expect(header, "the header 'nanolab-tokenizer char 1'");
    const bool utf8 = in.take("utf8 ");
    if (!utf8) in.expect("bytes ", "the mode 'utf8' or 'bytes'");
    const uint32_t limit = utf8 ? max_code_point : 255;
    const uint64_t n = in.number("the number of characters");
    if (n > uint64_t(limit) + 1)
      Reader::fail("at most " + std::to_string(limit + 1) + " characters");
    in.expect("\n", "a line break after the count");
    std::vector<uint32_t> chars;
    for (uint64_t i = 0; i < n; ++i) {
      if (i) in.expect(" ", "a space between characters");
      const uint64_t c = in.number("a character");
      if (c > limit || (utf8 && is_surrogate(uint32_t(c))) || (i && c <= chars.back()))
        Reader::fail("characters in increasing order, each a valid " +
                     std::string(utf8 ? "code point" : "byte"));
      chars.push_back(uint32_t(c));
    }
    in.expect("\n", "a line break after the characters");
    in.expect_end();
    utf8_ = utf8;
    set_vocabulary(std::move(chars));
  }

 private:
  void set_vocabulary(std::vector<uint32_t> chars) {
    chars_ = std::move(chars);
    ascii_.fill(-1);
    others_.clear();
    for (size_t id = 0; id < chars_.size(); ++id) {
      if (chars_[id] < ascii_.size())
        ascii_[chars_[id]] = int32_t(id);
      else
        others_[chars_[id]] = int32_t(id);
    }
  }

  int32_t id_of(uint32_t c) const {
    if (c < ascii_.size()) return ascii_[c];
    auto it = others_.find(c);
    return it == others_.end() ? -1 : it->second;
  }

  // "character 'é' (U+00E9)", or "byte 0xE9" when the characters are bytes.
  std::string describe_char(uint32_t c) const {
    char code[16];
    if (!utf8_) {
      std::snprintf(code, sizeof code, "0x%02X", c);
      return std::string("byte ") + code;
    }
    std::snprintf(code, sizeof code, "U+%04X", c);
    if (c < 0x20 || c == 0x7F) return std::string("character ") + code;  // unprintable
    std::string shown;
    utf8::append(shown, c);
    return "character '" + shown + "' (" + code + ")";
  }

  bool utf8_ = true;
  std::vector<uint32_t> chars_;                   // sorted; id = index
  std::array<int32_t, 128> ascii_{};              // id of each ASCII character, -1 if absent
  std::unordered_map<uint32_t, int32_t> others_;  // id of every other character
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::tokenizer;
  d.name = "char";
  d.version = "1.0.0";
  d.description =
      "one token per character (UTF-8 code point, or byte for non-UTF-8 text), vocabulary "
      "learned from the training text";
  d.factory = [](const Options&) -> std::unique_ptr<Tokenizer> {
    return std::make_unique<CharTokenizer>();
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
