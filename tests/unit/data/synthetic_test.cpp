// Synthetic tasks: for many seeds, every row is the documented question followed by the right
// answer (sorted, summed, copied) and '.', then pads; targets are -1 except where they predict an
// answer token; train and val questions never overlap; the sizes follow block_size; too small a
// block_size names the minimum. Exact comparisons throughout: these are integers.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "data/synthetic.hpp"
#include "data_test_util.hpp"

namespace nanolab::test {
namespace {

using data::SyntheticTask;
namespace sym = data::symbol;

struct Expected {
  std::vector<int32_t> seq;  // L
  int64_t Q;                 // question length, separator included
  uint64_t key;              // the question's digits as a number
};

// The documented sequence for the question that starts `ids` (checked against the spec here, not
// against the implementation's own accessors).
Expected expected_sequence(const std::string& task, int64_t block_size, const int32_t* ids) {
  Expected e{};
  if (task == "add") {
    const int64_t k = std::min<int64_t>(3, (block_size - 3) / 3);
    int64_t a = 0, b = 0;
    for (int64_t i = 0; i < k; ++i) {
      a = a * 10 + ids[i];
      b = b * 10 + ids[k + 1 + i];
      e.key = e.key * 10 + uint64_t(ids[i]);
    }
    for (int64_t i = 0; i < k; ++i) e.key = e.key * 10 + uint64_t(ids[k + 1 + i]);
    e.seq.assign(ids, ids + k);
    e.seq.push_back(sym::plus);
    e.seq.insert(e.seq.end(), ids + k + 1, ids + 2 * k + 1);
    e.seq.push_back(sym::equals);
    const std::string sum = std::to_string(a + b);
    for (size_t i = sum.size(); i < size_t(k + 1); ++i) e.seq.push_back(0);
    for (char c : sum) e.seq.push_back(c - '0');
    e.Q = 2 * k + 2;
  } else {
    const int64_t n = std::min<int64_t>(8, (block_size - 1) / 2);
    std::vector<int32_t> q(ids, ids + n), answer = q;
    for (int32_t d : q) e.key = e.key * 10 + uint64_t(d);
    if (task == "sort") std::sort(answer.begin(), answer.end());
    e.seq = q;
    e.seq.push_back(sym::arrow);
    e.seq.insert(e.seq.end(), answer.begin(), answer.end());
    e.Q = n + 1;
  }
  e.seq.push_back(sym::end);
  return e;
}

struct Case {
  std::string task;
  int64_t block_size;
};

class SyntheticTasks : public ::testing::TestWithParam<Case> {};

TEST_P(SyntheticTasks, RowsAreQuestionsWithTheirAnswersAndTargetsOnlyOnAnswers) {
  const auto [task, block_size] = GetParam();
  TestByteTokenizer unused;  // synthetic tasks have their own vocabulary
  auto ds = open_dataset(data_config("synthetic:" + task, block_size), unused, {});
  ASSERT_TRUE(ds->has_accuracy());
  ASSERT_EQ(ds->vocab_size(), 15);
  const int64_t B = 16, T = block_size;
  std::vector<int> digit_count(10, 0);
  int64_t answer_targets = 0;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    for (Split split : {Split::train, Split::val}) {
      Batch batch;
      ds->batch(split, seed, B, T, batch);
      ASSERT_EQ(batch.ids.size(), size_t(B * T));
      ASSERT_EQ(batch.targets.size(), size_t(B * T));
      for (int64_t b = 0; b < B; ++b) {
        const int32_t* ids = batch.ids.data() + b * T;
        const int32_t* targets = batch.targets.data() + b * T;
        const Expected e = expected_sequence(task, block_size, ids);
        const int64_t L = int64_t(e.seq.size());
        ASSERT_LE(L, T + 1);
        for (int64_t t = 0; t < e.Q - 1; ++t) {
          if (task == "add" && t == (e.Q - 2) / 2) continue;  // the '+' between the two numbers
          ASSERT_GE(ids[t], 0);
          ASSERT_LE(ids[t], 9);
          ++digit_count[size_t(ids[t])];
        }
        for (int64_t t = 0; t < T; ++t) {
          ASSERT_EQ(ids[t], t < L ? e.seq[t] : sym::pad) << task << " seed " << seed << " row " << b << " t " << t;
          const bool predicts_answer = t + 1 >= e.Q && t + 1 < L;
          ASSERT_EQ(targets[t], predicts_answer ? e.seq[t + 1] : -1) << task << " seed " << seed << " t " << t;
          answer_targets += predicts_answer;
        }
      }
    }
  }
  EXPECT_GT(answer_targets, 0);
  // Every digit appears in the questions, each roughly a tenth of the time: more than 5% of draws
  // (the expected share is 10%, and with tens of thousands of digits drawn the share of each lies
  // within a fraction of a percent of it).
  const int total = std::accumulate(digit_count.begin(), digit_count.end(), 0);
  for (int d = 0; d < 10; ++d) EXPECT_GT(digit_count[size_t(d)], total / 20) << "digit " << d;
}

TEST_P(SyntheticTasks, TrainAndValQuestionsAreDisjoint) {
  const auto [task, block_size] = GetParam();
  auto ds = SyntheticTask(task, block_size);
  std::set<std::vector<int32_t>> train, val;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    for (Split split : {Split::train, Split::val}) {
      Batch batch;
      ds.batch(split, seed, 8, block_size, batch);
      for (int64_t b = 0; b < 8; ++b) {
        const int32_t* row = batch.ids.data() + b * block_size;
        (split == Split::train ? train : val).insert(std::vector<int32_t>(row, row + ds.question_length()));
      }
    }
  }
  for (const auto& q : val) EXPECT_FALSE(train.contains(q)) << ds.decode(q);
  // Smallest question space here is 100 questions (10 held out): both sides must be populated.
  EXPECT_GE(train.size(), 10u);
  EXPECT_GE(val.size(), 2u);
}

