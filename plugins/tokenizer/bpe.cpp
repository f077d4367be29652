// tokenizer `bpe`: byte-level byte-pair encoding, lossless for any byte string (valid UTF-8 or not).
// Text is first pre-split into chunks by a regex (GPT-2's or GPT-4's pattern through PCRE2, a custom
// one, or none); merges never cross a chunk boundary. Training follows minbpe's RegexTokenizer: pair
// counts over the distinct chunks weighted by their counts, updated incrementally after each merge
// (only in the chunks holding the merged pair), ties going to the pair seen first in the text, so
// that it learns the same merges as minbpe. `\s` means Unicode's White_Space, as in tiktoken.
// Options `encoder_json` + `vocab_bpe` load GPT-2's own vocabulary instead (train is then a no-op).
// Special tokens are a comma-separated string option (the schema has no string-list type).
// save() writes nanolab's own strict format, or minbpe's `.model` with `save_format = "minbpe"`
// (what minbpe's Tokenizer.load reads; load() reads both).
// Encoding pre-splits the whole text in one sequential pass and merges the chunks in parallel (the
// framework's TBB pool): the merges are per chunk, so the result is exactly the sequential one.
// Each thread keeps the ids of the chunks it encoded lately, so a repeated word is merged once.
// Not a SentencePiece-style
// tokenizer: no normalisation, no unigram model, no byte fallback (every byte is a token already).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <nlohmann/json.hpp>
#include <pcre2.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nanolab/input_file.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"
#include "nanolab/utf8.hpp"

namespace {

using namespace nanolab;

constexpr std::string_view format = "nanolab-tokenizer bpe 1";
constexpr std::string_view minbpe_header = "minbpe v1\n";

const std::string gpt2_pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const std::string gpt4_pattern =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";

std::string resolve_pattern(const std::string& name) {
  if (name == "gpt2") return gpt2_pattern;
  if (name == "gpt4") return gpt4_pattern;
  if (name == "none") return "";
  return name;
}

// The pattern as PCRE2 is to compile it: `\s` and `\S` become the class of Unicode's White_Space
// property and its complement, which is what `\s` means to tiktoken (Rust's regex) and Python's
// `regex` (minbpe). PCRE2's own `\s` also takes U+180E MONGOLIAN VOWEL SEPARATOR, no longer white
// space since Unicode 6.3. `\S` inside a class is left to PCRE2, and so is anything inside
// \Q...\E. The pattern a tokenizer saves is the one it was given.
std::string with_unicode_white_space(const std::string& pattern) {
  const std::string white_space =
      R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? white_space : "[" + white_space + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + white_space + "]";
      } else if (e == 'Q') {  // literal up to \E
        const size_t end = std::min(pattern.find("\\E", i), pattern.size());
        out += pattern.substr(i - 1, end - (i - 1));
        i = end - 1;
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    out += c;
    if (!in_class && c == '[') {
      in_class = true;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];  // a literal ]
    } else if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      const size_t end = pattern.find(":]", i + 2);  // a POSIX class such as [:alpha:]
      if (end != std::string::npos) {
        out += pattern.substr(i + 1, end + 1 - i);
        i = end + 1;
      }
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

// The pre-splitter: chunk boundaries of a text. Bytes the regex does not match (invalid UTF-8 never
// matches under PCRE2_MATCH_INVALID_UTF) become chunks of their own, so no byte is ever dropped.
class Splitter {
 public:
  explicit Splitter(const std::string& pattern) : pattern_(pattern) {
    if (pattern.empty()) return;
    int error = 0;
    PCRE2_SIZE offset = 0;
    const std::string compiled = with_unicode_white_space(pattern);
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset,
                          nullptr);
    if (!code_) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw ConfigError("bpe: the split pattern does not compile at offset " +
                        std::to_string(offset) + ": " + reinterpret_cast<char*>(message));
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // an interpreter fallback if JIT is missing
  }
  ~Splitter() { pcre2_code_free(code_); }
  Splitter(const Splitter&) = delete;
  Splitter& operator=(const Splitter&) = delete;

  // Chunk end offsets of `text`, in order; the last is text.size().
  std::vector<size_t> split(std::string_view text) const {
    if (text.empty()) return {};
    if (!code_) return {text.size()};
    return split_range(text, 0, text.size());
  }

  // Chunk ends of text[begin, end), where `begin` and `end` are chunk boundaries of the whole
  // text. The regex sees the whole text, so that a look-ahead at `end` sees what follows.
  std::vector<size_t> split_range(std::string_view text, size_t begin, size_t end) const {
    std::vector<size_t> ends;
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(code_, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t at = begin;
    while (at < end) {
      const int rc = pcre2_match(code_, subject, text.size(), at, 0, match, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH || (rc >= 0 && pcre2_get_ovector_pointer(match)[0] >= end)) {
        ends.push_back(end);
        break;
      }
      if (rc < 0) {
        pcre2_match_data_free(match);
        throw DataError("bpe: the split pattern failed with PCRE2 error " + std::to_string(rc));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match);
      if (ov[0] > at) ends.push_back(ov[0]);  // the unmatched bytes before this match
      // An empty match (a custom pattern may allow one) would never advance: take one byte.
      const size_t end = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
      ends.push_back(end);
      at = end;
    }
    pcre2_match_data_free(match);
    return ends;
  }

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  pcre2_code* code_ = nullptr;
};

uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

struct Merge {
  int32_t a, b, id;  // rank is the position in the merge list
};

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Python's str.isspace(): what minbpe's `strip()` and `split()` remove when it reads a .model.
bool python_space(int cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// GPT-2's byte-to-unicode map: printable bytes stand for themselves, the others are shifted to
// code points from 256 up, so that every byte is a visible character in encoder.json.
std::vector<int> gpt2_byte_to_code_point() {
  std::vector<int> cp(256, -1);
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    cp[size_t(b)] = printable ? b : 256 + n++;
  }
  return cp;
}

// Progress of a long training on stderr: merges done, the rate and the time left. On a terminal
// one line rewritten every second once the training has taken a second; otherwise (a log file) one
// line every 10 s once it has taken 10 s, so that short trainings print nothing.
class TrainingProgress {
 public:
  explicit TrainingProgress(int64_t n_merges)
      : total_(n_merges), tty_(isatty(STDERR_FILENO) == 1), start_(Clock::now()), last_(start_) {}
  ~TrainingProgress() {
    if (printed_ && tty_) std::fputc('\n', stderr);
  }
  TrainingProgress(const TrainingProgress&) = delete;
  TrainingProgress& operator=(const TrainingProgress&) = delete;

