// tokenizer `bpe`: byte-level byte-pair encoding, lossless for any byte string (valid UTF-8 or not).
// Text is first pre-split into chunks by a regex (GPT-2's or GPT-4's pattern through PCRE2, a custom
// one, or none; GPT-2's is matched by hand where the text is ASCII, bpe_split.hpp); merges never
// cross a chunk boundary. Training follows minbpe's RegexTokenizer: pair counts over the distinct
// chunks weighted by their counts, updated incrementally after each merge
// (only in the chunks holding the merged pair), ties going to the pair seen first in the text, so
// that it learns the same merges as minbpe. `\s` means Unicode's White_Space, as in tiktoken.
// Options `encoder_json` + `vocab_bpe` load GPT-2's own vocabulary instead (train is then a no-op).
// Special tokens are a list of strings (option special_tokens); on_special says what their text does.
// save() writes nanolab's own strict format, or minbpe's `.model` with `save_format = "minbpe"`
// (what minbpe's Tokenizer.load reads; load() reads both).
// Encoding cuts the text into pieces that are pre-split and merged in parallel (the framework's TBB
// pool): the merges are per chunk, so the result is exactly the sequential one. Each encoding task
// borrows a cache of the chunks encoded lately, so a repeated word is merged once. The training
// itself is bpe_train.hpp. Not a SentencePiece-style
// tokenizer: no normalisation, no unigram model, no byte fallback (every byte is a token already).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <nlohmann/json.hpp>
#include <pcre2.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nanolab/input_file.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"
#include "nanolab/runtime.hpp"
#include "nanolab/utf8.hpp"
#include "bpe_split.hpp"
#include "bpe_train.hpp"

namespace {

using namespace nanolab;
using bpe::Merge;
using bpe::pair_key;

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
// GPT-2's pattern is matched by hand where the text is ASCII (bpe_split.hpp), by PCRE2 elsewhere.
class Splitter {
 public:
  explicit Splitter(const std::string& pattern)
      : pattern_(pattern), gpt2_(pattern == gpt2_pattern) {
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
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;  // else PCRE2's interpreter
  }
  ~Splitter() { pcre2_code_free(code_); }
  Splitter(const Splitter&) = delete;
  Splitter& operator=(const Splitter&) = delete;

  // Chunk end offsets of `text`, in order; the last is text.size().
  std::vector<size_t> split(std::string_view text) const {
    std::vector<size_t> ends;
    if (text.empty()) return ends;
    if (!code_) return {text.size()};
    for_each_chunk_end(text, 0, text.size(), [&](size_t end) { ends.push_back(end); });
    return ends;
  }

  // Calls on_end(e) for each chunk end e of text[begin, end), in order, where `begin` and `end` are
  // chunk boundaries of the whole text. The regex sees the whole text, so that a look-ahead at
  // `end` sees what follows.
  template <typename OnEnd>
  void for_each_chunk_end(std::string_view text, size_t begin, size_t end, OnEnd&& on_end) const {
    if (!code_) {
      if (end > begin) on_end(end);
      return;
    }
    const std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
        pcre2_match_data_create_from_pattern(code_, nullptr), &pcre2_match_data_free);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.get());
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t at = begin;
    while (at < end) {
      if (gpt2_)
        if (const size_t next = bpe::gpt2_ascii_match(text, at); next != 0) {
          at = next;
          on_end(at);
          continue;
        }
      // The JIT's own entry skips pcre2_match's argument checks (the arguments are ours).
      const int rc = jit_ ? pcre2_jit_match(code_, subject, text.size(), at, 0, match.get(), nullptr)
                          : pcre2_match(code_, subject, text.size(), at, 0, match.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH || (rc >= 0 && ov[0] >= end)) {
        on_end(end);
        break;
      }
      if (rc < 0)
        throw DataError("bpe: the split pattern failed with PCRE2 error " + std::to_string(rc));
      if (ov[0] > at) on_end(size_t(ov[0]));  // the unmatched bytes before this match
      // An empty match (a custom pattern may allow one) would never advance: take one byte.
      at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
      on_end(at);
    }
  }

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  bool gpt2_;  // GPT-2's pattern: ASCII is split by bpe::gpt2_ascii_match
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};


