// ASHA's rungs and promotion rule (nanolab/search.hpp) against a reference written line by line
// from the pseudo-code of Li et al. 2018 (Algorithm 2, asynchronous successive halving, s = 0)
// and, once every trial has started, from the statement of nanolab's end rule (final_promotion),
// over synthetic metric tables: both drive the same sequential search and must make the same
// decisions in the same order. And the most steps a search can use, counted by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "nanolab/search.hpp"

namespace nanolab {
namespace {

// The paper's get_job, as written:
//   for k = floor(log_eta(R / r)) - s - 1, ..., 1, 0 do
//     candidates = top_k(rung k, |rung k| / eta)
//     promotable = {t in candidates : t not already promoted}
//     if |promotable| > 0 then return promotable[0], k + 1
//   draw random configuration theta; return theta, 0
// Rung k is a list of (trial, loss) in the order the results came; top_k sorts it by loss (ties:
// the smaller trial number, the order nanolab documents).
struct ReferenceAsha {
  int eta;
  std::vector<std::vector<std::pair<int64_t, double>>> rung;
  std::vector<std::vector<int64_t>> promoted;

  std::pair<int64_t, size_t> get_job(int64_t new_trial) {
    for (int k = int(rung.size()) - 2; k >= 0; --k) {
      std::vector<std::pair<int64_t, double>> candidates = rung[size_t(k)];
      std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second < b.second : a.first < b.first;
      });
      candidates.resize(rung[size_t(k)].size() / size_t(eta));
      std::vector<int64_t> promotable;
      for (const auto& [trial, loss] : candidates)
        if (std::find(promoted[size_t(k)].begin(), promoted[size_t(k)].end(), trial) ==
            promoted[size_t(k)].end())
          promotable.push_back(trial);
      if (!promotable.empty()) {
        promoted[size_t(k)].push_back(promotable[0]);
        return {promotable[0], size_t(k) + 1};
      }
    }
    return {new_trial, 0};
  }

  // The end rule, once every trial has started: nothing when a trial has a (finite) loss at the
  // top rung; else, from the highest rung down, the best trial with a finite loss there that was
  // not promoted from it goes on. A job of rung 0 means none.
  std::pair<int64_t, size_t> end_job() {
    for (const auto& [trial, loss] : rung.back())
      if (std::isfinite(loss)) return {-1, 0};
    for (int k = int(rung.size()) - 2; k >= 0; --k) {
      std::vector<std::pair<int64_t, double>> candidates;
      for (const auto& [trial, loss] : rung[size_t(k)])
        if (std::isfinite(loss) &&
            std::find(promoted[size_t(k)].begin(), promoted[size_t(k)].end(), trial) ==
                promoted[size_t(k)].end())
          candidates.push_back({trial, loss});
      if (candidates.empty()) continue;
      const auto best = std::min_element(candidates.begin(), candidates.end(),
                                         [](const auto& a, const auto& b) {
                                           return a.second != b.second ? a.second < b.second
                                                                       : a.first < b.first;
                                         });
      promoted[size_t(k)].push_back(best->first);
      return {best->first, size_t(k) + 1};
    }
    return {-1, 0};
  }
};