  void at(int64_t merges_done) {
    if (merges_done % 64 != 0) return;
    const auto now = Clock::now();
    const std::chrono::duration<double> every(tty_ ? 1.0 : 10.0);
    if (now - last_ < every) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = double(merges_done) / seconds;
    const double left = rate > 0 ? double(total_ - merges_done) / rate : 0.0;
    std::fprintf(stderr, "%sbpe: %lld/%lld merges, %.0f merges/s, %.0f s left%s", tty_ ? "\r" : "",
                 static_cast<long long>(merges_done), static_cast<long long>(total_), rate, left,
                 tty_ ? "   " : "\n");
    std::fflush(stderr);
    printed_ = true;
  }

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_;
  bool tty_;
  Clock::time_point start_, last_;
  bool printed_ = false;
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(const Options& options)
      : splitter_(std::make_unique<Splitter>(resolve_pattern(options.get<std::string>("pattern")))),
        cuttable_(splitter_->pattern() == gpt2_pattern || splitter_->pattern() == gpt4_pattern),
        on_special_(options.get<std::string>("on_special")),
        save_format_(options.get<std::string>("save_format")) {
    for (const std::string& token : options.get<std::vector<std::string>>("special_tokens"))
      if (!token.empty()) specials_.push_back({token, -1});
    const std::string& encoder = options.get<std::string>("encoder_json");
    const std::string& vocab = options.get<std::string>("vocab_bpe");
    if (encoder.empty() != vocab.empty())
      throw ConfigError("bpe: encoder_json and vocab_bpe must be given together");
    if (!encoder.empty()) {
      load_gpt2(encoder, vocab);
      pretrained_ = true;
    } else {
      reset_to_bytes();
    }
  }

  void train(std::string_view text, int64_t vocab_size) override {
    if (pretrained_) return;
    const int64_t n_special = int64_t(specials_.size());
    if (vocab_size < 256 + n_special)
      throw ConfigError("bpe: vocab_size " + std::to_string(vocab_size) +
                        " is below 256 bytes + " + std::to_string(n_special) + " special tokens");
    reset_to_bytes();
    learn_merges(text, vocab_size - 256 - n_special);
    number_specials();  // their ids follow the merges
  }

  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    size_t at = 0;
    while (at < text.size()) {
      size_t next = text.size();
      const Special* found = nullptr;
      if (on_special_ != "text")
        for (const Special& s : specials_) {
          const size_t p = text.find(s.text, at);
          if (p < next || (p == next && found && s.text.size() > found->text.size())) {
            next = p;
            found = &s;
          }
        }
      if (found && on_special_ == "raise")
        throw DataError("bpe: special token '" + found->text + "' at offset " +
                        std::to_string(next) + " in ordinary text (on_special = \"raise\")");
      const std::vector<int32_t> part = encode_ordinary(text.substr(at, next - at));
      ids.insert(ids.end(), part.begin(), part.end());
      if (!found) break;
      ids.push_back(found->id);
      at = next + found->text.size();
    }
    return ids;
  }