constexpr int32_t no_rank = INT32_MAX;

// A merge as the encoder looks it up: its rank (no_rank: there is none) and the id it makes.
struct RankedMerge {
  int32_t rank = no_rank, id = -1;
};

// Pair -> its merge, for the encoder: an open-addressing table (linear probing, at most half
// full), one multiply and usually one cache line per look-up, which gives the rank and the id
// made together. The first merge of a pair wins.
class PairRanks {
 public:
  void build(const std::vector<Merge>& merges) {
    size_t n = 16;
    while (n < 2 * merges.size()) n *= 2;
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    shift_ = 64 - std::countr_zero(n);
    for (size_t r = 0; r < merges.size(); ++r) {
      const uint64_t key = pair_key(merges[r].a, merges[r].b);
      size_t i = slot_of(key);
      while (slots_[i].key != empty && slots_[i].key != key) i = (i + 1) & mask_;
      if (slots_[i].key == empty) slots_[i] = {key, {int32_t(r), merges[r].id}};
    }
  }

  // The merge of (a, b); its rank is no_rank if there is none.
  RankedMerge find(int32_t a, int32_t b) const {
    const uint64_t key = pair_key(a, b);
    for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return slots_[i].merge;
      if (slots_[i].key == empty) return {};
    }
  }

 private:
  static constexpr uint64_t empty = UINT64_MAX;  // the pair (-1, -1): ids are never negative
  struct Slot {
    uint64_t key = empty;
    RankedMerge merge;
  };
  size_t slot_of(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  std::vector<Slot> slots_{16};
  size_t mask_ = 15;
  int shift_ = 60;
};

// The ids of chunks already encoded, by their bytes: text repeats its words, so most chunks are
// found here rather than merged again. A two-way set-associative table of entries of one cache
// line each, holding the chunk's bytes (up to max_bytes, zero-padded, compared as two words) and
// its ids (up to max_ids): a look-up reads one or two lines, with no key or id stored elsewhere
// and nothing allocated after the first insert. A hit in the second way moves it to the first; a
// new chunk moves the first to the second and evicts the second (the least recently used). Chunks
// that do not fit are merged every time: under 1 % of those of English or C source.
class ChunkCache {
 public:
  static constexpr size_t max_bytes = 16, max_ids = 11;

  // A chunk of 2 to max_bytes bytes as the cache keeps it: its bytes zero-padded, and their number.
  struct Key {
    uint64_t lo = 0, hi = 0;
    uint32_t len = 0;
  };
  static Key key_of(std::string_view chunk) {
    Key key;
    key.len = uint32_t(chunk.size());
    std::memcpy(&key.lo, chunk.data(), std::min<size_t>(chunk.size(), 8));
    if (chunk.size() > 8) std::memcpy(&key.hi, chunk.data() + 8, chunk.size() - 8);
    return key;
  }

  // Appends the cached ids of `key` to `out`; false if it is not cached.
  bool find(const Key& key, std::vector<int32_t>& out) {
    if (entries_.empty()) return false;
    Entry* set = &entries_[set_of(key)];
    for (int way = 0; way < 2; ++way)
      if (set[way].lo == key.lo && set[way].hi == key.hi && set[way].len == key.len) {
        out.insert(out.end(), set[way].ids, set[way].ids + set[way].n_ids);
        if (way == 1) std::swap(set[0], set[1]);
        return true;
      }
    return false;
  }

