// The training loop behind train() and resume() (trainer.hpp).
#include "nanolab/trainer.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <limits>
#include <optional>

#include "config/loader.hpp"
#include "data/shard_dataset.hpp"
#include "data/text_dataset.hpp"
#include "nanolab/autograd.hpp"
#include "nanolab/distributed.hpp"
#include "nanolab/gpt2.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/ops.hpp"
#include "runtime/profile.hpp"
#include "nanolab/rng.hpp"
#include "runtime/sha256.hpp"
#include "store/extend_run.hpp"
#include "train/clip.hpp"
#include "train/components.hpp"
#include "train/counters.hpp"
#include "train/environment.hpp"
#include "train/generate.hpp"
#include "train/diagnostics.hpp"
#include "train/metrics_recorder.hpp"
#include "train/schedule.hpp"

namespace nanolab {
namespace {

using train_detail::Components;
using train_detail::Counters;
using clock_type = std::chrono::steady_clock;

// Random streams of a run (rng::mix(seed, stream) keys each).
enum Stream : uint64_t { train_batches = 1, eval_batches = 2, dropout = 3, samples = 4 };
uint64_t stream_seed(uint64_t seed, Stream s, uint64_t where) {
  return rng::mix(rng::mix(seed, s), where);
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
    if (world_size_ > 1) hold_.emplace();
    name_metrics_owners();
  }