  std::string decode(std::span<const int32_t> ids) const override {
    std::string text;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= int32_t(vocab_.size()))
        throw DataError("bpe: id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                        " is outside [0, " + std::to_string(vocab_.size()) + ")");
      text += vocab_[size_t(ids[i])];
    }
    return text;
  }

  int64_t vocab_size() const override { return int64_t(vocab_.size()); }

  std::string save() const override { return save_format_ == "minbpe" ? save_minbpe() : save_own(); }

  // The saved form, or a minbpe .model (told apart by its first line).
  void load(std::string_view bytes) override;

  // Reads GPT-2's encoder.json (token string -> id) and vocab.bpe (merges in rank order).
  void load_gpt2(const std::string& encoder_path, const std::string& vocab_path);

 private:
  struct Special {
    std::string text;
    int32_t id;
  };

  std::string save_own() const {
    std::string out(format);
    out += "\npattern ";
    out += hex(splitter_->pattern());
    out += "\non_special ";
    out += on_special_;
    out += "\nbytes";
    for (int32_t id : byte_id_) {
      out += ' ';  // not " " + to_string(id): GCC 12 warns falsely on that (-Wrestrict)
      out += std::to_string(id);
    }
    out += "\nmerges " + std::to_string(merges_.size()) + "\n";
    for (const Merge& m : merges_)
      out += std::to_string(m.a) + " " + std::to_string(m.b) + " " + std::to_string(m.id) + "\n";
    out += "special " + std::to_string(specials_.size()) + "\n";
    for (const Special& s : specials_) out += std::to_string(s.id) + " " + hex(s.text) + "\n";
    out += "end\n";
    return out;
  }

  std::string save_minbpe() const;

  void reset_to_bytes() {
    byte_id_.resize(256);
    for (int b = 0; b < 256; ++b) byte_id_[size_t(b)] = b;
    merges_.clear();
    number_specials();
  }

  void number_specials() {
    for (Special& s : specials_) s.id = int32_t(256 + merges_.size() + size_t(&s - &specials_[0]));
    rebuild();
  }

  // Derives the vocabulary (bytes of every id) and the merge lookup from byte_id_, merges_ and
  // specials_, checking that the ids are exactly [0, V) with each id defined once.
  void rebuild() {
    const size_t V = 256 + merges_.size() + specials_.size();
    std::vector<std::string> vocab(V);
    std::vector<bool> defined(V, false);
    auto define = [&](int32_t id, std::string bytes) {
      if (id < 0 || size_t(id) >= V || defined[size_t(id)])
        throw DataError("bpe: token id " + std::to_string(id) + " is outside [0, " +
                        std::to_string(V) + ") or defined twice");
      defined[size_t(id)] = true;
      vocab[size_t(id)] = std::move(bytes);
    };
    for (int b = 0; b < 256; ++b) define(byte_id_[size_t(b)], std::string(1, char(b)));
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> rank;
    for (size_t r = 0; r < merges_.size(); ++r) {
      const Merge& m = merges_[r];
      for (int32_t part : {m.a, m.b})
        if (part < 0 || size_t(part) >= V || !defined[size_t(part)])
          throw DataError("bpe: merge " + std::to_string(r) + " uses id " + std::to_string(part) +
                          " before it is defined");
      define(m.id, vocab[size_t(m.a)] + vocab[size_t(m.b)]);
      rank.emplace(pair_key(m.a, m.b), std::pair{int32_t(r), m.id});
    }
    for (const Special& s : specials_) define(s.id, s.text);
    vocab_ = std::move(vocab);
    rank_ = std::move(rank);
  }

  // GPT-2's bpe(): merge every occurrence of the lowest-ranked pair, left to right, until no pair
  // of the chunk has a rank.
  void encode_chunk(std::string_view chunk, std::vector<int32_t>& ids) const {
    const size_t start = ids.size();
    for (unsigned char c : chunk) ids.push_back(byte_id_[c]);
    for (;;) {
      int32_t best_rank = INT32_MAX, best_id = -1, a = 0, b = 0;
      for (size_t i = start; i + 1 < ids.size(); ++i) {
        const auto it = rank_.find(pair_key(ids[i], ids[i + 1]));
        if (it != rank_.end() && it->second.first < best_rank) {
          best_rank = it->second.first;
          best_id = it->second.second;
          a = ids[i];
          b = ids[i + 1];
        }
      }
      if (best_id < 0) return;
      size_t out = start;
      for (size_t i = start; i < ids.size(); ++i) {
        if (i + 1 < ids.size() && ids[i] == a && ids[i + 1] == b) {
          ids[out++] = best_id;
          ++i;
        } else {
          ids[out++] = ids[i];
        }
      }
      ids.resize(out);
    }
  }

  // The pre-split of a large text under GPT-2's or GPT-4's pattern, in parallel pieces. A piece
  // starts at an ASCII letter right after '\n': no alternative of either pattern matches a newline
  // followed by a letter (letters join only an optional space, or a non-newline, non-letter,
  // non-digit character), so every pre-split of the whole text has a boundary there.
  std::vector<size_t> split_in_pieces(std::string_view text) const {
    constexpr size_t piece_bytes = size_t(1) << 16;
    if (!cuttable_ || text.size() < 2 * piece_bytes) return splitter_->split(text);
    std::vector<size_t> cuts{0};
    for (size_t want = piece_bytes; want < text.size(); want = cuts.back() + piece_bytes) {
      size_t p = want;
      auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
      while (p < text.size() && !(text[p - 1] == '\n' && letter(text[p]))) ++p;
      if (p >= text.size()) break;
      cuts.push_back(p);
    }
    cuts.push_back(text.size());
    std::vector<std::vector<size_t>> piece_ends(cuts.size() - 1);
    // About 50 operations per byte: one regex step per character.
    parallel_for(int64_t(piece_ends.size()), int64_t(piece_bytes) * 50, [&](int64_t k0, int64_t k1) {
      for (size_t k = size_t(k0); k < size_t(k1); ++k) {
        throw_if_interrupted();
        piece_ends[k] = splitter_->split_range(text, cuts[k], cuts[k + 1]);
      }
    });
    std::vector<size_t> ends;
    for (const auto& e : piece_ends) ends.insert(ends.end(), e.begin(), e.end());
    return ends;
  }

  std::vector<int32_t> encode_ordinary(std::string_view text) const {
    const std::vector<size_t> ends = split_in_pieces(text);
    // Chunks are short; a block of chunks per task keeps the scheduling cost below the work.
    constexpr size_t chunks_per_block = 4096;
    const size_t n_blocks = (ends.size() + chunks_per_block - 1) / chunks_per_block;
    std::vector<std::vector<int32_t>> blocks(n_blocks);
    // About 100 operations per chunk: a few hash look-ups per byte of a short chunk.
    parallel_for(int64_t(n_blocks), int64_t(chunks_per_block) * 100, [&](int64_t b0, int64_t b1) {
      // One cache per task, not per thread: a thread_local in a plugin (dynamic TLS) makes
      // LeakSanitizer's tracer crash at exit with clang 14.
      ChunkCache cache;
      for (size_t k = size_t(b0); k < size_t(b1); ++k) {
        throw_if_interrupted();
        const size_t first = k * chunks_per_block;
        const size_t last = std::min(ends.size(), first + chunks_per_block);
        size_t at = first == 0 ? 0 : ends[first - 1];
        for (size_t c = first; c < last; ++c) {
          const std::string_view chunk = text.substr(at, ends[c] - at);
          at = ends[c];
          const auto it = cache.ids.find(chunk);
          if (it != cache.ids.end()) {
            blocks[k].insert(blocks[k].end(), it->second.begin(), it->second.end());
            continue;
          }
          const size_t start = blocks[k].size();
          encode_chunk(chunk, blocks[k]);
          if (cache.ids.size() >= ChunkCache::max_chunks) cache.ids.clear();
          cache.ids.emplace(chunk, std::vector<int32_t>(blocks[k].begin() + ptrdiff_t(start),
                                                         blocks[k].end()));
        }
      }
    });
    std::vector<int32_t> ids;
    for (const auto& block : blocks) ids.insert(ids.end(), block.begin(), block.end());
    return ids;
  }

  void learn_merges(std::string_view text, int64_t n_merges);
  void load_minbpe(std::string_view bytes);
  // Replaces the whole tokenizer, or throws DataError and keeps it as it was.
  void install(const std::string& pattern, const std::string& on_special,
               std::vector<int32_t> byte_id, std::vector<Merge> merges,
               std::vector<Special> specials);

  std::unique_ptr<Splitter> splitter_;
  bool cuttable_;  // the pattern is GPT-2's or GPT-4's: split_in_pieces may cut it
  std::string on_special_;
  std::string save_format_;  // "nanolab" or "minbpe"
  std::vector<Special> specials_;
  bool pretrained_ = false;
  std::vector<int32_t> byte_id_;  // byte -> id
  std::vector<Merge> merges_;     // in rank order
  std::vector<std::string> vocab_;                                     // id -> bytes
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> rank_;  // pair -> (rank, merged id)

  // The ids of the chunks a task of encode_ordinary met, by chunk: text repeats its words, so most
  // chunks are found here rather than merged again. One per task, emptied when it holds
  // max_chunks.
  struct ChunkHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct ChunkCache {
    static constexpr size_t max_chunks = size_t(1) << 16;
    std::unordered_map<std::string, std::vector<int32_t>, ChunkHash, std::equal_to<>> ids;
  };
};