// (trial, rung) of every job of a sequential search of `trials` trials over `rungs` rungs, trial
// t scoring loss[t][k] at rung k: by next_promotion, or by the reference.
std::vector<std::pair<int64_t, size_t>> jobs_of(const std::vector<std::vector<double>>& loss,
                                                size_t rungs, int eta, bool reference) {
  std::vector<std::pair<int64_t, size_t>> jobs;
  const int64_t trials = int64_t(loss.size());
  int64_t started = 0;
  if (reference) {
    ReferenceAsha ref{eta, std::vector<std::vector<std::pair<int64_t, double>>>(rungs),
                      std::vector<std::vector<int64_t>>(rungs)};
    for (;;) {
      auto job = ref.get_job(started);
      if (job.second == 0 && started == trials) job = ref.end_job();
      if (job.second == 0) {
        if (started == trials) break;
        ++started;
      }
      ref.rung[job.second].push_back({job.first, loss[size_t(job.first)][job.second]});
      jobs.push_back(job);
    }
    return jobs;
  }
  search::Ladder ladder{std::vector<std::map<int64_t, double>>(rungs),
                        std::vector<std::set<int64_t>>(rungs)};
  for (;;) {
    std::pair<int64_t, size_t> job;
    if (const auto p = search::next_promotion(ladder, eta)) {
      ladder.promoted[p->to_rung - 1].insert(p->trial);
      job = {p->trial, p->to_rung};
    } else if (started < trials) {
      job = {started++, 0};
    } else if (const auto end = search::final_promotion(ladder)) {
      ladder.promoted[end->to_rung - 1].insert(end->trial);
      job = {end->trial, end->to_rung};
    } else {
      break;
    }
    ladder.results[job.second][job.first] = loss[size_t(job.first)][job.second];
    jobs.push_back(job);
  }
  return jobs;
}

TEST(Asha, RungsGrowByTheReductionFactorAndEndAtMaxIters) {
  EXPECT_EQ(search::rungs(200, 3, 2000), (std::vector<int64_t>{200, 600, 1800, 2000}));
  EXPECT_EQ(search::rungs(100, 3, 900), (std::vector<int64_t>{100, 300, 900}));
  EXPECT_EQ(search::rungs(5, 2, 5), (std::vector<int64_t>{5}));
  EXPECT_EQ(search::rungs(3, 4, 10), (std::vector<int64_t>{3, 10}));
  const auto huge = search::rungs(1, 10, 1'000'000'000'000);
  ASSERT_EQ(huge.size(), 13u);  // 10^0 ... 10^11, then 10^12: no overflow on the way
  EXPECT_EQ(huge[11], 100'000'000'000);
}

TEST(Asha, AHandCountedSearchPromotesTheTopHalfAsResultsArrive) {
  // eta 2, two rungs; rung 0 losses: trial 0 0.5, 1 0.3, 2 0.9, 3 0.1. Trial 1 is promoted once
  // two results are in (the top 1 of 2); trial 3 once four are (the top 2: 3 and 1).
  const std::vector<std::vector<double>> loss = {{0.5, 0}, {0.3, 0}, {0.9, 0}, {0.1, 0}};
  const std::vector<std::pair<int64_t, size_t>> expected = {{0, 0}, {1, 0}, {1, 1},
                                                            {2, 0}, {3, 0}, {3, 1}};
  EXPECT_EQ(jobs_of(loss, 2, 2, false), expected);
  EXPECT_EQ(jobs_of(loss, 2, 2, true), expected);
}

TEST(Asha, MakesThePapersDecisionsOnSyntheticMetricTables) {
  std::mt19937_64 random(20181);
  for (int table = 0; table < 300; ++table) {
    const int eta = 2 + int(random() % 3);
    const size_t rungs = 1 + random() % 4;
    const size_t trials = 1 + random() % 40;
    // Few distinct values now and then, so that ties happen; and failed trials (an infinite
    // loss, as the runner records a failure) in other tables.
    const bool ties = table % 3 == 0, failures = table % 3 == 1;
    std::vector<std::vector<double>> loss(trials, std::vector<double>(rungs));
    for (auto& row : loss)
      for (double& v : row)
        v = ties                           ? double(random() % 4)
            : failures && random() % 5 == 0 ? INFINITY
                                            : double(random() % 1000000) / 1e6;
    const auto mine = jobs_of(loss, rungs, eta, false);
    ASSERT_EQ(mine, jobs_of(loss, rungs, eta, true))
        << "table " << table << ": eta " << eta << ", " << rungs << " rungs, " << trials
        << " trials";
    ASSERT_GE(mine.size(), trials);
  }
}

TEST(Asha, AFiniteSearchGoesOnUntilATrialReachesMaxIters) {
  // 8 trials, eta 4, rungs 50, 200, 800, 2000 (lr_search_asha's first design). At rung 0 trial t
  // scores 1 + t / 10, but trial 2 0.7 and trial 5 0.5: 2 is the best of the first four and goes
  // on to 200, 5 once six are in. Two results at 200 promote none at eta 4, so once all 8 have
  // started the end rule takes the better one at 200 (trial 2) to 800, and then to 2000.
  std::vector<std::vector<double>> loss(8, std::vector<double>(4, 1.0));
  for (size_t t = 0; t < 8; ++t) loss[t][0] = 1 + double(t) / 10;
  loss[5] = {0.5, 0.4, 0.3, 0.2};
  loss[2] = {0.7, 0.35, 0.3, 0.2};
  const std::vector<std::pair<int64_t, size_t>> expected = {
      {0, 0}, {1, 0}, {2, 0}, {3, 0}, {2, 1}, {4, 0},
      {5, 0}, {5, 1}, {6, 0}, {7, 0}, {2, 2}, {2, 3}};
  EXPECT_EQ(jobs_of(loss, 4, 4, false), expected);
  EXPECT_EQ(jobs_of(loss, 4, 4, true), expected);
}

TEST(Asha, TheEndRuleWaitsForATrialStillTrainingAndSkipsFailures) {
  search::Ladder ladder{std::vector<std::map<int64_t, double>>(3),
                        std::vector<std::set<int64_t>>(3)};
  ladder.results[0] = {{0, 0.5}, {1, 0.2}, {2, 0.9}};
  ladder.promoted[0] = {1};
  EXPECT_FALSE(search::final_promotion(ladder)) << "trial 1 trains toward rung 1";
  ladder.results[1] = {{1, INFINITY}};  // and failed there
  auto p = search::final_promotion(ladder);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->trial, 0);
  EXPECT_EQ(p->to_rung, 1u);
  ladder.promoted[0].insert(0);
  ladder.results[1][0] = 0.4;
  p = search::final_promotion(ladder);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->trial, 0);
  EXPECT_EQ(p->to_rung, 2u);
  ladder.promoted[1].insert(0);
  ladder.results[2][0] = 0.3;
  EXPECT_FALSE(search::final_promotion(ladder)) << "a trial reached the top";
}