  void insert(const Key& key, std::span<const int32_t> ids) {
    if (ids.size() > max_ids) return;
    if (entries_.empty()) entries_.resize(2 * n_sets);
    Entry* set = &entries_[set_of(key)];
    set[1] = set[0];
    set[0].lo = key.lo;
    set[0].hi = key.hi;
    set[0].len = uint8_t(key.len);
    set[0].n_ids = uint8_t(ids.size());
    std::copy(ids.begin(), ids.end(), set[0].ids);
  }

 private:
  static constexpr int set_bits = 14;
  static constexpr size_t n_sets = size_t(1) << set_bits;
  struct alignas(64) Entry {
    uint64_t lo = 0, hi = 0;
    uint8_t len = 0, n_ids = 0;  // len 0: empty (a kept chunk has 2 bytes at least)
    int32_t ids[max_ids] = {};
  };
  static_assert(sizeof(Entry) == 64);
  // The first entry of the key's set: the top bits of a multiplicative hash of both words.
  static size_t set_of(const Key& key) {
    const uint64_t h = ((key.lo * 0x9E3779B97F4A7C15ull) ^ key.hi) * 0xBF58476D1CE4E5B9ull;
    return 2 * size_t(h >> (64 - set_bits));
  }
  std::vector<Entry> entries_;
};

// What one encoding task works with: a chunk cache and the merge loop's scratch vectors.
struct ChunkEncoder {
  ChunkCache cache;
  std::vector<int32_t> tokens;
  std::vector<RankedMerge> merges;
};

// The chunk encoders of a tokenizer, lent to encoding tasks and given back, so that a cache
// outlives the task and the call that filled it (about one per thread in use). Not thread_local:
// a thread_local in a plugin (dynamic TLS) makes LeakSanitizer's tracer crash at exit with
// clang 14. Emptied when the vocabulary changes.
class EncoderPool {
 public:
  std::unique_ptr<ChunkEncoder> take() {
    const std::lock_guard lock(mutex_);
    if (free_.empty()) return std::make_unique<ChunkEncoder>();
    std::unique_ptr<ChunkEncoder> e = std::move(free_.back());
    free_.pop_back();
    return e;
  }
  void give(std::unique_ptr<ChunkEncoder> e) {
    const std::lock_guard lock(mutex_);
    free_.push_back(std::move(e));
  }
  void clear() {
    const std::lock_guard lock(mutex_);
    free_.clear();
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<ChunkEncoder>> free_;
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
    merges_ = bpe::learn_merges(text, split_in_pieces(text), vocab_size - 256 - n_special,
                                runtime::num_threads());
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
      encode_ordinary(text.substr(at, next - at), ids);
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
    for (size_t r = 0; r < merges_.size(); ++r) {
      const Merge& m = merges_[r];
      for (int32_t part : {m.a, m.b})
        if (part < 0 || size_t(part) >= V || !defined[size_t(part)])
          throw DataError("bpe: merge " + std::to_string(r) + " uses id " + std::to_string(part) +
                          " before it is defined");
      define(m.id, vocab[size_t(m.a)] + vocab[size_t(m.b)]);
    }
    for (const Special& s : specials_) define(s.id, s.text);
    vocab_ = std::move(vocab);
    ranks_.build(merges_);
    byte_pair_merge_.resize(256 * 256);
    for (size_t x = 0; x < 256; ++x)
      for (size_t y = 0; y < 256; ++y)
        byte_pair_merge_[x << 8 | y] = ranks_.find(byte_id_[x], byte_id_[y]);
    encoders_.clear();  // their caches hold the old vocabulary's ids
  }