// minbpe's loop with the recount replaced by an update. Pair counts are kept over the distinct
// chunks, weighted by how often each occurs; each pair keeps the chunks that hold it, so a merge
// re-counts only those. minbpe takes max() over a dict in insertion order: among pairs of equal
// count it picks the one that occurs first in the current ids. The distinct chunks are kept in
// order of first appearance, so that is the pair with the earliest (chunk, position), which each
// pair keeps up to date, and the best pair is the top of one max-heap ordered by count, then by
// earlier first occurrence. The heap holds stale entries, dropped as they surface. A merge touches
// only the chunks holding its pair and the pairs in them, whatever the number of merges already
// made or of pairs tied with it.
//
// Keeping the first occurrences exact: a merge of (a, b) into the new id X only removes pairs next
// to a and b and only creates pairs holding X, which no chunk held before. A pair whose first
// chunk is touched gets its new position there; one that left its first chunk has its first
// occurrence searched (among its holders) only when it reaches the top of the heap, until then
// its old first occurrence stands in as an upper bound of its priority.
void BpeTokenizer::learn_merges(std::string_view text, int64_t n_merges) {
  const std::vector<size_t> ends = split_in_pieces(text);
  std::vector<std::vector<int32_t>> chunks;  // distinct chunks, in order of first appearance
  std::vector<int64_t> weight;
  {
    std::unordered_map<std::string_view, uint32_t> index;
    size_t at = 0;
    for (size_t end : ends) {
      throw_if_interrupted();  // here and below: a signal stops the training (interrupt.hpp)
      const std::string_view piece = text.substr(at, end - at);
      at = end;
      const auto [it, fresh] = index.emplace(piece, uint32_t(chunks.size()));
      if (fresh) {
        chunks.emplace_back(piece.begin(), piece.end());
        for (int32_t& id : chunks.back()) id = int32_t(uint8_t(id));
        weight.push_back(0);
      }
      ++weight[it->second];
    }
  }

  struct PairState {
    int64_t count = 0;
    uint32_t first_chunk = 0, first_pos = 0;  // the first occurrence in the current ids
    bool first_lost = false;  // merged away: first_* is a lower bound until searched again
    uint64_t seen = 0;        // the last chunk pass that met this pair (see `pass`)
    int64_t heap_count = -1;  // the pair's newest heap entry
    uint32_t heap_chunk = 0, heap_pos = 0;
    std::vector<uint32_t> holders;  // chunks that hold it, or held it (stale ones are skipped)
  };
  struct Entry {
    int64_t count;
    uint32_t chunk, pos;
    uint64_t key;
  };
  struct Lower {  // the priority queue's "less": lower count, or equal count and seen later
    bool operator()(const Entry& x, const Entry& y) const {
      if (x.count != y.count) return x.count < y.count;
      return std::pair{x.chunk, x.pos} > std::pair{y.chunk, y.pos};
    }
  };
  std::unordered_map<uint64_t, PairState> pairs;
  std::priority_queue<Entry, std::vector<Entry>, Lower> heap;
  auto push = [&](uint64_t key, PairState& s) {
    heap.push({s.count, s.first_chunk, s.first_pos, key});
    s.heap_count = s.count;
    s.heap_chunk = s.first_chunk;
    s.heap_pos = s.first_pos;
  };
  uint64_t pass = 0;  // one per chunk counted: tells a pair's first position in that chunk
  for (uint32_t c = 0; c < chunks.size(); ++c) {
    throw_if_interrupted();
    ++pass;
    const std::vector<int32_t>& ids = chunks[c];
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      PairState& s = pairs[pair_key(ids[i], ids[i + 1])];
      s.count += weight[c];
      if (s.seen == pass) continue;
      s.seen = pass;
      if (s.holders.empty()) {
        s.first_chunk = c;
        s.first_pos = uint32_t(i);
      }
      s.holders.push_back(c);
    }
  }
  for (auto& [key, s] : pairs) push(key, s);

  // The first occurrence of a pair that left its first chunk, from its holders (pruned to the
  // chunks that still hold it).
  auto find_first = [&](uint64_t key, PairState& s) {
    std::vector<uint32_t> holders;
    std::pair<uint32_t, uint32_t> first{UINT32_MAX, UINT32_MAX};
    for (uint32_t c : s.holders) {
      const std::vector<int32_t>& ids = chunks[c];
      for (size_t i = 0; i + 1 < ids.size(); ++i)
        if (pair_key(ids[i], ids[i + 1]) == key) {
          holders.push_back(c);
          first = std::min(first, std::pair{c, uint32_t(i)});
          break;
        }
    }
    std::sort(holders.begin(), holders.end());
    holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
    s.holders = std::move(holders);
    std::tie(s.first_chunk, s.first_pos) = first;
    s.first_lost = false;
  };

  TrainingProgress progress(n_merges);
  std::vector<uint64_t> changed, before;
  for (int64_t m = 0; m < n_merges; ++m) {
    throw_if_interrupted();
    progress.at(m);
    uint64_t best = 0;
    for (bool found = false; !found;) {
      if (heap.empty()) return;  // every chunk is a single token: nothing left to merge
      const Entry e = heap.top();
      heap.pop();
      const auto it = pairs.find(e.key);
      if (it == pairs.end() || it->second.count != e.count) continue;
      PairState& s = it->second;
      if (s.first_lost) {
        find_first(e.key, s);
        push(e.key, s);
      } else if (s.first_chunk == e.chunk && s.first_pos == e.pos) {
        best = e.key;
        found = true;
      }
    }
    const int32_t a = int32_t(best >> 32), b = int32_t(uint32_t(best));
    const int32_t id = int32_t(256 + m);
    merges_.push_back({a, b, id});
    std::vector<uint32_t> holders = std::move(pairs[best].holders);
    std::sort(holders.begin(), holders.end());
    holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
    changed.clear();
    for (uint32_t c : holders) {
      std::vector<int32_t>& ids = chunks[c];
      before.clear();
      for (size_t i = 0; i + 1 < ids.size(); ++i) before.push_back(pair_key(ids[i], ids[i + 1]));
      if (std::find(before.begin(), before.end(), best) == before.end()) continue;  // stale
      for (uint64_t key : before) pairs[key].count -= weight[c];
      size_t out = 0;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i + 1 < ids.size() && ids[i] == a && ids[i + 1] == b) {
          ids[out++] = id;
          ++i;
        } else {
          ids[out++] = ids[i];
        }
      }
      ids.resize(out);
      ++pass;
      for (size_t i = 0; i + 1 < ids.size(); ++i) {
        const uint64_t key = pair_key(ids[i], ids[i + 1]);
        const auto [it, created] = pairs.try_emplace(key);
        PairState& s = it->second;
        s.count += weight[c];
        if (s.seen == pass) continue;
        s.seen = pass;
        changed.push_back(key);
        if (created) {  // holds the new id; chunks come in order, so this is its first occurrence
          s.first_chunk = c;
          s.first_pos = uint32_t(i);
        } else if (s.first_chunk == c && !s.first_lost) {
          s.first_pos = uint32_t(i);
        }
        if ((ids[i] == id || ids[i + 1] == id) && (s.holders.empty() || s.holders.back() != c))
          s.holders.push_back(c);
      }
      for (uint64_t key : before) {
        PairState& s = pairs[key];
        if (s.seen != pass && s.first_chunk == c) s.first_lost = true;
        changed.push_back(key);
      }
    }
    pairs.erase(best);
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    for (uint64_t key : changed) {
      const auto it = pairs.find(key);
      if (it == pairs.end()) continue;
      PairState& s = it->second;
      if (s.count <= 0) {
        pairs.erase(it);
      } else if (s.count != s.heap_count || s.first_chunk != s.heap_chunk ||
                 s.first_pos != s.heap_pos) {
        push(key, s);
      }
    }
    // Stale entries outnumbering the pairs: rebuild the heap from the pairs' current state.
    if (heap.size() > 4 * pairs.size() + 4096) {
      heap = {};
      for (auto& [key, s] : pairs) push(key, s);
    }
  }
}

