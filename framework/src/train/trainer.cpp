// The training loop behind train() and resume() (trainer.hpp).
#include "nanolab/trainer.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "data/text_dataset.hpp"
#include "nanolab/autograd.hpp"
#include "nanolab/distributed.hpp"
#include "nanolab/gpt2.hpp"
#include "nanolab/ops.hpp"
#include "ops/kernels.hpp"
#include "runtime/profile.hpp"
#include "runtime/rng.hpp"
#include "runtime/sha256.hpp"
#include "train/components.hpp"
#include "train/environment.hpp"
#include "train/generate.hpp"
#include "train/schedule.hpp"

namespace nanolab {
namespace {

using train_detail::Components;
using clock_type = std::chrono::steady_clock;

// Random streams of a run (rng::mix(seed, stream) keys each).
enum Stream : uint64_t { train_batches = 1, eval_batches = 2, dropout = 3, samples = 4 };
uint64_t stream_seed(uint64_t seed, Stream s, uint64_t where) {
  return rng::mix(rng::mix(seed, s), where);
}

std::atomic<int>& stop_requested = distributed::stop_signal();
extern "C" void request_stop(int signal) { stop_requested = signal; }

// Installs SIGINT/SIGTERM handlers for the life of a loop, restoring the previous ones after.
class StopSignals {
 public:
  StopSignals() {
    stop_requested = 0;
    struct sigaction sa {};
    sa.sa_handler = request_stop;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// The sum of g[i]^2 in double, as 8 interleaved partial sums added at the end: a fixed order (the
// same on any thread count) that the compiler can vectorise, unlike one running sum, whose every
// addition waits for the one before.
double sum_of_squares(const float* g, int64_t n) {
  constexpr int lanes = 8;
  double acc[lanes] = {};
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes)
    for (int l = 0; l < lanes; ++l) acc[l] += double(g[i + l]) * double(g[i + l]);
  for (; i < n; ++i) acc[0] += double(g[i]) * double(g[i]);
  double sum = 0;
  for (double a : acc) sum += a;
  return sum;
}

std::string format_duration(double s) {
  char buf[32];
  const long t = long(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

// The state that a checkpoint carries besides weights and optimizer state.
struct Counters {
  int64_t step = 0;
  int64_t tokens_seen = 0;
  int64_t consecutive_skips = 0;
  int64_t skipped_total = 0;
  double best_val_loss = std::numeric_limits<double>::infinity();
  int64_t best_val_step = -1;
  double best_val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double final_train_loss = std::numeric_limits<double>::quiet_NaN();
  double wall_s = 0;        // summed over every session of the run
  double train_step_s = 0;  // time inside training steps, for ms_per_iter
  int64_t timed_steps = 0;
};

// The training loop of one process. In a data-parallel MPI job (world_size > 1) every rank runs
// it on its slice of each batch, the gradients and the loss are averaged over the ranks after the
// backward, and only rank 0, the one with a RunWriter, evaluates, logs and writes checkpoints; the
// other ranks wait for it in the next step's all-reduce.
class Loop {
 public:
  Loop(const RunSpec& spec, Components& parts, RunWriter* writer, const TrainOptions& options,
       Counters counters, int world_size)
      : c_(spec.config), spec_(spec), parts_(parts), writer_(writer), options_(options),
        n_(counters), world_size_(world_size), tty_(isatty(STDERR_FILENO)) {
    if (!writer_) options_.progress = options_.profile = false;
  }

  TrainResult run() {
    StopSignals signals;
    const auto session_start = clock_type::now();
    const double wall_before = n_.wall_s;
    auto wall = [&] {
      return wall_before + std::chrono::duration<double>(clock_type::now() - session_start).count();
    };
    if (n_.step == 0 && writer_) evaluate(0);
    const Parameters& params = parts_.model->parameters();
    int64_t tokens_since_log = 0;
    double seconds_since_log = 0;
    profile::enable(options_.profile);
    profile::Totals profile_at_log;
    while (n_.step < c_.max_iters) {
      const int64_t step = n_.step + 1;
      const auto t0 = clock_type::now();
      const double lr = train_detail::learning_rate(c_, step - 1);
      double loss = 0, grad_norm = 0;
      bool stopping = false;
      {
        profile::StepScope profiled;
        loss = forward_backward(step, params);
        stopping = average_over_ranks(step, params, loss);
        profile::Scope scope(profile::Kind::optimizer);
        grad_norm = clip_gradients(params);
        if (std::isfinite(loss) && std::isfinite(grad_norm))
          parts_.optimizer->step(params, float(lr), step);
      }
      if (std::isfinite(loss) && std::isfinite(grad_norm))
        n_.consecutive_skips = 0;
      else
        handle_nonfinite(step, loss, grad_norm);
      // Every rank's tokens: tokens/s and tokens_seen are the job's.
      const int64_t tokens = c_.batch_size * c_.block_size * c_.grad_accum_steps * world_size_;
      const double dt = std::chrono::duration<double>(clock_type::now() - t0).count();
      n_.step = step;
      n_.tokens_seen += tokens;
      n_.final_train_loss = loss;
      n_.train_step_s += dt;
      ++n_.timed_steps;
      session_step_s_ += dt;
      ++session_steps_;
      tokens_since_log += tokens;
      seconds_since_log += dt;

      const bool last = step == c_.max_iters;
      if (!writer_) {  // a rank other than 0 of a data-parallel job
        n_.wall_s = wall();
        if (stopping) return {"interrupted", summary()};
        continue;
      }
      if (step % c_.log_interval == 0 || step == 1 || last) {
        const double tok_s = tokens_since_log / std::max(seconds_since_log, 1e-9);
        writer_->train({step, float(loss), float(lr), float(grad_norm), float(tok_s), float(wall())});
        progress(step, loss, lr, tok_s);
        if (options_.profile && options_.progress) {
          end_progress();
          std::fprintf(stderr, "%s\n", profile::line(profile::totals() - profile_at_log).c_str());
        }
        profile_at_log = profile::totals();
        tokens_since_log = 0;
        seconds_since_log = 0;
      }
      if (step % c_.eval_interval == 0 || last) evaluate(step);
      n_.wall_s = wall();
      if (world_size_ == 1) stopping = stop_requested != 0;
      if (step % c_.checkpoint_interval == 0 || last || stopping) checkpoint();
      writer_->check();
      if (stopping) {
        end_progress();
        std::fprintf(stderr, "stopped by signal %d at step %ld; `nanolab resume %s` continues\n",
                     int(stop_requested), long(step), options_.run_dir.c_str());
        return finish("interrupted");
      }
    }
    n_.wall_s = wall();
    end_progress();
    if (!writer_) return {"completed", summary()};
    return finish("completed");
  }

  NumericAttrs summary() const {
    NumericAttrs s{{"params", double(parts_.model->num_params())},
                   {"best_val_loss", n_.best_val_loss},
                   {"best_val_step", double(n_.best_val_step)},
                   {"final_train_loss", n_.final_train_loss},
                   {"tokens_seen", double(n_.tokens_seen)},
                   {"wall_s", n_.wall_s},
                   {"ms_per_iter", n_.timed_steps ? 1e3 * n_.train_step_s / n_.timed_steps : 0.0},
                   {"nonfinite_skipped", double(n_.skipped_total)}};
    if (!std::isnan(n_.best_val_accuracy)) s["best_val_accuracy"] = n_.best_val_accuracy;
    return s;
  }

 private:
  // Drops the last step's gradients (the backward then writes each one once instead of adding it
  // into zeros), runs grad_accum_steps micro-batches; returns the mean loss.
  // In a data-parallel job the loss is also divided by the number of ranks, so that the sum of
  // the ranks' gradients is the gradient of the mean over every rank's rows.
  double forward_backward(int64_t step, const Parameters& params) {
    for (const Parameter& p : params) p.tensor.reset_grad();
    double sum = 0;
    const int64_t parts = c_.grad_accum_steps * world_size_;
    for (int64_t micro = 0; micro < c_.grad_accum_steps; ++micro) {
      const uint64_t where = uint64_t(step) * 4096 + uint64_t(micro);
      {
        profile::Scope scope(profile::Kind::data);
        draw_batch(stream_seed(c_.seed, train_batches, where));
      }
      Tensor loss;
      {
        profile::Scope scope(profile::Kind::other, profile::Phase::forward);
        // Each rank its own dropout masks.
        const uint64_t dropout_seed = stream_seed(c_.seed, dropout, where);
        ForwardContext ctx{true, world_size_ > 1 ? rng::mix(dropout_seed, uint64_t(rank_))
                                                 : dropout_seed};
        Tensor logits = parts_.model->forward(batch_.ids, batch_.B, batch_.T, ctx);
        profile::Scope loss_scope(profile::Kind::cross_entropy);
        loss = parts_.loss->forward(logits, batch_.targets);
      }
      sum += loss.item();
      if (parts > 1) loss = ops::scale(loss, 1.0f / float(parts));
      profile::Scope scope(profile::Kind::other, profile::Phase::backward);
      loss.backward();
    }
    return sum / double(c_.grad_accum_steps);
  }

  // This rank's rows of a training batch. A data-parallel job draws the batch that one process
  // with world_size x batch_size rows would draw, and rank r takes rows r*B .. (r+1)*B - 1: so
  // N ranks of batch B train on exactly the batches of one process of batch N*B.
  void draw_batch(uint64_t seed) {
    if (world_size_ == 1) {
      parts_.dataset->batch(Split::train, seed, c_.batch_size, c_.block_size, batch_);
      return;
    }
    parts_.dataset->batch(Split::train, seed, c_.batch_size * world_size_, c_.block_size, global_);
    const auto rows = std::ptrdiff_t(c_.batch_size * c_.block_size), at = rank_ * rows;
    batch_.B = c_.batch_size;
    batch_.T = c_.block_size;
    batch_.ids.assign(global_.ids.begin() + at, global_.ids.begin() + at + rows);
    batch_.targets.assign(global_.targets.begin() + at, global_.targets.begin() + at + rows);
  }

  // Sums the gradients (each already divided by the number of ranks) and the loss over the
  // ranks, and agrees on stopping: returns whether any rank was asked to stop. Every gradient is
  // reduced in place, one all-reduce per parameter tensor. In one process: only the stop check.
  bool average_over_ranks(int64_t step, const Parameters& params, double& loss) {
    if (world_size_ == 1) return false;
    profile::Scope scope(profile::Kind::allreduce);
    constexpr const char* what = "the gradient all-reduce";
    double shared[2] = {loss, stop_requested != 0 ? 1.0 : 0.0};
    try {
      for (const Parameter& p : params)
        if (p.tensor.grad().defined())
          distributed::allreduce_sum(p.tensor.grad().data(), p.tensor.numel(), what);
      distributed::allreduce_sum(shared, 2, what);
    } catch (const DistributedError& e) {
      throw DistributedError("step " + std::to_string(step) + ": " + e.what());
    }
    loss = shared[0] / double(world_size_);
    return shared[1] > 0;
  }

  // The global gradient norm before clipping; scales the gradients down to grad_clip if above.
  // Both passes run in parallel over fixed blocks of every gradient, and the partial sums are
  // added in block order, so the norm does not depend on the thread count. A parameter that got
  // no gradient (undefined .grad) counts as zero.
  double clip_gradients(const Parameters& params) {
    constexpr int64_t block = 1 << 14;
    grad_blocks_.clear();
    for (const Parameter& p : params)
      for (int64_t at = 0, n = p.tensor.grad().defined() ? p.tensor.numel() : 0; at < n;
           at += block)
        grad_blocks_.push_back({p.tensor.grad().data() + at, std::min(block, n - at)});
    partial_sums_.assign(grad_blocks_.size(), 0.0);
    const int64_t n_blocks = int64_t(grad_blocks_.size());
    kernels::parallel_for(n_blocks, block, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        partial_sums_[b] = sum_of_squares(grad_blocks_[b].g, grad_blocks_[b].n);
    });
    double sq = 0;
    for (double s : partial_sums_) sq += s;
    const double norm = std::sqrt(sq);
    if (c_.grad_clip > 0 && norm > c_.grad_clip && std::isfinite(norm)) {
      const float k = float(c_.grad_clip / (norm + 1e-6));
      kernels::parallel_for(n_blocks, block, [&](int64_t b0, int64_t b1) {
        const float scale = k;  // a local: the stores below cannot change it, so the loop is SIMD
        for (int64_t b = b0; b < b1; ++b) {
          float* g = grad_blocks_[b].g;
          for (int64_t i = 0, n = grad_blocks_[b].n; i < n; ++i) g[i] *= scale;
        }
      });
    }
    return norm;
  }

  void handle_nonfinite(int64_t step, double loss, double grad_norm) {
    const std::string what = !std::isfinite(loss) ? "the loss is " + std::to_string(loss)
                                                  : "the gradient norm is " + std::to_string(grad_norm);
    if (c_.on_nonfinite == "stop")
      throw NumericsError("step " + std::to_string(step) + ": " + what +
                          "; no checkpoint was written after it. hint: lower optimizer.lr, set "
                          "train.grad_clip, or train.on_nonfinite = \"skip\"");
    ++n_.skipped_total;
    if (++n_.consecutive_skips > c_.max_nonfinite_skips)
      throw NumericsError("step " + std::to_string(step) + ": " + what + " for " +
                          std::to_string(n_.consecutive_skips) +
                          " steps in a row (train.max_nonfinite_skips = " +
                          std::to_string(c_.max_nonfinite_skips) + ")");
    end_progress();
    std::fprintf(stderr, "step %ld: %s; the update is skipped\n", long(step), what.c_str());
  }

  void evaluate(int64_t step) {
    NoGrad no_grad;
    const auto mean_loss = [&](Split split, double* accuracy) {
      double sum = 0;
      int64_t rows = 0, correct = 0;
      for (int64_t i = 0; i < c_.eval_iters; ++i) {
        const uint64_t where = uint64_t(step) * 1'000'003 + uint64_t(i) * 2 + (split == Split::val);
        // The batches of one process, whole: rank 0 alone evaluates for a data-parallel job.
        parts_.dataset->batch(split, stream_seed(c_.seed, eval_batches, where),
                              c_.batch_size * world_size_, c_.block_size, batch_);
        Tensor logits = parts_.model->forward(batch_.ids, batch_.B, batch_.T, ForwardContext{});
        // Evaluation always reports cross-entropy, so runs with different training losses compare.
        sum += ops::cross_entropy(logits, batch_.targets).item();
        if (accuracy) count_exact_matches(logits, rows, correct);
      }
      if (accuracy) *accuracy = rows ? double(correct) / double(rows) : 0.0;
      return sum / double(c_.eval_iters);
    };
    double accuracy = std::numeric_limits<double>::quiet_NaN();
    const bool with_accuracy = parts_.dataset->has_accuracy();
    const double val = mean_loss(Split::val, with_accuracy ? &accuracy : nullptr);
    const double train = mean_loss(Split::train, nullptr);
    writer_->val({step, float(val), float(train), float(accuracy)});
    if (val < n_.best_val_loss) {
      n_.best_val_loss = val;
      n_.best_val_step = step;
    }
    if (with_accuracy && !(accuracy <= n_.best_val_accuracy)) n_.best_val_accuracy = accuracy;
    std::string text;
    if (c_.sample_tokens > 0) {
      const uint64_t seed = stream_seed(c_.seed, samples, uint64_t(step));
      const std::vector<int32_t> prompt = parts_.dataset->sample_prompt(seed);
      const auto ids = train_detail::generate(
          *parts_.model, prompt, {c_.sample_tokens, 1.0, 0, seed, parts_.dataset->vocab_size()});
      text = parts_.dataset->decode(prompt) + parts_.dataset->decode(ids);
      writer_->sample(step, text);
    }
    end_progress();
    if (with_accuracy)
      std::fprintf(stderr, "step %ld: train loss %.4f, val loss %.4f, val accuracy %.3f\n",
                   long(step), train, val, accuracy);
    else
      std::fprintf(stderr, "step %ld: train loss %.4f, val loss %.4f\n", long(step), train, val);
  }

  // Rows whose answer tokens (targets >= 0) are all predicted (argmax) exactly.
  void count_exact_matches(const Tensor& logits, int64_t& rows, int64_t& correct) const {
    const int64_t T = batch_.T, V = logits.size(-1);
    const float* x = logits.data();
    for (int64_t b = 0; b < batch_.B; ++b) {
      bool any = false, all = true;
      for (int64_t t = 0; t < T; ++t) {
        const int32_t target = batch_.targets[size_t(b * T + t)];
        if (target < 0) continue;
        any = true;
        const float* row = x + (b * T + t) * V;
        all = all && std::max_element(row, row + V) - row == target;
      }
      rows += any;
      correct += any && all;
    }
  }

  void checkpoint() {
    Checkpoint ck;
    ck.step = n_.step;
    for (const Parameter& p : parts_.model->parameters()) ck.model[p.name] = p.tensor;
    ck.optimizer = parts_.optimizer->state();  // live tensors: written below, before any step
    ck.tokenizer = parts_.tokenizer->save();
    ck.config_toml = spec_.config_toml;
    ck.run_id = writer_->run_id();
    ck.counters = {{"tokens_seen", n_.tokens_seen},
                   {"consecutive_skips", n_.consecutive_skips},
                   {"skipped_total", n_.skipped_total},
                   {"best_val_step", n_.best_val_step},
                   {"timed_steps", n_.timed_steps},
                   {"world_size", world_size_}};
    ck.values = {{"best_val_loss", n_.best_val_loss},
                 {"best_val_accuracy", n_.best_val_accuracy},
                 {"final_train_loss", n_.final_train_loss},
                 {"wall_s", n_.wall_s},
                 {"train_step_s", n_.train_step_s}};
    // Every row logged up to this step reaches the run file before the checkpoint exists, so a
    // run resumed from it (after a kill -9, say) has no gap in its metrics.
    writer_->flush();
    write_checkpoint(options_.run_dir, ck);
  }

  TrainResult finish(const std::string& status) {
    writer_->finish(status, summary());
    writer_->check();
    if (options_.profile) {
      const double ms_per_step = session_steps_ ? 1e3 * session_step_s_ / double(session_steps_) : 0;
      std::fputs(profile::table(profile::totals(), ms_per_step).c_str(), stdout);
      std::fflush(stdout);
    }
    return {status, summary()};
  }

  void progress(int64_t step, double loss, double lr, double tok_s) {
    if (!options_.progress) return;
    const double per_step = n_.train_step_s / double(std::max<int64_t>(1, n_.timed_steps));
    const std::string eta = format_duration(per_step * double(c_.max_iters - step));
    std::fprintf(stderr, "%sstep %ld/%ld  loss %.4f  lr %.2e  %.0f tok/s  eta %s%s",
                 tty_ ? "\r\033[K" : "", long(step), long(c_.max_iters), loss, lr, tok_s,
                 eta.c_str(), tty_ ? "" : "\n");
    live_line_ = tty_;
  }

  void end_progress() {
    if (live_line_) std::fputc('\n', stderr);
    live_line_ = false;
  }

  const ExperimentConfig& c_;
  const RunSpec& spec_;
  Components& parts_;
  RunWriter* writer_;  // rank 0's; null on the other ranks of a data-parallel job
  TrainOptions options_;
  Counters n_;
  int world_size_;
  int64_t rank_ = distributed::world().rank;
  Batch global_;  // the whole batch of a data-parallel step, of which batch_ is this rank's rows
  Batch batch_;
  struct GradBlock {
    float* g;
    int64_t n;
  };
  std::vector<GradBlock> grad_blocks_;  // scratch of clip_gradients, kept to reuse its memory
  std::vector<double> partial_sums_;
  double session_step_s_ = 0;  // the steps of this session (a resume starts again at 0)
  int64_t session_steps_ = 0;
  bool tty_;
  bool live_line_ = false;
};

void load_parameters(const Gpt& model, const Checkpoint& ck, const std::string& origin) {
  for (const Parameter& p : model.parameters()) {
    auto it = ck.model.find(p.name);
    if (it == ck.model.end())
      throw CheckpointError(origin + ": parameter " + p.name + " is missing");
    if (it->second.shape() != p.tensor.shape())
      throw CheckpointError(origin + ": parameter " + p.name + " has shape " +
                            it->second.shape().str() + ", the model expects " +
                            p.tensor.shape().str());
    p.tensor.copy_from(it->second);
  }
}

// The evaluation of evaluate_run and evaluate_model (trainer.hpp) on built parts.
EvalResult measure(const ExperimentConfig& c, const Components& parts, const EvalOptions& o) {
  const auto* text = dynamic_cast<const data::TextDataset*>(parts.dataset.get());
  if (!text)
    throw ConfigError("eval: " + c.dataset + " is a synthetic task; nanolab eval measures a text "
                      "dataset's split (--data NAME). A synthetic run's val loss and accuracy are "
                      "in its log (nanolab compare)");
  std::span<const int32_t> ids = text->tokens(o.split);  // n + 1 tokens: n predictions
  if (o.max_tokens > 0 && int64_t(ids.size()) > o.max_tokens + 1)
    ids = ids.first(size_t(o.max_tokens + 1));
  const int64_t n = int64_t(ids.size()) - 1, T = c.block_size;
  if (n < 1)
    throw DataError("eval: the " + std::string(o.split == Split::val ? "val" : "train") +
                    " split of " + c.dataset + " has fewer than 2 tokens");
  const auto t0 = clock_type::now();
  NoGrad no_grad;
  double sum = 0;  // nats over every prediction
  for (int64_t start = 0; start < n;) {
    const int64_t t = std::min(T, n - start);  // the last window may be shorter
    const int64_t rows = t == T ? std::min(c.batch_size, (n - start) / T) : 1;
    const std::span<const int32_t> x = ids.subspan(size_t(start), size_t(rows * t));
    const std::span<const int32_t> y = ids.subspan(size_t(start) + 1, size_t(rows * t));
    const Tensor logits = parts.model->forward(x, rows, t, ForwardContext{});  // rows, t, V
    sum += double(ops::cross_entropy(logits, y).item()) * double(rows * t);
    start += rows * t;
  }
  EvalResult r;
  r.dataset = c.dataset;
  r.description = parts.dataset->description();
  r.tokens = n;
  r.block_size = T;
  r.loss = sum / double(n);
  r.perplexity = std::exp(r.loss);
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  return r;
}

// The ranks that train one run together: the MPI world, or 1 when the run trains alone (no
// mpirun, or a sweep distributed over the ranks).
int data_parallel_size(const TrainOptions& options) {
  return options.data_parallel ? distributed::world().size : 1;
}

// Every rank starts from rank 0's weights (the same seed gives the same init on every rank; this
// also holds for weights read from a file and whatever a plugin's init does).
void share_rank0_weights(const Gpt& model, int world_size) {
  if (world_size == 1) return;
  for (const Parameter& p : model.parameters()) {
    if (distributed::world().rank != 0) p.tensor.fill(0.0f);
    distributed::allreduce_sum(p.tensor.data(), p.tensor.numel(), "sharing rank 0's weights");
  }
}

// Runs the loop, recording a failure in the run file before the error propagates.
TrainResult run_loop(Loop& loop, RunWriter& writer) {
  try {
    return loop.run();
  } catch (const std::exception&) {
    try {
      writer.finish("failed", loop.summary());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "could not record the failure in the run file: %s\n", e.what());
    }
    throw;
  }
}

// The weights a run starts from: the init of its seed, or model.init_from's GPT-2 file, whose
// sha256 it returns ("" without one).
std::string init_weights(Gpt& model, const ExperimentConfig& c) {
  model.init(c.seed);
  if (c.init_from.empty()) return "";
  const gpt2::Weights weights = gpt2::read(c.init_from);
  gpt2::load(model, weights);
  std::fprintf(stderr, "initialised from %s (%s)\n", c.init_from.c_str(),
               weights.info.detail.c_str());
  return runtime::sha256_file_hex(c.init_from);
}

// A run trained on `trained_on` ranks continues only on as many: its batches (world_size x
// batch_size rows) would change.
void require_world_size(int64_t trained_on, int world_size, const std::string& origin) {
  if (trained_on != world_size)
    throw DistributedError(
        origin + ": the run was trained data-parallel on " + std::to_string(trained_on) +
        " rank(s), this resume has " + std::to_string(world_size) +
        "; its batches (world_size x batch_size rows) would change; hint: resume with mpirun -np " +
        std::to_string(trained_on) + (trained_on == 1 ? " or without mpirun" : ""));
}

// `nanolab resume` of a run that stopped before its first checkpoint: trained again from step 0
// with the configuration and tokenizer of its run.h5, in the same directory, its earlier rows
// replaced. The metrics are those of an uninterrupted run.
TrainResult restart(const TrainOptions& options) {
  const auto file = options.run_dir / "run.h5";
  RunLog log;
  try {
    log = read_run(file);
  } catch (const StorageError& e) {
    throw StorageError(e.what() + std::string("\nHINT: without a checkpoint.h5, the run can only "
                                              "start again from its run.h5; move ") +
                       options.run_dir.string() + " away and start it with `nanolab run`");
  }
  RunSpec spec;
  spec.config = parse_resolved_config(log.config_toml, file.string());
  spec.config_toml = log.config_toml;
  spec.name = options.run_dir.filename().string();
  const int world_size = data_parallel_size(options);
  const auto trained_on = log.meta.find("world_size");
  require_world_size(
      trained_on == log.meta.end() ? 1 : std::strtoll(trained_on->second.c_str(), nullptr, 10),
      world_size, file.string());
  Components parts = train_detail::build(spec.config, train_detail::Purpose::train, log.tokenizer);
  init_weights(*parts.model, spec.config);
  share_rank0_weights(*parts.model, world_size);
  if (distributed::world().rank != 0 && world_size > 1) {
    Loop loop(spec, parts, nullptr, options, Counters{}, world_size);
    return loop.run();
  }
  auto writer = RunWriter::restart(options.run_dir);
  std::fprintf(stderr,
               "%s: no checkpoint.h5 to continue from: training the run again from step 0; the "
               "%zu train and %zu val rows logged before are replaced\n",
               options.run_dir.c_str(), log.train.size(), log.val.size());
  Loop loop(spec, parts, writer.get(), options, Counters{}, world_size);
  return run_loop(loop, *writer);
}

}  // namespace

TrainResult train(const RunSpec& spec, const TrainOptions& options) {
  const int world_size = data_parallel_size(options);
  Components parts = train_detail::build(spec.config, train_detail::Purpose::train);
  const std::string init_from_sha256 = init_weights(*parts.model, spec.config);
  RunWriter::Header header{spec.config.name,  spec.name, spec.config_toml,
                           train_detail::environment(options.command_line), parts.plugins,
                           parts.tokenizer->save()};
  header.meta["seed"] = std::to_string(spec.config.seed);
  if (!init_from_sha256.empty()) header.meta["init_from_sha256"] = init_from_sha256;
  header.meta["dataset"] = parts.dataset->description();
  header.meta["world_size"] = std::to_string(world_size);
  share_rank0_weights(*parts.model, world_size);
  if (distributed::world().rank != 0 && world_size > 1) {
    Loop loop(spec, parts, nullptr, options, Counters{}, world_size);
    return loop.run();
  }
  auto writer = RunWriter::create(options.run_dir, header);
  std::fprintf(stderr, "run %s/%s: %.2fM parameters, %s%s\n", spec.config.name.c_str(),
               spec.name.c_str(), parts.model->num_params() / 1e6,
               parts.dataset->description().c_str(),
               world_size > 1 ? (", data-parallel on " + std::to_string(world_size) +
                                 " ranks of batch_size " + std::to_string(spec.config.batch_size))
                                    .c_str()
                              : "");
  Loop loop(spec, parts, writer.get(), options, Counters{}, world_size);
  return run_loop(loop, *writer);
}

TrainResult resume(const TrainOptions& options) {
  if (!std::filesystem::exists(options.run_dir / "checkpoint.h5")) {
    if (!std::filesystem::exists(options.run_dir / "run.h5"))
      throw CheckpointError(options.run_dir.string() +
                            ": not a run directory (no run.h5, no checkpoint.h5)\nHINT: a run "
                            "directory is <out>/<experiment>/<run>/, made by `nanolab run`");
    return restart(options);
  }
  Checkpoint ck = read_checkpoint(options.run_dir);
  const std::string origin = (options.run_dir / "checkpoint.h5").string();
  if (!require_checkpoint_of(read_run(options.run_dir / "run.h5"), ck, options.run_dir) &&
      distributed::world().rank == 0)
    std::fprintf(stderr,
                 "note: %s and its run.h5 were written before run ids: the checkpoint is taken as "
                 "the run's own because their configurations are the same\n",
                 origin.c_str());
  RunSpec spec;
  spec.config = parse_resolved_config(ck.config_toml, origin);
  spec.config_toml = ck.config_toml;
  spec.name = options.run_dir.filename().string();
  const int world_size = data_parallel_size(options);
  require_world_size(ck.counters.count("world_size") ? ck.counters.at("world_size") : 1, world_size,
                     origin);
  Components parts = train_detail::build(spec.config, train_detail::Purpose::train, ck.tokenizer);
  load_parameters(*parts.model, ck, origin);
  parts.optimizer->load_state(ck.optimizer);
  // The model and the optimizer hold copies now; the file's tensors would double their memory
  // for the rest of the run.
  ck.model.clear();
  ck.optimizer.clear();
  Counters n;
  n.step = ck.step;
  auto counter = [&](const char* k) { return ck.counters.count(k) ? ck.counters.at(k) : 0; };
  auto value = [&](const char* k) {
    return ck.values.count(k) ? ck.values.at(k) : std::numeric_limits<double>::quiet_NaN();
  };
  n.tokens_seen = counter("tokens_seen");
  n.consecutive_skips = counter("consecutive_skips");
  n.skipped_total = counter("skipped_total");
  n.best_val_step = counter("best_val_step");
  n.timed_steps = counter("timed_steps");
  n.best_val_loss = value("best_val_loss");
  n.best_val_accuracy = value("best_val_accuracy");
  n.final_train_loss = value("final_train_loss");
  n.wall_s = value("wall_s");
  n.train_step_s = value("train_step_s");
  if (distributed::world().rank != 0 && world_size > 1) {
    Loop loop(spec, parts, nullptr, options, n, world_size);
    return loop.run();
  }
  auto writer = RunWriter::reopen(options.run_dir, ck.step);
  std::fprintf(stderr, "resuming %s at step %ld of %ld\n", options.run_dir.c_str(), long(ck.step),
               long(spec.config.max_iters));
  Loop loop(spec, parts, writer.get(), options, n, world_size);
  return run_loop(loop, *writer);
}

std::string sample(const std::filesystem::path& run_dir, const SampleOptions& options) {
  const Checkpoint ck = read_checkpoint(run_dir);
  const ExperimentConfig config =
      parse_resolved_config(ck.config_toml, (run_dir / "checkpoint.h5").string());
  Components parts = train_detail::build(config, train_detail::Purpose::sample, ck.tokenizer);
  load_parameters(*parts.model, ck, (run_dir / "checkpoint.h5").string());
  std::vector<int32_t> prompt;
  if (!options.prompt.empty() && parts.dataset)
    throw ConfigError("--prompt: " + config.dataset +
                      " has its own vocabulary, not the tokenizer's; sample without --prompt to "
                      "get a question of the task");
  if (!options.prompt.empty())
    prompt = parts.tokenizer->encode(options.prompt);
  else if (parts.dataset)
    prompt = parts.dataset->sample_prompt(options.seed);
  else
    prompt = parts.tokenizer->encode("\n");
  const auto ids = train_detail::generate(
      *parts.model, prompt,
      {options.tokens, options.temperature, options.top_k, options.seed,
       parts.dataset ? parts.dataset->vocab_size() : parts.tokenizer->vocab_size()});
  auto decode = [&](const std::vector<int32_t>& v) {
    return parts.dataset ? parts.dataset->decode(v) : parts.tokenizer->decode(v);
  };
  return (options.prompt.empty() ? decode(prompt) : options.prompt) + decode(ids);
}

EvalResult evaluate_run(const std::filesystem::path& run_dir, const EvalOptions& options) {
  const Checkpoint ck = read_checkpoint(run_dir);
  const std::string origin = (run_dir / "checkpoint.h5").string();
  ExperimentConfig config = parse_resolved_config(ck.config_toml, origin);
  if (!options.dataset.empty()) config.dataset = options.dataset;
  Components parts = train_detail::build(config, train_detail::Purpose::evaluate, ck.tokenizer);
  if (parts.tokenizer->save() != ck.tokenizer)
    throw DataError("eval: " + config.dataset + " changes the run's " + config.tokenizer.plugin +
                    " tokenizer (it learns its vocabulary from the text), so the model's ids would "
                    "mean other tokens; hint: evaluate on the run's own dataset, or train with a "
                    "tokenizer that does not learn from the text (byte, GPT-2's bpe)");
  load_parameters(*parts.model, ck, origin);
  return measure(config, parts, options);
}

EvalResult evaluate_model(const RunSpec& spec, const EvalOptions& options) {
  ExperimentConfig config = spec.config;
  if (config.init_from.empty()) throw ConfigError("eval: no model file (model.init_from is empty)");
  if (!options.dataset.empty()) config.dataset = options.dataset;
  Components parts = train_detail::build(config, train_detail::Purpose::evaluate);
  gpt2::load(*parts.model, gpt2::read(config.init_from));
  return measure(config, parts, options);
}

}  // namespace nanolab