// A batch drawn in parts (micro-batches, ranks) is the batch drawn whole.
TEST_P(SyntheticTasks, RowsOfABatchDrawnInPartsAreTheBatchDrawnWhole) {
  const auto [task, block_size] = GetParam();
  auto ds = SyntheticTask(task, block_size);
  const int64_t T = block_size;
  Batch whole, part;
  ds.batch(Split::train, 5, 16, T, whole);
  for (int64_t first = 0; first < 16; first += 4) {
    ds.rows(Split::train, 5, first, 4, T, part);
    ASSERT_EQ(part.B, 4);
    EXPECT_EQ(part.ids, std::vector<int32_t>(whole.ids.begin() + first * T,
                                             whole.ids.begin() + (first + 4) * T));
    EXPECT_EQ(part.targets, std::vector<int32_t>(whole.targets.begin() + first * T,
                                                 whole.targets.begin() + (first + 4) * T));
  }
}

TEST_P(SyntheticTasks, BatchesAreDeterministicPerSeedAndDifferAcrossSeeds) {
  const auto [task, block_size] = GetParam();
  auto ds = SyntheticTask(task, block_size);
  Batch a, b, c, v;
  ds.batch(Split::train, 5, 16, block_size, a);
  ds.batch(Split::train, 5, 16, block_size, b);
  ds.batch(Split::train, 6, 16, block_size, c);
  ds.batch(Split::val, 5, 16, block_size, v);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.targets, b.targets);
  EXPECT_NE(a.ids, c.ids);
  EXPECT_NE(a.ids, v.ids);
}

TEST_P(SyntheticTasks, SamplePromptIsAValQuestionUpToItsSeparator) {
  const auto [task, block_size] = GetParam();
  auto ds = SyntheticTask(task, block_size);
  const auto prompt = ds.sample_prompt(3);
  ASSERT_EQ(int64_t(prompt.size()), ds.question_length());
  EXPECT_EQ(prompt.back(), task == "add" ? sym::equals : sym::arrow);
  EXPECT_EQ(ds.sample_prompt(3), prompt);
  Batch val;
  ds.batch(Split::val, 3, 1, block_size, val);  // row 0 of val for the same seed
  EXPECT_TRUE(std::equal(prompt.begin(), prompt.end(), val.ids.begin()));
}

INSTANTIATE_TEST_SUITE_P(Data, SyntheticTasks,
                         ::testing::Values(Case{"sort", 5}, Case{"sort", 13}, Case{"sort", 64}, Case{"copy", 5},
                                           Case{"copy", 14}, Case{"add", 6}, Case{"add", 9}, Case{"add", 64}),
                         [](const auto& info) { return info.param.task + std::to_string(info.param.block_size); });

