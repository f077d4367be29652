// UTF-8 as RFC 3629 defines it, strictly: overlong forms, surrogates (U+D800..U+DFFF), values past
// U+10FFFF and truncated sequences are not UTF-8 (Python's decoder agrees). Header-only, for the
// framework and for plugins (tokenizers that work on characters, readers of JSON strings).
// Not a Unicode library: no normalisation, no character classes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nanolab::utf8 {

constexpr uint32_t max_code_point = 0x10FFFF;

constexpr bool is_surrogate(uint32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

// The code point that starts at text[at] (at < text.size()) and its length in bytes; length 0
// where the bytes there are not valid UTF-8.
struct Decoded {
  uint32_t code_point;
  size_t length;
};
inline Decoded decode(std::string_view text, size_t at) {
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
  uint32_t cp = b0 & lead->payload;
  if (at + n > text.size()) return {0, 0};
  for (size_t i = 1; i < n; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return {0, 0};
    cp = cp << 6 | (byte(at + i) & 0x3F);
  }
  if (cp < lead->min || cp > max_code_point || is_surrogate(cp)) return {0, 0};
  return {cp, n};
}

// Appends the UTF-8 bytes of cp (cp <= max_code_point).
inline void append(std::string& out, uint32_t cp) {
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

inline bool valid(std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    const size_t n = decode(text, at).length;
    if (n == 0) return false;
    at += n;
  }
  return true;
}

// The code points of text, or nothing when it is not valid UTF-8.
inline std::optional<std::vector<int32_t>> code_points(std::string_view text) {
  std::vector<int32_t> cps;
  for (size_t at = 0; at < text.size();) {
    const Decoded d = decode(text, at);
    if (d.length == 0) return std::nullopt;
    cps.push_back(int32_t(d.code_point));
    at += d.length;
  }
  return cps;
}

}  // namespace nanolab::utf8