  // GPT-2's bpe() on one chunk: merge every occurrence of the lowest-ranked pair, left to right,
  // until no pair has a rank. Done as tiktoken does it: the merge of each adjacent pair is kept,
  // and each step merges the leftmost pair of lowest rank and looks up only its two new
  // neighbours. That is GPT-2's order: a merge's parts are made by lower ranks, so a pair that
  // holds the new token ranks above the one merged, and the other occurrences of the merged pair
  // come next, left to right. Appends the ids to `out`.
  void merge_chunk(std::string_view chunk, ChunkEncoder& e, std::vector<int32_t>& out) const {
    std::vector<int32_t>& tokens = e.tokens;
    std::vector<RankedMerge>& merges = e.merges;  // merges[i]: of (tokens[i], tokens[i + 1])
    size_t n = chunk.size();
    tokens.resize(n);
    merges.resize(n);
    const auto* bytes = reinterpret_cast<const unsigned char*>(chunk.data());
    for (size_t i = 0; i < n; ++i) tokens[i] = byte_id_[bytes[i]];
    for (size_t i = 0; i + 1 < n; ++i)
      merges[i] = byte_pair_merge_[size_t(bytes[i]) << 8 | bytes[i + 1]];
    merges[n - 1] = {};
    for (;;) {
      size_t best = 0;
      for (size_t i = 1; i + 1 < n; ++i)
        if (merges[i].rank < merges[best].rank) best = i;
      if (merges[best].rank == no_rank) break;
      tokens[best] = merges[best].id;
      std::copy(tokens.begin() + ptrdiff_t(best) + 2, tokens.begin() + ptrdiff_t(n),
                tokens.begin() + ptrdiff_t(best) + 1);
      std::copy(merges.begin() + ptrdiff_t(best) + 2, merges.begin() + ptrdiff_t(n),
                merges.begin() + ptrdiff_t(best) + 1);
      --n;
      if (best > 0) merges[best - 1] = ranks_.find(tokens[best - 1], tokens[best]);
      merges[best] = best + 1 < n ? ranks_.find(tokens[best], tokens[best + 1]) : RankedMerge{};
    }
    out.insert(out.end(), tokens.begin(), tokens.begin() + ptrdiff_t(n));
  }

  // One chunk's ids, from the cache or merged (and then cached).
  void encode_chunk(std::string_view chunk, ChunkEncoder& e, std::vector<int32_t>& out) const {
    if (chunk.size() == 1) {
      out.push_back(byte_id_[static_cast<unsigned char>(chunk[0])]);
      return;
    }
    if (chunk.size() > ChunkCache::max_bytes) return merge_chunk(chunk, e, out);
    const ChunkCache::Key key = ChunkCache::key_of(chunk);
    if (e.cache.find(key, out)) return;
    const size_t start = out.size();
    merge_chunk(chunk, e, out);
    e.cache.insert(key, std::span(out).subspan(start));
  }

  static constexpr size_t piece_bytes = size_t(1) << 16;

  // Where a large text under GPT-2's or GPT-4's pattern may be cut into pieces that are pre-split
  // apart: {0, ..., text.size()}. A piece starts at an ASCII letter right after '\n': no
  // alternative of either pattern matches a newline followed by a letter (letters join only an
  // optional space, or a non-newline, non-letter, non-digit character), so every pre-split of the
  // whole text has a boundary there. One piece for another pattern or a small text.
  std::vector<size_t> piece_cuts(std::string_view text) const {
    std::vector<size_t> cuts{0};
    if (cuttable_ && text.size() >= 2 * piece_bytes) {
      auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
      for (size_t want = piece_bytes; want < text.size(); want = cuts.back() + piece_bytes) {
        size_t p = want;
        while (p < text.size() && !(text[p - 1] == '\n' && letter(text[p]))) ++p;
        if (p >= text.size()) break;
        cuts.push_back(p);
      }
    }
    cuts.push_back(text.size());
    return cuts;
  }

