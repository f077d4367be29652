// Synthetic tasks (synthetic.hpp): sizing from block_size, question drawing with the train/val
// partition, answers, batches and decoding.
#include "data/synthetic.hpp"

#include <algorithm>

#include "nanolab/errors.hpp"
#include "nanolab/rng.hpp"

namespace nanolab::data {
namespace {

// Salts that give each split its own seed stream, and the one that assigns questions to val.
constexpr uint64_t train_stream = 0x747261696e;  // "train"
constexpr uint64_t val_stream = 0x76616c;        // "val"
constexpr uint64_t partition_salt = 0x686f6c646f7574;  // "holdout"
// A question is in val when its hash % 10 == 0: 10% held out.
constexpr uint64_t partition_buckets = 10;
// Each draw lands in the wanted split with probability 0.1 at worst, so 1000 misses in a row
// (probability 0.9^1000, about 1e-46) means that split has no questions at all: a bug.
constexpr int max_draws = 1000;

constexpr int64_t max_sort_digits = 8;
constexpr int64_t max_add_digits = 3;

const char* symbols = "0123456789+=>._";

bool in_val(uint64_t question_key) {
  return rng::mix(question_key, partition_salt) % partition_buckets == 0;
}

}  // namespace

SyntheticTask::SyntheticTask(const std::string& name, int64_t block_size) : name_("synthetic:" + name) {
  int64_t min_block_size;
  if (name == "sort" || name == "copy") {
    task_ = name == "sort" ? Task::sort : Task::copy;
    // L = 2n + 2 must fit in T + 1 tokens (ids and targets are the sequence shifted by one).
    digits_ = std::min(max_sort_digits, (block_size - 1) / 2);
    min_block_size = 5;  // n = 2: one digit has nothing to sort
    Q_ = digits_ + 1;
    L_ = 2 * digits_ + 2;
  } else if (name == "add") {
    task_ = Task::add;
    // L = 3k + 4 must fit in T + 1.
    digits_ = std::min(max_add_digits, (block_size - 3) / 3);
    min_block_size = 6;  // k = 1
    Q_ = 2 * digits_ + 2;
    L_ = 3 * digits_ + 4;
  } else {
    throw DataError("unknown synthetic task '" + name_ + "' (tasks: synthetic:sort, synthetic:add, synthetic:copy)");
  }
  if (block_size < min_block_size)
    throw DataError(name_ + " needs block_size >= " + std::to_string(min_block_size) + ", the experiment has " +
                    std::to_string(block_size));
}

std::string SyntheticTask::description() const {
  const std::string what = task_ == Task::sort   ? "sort " + std::to_string(digits_) + " digits"
                           : task_ == Task::copy ? "copy " + std::to_string(digits_) + " digits"
                                                 : "add two " + std::to_string(digits_) + "-digit numbers";
  return name_ + ": " + what + ", question " + std::to_string(Q_) + " tokens, answer " + std::to_string(L_ - Q_) +
         " tokens ('.' included), sequence " + std::to_string(L_) + ", vocab_size " +
         std::to_string(symbol::vocab_size) + ", 1 question in " + std::to_string(partition_buckets) +
         " held out for val";
}

void SyntheticTask::sequence(Split split, uint64_t batch_seed, uint64_t row, int32_t* seq) const {
  const uint64_t stream = rng::mix(rng::mix(batch_seed, split == Split::train ? train_stream : val_stream), row);
  // The question's digits (n for sort/copy, 2k for add), drawn until the question is the split's.
  int32_t q[2 * max_sort_digits];
  const int64_t n_q = task_ == Task::add ? 2 * digits_ : digits_;
  for (int draw = 0;; ++draw) {
    if (draw == max_draws)
      throw Error(ExitCode::internal, name_ + ": no question of the " +
                                          std::string(split == Split::train ? "train" : "val") + " split found");
    uint64_t key = 0;
    for (int64_t i = 0; i < n_q; ++i) {
      q[i] = int32_t(rng::mix(stream, uint64_t(draw) * 32 + uint64_t(i)) % 10);
      key = key * 10 + uint64_t(q[i]);
    }
    if (in_val(key) == (split == Split::val)) break;
  }

  int32_t* out = seq;
  if (task_ == Task::add) {
    const int64_t k = digits_;
    int64_t a = 0, b = 0;
    for (int64_t i = 0; i < k; ++i) a = a * 10 + q[i], b = b * 10 + q[k + i];
    out = std::copy(q, q + k, out);
    *out++ = symbol::plus;
    out = std::copy(q + k, q + 2 * k, out);
    *out++ = symbol::equals;
    // The sum in k + 1 digits, most significant first, zero-padded.
    int64_t sum = a + b;
    for (int64_t i = k; i >= 0; --i, sum /= 10) out[i] = int32_t(sum % 10);
    out += k + 1;
  } else {
    out = std::copy(q, q + digits_, out);
    *out++ = symbol::arrow;
    out = std::copy(q, q + digits_, out);
    if (task_ == Task::sort) std::sort(out - digits_, out);
  }
  *out++ = symbol::end;
}

void SyntheticTask::rows(Split split, uint64_t batch_seed, int64_t first_row, int64_t B, int64_t T,
                         Batch& out) const {
  if (B < 1 || T < L_ - 1)
    throw DataError(name_ + ": cannot cut a batch of B=" + std::to_string(B) + ", T=" + std::to_string(T) +
                    ": its sequences need T >= " + std::to_string(L_ - 1));
  out.B = B;
  out.T = T;
  out.ids.resize(size_t(B * T));      // B,T
  out.targets.resize(size_t(B * T));  // B,T
  int32_t seq[3 * max_sort_digits];   // L <= 2 * 8 + 2 (sort, copy) or 3 * 3 + 4 (add)
  for (int64_t b = 0; b < B; ++b) {
    sequence(split, batch_seed, uint64_t(first_row + b), seq);
    int32_t* ids = out.ids.data() + b * T;
    int32_t* targets = out.targets.data() + b * T;
    for (int64_t t = 0; t < T; ++t) {
      ids[t] = t < L_ ? seq[t] : symbol::pad;
      targets[t] = t + 1 >= Q_ && t + 1 < L_ ? seq[t + 1] : -1;
    }
  }
}

std::string SyntheticTask::decode(std::span<const int32_t> ids) const {
  std::string text;
  for (int32_t id : ids) text += id >= 0 && id < symbol::vocab_size ? symbols[id] : '?';
  return text;
}

std::vector<int32_t> SyntheticTask::encode_prompt(const std::string& text) const {
  const std::string k = std::to_string(digits_);
  const std::string form = task_ == Task::add
                               ? "two numbers of at most " + k + " digits and '=', as 12+49="
                               : k + " digits and '>', as " + std::string("31415926").substr(0, size_t(digits_)) + ">";
  auto refuse = [&] {
    return ConfigError("--prompt '" + text + "': a question of " + name_ + " is " + form);
  };
  std::vector<std::string> numbers(1);  // the runs of digits, split at the operator
  std::string op;
  for (char c : text) {
    if (c == ' ') continue;
    if (c >= '0' && c <= '9' && op.size() < 2) numbers.back() += c;
    else if (c == '+' && op.empty() && task_ == Task::add) op += c, numbers.emplace_back();
    else if ((c == '=' && op == "+") || (c == '>' && op.empty() && task_ != Task::add)) op += c;
    else throw refuse();
  }
  const size_t n_numbers = task_ == Task::add ? 2 : 1;
  if (op.size() != n_numbers || numbers.size() != n_numbers) throw refuse();
  std::vector<int32_t> ids;
  for (size_t i = 0; i < n_numbers; ++i) {
    const std::string& digits = numbers[i];
    if (digits.empty() || int64_t(digits.size()) > digits_ ||
        (task_ != Task::add && int64_t(digits.size()) != digits_))
      throw refuse();
    ids.insert(ids.end(), size_t(digits_) - digits.size(), 0);  // add's zero padding
    for (char c : digits) ids.push_back(c - '0');
    ids.push_back(task_ != Task::add ? symbol::arrow : i == 0 ? symbol::plus : symbol::equals);
  }
  return ids;
}

std::vector<int32_t> SyntheticTask::sample_prompt(uint64_t seed) const {
  int32_t seq[3 * max_sort_digits];
  sequence(Split::val, seed, 0, seq);
  return std::vector<int32_t>(seq, seq + Q_);
}

}  // namespace nanolab::data