  TrainResult run() {
    if (writer_ && n_.pending_evaluation) {
      if (!cut_on_signal([&] { return evaluate(n_.step); }))
        return stop_within_evaluation(n_.step);
      n_.pending_evaluation = 0;
      // A resumed run's pending evaluation is done: its checkpoint says so (the run may end here).
      if (std::filesystem::exists(options_.run_dir / "checkpoint.h5")) checkpoint();
    }
    const Parameters& params = parts_.model->parameters();
    int64_t tokens_since_log = 0;
    double seconds_since_log = 0;
    profile::enable(options_.profile);
    profile::Totals profile_at_log;
    while (n_.step < end_) {
      const int64_t step = n_.step + 1;
      const auto t0 = clock_type::now();
      const double lr = train_detail::learning_rate(*parts_.schedule, c_, step - 1);
      double loss = 0, grad_norm = 0;
      bool stopping = false;
      recorder_.begin_step(writer_ && logged(step));
      {
        profile::StepScope profiled;
        if (!cut_on_signal([&] { return forward_backward(step, params, loss); }))
          return stop_within_step(step);
        stopping = average_over_ranks(step, params, loss);
        profile::Scope scope(profile::Kind::optimizer);
        diagnose_gradients(params);
        grad_norm = clipper_.clip(params, c_.grad_clip);
        if (std::isfinite(loss) && std::isfinite(grad_norm))
          parts_.optimizer->step(params, float(lr), step, metrics("optimizer"));
        diagnose_update(params);
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

      const bool last = step == end_;
      if (!writer_) {  // a rank other than 0 of a data-parallel job
        n_.wall_s = wall();
        if (stopping) return {"interrupted", summary()};
        continue;
      }
      if (logged(step)) {
        const double tok_s = tokens_since_log / std::max(seconds_since_log, 1e-9);
        writer_->train({step, float(loss), float(lr), float(grad_norm), float(tok_s), float(wall())},
                       recorder_.take());
        progress(step, loss, lr, tok_s);
        if (options_.profile && options_.progress) {
          end_progress();
          std::fprintf(stderr, "%s\n", profile::line(profile::totals() - profile_at_log).c_str());
        }
        profile_at_log = profile::totals();
        tokens_since_log = 0;
        seconds_since_log = 0;
      }
      if ((step % c_.eval_interval == 0 || last) && !cut_on_signal([&] { return evaluate(step); }))
        return stop_within_evaluation(step);
      n_.wall_s = wall();
      if (world_size_ == 1) stopping = interrupted();
      if (step % c_.checkpoint_interval == 0 || last || stopping) checkpoint();
      writer_->check();
      if (stopping) return stopped(step);
    }
    n_.wall_s = wall();
    end_progress();
    const std::string status = n_.step < c_.max_iters ? "pruned" : "completed";
    if (!writer_) return {status, summary()};
    return finish(status);
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
  // f(), which returns false when it stopped for a signal itself; also false when the forward or
  // backward pass inside it was cut at an interruption point (interrupt.hpp). Only a process
  // that trains alone is cut: the ranks of a data-parallel job hold interruptions (hold_) and
  // agree on stopping after the step.
  template <class F>
  bool cut_on_signal(F f) {
    try {
      return f();
    } catch (const Interrupted&) {
      return false;
    }
  }

  // The run's wall time: the sessions before this one and this one's.
  double wall() const {
    return wall_before_ +
           std::chrono::duration<double>(clock_type::now() - session_start_).count();
  }

  // The end of a run stopped by a signal, after the checkpoint of `step`.
  TrainResult stopped(int64_t step) {
    end_progress();
    std::fprintf(stderr, "stopped by signal %d at step %ld; `nanolab resume %s` continues\n",
                 interrupt_signal(), long(step), options_.run_dir.c_str());
    return finish("interrupted");
  }

  // A signal between the micro-batches of step `step`: the step is dropped (its gradients are
  // partial) and the run stops where the step before left it, with a checkpoint of that state.
  TrainResult stop_within_step(int64_t step) {
    n_.wall_s = wall();
    checkpoint();
    end_progress();
    std::fprintf(stderr, "step %ld was not finished: ", long(step));
    return stopped(step - 1);
  }

  // A signal inside the evaluation of `step`: nothing of it was written; the checkpoint of `step`
  // carries it as pending, and `resume` runs it first.
  TrainResult stop_within_evaluation(int64_t step) {
    n_.wall_s = wall();
    n_.pending_evaluation = 1;
    checkpoint();
    end_progress();
    std::fprintf(stderr, "the evaluation of step %ld was not finished: ", long(step));
    return stopped(step);
  }

  // Drops the last step's gradients (the backward then writes each one once instead of adding it
  // into zeros), runs grad_accum_steps micro-batches; sets `loss` to their mean. Each micro-batch's
  // loss is divided by grad_accum_steps x world_size, so that the gradients add up to the gradient
  // of the mean loss over the step's rows on every rank: k micro-batches of B rows give the
  // gradient of one batch of k x B rows (tests/integration/accumulation_test.cpp).
  // Returns false, with the step abandoned, when a signal arrives between micro-batches of a
  // process that trains alone (the ranks of a data-parallel job agree on stopping after the step).
  bool forward_backward(int64_t step, const Parameters& params, double& loss_mean) {
    for (const Parameter& p : params) p.tensor.reset_grad();
    double sum = 0;
    const int64_t parts = c_.grad_accum_steps * world_size_;
    const uint64_t batch_seed = stream_seed(c_.seed, train_batches, uint64_t(step) * 4096);
    for (int64_t micro = 0; micro < c_.grad_accum_steps; ++micro) {
      if (world_size_ == 1 && micro > 0 && interrupted()) return false;
      const uint64_t where = uint64_t(step) * 4096 + uint64_t(micro);
      {
        // The step's rows are the batch of world_size x grad_accum_steps x batch_size rows that
        // one process of that batch size would draw; rank r's micro-batch m is rows
        // (r x grad_accum_steps + m) x batch_size onwards. So N ranks of batch B accumulating k
        // micro-batches train on exactly the batches of one process of batch N x k x B.
        profile::Scope scope(profile::Kind::data);
        parts_.dataset->rows(Split::train, batch_seed,
                             (rank_ * c_.grad_accum_steps + micro) * c_.batch_size, c_.batch_size,
                             c_.block_size, batch_);
      }
      Tensor loss;
      {
        profile::Scope scope(profile::Kind::other, profile::Phase::forward);
        // Each rank its own dropout masks.
        const uint64_t dropout_seed = stream_seed(c_.seed, dropout, where);
        ForwardContext ctx{true, world_size_ > 1 ? rng::mix(dropout_seed, uint64_t(rank_))
                                                 : dropout_seed};
        if (c_.diagnostics) ctx.metrics = &metrics("attention");
        Tensor logits = parts_.model->forward(batch_.ids, batch_.B, batch_.T, ctx);
        profile::Scope loss_scope(profile::Kind::cross_entropy);
        loss = parts_.loss->forward(logits, batch_.targets, metrics("loss"));
      }
      sum += loss.item();
      if (parts > 1) loss = ops::scale(loss, 1.0f / float(parts));
      profile::Scope scope(profile::Kind::other, profile::Phase::backward);
      loss.backward();
    }
    loss_mean = sum / double(c_.grad_accum_steps);
    return true;
  }

  // Sums the gradients (each already divided by the number of ranks) and the loss over the
  // ranks, and agrees on stopping: returns whether any rank was asked to stop. Every gradient is
  // reduced in place, one all-reduce per parameter tensor. In one process: only the stop check.
  bool average_over_ranks(int64_t step, const Parameters& params, double& loss) {
    if (world_size_ == 1) return false;
    profile::Scope scope(profile::Kind::allreduce);
    constexpr const char* what = "the gradient all-reduce";
    double shared[2] = {loss, interrupted() ? 1.0 : 0.0};
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

  // Whether `step` writes a train row, and so the values recorded in it.
  bool logged(int64_t step) const {
    return step % c_.log_interval == 0 || step == 1 || step == c_.max_iters || step == end_;
  }

  // The Metrics of `group` ("loss", "optimizer", "attention", "train"): it listens at the logged
  // steps of rank 0, and its values land in run.h5 under /metrics/<group>/<name>.
  Metrics& metrics(std::string_view group) { return recorder_.group(group); }

  void name_metrics_owners() {
    recorder_.group("loss").set_owner("loss plugin '" + c_.loss.plugin + "'");
    recorder_.group("optimizer").set_owner("optimizer plugin '" + c_.optimizer.plugin + "'");
    recorder_.group("attention").set_owner("attention plugin '" + c_.attention.plugin + "'");
  }

  // train.diagnostics at a logged step: the gradient norm of each layer, before clipping.
  void diagnose_gradients(const Parameters& params) {
    Metrics& m = metrics("train");
    if (!c_.diagnostics || !m.enabled()) return;
    diagnostics_.record_grad_norms(params, m);
    diagnostics_.keep_weights(params);
  }

  // train.diagnostics at a logged step: ||delta p|| / ||p|| of each layer over the update.
  void diagnose_update(const Parameters& params) {
    Metrics& m = metrics("train");
    if (!c_.diagnostics || !m.enabled()) return;
    diagnostics_.record_update_ratios(params, m);
  }

  // The evaluation of `step`: val and train losses (and accuracy), then a sample. Nothing of it
  // is written until all of it is done, so that a signal in the middle (in a process that trains
  // alone) leaves no trace: it returns false, and the run stops with the evaluation pending.
  bool evaluate(int64_t step) {
    NoGrad no_grad;
    const bool can_stop = world_size_ == 1;
    bool stopped = false;
    const auto mean_loss = [&](Split split, double* accuracy) {
      double sum = 0;
      int64_t rows = 0, correct = 0;
      for (int64_t i = 0; i < c_.eval_iters && !stopped; ++i) {
        stopped = can_stop && interrupted();
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
    std::string text;
    if (c_.sample_tokens > 0 && !stopped) {
      const uint64_t seed = stream_seed(c_.seed, samples, uint64_t(step));
      const std::vector<int32_t> prompt = parts_.dataset->sample_prompt(seed);
      const auto ids = train_detail::generate(
          *parts_.model, prompt, {c_.sample_tokens, 1.0, 0, seed, parts_.dataset->vocab_size()});
      text = parts_.dataset->decode(prompt) + parts_.dataset->decode(ids);
      stopped = can_stop && interrupted();  // generate stops early on a signal
    }
    if (stopped) return false;
    writer_->val({step, float(val), float(train), float(accuracy)});
    if (val < n_.best_val_loss) {
      n_.best_val_loss = val;
      n_.best_val_step = step;
    }
    if (with_accuracy && !(accuracy <= n_.best_val_accuracy)) n_.best_val_accuracy = accuracy;
    if (c_.sample_tokens > 0) writer_->sample(step, text);
    end_progress();
    if (with_accuracy)
      std::fprintf(stderr, "step %ld: train loss %.4f, val loss %.4f, val accuracy %.3f\n",
                   long(step), train, val, accuracy);
    else
      std::fprintf(stderr, "step %ld: train loss %.4f, val loss %.4f\n", long(step), train, val);
    return true;
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
    for (const Parameter& p : parts_.model->parameters()) ck.model[p.name] = p.tensor;
    OptimizerState state = parts_.optimizer->state();  // live: written below, before any step
    ck.optimizer = std::move(state.tensors);
    ck.optimizer_scalars = std::move(state.scalars);
    ck.tokenizer = parts_.tokenizer->save();
    ck.config_toml = spec_.config_toml;
    n_.save(ck);
    ck.counters["world_size"] = world_size_;
    ck.run_id = writer_->run_id();
    // Every row logged up to this step reaches the run file before the checkpoint exists, so a
    // run resumed from it (after a kill -9, say) has no gap in its metrics.
    writer_->flush();
    write_checkpoint(options_.run_dir, ck);
  }

  TrainResult finish(const std::string& status) {
    NumericAttrs s = summary();
    if (status == "pruned") s["pruned_at_step"] = double(n_.step);
    writer_->finish(status, s);
    writer_->check();
    if (options_.profile) {
      const double ms_per_step = session_steps_ ? 1e3 * session_step_s_ / double(session_steps_) : 0;
      std::fputs(profile::table(profile::totals(), ms_per_step).c_str(), stdout);
      std::fflush(stdout);
    }
    return {status, s};
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
  // The last step of this session: max_iters, or a search's rung below it (TrainOptions::stop_at).
  const int64_t end_ =
      options_.stop_at > 0 ? std::min(options_.stop_at, c_.max_iters) : c_.max_iters;
  Counters n_;
  std::optional<DisableInterruption> hold_;  // in a data-parallel job
  const clock_type::time_point session_start_ = clock_type::now();
  const double wall_before_ = n_.wall_s;
  int world_size_;
  // 0 for a run trained alone, on any rank (a distributed sweep's, a search's): its batches are
  // those of one process.
  int64_t rank_ = world_size_ > 1 ? distributed::world().rank : 0;
  Batch batch_;
  train_detail::GradientClipper clipper_;
  train_detail::MetricsRecorder recorder_;
  train_detail::LayerDiagnostics diagnostics_;
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
  const auto* shards = dynamic_cast<const data::ShardDataset*>(parts.dataset.get());
  if (!text && !shards)
    throw ConfigError("eval: " + c.dataset + " is a synthetic task; nanolab eval measures a text "
                      "dataset's split (--data NAME). A synthetic run's val loss and accuracy are "
                      "in its log (nanolab compare)");
  // n + 1 tokens: n predictions. Token files stay on disk: only the ids measured are read.
  std::vector<int32_t> read;
  std::span<const int32_t> ids;
  if (text) {
    ids = text->tokens(o.split);
  } else {
    read.resize(size_t(shards->tokens(o.split)));
    if (o.max_tokens > 0) read.resize(std::min(read.size(), size_t(o.max_tokens + 1)));
    shards->read(o.split, 0, int64_t(read.size()), read.data());
    ids = read;
  }
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
    throw_if_interrupted();
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

// A resume uses a plugin of every kind: each is taken from the file the run recorded when the
// search path lacks it.
const std::vector<PluginKind> every_plugin_kind = [] {
  std::vector<PluginKind> kinds;
  for (size_t k = 0; k < plugin_kind_count; ++k) kinds.push_back(PluginKind(k));
  return kinds;
}();

// The kinds of plugin that `sample` and `eval` use: the model's attention and the tokenizer, not
// the optimizer or loss the run was trained with, which need not be on the search path any more.
// Each is taken from the file the run recorded when the search path lacks it. A run.h5 that cannot
// be read has no record to offer; the checkpoint alone then says what to load.
std::vector<PluginKind> reopen_used_plugins(const std::filesystem::path& run_dir) {
  const std::vector<PluginKind> used = {PluginKind::attention, PluginKind::tokenizer};
  std::vector<PluginRecord> records;
  try {
    records = read_run(run_dir / "run.h5").plugins;
  } catch (const StorageError&) {
  }
  train_detail::reopen_recorded_plugins(records, used, run_dir.string());
  return used;
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
    throw StorageError(e.what() + std::string("\nhint: without a checkpoint.h5, the run can only "
                                              "start again from its run.h5; move ") +
                       options.run_dir.string() + " away and start it with `nanolab run`");
  }
  train_detail::reopen_recorded_plugins(log.plugins, every_plugin_kind, options.run_dir.string());
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
  throw_if_interrupted();  // as in train(): before the run file is changed
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
  // The set-up (the dataset tokenized, a model file read) can take minutes; a signal during it
  // stops the run before its directory exists. From here on the loop handles signals.
  throw_if_interrupted();
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

namespace {

// The train.max_iters that resume's --set asks for, if any; any other key is refused.
std::optional<int64_t> extension_length(const std::vector<std::string>& overrides) {
  std::optional<int64_t> n;
  for (const std::string& s : overrides) {
    const size_t eq = s.find('=');
    auto trimmed = [](std::string t) {
      t.erase(0, t.find_first_not_of(" \t"));
      t.erase(t.find_last_not_of(" \t") + 1);
      return t;
    };
    const std::string key = trimmed(s.substr(0, eq));
    if (key != "train.max_iters")
      throw ConfigError("--set " + key +
                        ": resume changes train.max_iters only (to extend the run); every other "
                        "key is the run's own\n    hint: start a new run with `nanolab run EXP.toml "
                        "--set " + key + "=...`");
    const std::string value = eq == std::string::npos ? "" : trimmed(s.substr(eq + 1));
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || v < 1)
      throw ConfigError("--set train.max_iters=" + value + ": expected a whole number of steps");
    n = v;
  }
  return n;
}

}  // namespace

TrainResult resume(const TrainOptions& options) {
  const std::optional<int64_t> extend_to = extension_length(options.overrides);
  if (!std::filesystem::exists(options.run_dir / "checkpoint.h5")) {
    if (extend_to)
      throw ConfigError("--set train.max_iters: " + options.run_dir.string() +
                        " has no checkpoint to extend (it stopped before its first one, and "
                        "resume trains it again from step 0 with its own configuration)");
    if (!std::filesystem::exists(options.run_dir / "run.h5"))
      throw CheckpointError(options.run_dir.string() +
                            ": not a run directory (no run.h5, no checkpoint.h5)\nhint: a run "
                            "directory is <out>/<experiment>/<run>/, made by `nanolab run`");
    return restart(options);
  }
  Checkpoint ck = read_checkpoint(options.run_dir);
  const std::string origin = (options.run_dir / "checkpoint.h5").string();
  std::vector<PluginRecord> recorded;
  RunSpec spec;
  {  // the run.h5's rows are not kept for the rest of the run
    RunLog log = read_run(options.run_dir / "run.h5");
    if (!require_checkpoint_of(log, ck, options.run_dir) && distributed::world().rank == 0)
      std::fprintf(stderr,
                   "note: %s and its run.h5 were written before run ids: the checkpoint is taken "
                   "as the run's own because their configurations are the same\n",
                   origin.c_str());
    recorded = std::move(log.plugins);
    // run.h5's configuration: that of the checkpoint, or its extension (require_checkpoint_of).
    spec.config_toml = std::move(log.config_toml);
  }
  train_detail::reopen_recorded_plugins(recorded, every_plugin_kind, options.run_dir.string());
  std::optional<std::string> extension;  // the line that says how the run was extended
  if (extend_to) {
    const int64_t length = parse_resolved_config(spec.config_toml, origin).max_iters;
    if (*extend_to <= ck.step)
      throw ConfigError("--set train.max_iters=" + std::to_string(*extend_to) +
                        ": the run's checkpoint is at step " + std::to_string(ck.step) +
                        "; the run can only be extended past it");
    spec.config_toml = config::with_max_iters(spec.config_toml, *extend_to);
    if (*extend_to != length)
      extension = "step " + std::to_string(ck.step) + ": train.max_iters " +
                  std::to_string(length) + " -> " + std::to_string(*extend_to) + " (" +
                  options.command_line + ")";
  }
  spec.config = parse_resolved_config(spec.config_toml, origin);
  spec.name = options.run_dir.filename().string();
  const int world_size = data_parallel_size(options);
  require_world_size(ck.counters.count("world_size") ? ck.counters.at("world_size") : 1, world_size,
                     origin);
  Components parts = train_detail::build(spec.config, train_detail::Purpose::train, ck.tokenizer);
  load_parameters(*parts.model, ck, origin);
  try {
    parts.optimizer->load_state({std::move(ck.optimizer), ck.optimizer_scalars},
                                ck.format_version < 2);
  } catch (const CheckpointError& e) {
    throw CheckpointError(origin + ": " + e.what() +
                          "\nhint: the optimizer plugin now declares another state than the one "
                          "that wrote the checkpoint (another version of it?); resume with that "
                          "one, or start the run again from step 0");
  }
  throw_if_interrupted();  // as in train(): before the run file is reopened
  // The model and the optimizer hold copies now; the file's tensors would double their memory
  // for the rest of the run.
  ck.model.clear();
  ck.optimizer.clear();
  const Counters n = Counters::restore(ck);
  if (distributed::world().rank != 0 && world_size > 1) {
    Loop loop(spec, parts, nullptr, options, n, world_size);
    return loop.run();
  }
  // run.h5 takes the new length first: a kill before the next checkpoint leaves the run to go on
  // to it (require_checkpoint_of accepts the checkpoint of the old length).
  if (extension) store::extend_run(options.run_dir, spec.config_toml, *extension);
  auto writer = RunWriter::reopen(options.run_dir, ck.step);
  std::fprintf(stderr, "resuming %s at step %ld of %ld\n", options.run_dir.c_str(), long(ck.step),
               long(spec.config.max_iters));
  Loop loop(spec, parts, writer.get(), options, n, world_size);
  return run_loop(loop, *writer);
}

std::string sample(const std::filesystem::path& run_dir, const SampleOptions& options) {
  const Checkpoint ck = read_checkpoint(run_dir);
  const ExperimentConfig config = parse_resolved_config(
      ck.config_toml, (run_dir / "checkpoint.h5").string(), reopen_used_plugins(run_dir));
  Components parts = train_detail::build(config, train_detail::Purpose::sample, ck.tokenizer);
  load_parameters(*parts.model, ck, (run_dir / "checkpoint.h5").string());
  // A synthetic task has a vocabulary of its own and encodes its questions; it stops at the end
  // of its answer.
  std::vector<int32_t> prompt;
  if (!options.prompt.empty())
    prompt = parts.dataset ? parts.dataset->encode_prompt(options.prompt)
                           : parts.tokenizer->encode(options.prompt);
  else if (parts.dataset)
    prompt = parts.dataset->sample_prompt(options.seed);
  else
    prompt = parts.tokenizer->encode("\n");
  const auto ids = train_detail::generate(
      *parts.model, prompt,
      {options.tokens, options.temperature, options.top_k, options.seed,
       parts.dataset ? parts.dataset->vocab_size() : parts.tokenizer->vocab_size(),
       parts.dataset ? parts.dataset->end_token() : -1});
  throw_if_interrupted();  // generate stopped early: no text rather than a cut one
  auto decode = [&](const std::vector<int32_t>& v) {
    return parts.dataset ? parts.dataset->decode(v) : parts.tokenizer->decode(v);
  };
  return (options.prompt.empty() ? decode(prompt) : options.prompt) + decode(ids);
}

EvalResult evaluate_run(const std::filesystem::path& run_dir, const EvalOptions& options) {
  const Checkpoint ck = read_checkpoint(run_dir);
  const std::string origin = (run_dir / "checkpoint.h5").string();
  ExperimentConfig config =
      parse_resolved_config(ck.config_toml, origin, reopen_used_plugins(run_dir));
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
