// Synthetic tasks (`synthetic:sort`, `synthetic:add`, `synthetic:copy`): question/answer
// sequences generated in process from the batch seed, for quick experiments and tests that need
// no file. Internal to data/; open_dataset picks it for a `synthetic:` dataset name.
//
// One vocabulary for all tasks (V = 15): ids 0-9 are the digits, then '+', '=', '>', '.' (end of
// answer) and '_' (pad). A sequence is the question, then the answer ending in '.', then pads:
//   sort  n digits:        3 1 4 1 5 9 > 1 1 3 4 5 9 .        n = min(8, (block_size - 1) / 2)
//   copy  n digits:        3 1 4 1 5 9 > 3 1 4 1 5 9 .        n as for sort
// (written here a token apart; decode() and encode_prompt() write them without spaces).
//   add   two k-digit numbers, the sum in k + 1 digits, all zero-padded:
//                          0 4 7 + 0 1 2 = 0 0 5 9 .          k = min(3, (block_size - 3) / 3)
// Digits are uniform in 0-9. The task is sized once, from config.block_size, so every row of
// every batch has the same length L (the question of length Q, then the answer of length L - Q);
// ids[t] = seq[t] and targets[t] = seq[t + 1] where t + 1 is an answer position, -1 elsewhere (the
// question, the pads). Exact-match accuracy is taken on those targets.
//
// Train and val are disjoint by question: a question belongs to val when a hash of it falls in a
// fixed 10% bucket, and each split draws from its own seed stream until it gets one of its own
// questions. A val accuracy is then an accuracy on questions never trained on. Not a curriculum
// or a general task library: three fixed tasks, sized by block_size.
#pragma once

#include <cstdint>
#include <string>

#include "nanolab/data.hpp"

namespace nanolab::data {

namespace symbol {
constexpr int32_t plus = 10, equals = 11, arrow = 12, end = 13, pad = 14;
constexpr int64_t vocab_size = 15;
}  // namespace symbol

enum class Task { sort, add, copy };

class SyntheticTask final : public Dataset {
 public:
  // `name` is the part after "synthetic:"; DataError for an unknown task or a block_size below
  // the task's minimum (which the message names).
  SyntheticTask(const std::string& name, int64_t block_size);

  std::string description() const override;
  int64_t vocab_size() const override { return symbol::vocab_size; }
  // T may exceed the block_size the task was sized for (rows are padded), never be below L - 1.
  void rows(Split split, uint64_t batch_seed, int64_t first_row, int64_t B, int64_t T,
            Batch& out) const override;
  bool has_accuracy() const override { return true; }
  // Tokens as their symbols, one character each, e.g. "314>134.".
  std::string decode(std::span<const int32_t> ids) const override;
  // A val question up to and including its separator, for the model to answer.
  std::vector<int32_t> sample_prompt(uint64_t seed) const override;
  // A question as a person writes it, spaces ignored: "314>" for sort and copy (n digits), and
  // "12+49=" for add, whose numbers may have fewer than k digits ("5+7=" is "05+07=").
  std::vector<int32_t> encode_prompt(const std::string& text) const override;
  int32_t end_token() const override { return symbol::end; }

  int64_t question_length() const { return Q_; }  // Q, the separator included
  int64_t sequence_length() const { return L_; }  // L, question + answer + '.'
  int64_t digits() const { return digits_; }      // n for sort and copy, k for add

 private:
  // The whole sequence (L tokens) of row `row` of split `split` for batch_seed.
  void sequence(Split split, uint64_t batch_seed, uint64_t row, int32_t* seq) const;

  Task task_;
  std::string name_;
  int64_t digits_ = 0, Q_ = 0, L_ = 0;
};

}  // namespace nanolab::data
