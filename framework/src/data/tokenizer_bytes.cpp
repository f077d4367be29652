// describe_tokenizer_bytes (nanolab/tokenizer.hpp): what a file handed to a tokenizer's load()
// looks like when load() refuses it, so that a message says what was found (a copy with Windows
// line ends, another tokenizer's file, another version, GPT-2's files) rather than only what was
// expected. Formats are recognised by their first line only; nothing here parses a whole file.
#include <cctype>
#include <string>

#include "nanolab/tokenizer.hpp"

namespace nanolab {
namespace {

// `s` cut to 60 bytes with anything unprintable as \xNN, for a message.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 60)) {
    if (std::isprint(c)) {
      out += char(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return s.size() > 60 ? out + "..." : out;
}

std::string quoted_list(const std::vector<std::string_view>& headers) {
  std::string out;
  for (size_t i = 0; i < headers.size(); ++i)
    out += (i == 0 ? "'" : i + 1 == headers.size() ? "' or '" : "', '") + std::string(headers[i]);
  return out.empty() ? out : out + "'";
}

}  // namespace

std::string describe_tokenizer_bytes(std::string_view bytes,
                                     const std::vector<std::string_view>& headers) {
  const std::string reads = "; this tokenizer reads files whose first line is " + quoted_list(headers);
  if (bytes.empty()) return "it is empty (0 bytes)" + reads;
  const size_t eol = bytes.find('\n');
  std::string_view line = bytes.substr(0, eol);
  if (eol != std::string_view::npos && line.ends_with('\r')) {
    const std::string_view bare = line.substr(0, line.size() - 1);
    for (std::string_view h : headers)
      if (bare == h)
        return "its lines end with CR LF (Windows line ends, as a copy in text mode or an editor "
               "leaves them), where the format has LF only: convert it back (dos2unix) and load it "
               "again";
  }
  if (line.ends_with('\r')) line.remove_suffix(1);
  std::string first = "'";  // not "'" + ...: GCC 12 warns falsely on that (-Wrestrict)
  first += printable(line);
  first += "'";
  if (line.starts_with("nanolab-tokenizer ")) {
    const std::string_view rest = line.substr(18);
    const std::string_view kind = rest.substr(0, rest.find(' '));
    for (std::string_view h : headers)
      if (h.starts_with("nanolab-tokenizer " + std::string(kind) + " "))
        return "it is another version of this tokenizer's format (its first line is " + first +
               ")" + reads;
    return "it is a saved '" + printable(kind) + "' tokenizer (its first line is " + first +
           "), not one of this kind: give it to the '" + printable(kind) + "' plugin" + reads;
  }
  if (line.starts_with("minbpe v"))
    return "it is a minbpe .model of version " + printable(line.substr(8)) +
           " (its first line is " + first + ")" + reads;
  if (line.starts_with("#version"))
    return "it looks like GPT-2's vocab.bpe (its first line is " + first +
           "), which is not a saved tokenizer" + reads;
  const size_t start = bytes.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && bytes[start] == '{')
    return "it looks like JSON (GPT-2's encoder.json?), which is not a saved tokenizer" + reads;
  for (unsigned char c : bytes.substr(0, 256))
    if (c == 0 || (c < 32 && !std::isspace(c)))
      return "it holds binary data (it starts with '" + printable(bytes.substr(0, 16)) + "')" +
             reads;
  return "its first line is " + first + reads;
}

}  // namespace nanolab
