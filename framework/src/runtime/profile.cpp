// The op timers of `nanolab run --profile` (profile.hpp): a stack of open scopes on the step's
// thread, each charging its own time (its length minus its children's) to its (phase, kind).
#include "runtime/profile.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

namespace nanolab::profile {
namespace detail {
std::atomic<bool> collecting{false};
}  // namespace detail

namespace {

using clock_type = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clock_type::now().time_since_epoch())
      .count();
}

struct Frame {
  Kind kind;
  int phase;
  int64_t start_ns;
  int64_t children_ns;  // time of the scopes opened inside this one
};

// Deeper scopes than this are not timed on their own: their time stays with the deepest frame.
constexpr int max_depth = 64;

struct State {
  bool enabled = false;
  std::thread::id owner;
  std::array<Frame, max_depth> stack{};
  int depth = 0;
  int untimed = 0;  // scopes opened beyond max_depth, still to be closed
  int64_t steps = 0;
  std::array<std::array<int64_t, n_kinds>, n_phases> ns{};
};

State& state() {
  static State s;
  return s;
}

const char* const kind_names[n_kinds] = {"matmul/linear", "layer_norm", "gelu",
                                         "attention",     "softmax",    "cross_entropy",
                                         "optimizer",     "allreduce",  "embedding",
                                         "data",          "other"};

}  // namespace

namespace detail {

bool open(Kind kind, int phase) {
  State& s = state();
  if (std::this_thread::get_id() != s.owner) return false;
  if (s.depth == max_depth) {
    ++s.untimed;
    return true;
  }
  const int p = phase >= 0 ? phase : s.depth > 0 ? s.stack[s.depth - 1].phase : int(Phase::rest);
  s.stack[s.depth++] = {kind, p, now_ns(), 0};
  return true;
}

void close() {
  State& s = state();
  if (s.untimed > 0) {
    --s.untimed;
    return;
  }
  const Frame& f = s.stack[--s.depth];
  const int64_t elapsed = now_ns() - f.start_ns;
  s.ns[size_t(f.phase)][size_t(f.kind)] += elapsed - f.children_ns;
  if (s.depth > 0) s.stack[s.depth - 1].children_ns += elapsed;
}

}  // namespace detail

const char* kind_name(Kind kind) { return kind_names[int(kind)]; }

Kind current_kind() {
  const State& s = state();
  if (!detail::collecting.load(std::memory_order_relaxed) || s.depth == 0 ||
      std::this_thread::get_id() != s.owner)
    return Kind::other;
  return s.stack[s.depth - 1].kind;
}

void enable(bool on) {
  State& s = state();
  s.enabled = on;
  s.steps = 0;
  s.ns = {};
}

bool enabled() { return state().enabled; }

StepScope::StepScope() {
  State& s = state();
  if (!s.enabled) return;
  s.owner = std::this_thread::get_id();
  s.depth = 0;
  s.untimed = 0;
  detail::collecting = true;
  open_ = detail::open(Kind::other, int(Phase::rest));
}

StepScope::~StepScope() {
  if (!open_) return;
  detail::close();
  detail::collecting = false;
  ++state().steps;
}

double Totals::kind_seconds(Kind kind) const {
  double sum = 0;
  for (const auto& phase : seconds) sum += phase[size_t(kind)];
  return sum;
}

double Totals::sum_seconds() const {
  double sum = 0;
  for (const auto& phase : seconds)
    for (double v : phase) sum += v;
  return sum;
}

Totals Totals::operator-(const Totals& earlier) const {
  Totals d;
  d.steps = steps - earlier.steps;
  for (int p = 0; p < n_phases; ++p)
    for (int k = 0; k < n_kinds; ++k) d.seconds[p][k] = seconds[p][k] - earlier.seconds[p][k];
  return d;
}

Totals totals() {
  const State& s = state();
  Totals t;
  t.steps = s.steps;
  for (int p = 0; p < n_phases; ++p)
    for (int k = 0; k < n_kinds; ++k) t.seconds[p][k] = double(s.ns[p][k]) * 1e-9;
  return t;
}

std::string table(const Totals& t, double measured_ms_per_step) {
  const double per_step = t.steps > 0 ? 1e3 / double(t.steps) : 0.0;  // seconds -> ms per step
  const double sum_ms = t.sum_seconds() * per_step;
  std::string out;
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "profile: %ld steps, milliseconds per step\n%-14s %9s %9s %9s %9s %7s\n",
                long(t.steps), "kind", "forward", "backward", "rest", "total", "share");
  out += buf;
  auto cell = [](double ms) {
    char c[16];
    if (ms == 0.0)
      std::snprintf(c, sizeof c, " %9s", "-");
    else
      std::snprintf(c, sizeof c, " %9.3f", ms);
    return std::string(c);
  };
  for (int k = 0; k < n_kinds; ++k) {
    std::snprintf(buf, sizeof buf, "%-14s", kind_names[k]);
    out += buf;
    for (int p = 0; p < n_phases; ++p) out += cell(t.seconds[p][k] * per_step);
    const double total = t.kind_seconds(Kind(k)) * per_step;
    std::snprintf(buf, sizeof buf, " %9.3f %6.1f%%\n", total,
                  sum_ms > 0 ? 100.0 * total / sum_ms : 0.0);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "%-14s", "sum");
  out += buf;
  for (int p = 0; p < n_phases; ++p) {
    double phase = 0;
    for (double v : t.seconds[p]) phase += v;
    out += cell(phase * per_step);
  }
  std::snprintf(buf, sizeof buf, " %9.3f %6.1f%%\n", sum_ms, sum_ms > 0 ? 100.0 : 0.0);
  out += buf;
  std::snprintf(buf, sizeof buf, "%-14s %39.3f  (the trainer's own clock; the sum is %.1f%% of it)\n",
                "measured step", measured_ms_per_step,
                measured_ms_per_step > 0 ? 100.0 * sum_ms / measured_ms_per_step : 0.0);
  out += buf;
  return out;
}

std::string line(const Totals& t) {
  const double per_step = t.steps > 0 ? 1e3 / double(t.steps) : 0.0;
  std::string out = "profile, ms/step:";
  char buf[64];
  for (int k = 0; k < n_kinds; ++k) {
    std::snprintf(buf, sizeof buf, "%s %s %.3f", k ? "," : "", kind_names[k],
                  t.kind_seconds(Kind(k)) * per_step);
    out += buf;
  }
  return out;
}

}  // namespace nanolab::profile
