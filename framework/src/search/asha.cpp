// ASHA's rungs and promotion rule, and the steps a search can use (nanolab/search.hpp). Pure
// functions of their arguments: a search started again after a kill makes the decisions of one
// that never stopped.
#include <algorithm>
#include <cmath>

#include "nanolab/search.hpp"

namespace nanolab::search {

std::vector<int64_t> rungs(int64_t min_iters, int64_t reduction_factor, int64_t max_iters) {
  std::vector<int64_t> out;
  for (int64_t r = min_iters; r < max_iters; r *= reduction_factor) {
    out.push_back(r);
    if (r > max_iters / reduction_factor) break;  // the next one is past max_iters (no overflow)
  }
  out.push_back(max_iters);
  return out;
}

std::optional<Promotion> next_promotion(const Ladder& ladder, int64_t reduction_factor) {
  if (ladder.results.empty()) return std::nullopt;
  for (size_t k = ladder.results.size() - 1; k-- > 0;) {
    std::vector<std::pair<double, int64_t>> ranked;
    for (const auto& [trial, value] : ladder.results[k])
      ranked.push_back({std::isnan(value) ? INFINITY : value, trial});
    const size_t top = ranked.size() / size_t(reduction_factor);
    std::partial_sort(ranked.begin(), ranked.begin() + long(top), ranked.end());
    for (size_t i = 0; i < top; ++i)
      if (!ladder.promoted[k].count(ranked[i].second)) return Promotion{ranked[i].second, k + 1};
  }
  return std::nullopt;
}

std::optional<Promotion> final_promotion(const Ladder& ladder) {
  const size_t top = ladder.results.size() - 1;
  for (const auto& [trial, value] : ladder.results[top])
    if (std::isfinite(value)) return std::nullopt;
  for (size_t k = 0; k < top; ++k)
    for (int64_t trial : ladder.promoted[k])
      if (!ladder.results[k + 1].count(trial)) return std::nullopt;  // still training
  for (size_t k = top; k-- > 0;) {
    std::optional<std::pair<double, int64_t>> best;
    for (const auto& [trial, value] : ladder.results[k])
      if (std::isfinite(value) && !ladder.promoted[k].count(trial) &&
          (!best || std::pair(value, trial) < *best))
        best = std::pair(value, trial);
    if (best) return Promotion{best->second, k + 1};
  }
  return std::nullopt;
}

int64_t grid_steps(const SearchPlan& plan) {
  return plan.trials * int64_t(plan.runs_per_trial) * plan.max_iters;
}

int64_t most_steps(const SearchPlan& plan) {
  if (plan.method != "asha") return grid_steps(plan);
  const std::vector<int64_t> r = rungs(plan.min_iters, plan.reduction_factor, plan.max_iters);
  Ladder ladder{std::vector<std::map<int64_t, double>>(r.size()),
                std::vector<std::set<int64_t>>(r.size())};
  int64_t steps = 0, started = 0;
  // Each new trial beats every earlier one: trial t's metric is -t at every rung.
  for (;;) {
    std::optional<Promotion> p = next_promotion(ladder, plan.reduction_factor);
    if (!p && started < plan.trials) {
      ladder.results[0][started] = -double(started);
      ++started;
      steps += r[0];
      continue;
    }
    if (!p) p = final_promotion(ladder);
    if (!p) break;
    ladder.promoted[p->to_rung - 1].insert(p->trial);
    ladder.results[p->to_rung][p->trial] = -double(p->trial);
    steps += r[p->to_rung] - r[p->to_rung - 1];
  }
  return steps * int64_t(plan.runs_per_trial);
}

}  // namespace nanolab::search