// The saved form, read strictly: any line out of place, a count that does not match, or bytes after
// the final "end" line is a DataError, so that a truncated file never loads as a smaller tokenizer.
void BpeTokenizer::load(std::string_view bytes) {
  std::istringstream in{std::string(bytes)};
  auto fail = [](const std::string& why) -> DataError {
    return DataError("bpe: the saved tokenizer is malformed: " + why);
  };
  auto line = [&](const std::string& what) {
    std::string l;
    if (!std::getline(in, l) || in.eof()) throw fail("missing " + what);
    return l;
  };
  auto unhex = [&](const std::string& h) {
    if (h.size() % 2) throw fail("odd-length hex string");
    std::string out;
    for (size_t i = 0; i < h.size(); i += 2) {
      const std::string digits = h.substr(i, 2);
      if (digits.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw fail("bad hex '" + digits + "'");
      out += char(std::stoi(digits, nullptr, 16));
    }
    return out;
  };
  auto field = [&](const std::string& l, const std::string& name) {
    if (l.rfind(name + " ", 0) != 0 && l != name) throw fail("expected '" + name + "', got '" +
                                                             l.substr(0, 40) + "'");
    return l.size() > name.size() ? l.substr(name.size() + 1) : std::string();
  };
  auto count_of = [&](const std::string& s, const std::string& what) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9)
      throw fail("bad " + what + " count '" + s + "'");
    return size_t(std::stoul(s));
  };
  auto ints = [&](const std::string& s, size_t n, const std::string& what) {
    std::istringstream fields(s);
    std::vector<int32_t> out(n);
    for (int32_t& v : out)
      if (!(fields >> v)) throw fail("too few numbers in " + what);
    std::string rest;
    if (fields >> rest) throw fail("too many numbers in " + what);
    return out;
  };

  if (bytes.substr(0, minbpe_header.size()) == minbpe_header) return load_minbpe(bytes);
  if (!bytes.starts_with(std::string(format) + "\n"))
    throw DataError("bpe: cannot load the saved tokenizer: " +
                    describe_tokenizer_bytes(
                        bytes, {format, minbpe_header.substr(0, minbpe_header.size() - 1)}));
  line("header");
  const std::string pattern = unhex(field(line("pattern"), "pattern"));
  const std::string on_special = field(line("on_special"), "on_special");
  if (on_special != "raise" && on_special != "allow" && on_special != "text")
    throw fail("unknown on_special '" + on_special + "'");
  std::vector<int32_t> byte_id = ints(field(line("bytes"), "bytes"), 256, "bytes");
  std::vector<Merge> merges(count_of(field(line("merges"), "merges"), "merge"));
  for (Merge& m : merges) {
    const std::vector<int32_t> v = ints(line("merge"), 3, "a merge");
    m = {v[0], v[1], v[2]};
  }
  std::vector<Special> specials(count_of(field(line("special"), "special"), "special"));
  for (Special& s : specials) {
    const std::string l = line("special token");
    const size_t space = l.find(' ');
    if (space == std::string::npos) throw fail("bad special token line");
    s = {unhex(l.substr(space + 1)), ints(l.substr(0, space), 1, "a special token")[0]};
  }
  if (line("end") != "end" || in.peek() != std::char_traits<char>::eof())
    throw fail("expected 'end' as the last line");

  install(pattern, on_special, std::move(byte_id), std::move(merges), std::move(specials));
}

