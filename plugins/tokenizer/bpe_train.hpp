// The training of the `bpe` tokenizer plugin (bpe.cpp), apart so that its tests can count its work:
// minbpe's RegexTokenizer.train over pre-split text, with the recount replaced by an update (below).
// It is no tokenizer: the plugin pre-splits the text and turns the merges into its vocabulary.
// Header-only, included by the plugin and by tests/plugins/contract_tokenizer_bpe.cpp.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <queue>
#include <span>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nanolab/interrupt.hpp"
#include "nanolab/parallel.hpp"

namespace nanolab::bpe {

inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

struct Merge {
  int32_t a, b, id;  // rank is the position in the merge list
};

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

// The work of a training, counted in steps of its loops: `count`, the pair occurrences of the first
// count; per merge, the heap entries popped, the token positions of the chunks it re-counts
// (before and after), the pairs whose state it revisits, the positions searched for first
// occurrences, and the entries of a heap rebuild.
struct TrainingWork {
  int64_t count = 0;
  std::vector<int64_t> per_merge;
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
//
// `text` is pre-split at `ends` (chunk end offsets, the last text.size()); merge m makes id 256 + m,
// with ids 0..255 the bytes. Stops early when no pair is left. The first count runs on the
// framework's threads in `partitions` parts (any number gives the same merges).
inline std::vector<Merge> learn_merges(std::string_view text, std::span<const size_t> ends,
                                       int64_t n_merges, int partitions,
                                       TrainingWork* work = nullptr) {
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
  int64_t done = 0;  // work of the current merge (see TrainingWork)
  std::priority_queue<Entry, std::vector<Entry>, Lower> heap;
  auto push = [&](uint64_t key, PairState& s) {
    heap.push({s.count, s.first_chunk, s.first_pos, key});
    s.heap_count = s.count;
    s.heap_chunk = s.first_chunk;
    s.heap_pos = s.first_pos;
  };
  // The first count, in parallel: pair keys are dealt to `partitions` parts by their hash, and
  // each part counts its pairs over every chunk in order, as a sequential count would; a pair's
  // state is one part's alone, so it is the same for any number of parts and threads.
  const size_t n_parts = size_t(std::max(1, partitions));
  auto part_of = [n_parts](uint64_t key) {
    return size_t(((key * 0x9E3779B97F4A7C15ull) >> 32) % n_parts);
  };
  std::vector<std::unordered_map<uint64_t, PairState>> parts(n_parts);
  size_t pair_occurrences = 0;
  for (const auto& ids : chunks) pair_occurrences += ids.empty() ? 0 : ids.size() - 1;
  parallel_for(int64_t(n_parts), int64_t(pair_occurrences) * 20 + 1, [&](int64_t p0, int64_t p1) {
    for (size_t p = size_t(p0); p < size_t(p1); ++p)
      for (uint32_t c = 0; c < chunks.size(); ++c) {
        if (c % 4096 == 0) throw_if_interrupted();
        const std::vector<int32_t>& ids = chunks[c];
        for (size_t i = 0; i + 1 < ids.size(); ++i) {
          const uint64_t key = pair_key(ids[i], ids[i + 1]);
          if (part_of(key) != p) continue;
          PairState& s = parts[p][key];
          s.count += weight[c];
          if (!s.holders.empty() && s.holders.back() == c) continue;
          if (s.holders.empty()) {
            s.first_chunk = c;
            s.first_pos = uint32_t(i);
          }
          s.holders.push_back(c);
        }
      }
  });
  size_t n_pairs = 0;
  for (const auto& part : parts) n_pairs += part.size();
  pairs.reserve(n_pairs);
  for (auto& part : parts) {
    pairs.merge(part);
    part = {};
  }
  if (work) work->count = int64_t(pair_occurrences);
  for (auto& [key, s] : pairs) push(key, s);

  // The first occurrence of a pair that left its first chunk, from its holders (pruned to the
  // chunks that still hold it).
  auto find_first = [&](uint64_t key, PairState& s) {
    std::vector<uint32_t> holders;
    std::pair<uint32_t, uint32_t> first{UINT32_MAX, UINT32_MAX};
    for (uint32_t c : s.holders) {
      const std::vector<int32_t>& ids = chunks[c];
      for (size_t i = 0; i + 1 < ids.size(); ++i, ++done)
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
  uint64_t pass = 0;  // one per chunk re-counted: tells a pair's first position in that chunk
  std::vector<Merge> merges;
  std::vector<uint64_t> changed, before;
  for (int64_t m = 0; m < n_merges; ++m) {
    throw_if_interrupted();
    progress.at(m);
    done = 0;
    uint64_t best = 0;
    for (bool found = false; !found; ++done) {
      if (heap.empty()) return merges;  // every chunk is a single token: nothing left to merge
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
    merges.push_back({a, b, id});
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
      done += int64_t(ids.size());
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
      done += int64_t(ids.size());
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
    done += int64_t(changed.size());
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
      done += int64_t(heap.size());
      heap = {};
      for (auto& [key, s] : pairs) push(key, s);
    }
    if (work) work->per_merge.push_back(done);
  }
  return merges;
}


}  // namespace nanolab::bpe
