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

namespace {

using namespace nanolab;

constexpr std::string_view header = "nanolab-tokenizer char 1\n";
constexpr uint32_t max_code_point = 0x10FFFF;

bool is_surrogate(uint32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

// The code point that starts at text[at] and its length in bytes, or length 0 where the bytes
// there are not valid UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
struct Decoded {
  uint32_t cp;
  size_t length;
};
Decoded decode_utf8(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(at);
  if (b0 < 0x80) return {b0, 1};
  // The lead byte gives the length, its payload bits, and the smallest code point that needs
  // that length (anything below is an overlong form).
  struct Lead {
    unsigned char mask, tag, payload;
    size_t n;
    uint32_t min;
  };
  static constexpr Lead leads[] = {
      {0xE0, 0xC0, 0x1F, 2, 0x80}, {0xF0, 0xE0, 0x0F, 3, 0x800}, {0xF8, 0xF0, 0x07, 4, 0x10000}};
  const Lead* lead = nullptr;
  for (const Lead& l : leads)
    if ((b0 & l.mask) == l.tag) lead = &l;
  if (!lead) return {0, 0};
  const size_t n = lead->n;
  const uint32_t min = lead->min;
  uint32_t cp = b0 & lead->payload;
  if (at + n > text.size()) return {0, 0};
  for (size_t i = 1; i < n; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return {0, 0};
    cp = cp << 6 | (byte(at + i) & 0x3F);
  }
  if (cp < min || cp > max_code_point || is_surrogate(cp)) return {0, 0};
  return {cp, n};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | cp >> 6);
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | cp >> 12);
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | cp >> 18);
    out += char(0x80 | (cp >> 12 & 0x3F));
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool valid_utf8(std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    const size_t n = decode_utf8(text, at).length;
    if (n == 0) return false;
    at += n;
  }
  return true;
}

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
    utf8_ = valid_utf8(text);
    std::vector<bool> seen(utf8_ ? max_code_point + 1 : 256);
    for (size_t at = 0; at < text.size();) {
      const Decoded d =
          utf8_ ? decode_utf8(text, at) : Decoded{static_cast<unsigned char>(text[at]), 1};
      seen[d.cp] = true;
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
        d = decode_utf8(text, at);
        if (d.length == 0)
          throw DataError("char tokenizer: invalid UTF-8 at byte offset " + std::to_string(at) +
                          "; this tokenizer learned UTF-8 characters; hint: train it on the "
                          "same kind of text, or use the byte tokenizer");
      }
      const int32_t id = id_of(d.cp);
      if (id < 0)
        throw DataError("char tokenizer: " + describe_char(d.cp) + " at byte offset " +
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
        append_utf8(text, chars_[size_t(ids[i])]);
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
    append_utf8(shown, c);
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
