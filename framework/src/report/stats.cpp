// Statistics over the runs of a seed group (report.hpp: spread, student_t_quantile, welch_t_test,
// hedges_g): what `compare --group-seeds --baseline` prints and what any other view of the runs
// computes the same way. The distribution of Student's t is Boost.Math's; the formulas follow
// SciPy's (scipy.stats.ttest_ind with equal_var=False, scipy.stats.t), which the tests hold them
// to. Not a statistics library: only what comparing a few seeds per configuration needs.
#include <boost/math/distributions/students_t.hpp>

#include <cmath>

#include "nanolab/report.hpp"

namespace nanolab::report {
namespace {

std::vector<double> without_nan(const std::vector<double>& values) {
  std::vector<double> out;
  for (double v : values)
    if (!std::isnan(v)) out.push_back(v);
  return out;
}

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / double(v.size());
}

// The sample variance (n - 1), in two passes as numpy's var(ddof=1).
double variance_of(const std::vector<double>& v, double mean) {
  double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  return sq / double(v.size() - 1);
}

}  // namespace

Spread spread(const std::vector<double>& values) {
  const std::vector<double> v = without_nan(values);
  Spread s;
  s.n = v.size();
  if (s.n == 0) return s;
  s.mean = mean_of(v);
  if (s.n < 2) return s;
  s.sd = std::sqrt(variance_of(v, s.mean));
  s.ci95 = student_t_quantile(0.975, double(s.n - 1)) * s.sd / std::sqrt(double(s.n));
  return s;
}

double student_t_quantile(double p, double dof) {
  if (!(p > 0 && p < 1 && dof > 0)) return NAN;  // also NaN arguments: Boost would throw
  return boost::math::quantile(boost::math::students_t(dof), p);
}

Welch welch_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  const std::vector<double> x = without_nan(a), y = without_nan(b);
  Welch w;
  if (x.size() < 2 || y.size() < 2) return w;
  const double nx = double(x.size()), ny = double(y.size());
  const double mx = mean_of(x), my = mean_of(y);
  const double vx = variance_of(x, mx) / nx, vy = variance_of(y, my) / ny;
  // Welch-Satterthwaite. Both groups without spread give 0/0: SciPy takes 1 degree of freedom
  // then, so that different constants are a certain difference (p = 0) and equal ones no test.
  w.dof = (vx + vy) * (vx + vy) / (vx * vx / (nx - 1) + vy * vy / (ny - 1));
  if (std::isnan(w.dof)) w.dof = 1;
  w.t = (mx - my) / std::sqrt(vx + vy);
  if (std::isnan(w.t)) return w;
  w.p = std::isinf(w.t) ? 0.0
                        : 2 * boost::math::cdf(boost::math::complement(
                                  boost::math::students_t(w.dof), std::fabs(w.t)));
  return w;
}

double hedges_g(const std::vector<double>& a, const std::vector<double>& b) {
  const std::vector<double> x = without_nan(a), y = without_nan(b);
  if (x.size() < 2 || y.size() < 2) return NAN;
  const double nx = double(x.size()), ny = double(y.size());
  const double mx = mean_of(x), my = mean_of(y);
  const double pooled = std::sqrt(((nx - 1) * variance_of(x, mx) + (ny - 1) * variance_of(y, my)) /
                                  (nx + ny - 2));
  if (pooled == 0) return NAN;
  // Cohen's d, times the small-sample correction of its bias (Hedges 1981, approximated).
  return (mx - my) / pooled * (1 - 3 / (4 * (nx + ny) - 9));
}

}  // namespace nanolab::report