TEST(Synthetic, SizesFollowBlockSize) {
  EXPECT_EQ(SyntheticTask("sort", 13).digits(), 6);  // the quickstart's size
  EXPECT_EQ(SyntheticTask("sort", 14).digits(), 6);
  EXPECT_EQ(SyntheticTask("sort", 13).sequence_length(), 14);
  EXPECT_EQ(SyntheticTask("sort", 64).digits(), 8);  // capped
  EXPECT_EQ(SyntheticTask("copy", 5).digits(), 2);
  EXPECT_EQ(SyntheticTask("add", 6).digits(), 1);
  EXPECT_EQ(SyntheticTask("add", 12).digits(), 3);
  EXPECT_EQ(SyntheticTask("add", 12).sequence_length(), 13);
  EXPECT_EQ(SyntheticTask("add", 64).digits(), 3);  // capped
}

TEST(Synthetic, TooSmallBlockSizeNamesTheMinimum) {
  std::string msg = data_error([] { SyntheticTask("sort", 4); });
  EXPECT_NE(msg.find("synthetic:sort needs block_size >= 5"), std::string::npos) << msg;
  msg = data_error([] { SyntheticTask("add", 5); });
  EXPECT_NE(msg.find("synthetic:add needs block_size >= 6"), std::string::npos) << msg;
  msg = data_error([] { SyntheticTask("copy", 1); });
  EXPECT_NE(msg.find("synthetic:copy needs block_size >= 5"), std::string::npos) << msg;
  // A batch shorter than the sequence cannot hold the answer.
  Batch batch;
  msg = data_error([&] { SyntheticTask("sort", 13).batch(Split::train, 0, 2, 12, batch); });
  EXPECT_NE(msg.find("T >= 13"), std::string::npos) << msg;
}

TEST(Synthetic, UnknownTaskListsTheTasks) {
  TestByteTokenizer unused;
  const std::string msg = data_error([&] { open_dataset(data_config("synthetic:reverse", 16), unused, {}); });
  EXPECT_NE(msg.find("synthetic:sort, synthetic:add, synthetic:copy"), std::string::npos) << msg;
}

// One character a token, as a question is written.
TEST(Synthetic, DecodesToReadableText) {
  const SyntheticTask sort("sort", 7);
  const std::vector<int32_t> row = {3, 1, 4, sym::arrow, 1, 3, 4, sym::end, sym::pad};
  EXPECT_EQ(sort.decode(row), "314>134._");
  EXPECT_EQ(sort.decode(std::vector<int32_t>{4, 7, sym::plus, 1, 2, sym::equals, 0, 5, 9}), "47+12=059");
}

// A question typed by a person is the question of a row: the quickstart's "12+49=" (k = 2), a
// shorter number zero-padded, spaces ignored; anything else says what a question looks like.
TEST(Synthetic, EncodesAQuestionTypedAsAPrompt) {
  const SyntheticTask add("add", 9), copy("copy", 9);
  ASSERT_EQ(add.digits(), 2);
  auto config_error_of = [](auto f) -> std::string {
    try {
      f();
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no ConfigError";
  };
  using Ids = std::vector<int32_t>;
  EXPECT_EQ(add.encode_prompt("12+49="), Ids({1, 2, sym::plus, 4, 9, sym::equals}));
  EXPECT_EQ(add.encode_prompt("5 + 7 ="), Ids({0, 5, sym::plus, 0, 7, sym::equals}));
  EXPECT_EQ(int64_t(add.encode_prompt("12+49=").size()), add.question_length());
  EXPECT_EQ(copy.encode_prompt("3141>"), Ids({3, 1, 4, 1, sym::arrow}));
  EXPECT_EQ(add.end_token(), sym::end);
  for (const std::string bad : {"12+49", "123+4=", "12+49=0", "+49=", "12-49=", "12>", ""}) {
    SCOPED_TRACE(bad);
    const std::string msg = config_error_of([&] { add.encode_prompt(bad); });
    EXPECT_NE(msg.find("a question of synthetic:add is two numbers of at most 2 digits and '=', as 12+49="),
              std::string::npos)
        << msg;
  }
  for (const std::string bad : {"12", "314>", "31415>", "3141+"}) {
    SCOPED_TRACE(bad);
    const std::string msg = config_error_of([&] { copy.encode_prompt(bad); });
    EXPECT_NE(msg.find("is 4 digits and '>', as 3141>"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace nanolab::test