void BpeTokenizer::install(const std::string& pattern, const std::string& on_special,
                           std::vector<int32_t> byte_id, std::vector<Merge> merges,
                           std::vector<Special> specials) {
  std::unique_ptr<Splitter> splitter;
  try {
    splitter = std::make_unique<Splitter>(pattern);
  } catch (const ConfigError& e) {
    throw DataError(std::string("bpe: the saved tokenizer's pattern: ") + e.what());
  }
  // rebuild() validates the ids; on a DataError the tokenizer keeps what it had.
  std::swap(byte_id_, byte_id);
  std::swap(merges_, merges);
  std::swap(specials_, specials);
  try {
    rebuild();
  } catch (const DataError&) {
    std::swap(byte_id_, byte_id);
    std::swap(merges_, merges);
    std::swap(specials_, specials);
    throw;
  }
  splitter_ = std::move(splitter);
  cuttable_ = pattern == gpt2_pattern || pattern == gpt4_pattern;
  on_special_ = on_special;
}

// minbpe's .model: "minbpe v1", the pattern, the number of special tokens, one "token id" line
// each, then one "a b" line per merge in rank order (merge i makes id 256 + i). Its bytes are
// the identity. The format has no end marker: a file cut at a line end loads as fewer merges.
void BpeTokenizer::load_minbpe(std::string_view bytes) {
  auto fail = [](const std::string& why) -> DataError {
    return DataError("bpe: the minbpe .model is malformed: " + why);
  };
  if (bytes.empty() || bytes.back() != '\n') throw fail("it does not end with a newline");
  std::vector<std::string> lines;
  std::istringstream in{std::string(bytes)};
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  if (lines.size() < 3) throw fail("fewer than 3 lines");
  auto number = [&](const std::string& s, size_t line_no) {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
      throw fail("line " + std::to_string(line_no) + ": '" + s.substr(0, 20) + "' is not a number");
    return int32_t(std::stol(s));
  };
  const size_t n_special = size_t(number(lines[2], 3));
  if (lines.size() < 3 + n_special) throw fail("fewer special tokens than announced");
  std::vector<Special> specials;
  for (size_t i = 3; i < 3 + n_special; ++i) {
    const size_t space = lines[i].rfind(' ');
    if (space == std::string::npos) throw fail("line " + std::to_string(i + 1) + " is not 'token id'");
    specials.push_back({lines[i].substr(0, space), number(lines[i].substr(space + 1), i + 1)});
  }
  std::vector<Merge> merges;
  for (size_t i = 3 + n_special; i < lines.size(); ++i) {
    const size_t space = lines[i].find(' ');
    if (space == std::string::npos) throw fail("line " + std::to_string(i + 1) + " is not 'a b'");
    merges.push_back({number(lines[i].substr(0, space), i + 1),
                      number(lines[i].substr(space + 1), i + 1), int32_t(256 + merges.size())});
  }
  std::vector<int32_t> byte_id(256);
  for (int b = 0; b < 256; ++b) byte_id[size_t(b)] = b;
  install(lines[1], on_special_, std::move(byte_id), std::move(merges), std::move(specials));
}

