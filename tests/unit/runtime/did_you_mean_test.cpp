// The "did you mean" suggester: Levenshtein distances on known pairs, and which candidate is
// suggested (closest within max(2, length / 3), earlier on ties, none when all are far).
#include <gtest/gtest.h>

#include "nanolab/did_you_mean.hpp"

namespace nanolab {
namespace {

TEST(DidYouMean, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
  EXPECT_EQ(edit_distance("adamw", "adamw"), 0u);
  EXPECT_EQ(edit_distance("lr", "rl"), 2u);  // a transposition is two edits in Levenshtein
}

TEST(DidYouMean, SuggestsClosestWithinLimit) {
  const std::vector<std::string> names = {"causal_mha", "linear", "adamw", "sgd"};
  EXPECT_EQ(did_you_mean("causal_mh", names), "causal_mha");
  EXPECT_EQ(did_you_mean("adam", names), "adamw");
  EXPECT_EQ(did_you_mean("sdg", names), "sgd");
  EXPECT_EQ(did_you_mean("casual_mha", names), "causal_mha");  // swapped letters: 2 edits
  EXPECT_EQ(did_you_mean("transformer", names), std::nullopt);
  EXPECT_EQ(did_you_mean("x", {}), std::nullopt);
}

TEST(DidYouMean, LimitIsMaxOfTwoAndAThird) {
  // "abcdefghi" (9 chars): limit 3; "abcdefghijkl" (12 chars): limit 4.
  EXPECT_EQ(did_you_mean("abcdefxyz", {"abcdefghi"}), "abcdefghi");    // 3 edits
  EXPECT_EQ(did_you_mean("abcdewxyz", {"abcdefghi"}), std::nullopt);   // 4 edits
  EXPECT_EQ(did_you_mean("abcdefghwxyz", {"abcdefghijkl"}), "abcdefghijkl");  // 4 edits
  EXPECT_EQ(did_you_mean("ab", {"xy"}), "xy");     // short names still get 2 edits
  EXPECT_EQ(did_you_mean("ab", {"xyz"}), std::nullopt);
}

TEST(DidYouMean, TiesGoToTheEarlierCandidate) {
  EXPECT_EQ(did_you_mean("lx", {"lr", "la"}), "lr");
  EXPECT_EQ(did_you_mean("lx", {"la", "lr"}), "la");
  EXPECT_EQ(did_you_mean_hint("lrr", {"lr"}), " (did you mean 'lr'?)");
  EXPECT_EQ(did_you_mean_hint("zzzzzz", {"lr"}), "");
}

}  // namespace
}  // namespace nanolab
