// GPT-2's pre-split pattern matched by hand where the text is ASCII, for the `bpe` tokenizer plugin
// (bpe.cpp): the chunk that PCRE2 matches at a position, decided from ASCII bytes alone, or
// undecided as soon as the decision needs a byte of 0x80 or more (the plugin then asks PCRE2). Most
// English and source code is ASCII, and one match here costs a few table look-ups against a call
// into PCRE2's JIT. Header-only, so that tests/plugins/contract_tokenizer_bpe.cpp holds it to
// PCRE2.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nanolab::bpe {

// What an ASCII byte is to GPT-2's pattern: \p{L} is A-Z a-z, \p{N} is 0-9, and `\s` (Unicode's
// White_Space, as the plugin compiles it) is \t \n \v \f \r and space; every other ASCII byte,
// control characters included, is in [^\s\p{L}\p{N}]. A byte of 0x80 or more starts (or
// continues, or breaks) a multi-byte character whose class only PCRE2 knows.
enum class ByteClass : uint8_t { letter, digit, space, other, not_ascii };

inline constexpr std::array<ByteClass, 256> byte_classes = [] {
  std::array<ByteClass, 256> c{};
  for (int b = 0; b < 256; ++b)
    c[size_t(b)] = b >= 0x80                                          ? ByteClass::not_ascii
                   : (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ? ByteClass::letter
                   : b >= '0' && b <= '9'                             ? ByteClass::digit
                   : (b >= '\t' && b <= '\r') || b == ' '             ? ByteClass::space
                                                                      : ByteClass::other;
  return c;
}();

// The end of the match of GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// at `at` in `text` (at < text.size()), or 0 when it depends on a byte that is not ASCII. `text`
// is the whole subject: the look-ahead (?!\S) at its end sees nothing. The alternatives are taken
// in order, as PCRE2 does: a contraction; then an optional space and a run of letters, digits or
// others, whichever the byte after the space starts; then white space, whose run, when a
// non-space follows it, gives its last byte back to the look-ahead unless that byte is all of it.
inline size_t gpt2_ascii_match(std::string_view text, size_t at) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  auto run_end = [&](size_t i, ByteClass c) {  // the end of the run of class c from i
    while (i < n && byte_classes[s[i]] == c) ++i;
    return i;
  };
  auto decided = [&](size_t end) {  // 0 if the run stopped at a byte that may extend it
    return end < n && byte_classes[s[end]] == ByteClass::not_ascii ? 0 : end;
  };
  if (s[at] == '\'' && at + 1 < n) {
    const unsigned char x = s[at + 1];
    if (x == 's' || x == 't' || x == 'm' || x == 'd') return at + 2;
    const unsigned char y = at + 2 < n ? s[at + 2] : 0;
    if ((x == 'r' && y == 'e') || (x == 'v' && y == 'e') || (x == 'l' && y == 'l')) return at + 3;
  }
  const ByteClass c = byte_classes[s[at]];
  if (c == ByteClass::not_ascii) return 0;
  if (c != ByteClass::space) return decided(run_end(at + 1, c));
  if (s[at] == ' ' && at + 1 < n) {
    const ByteClass d = byte_classes[s[at + 1]];
    if (d == ByteClass::not_ascii) return 0;
    if (d != ByteClass::space) return decided(run_end(at + 2, d));
  }
  const size_t end = run_end(at + 1, ByteClass::space);
  if (end == n) return n;
  if (byte_classes[s[end]] == ByteClass::not_ascii) return 0;
  return end - at >= 2 ? end - 1 : end;
}

}  // namespace nanolab::bpe