TEST(Asha, ANaNResultIsTheWorst) {
  search::Ladder ladder{std::vector<std::map<int64_t, double>>(2),
                        std::vector<std::set<int64_t>>(2)};
  ladder.results[0] = {{0, NAN}, {1, 2.0}};
  const auto p = search::next_promotion(ladder, 2);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->trial, 1);
  EXPECT_EQ(p->to_rung, 1u);
}

TEST(SearchSteps, AshaUsesAtMostTheStepsOfItsWorstCaseAndRandomTheGrids) {
  SearchPlan plan;
  plan.method = "asha";
  plan.trials = 9;
  plan.min_iters = 1;
  plan.reduction_factor = 3;
  plan.max_iters = 9;
  plan.runs_per_trial = 2;
  // Rungs 1, 3, 9. When each new trial beats the earlier ones, every trial but two of each rung
  // is promoted: 9 trials x 1 step, 7 x (3 - 1), 5 x (9 - 3): 53 steps a run, 2 runs a trial.
  EXPECT_EQ(search::most_steps(plan), 2 * (9 + 7 * 2 + 5 * 6));
  EXPECT_EQ(search::grid_steps(plan), 2 * 9 * 9);
  // 8 trials at 50 steps (lr_search_asha's first design), 5 promoted to 200 (trials 3 to 7), 2 to
  // 800 (6, 7), and by the end rule 7 to 2000.
  SearchPlan small = plan;
  small.trials = 8;
  small.min_iters = 50;
  small.reduction_factor = 4;
  small.max_iters = 2000;
  small.runs_per_trial = 1;
  EXPECT_EQ(search::most_steps(small), 8 * 50 + 5 * 150 + 2 * 600 + 1200);
  plan.method = "random";
  EXPECT_EQ(search::most_steps(plan), 2 * 9 * 9);
}

}  // namespace
}  // namespace nanolab