// minbpe's save(): the layout load_minbpe reads. minbpe reads the file as UTF-8 text, strips the
// pattern line and splits each special token line on whitespace, and numbers byte b as id b and
// merge i as id 256 + i: a tokenizer outside that (GPT-2's vocabulary numbers its bytes in another
// order) cannot be written, which is a ConfigError rather than a file minbpe would misread.
// on_special is not part of the format.
std::string BpeTokenizer::save_minbpe() const {
  auto refuse = [](const std::string& why) {
    return ConfigError("bpe: minbpe's .model format cannot hold this tokenizer: " + why +
                       "; save it in nanolab's format (save_format = \"nanolab\")");
  };
  for (int b = 0; b < 256; ++b)
    if (byte_id_[size_t(b)] != b)
      throw refuse("byte " + std::to_string(b) + " has id " + std::to_string(byte_id_[size_t(b)]) +
                   " (minbpe numbers byte b as id b)");
  for (size_t r = 0; r < merges_.size(); ++r)
    if (merges_[r].id != int32_t(256 + r))
      throw refuse("merge " + std::to_string(r) + " makes id " + std::to_string(merges_[r].id) +
                   " (minbpe's merge r makes id 256 + r)");
  const std::string& pattern = splitter_->pattern();
  const auto pattern_cps = utf8::code_points(pattern);
  const bool padded = !pattern_cps || (!pattern_cps->empty() && (python_space(pattern_cps->front()) ||
                                                                   python_space(pattern_cps->back())));
  if (!pattern_cps || padded || pattern.find_first_of("\r\n") != std::string::npos)
    throw refuse("the split pattern is not one line of UTF-8 without whitespace at its ends");
  std::string out(minbpe_header);
  out += pattern + "\n" + std::to_string(specials_.size()) + "\n";
  for (const Special& s : specials_) {
    const auto cps = utf8::code_points(s.text);
    if (!cps || cps->empty() || std::any_of(cps->begin(), cps->end(), python_space))
      throw refuse("special token '" + s.text + "' is not UTF-8 without whitespace");
    out += s.text + " " + std::to_string(s.id) + "\n";
  }
  for (const Merge& m : merges_) out += std::to_string(m.a) + " " + std::to_string(m.b) + "\n";
  return out;
}