  // The chunk ends of the whole text (for training), the pieces pre-split in parallel.
  std::vector<size_t> split_in_pieces(std::string_view text) const {
    const std::vector<size_t> cuts = piece_cuts(text);
    if (cuts.size() <= 2) return splitter_->split(text);
    std::vector<std::vector<size_t>> piece_ends(cuts.size() - 1);
    // About 50 operations per byte: one regex step per character.
    parallel_for(int64_t(piece_ends.size()), int64_t(piece_bytes) * 50, [&](int64_t k0, int64_t k1) {
      for (size_t k = size_t(k0); k < size_t(k1); ++k) {
        throw_if_interrupted();
        splitter_->for_each_chunk_end(text, cuts[k], cuts[k + 1],
                                      [&](size_t end) { piece_ends[k].push_back(end); });
      }
    });
    std::vector<size_t> ends;
    for (const auto& e : piece_ends) ends.insert(ends.end(), e.begin(), e.end());
    return ends;
  }

  // Appends the ids of `text` (no special tokens) to `ids`. The text is cut into pieces of about
  // piece_bytes, each pre-split and merged by one task: for GPT-2's and GPT-4's pattern where
  // piece_cuts allows, for another pattern at chunk ends of a first, sequential pre-split. The
  // merges are per chunk, so the ids do not depend on the pieces or the threads.
  void encode_ordinary(std::string_view text, std::vector<int32_t>& ids) const {
    if (text.empty()) return;
    std::vector<size_t> cuts = piece_cuts(text);
    std::vector<size_t> ends, first_end;  // another pattern: the chunk ends, and each piece's first
    if (!cuttable_) {
      ends = splitter_->split(text);
      cuts = {0};
      first_end = {0};
      for (size_t i = 0; i < ends.size(); ++i)
        if (ends[i] - cuts.back() >= piece_bytes || i + 1 == ends.size()) {
          cuts.push_back(ends[i]);
          first_end.push_back(i + 1);
        }
    }
    std::vector<std::vector<int32_t>> pieces(cuts.size() - 1);
    // About 3 to 4 bytes a token in English and code; grown geometrically, since a text with
    // special tokens comes here once per stretch between them.
    const size_t need = ids.size() + text.size() / 3;
    if (ids.capacity() < need) ids.reserve(std::max(need, 2 * ids.capacity()));
    // About 20 operations per byte: a regex step, and a cache look-up per chunk of a few bytes.
    parallel_for(int64_t(pieces.size()), int64_t(piece_bytes) * 20, [&](int64_t k0, int64_t k1) {
      std::unique_ptr<ChunkEncoder> encoder = encoders_.take();
      for (size_t k = size_t(k0); k < size_t(k1); ++k) {
        throw_if_interrupted();
        std::vector<int32_t>& out = k == 0 ? ids : pieces[k];
        if (k > 0) out.reserve((cuts[k + 1] - cuts[k]) / 3);
        size_t at = cuts[k];
        auto chunk_end = [&](size_t end) {
          encode_chunk(text.substr(at, end - at), *encoder, out);
          at = end;
        };
        if (cuttable_)
          splitter_->for_each_chunk_end(text, cuts[k], cuts[k + 1], chunk_end);
        else
          for (size_t i = first_end[k]; i < first_end[k + 1]; ++i) chunk_end(ends[i]);
      }
      encoders_.give(std::move(encoder));
    });
    // The pieces after the first are copied once, into room made for exactly them (C source has
    // more than a token for 3 bytes: growing `ids` would copy everything again).
    size_t total = ids.size();
    for (size_t k = 1; k < pieces.size(); ++k) total += pieces[k].size();
    ids.reserve(total);
    for (size_t k = 1; k < pieces.size(); ++k) ids.insert(ids.end(), pieces[k].begin(), pieces[k].end());
  }

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
  std::vector<std::string> vocab_;  // id -> bytes
  PairRanks ranks_;
  // The merge of the tokens of two bytes, by (first byte << 8 | second byte): a chunk's first
  // merges without a look-up in ranks_ (the pairs of bytes that text holds keep this in cache).
  std::vector<RankedMerge> byte_pair_merge_;
  mutable EncoderPool encoders_;
};

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
