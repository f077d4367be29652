// The statistics of seed groups (report.hpp: spread, student_t_quantile, welch_t_test, hedges_g)
// against values SciPy 1.10 computed once, each with the Python line that produced it
// (`import numpy as np; from scipy import stats`), to 1e-6 relative. The integration test
// Stats.CompareMatchesSciPy asks SciPy again on the program's own output.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "nanolab/report.hpp"

namespace nanolab::report {
namespace {

// Two seed groups of best val losses and two of unequal sizes and spreads.
const std::vector<double> A = {1.52741, 1.49013, 1.50322};
const std::vector<double> B = {1.40971, 1.38296, 1.41502, 1.39};
const std::vector<double> C = {2.0, 2.9, 3.7, 2.2, 4.1};
const std::vector<double> D = {3.1, 3.0, 3.3};

void expect_close(double value, double scipy) {
  EXPECT_NEAR(value, scipy, 1e-6 * std::fabs(scipy)) << "SciPy: " << scipy;
}

TEST(Stats, SpreadIsMeanSampleStdAndStudentInterval) {
  // np.mean(A), np.std(A, ddof=1), stats.t.ppf(0.975, 2) * np.std(A, ddof=1) / np.sqrt(3)
  Spread s = spread(A);
  EXPECT_EQ(s.n, 3u);
  expect_close(s.mean, 1.50692);
  expect_close(s.sd, 0.018913410586142293);
  expect_close(s.ci95, 0.04698351649662093);
  // the same for C (n = 5)
  s = spread(C);
  EXPECT_EQ(s.n, 5u);
  expect_close(s.mean, 2.98);
  expect_close(s.sd, 0.9148770409186142);
  expect_close(s.ci95, 1.1359698844918373);
}

TEST(Stats, SpreadLeavesOutMissingValuesAndNeedsTwoForAStd) {
  const Spread with_gap = spread({NAN, 1.52741, 1.49013, NAN, 1.50322});
  EXPECT_EQ(with_gap.n, 3u);
  expect_close(with_gap.sd, 0.018913410586142293);
  const Spread one = spread({2.5});
  EXPECT_EQ(one.n, 1u);
  EXPECT_EQ(one.mean, 2.5);
  EXPECT_TRUE(std::isnan(one.sd));
  EXPECT_TRUE(std::isnan(one.ci95));
  const Spread none = spread({NAN});
  EXPECT_EQ(none.n, 0u);
  EXPECT_TRUE(std::isnan(none.mean));
}

TEST(Stats, StudentQuantileMatchesScipy) {
  expect_close(student_t_quantile(0.975, 1), 12.706204736432095);  // stats.t.ppf(0.975, 1)
  expect_close(student_t_quantile(0.975, 2), 4.302652729911275);   // stats.t.ppf(0.975, 2)
  expect_close(student_t_quantile(0.975, 4.5), 2.6589123472044034);  // stats.t.ppf(0.975, 4.5)
  expect_close(student_t_quantile(0.025, 7), -2.3646242510103);     // stats.t.ppf(0.025, 7)
  expect_close(student_t_quantile(0.9, 30.25), 1.3101711246461334);  // stats.t.ppf(0.9, 30.25)
  EXPECT_TRUE(std::isnan(student_t_quantile(0.975, 0)));
  EXPECT_TRUE(std::isnan(student_t_quantile(1, 3)));
  EXPECT_TRUE(std::isnan(student_t_quantile(0.5, NAN)));
}

// With 1 and 2 degrees of freedom the quantile has a closed form: tan(pi (p - 1/2)) (Cauchy) and
// (2p - 1) / sqrt(2 p (1 - p)). Boost.Math meets both to the last bits, where SciPy 1.10's
// t.ppf(0.975, 1) is 2e-11 off (12.706204736432095).
TEST(Stats, StudentQuantileIsExactWhereItHasAClosedForm) {
  for (double p : {0.6, 0.9, 0.975, 0.995}) {
    const double cauchy = std::tan(std::numbers::pi * (p - 0.5));
    EXPECT_NEAR(student_t_quantile(p, 1), cauchy, 1e-14 * cauchy) << p;
    const double two = (2 * p - 1) / std::sqrt(2 * p * (1 - p));
    EXPECT_NEAR(student_t_quantile(p, 2), two, 1e-14 * two) << p;
  }
}

TEST(Stats, WelchMatchesScipy) {
  // r = stats.ttest_ind(A, B, equal_var=False); r.statistic, r.pvalue
  Welch w = welch_t_test(A, B);
  expect_close(w.t, 8.050157495425207);
  expect_close(w.p, 0.0015270800739150357);
  // va, vb = np.var(A, ddof=1) / 3, np.var(B, ddof=1) / 4; (va + vb)**2 / (va**2 / 2 + vb**2 / 3)
  expect_close(w.dof, 3.8437024278880587);
  // stats.ttest_ind(C, D, equal_var=False)
  w = welch_t_test(C, D);
  expect_close(w.t, -0.366350737849913);
  expect_close(w.p, 0.7311911658665988);
  expect_close(w.dof, 4.361502128867901);
  // stats.ttest_ind(D, C, equal_var=False): the sign of t turns, p stays
  w = welch_t_test(D, C);
  expect_close(w.t, 0.366350737849913);
  expect_close(w.p, 0.7311911658665988);
}

TEST(Stats, WelchEdgeCasesAreScipys) {
  // stats.ttest_ind([1, 1], [2, 2], equal_var=False): statistic=-inf, pvalue=0.0
  Welch w = welch_t_test({1, 1}, {2, 2});
  EXPECT_TRUE(std::isinf(w.t) && w.t < 0);
  EXPECT_EQ(w.p, 0.0);
  // stats.ttest_ind([1, 1], [1, 1], equal_var=False): statistic=nan, pvalue=nan
  w = welch_t_test({1, 1}, {1, 1});
  EXPECT_TRUE(std::isnan(w.t));
  EXPECT_TRUE(std::isnan(w.p));
  // stats.ttest_ind([1, 2], [2, 2], equal_var=False): statistic=-1.0, pvalue=0.49999999999999956
  w = welch_t_test({1, 2}, {2, 2});
  expect_close(w.t, -1.0);
  expect_close(w.p, 0.49999999999999956);
  // One value in a group: no test.
  EXPECT_TRUE(std::isnan(welch_t_test({1}, {2, 3}).p));
  EXPECT_TRUE(std::isnan(welch_t_test({1, NAN}, {2, 3}).p));
}

TEST(Stats, HedgesGIsCohensDCorrectedForFewSamples) {
  // na, nb = len(a), len(b)
  // sp = np.sqrt(((na-1)*np.var(a, ddof=1) + (nb-1)*np.var(b, ddof=1)) / (na+nb-2))
  // (np.mean(a) - np.mean(b)) / sp * (1 - 3 / (4*(na+nb) - 9))
  expect_close(hedges_g(A, B), 5.363421839303012);
  expect_close(hedges_g(C, D), -0.17726206073927156);
  expect_close(hedges_g(D, C), 0.17726206073927156);
  EXPECT_TRUE(std::isnan(hedges_g({1, 1}, {2, 2})));  // no spread: no scale to measure by
  EXPECT_TRUE(std::isnan(hedges_g({1}, {2, 3})));
}

}  // namespace
}  // namespace nanolab::report