void BpeTokenizer::load_gpt2(const std::string& encoder_path, const std::string& vocab_path) {
  auto read = [](const std::string& path) {
    return read_input(path, ExitCode::data, input_limit::tokenizer);
  };
  const std::string json = read(encoder_path);
  const std::string merges_text = read(vocab_path);
  auto bad = [&](const std::string& path, const std::string& why) {
    return DataError("bpe: '" + path + "' is malformed: " + why);
  };

  // GPT-2 token string (UTF-8 of the byte-to-unicode code points) -> the bytes it stands for.
  std::vector<int> byte_of(512, -1);
  const std::vector<int> cp = gpt2_byte_to_code_point();
  for (int b = 0; b < 256; ++b) byte_of[size_t(cp[size_t(b)])] = b;
  auto code_points_to_bytes = [&](const std::optional<std::vector<int>>& cps, std::string& out) {
    if (!cps) return false;
    for (int c : *cps) {
      if (c < 0 || c >= 512 || byte_of[size_t(c)] < 0) return false;
      out += char(byte_of[size_t(c)]);
    }
    return true;
  };

  // encoder.json: one flat object of "token": id.
  nlohmann::json encoder;
  try {
    encoder = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 7: ...", without the id.
    const std::string what = e.what();
    throw bad(encoder_path, "not valid JSON: " + what.substr(what.find("] ") + 2));
  }
  if (!encoder.is_object()) throw bad(encoder_path, "expected one object of \"token\": id");
  std::unordered_map<std::string, int32_t> id_of;  // token bytes -> id
  for (const auto& [token, id] : encoder.items()) {
    if (!id.is_number_unsigned() || id.get<uint64_t>() > uint64_t(INT32_MAX))
      throw bad(encoder_path, "the id of " + nlohmann::json(token).dump() + " is " + id.dump() +
                                  ", expected an integer from 0 to 2^31-1");
    std::string bytes;
    if (!code_points_to_bytes(utf8::code_points(token), bytes))
      throw bad(encoder_path, "a token outside GPT-2's byte alphabet");
    id_of[bytes] = id.get<int32_t>();
  }

  std::vector<int32_t> byte_id(256);
  for (int b = 0; b < 256; ++b) {
    const auto it = id_of.find(std::string(1, char(b)));
    if (it == id_of.end()) throw bad(encoder_path, "byte " + std::to_string(b) + " has no token");
    byte_id[size_t(b)] = it->second;
  }
  std::vector<Merge> merges;
  std::istringstream lines(merges_text);
  std::string l;
  size_t line_no = 0;
  while (std::getline(lines, l)) {
    ++line_no;
    if (l.empty() || l.rfind("#version", 0) == 0) continue;
    const size_t space = l.find(' ');
    std::string a, b;
    if (l.back() == '\r')
      throw bad(vocab_path, "line " + std::to_string(line_no) +
                                " ends with CR LF (Windows line ends), where GPT-2's vocab.bpe has "
                                "LF only: convert it back (dos2unix)");
    if (space == std::string::npos ||
        !code_points_to_bytes(utf8::code_points(l.substr(0, space)), a) ||
        !code_points_to_bytes(utf8::code_points(l.substr(space + 1)), b))
      throw bad(vocab_path, "line " + std::to_string(line_no) + " is not a merge");
    const auto ia = id_of.find(a), ib = id_of.find(b), iab = id_of.find(a + b);
    if (ia == id_of.end() || ib == id_of.end() || iab == id_of.end())
      throw bad(vocab_path, "line " + std::to_string(line_no) + " names a token not in " +
                                encoder_path);
    merges.push_back({ia->second, ib->second, iab->second});
  }
  // Entries of encoder.json that neither a byte nor a merge makes are special tokens (GPT-2 has
  // one: <|endoftext|>, written in the byte alphabet like any token), so every id decodes.
  std::vector<bool> made(id_of.size(), false);
  for (int32_t id : byte_id)
    if (size_t(id) < made.size()) made[size_t(id)] = true;
  for (const Merge& m : merges)
    if (size_t(m.id) < made.size()) made[size_t(m.id)] = true;
  std::vector<Special> specials;
  for (const auto& [bytes, id] : id_of)
    if (id < 0 || size_t(id) >= made.size() || !made[size_t(id)]) specials.push_back({bytes, id});
  std::sort(specials.begin(), specials.end(),
            [](const Special& x, const Special& y) { return x.id < y.id; });
  // A special token is one the options name, or one written <|...|> as OpenAI's are. Any other
  // entry that nothing makes is a merge vocab.bpe lacks: a truncated or empty vocab.bpe would
  // otherwise turn GPT-2's last merges into special tokens and encode text differently.
  auto escaped = [](const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += c >= 0x20 && c != 0x7f ? std::string(1, char(c)) : std::string(hex);
    }
    return out;
  };
  std::vector<const Special*> unmade;
  for (const Special& u : specials)
    if (!(u.text.starts_with("<|") && u.text.ends_with("|>")) &&
        std::none_of(specials_.begin(), specials_.end(),
                     [&](const Special& s) { return s.text == u.text; }))
      unmade.push_back(&u);
  if (!unmade.empty())
    throw bad(vocab_path,
              "it holds " + std::to_string(merges.size()) + " merges, too few for " + encoder_path +
                  ": " + std::to_string(unmade.size()) +
                  " of its tokens are made by no byte and no merge (the first: id " +
                  std::to_string(unmade.front()->id) + ", '" + escaped(unmade.front()->text) +
                  "') and are not special tokens; is vocab.bpe truncated or empty (GPT-2's has "
                  "50000 merges)? A special token of encoder.json belongs in special_tokens");
  // A configured special token that encoder.json lacks takes the next free id (some copies of
  // encoder.json leave out <|endoftext|>, which GPT-2 numbers 50256, the first id after the rest).
  int32_t next_id = int32_t(id_of.size());
  for (const Special& s : specials_)
    if (std::none_of(specials.begin(), specials.end(),
                     [&](const Special& u) { return u.text == s.text; }))
      specials.push_back({s.text, next_id++});
  byte_id_ = std::move(byte_id);
  merges_ = std::move(merges);
  specials_ = std::move(specials);
  rebuild();
}

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::tokenizer;
  d.name = "bpe";
  d.version = "1.0.0";
  d.description = "byte-level BPE (GPT-2/GPT-4 pre-splitting), trainable or loaded from GPT-2";
  d.options = {
      {"pattern", OptionType::string, std::string("gpt2"), std::nullopt, std::nullopt, {},
       "split pattern: gpt2, gpt4, none, or a PCRE2 regex"},
      {"special_tokens", OptionType::string_list, std::vector<std::string>{}, std::nullopt,
       std::nullopt, {}, "special tokens, given ids after the merges"},
      {"on_special", OptionType::string, std::string("raise"), std::nullopt, std::nullopt,
       {"raise", "allow", "text"},
       "a special token in the text: raise a DataError, emit its id, or encode it as text"},
      {"encoder_json", OptionType::string, std::string(""), std::nullopt, std::nullopt, {},
       "GPT-2 encoder.json to load (with vocab_bpe); train then does nothing"},
      {"vocab_bpe", OptionType::string, std::string(""), std::nullopt, std::nullopt, {},
       "GPT-2 vocab.bpe to load (with encoder_json)"},
      {"save_format", OptionType::string, std::string("nanolab"), std::nullopt, std::nullopt,
       {"nanolab", "minbpe"},
       "what save() writes: nanolab's own format, or minbpe's .model (load reads both)"},
  };
  d.factory = [](const Options& options) -> std::unique_ptr<Tokenizer> {
    return std::make_unique<BpeTokenizer>(options);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
