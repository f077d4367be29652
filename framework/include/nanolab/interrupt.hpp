// Stopping on SIGINT and SIGTERM. The `nanolab` program installs the handlers once, first thing,
// for the whole life of the process; a handler only records which signal came. Long work polls
// the record: interrupted() is one relaxed atomic load, cheap enough for every sampled token,
// every merge of a tokenizer's training, every evaluation window or every run file read.
//
// Two ways to stop, chosen by the code that polls:
// - throw_if_interrupted() throws Interrupted, which the program reports in one line with exit
//   status 130 (docs/cli.md). For work that leaves nothing half done behind: sampling, evaluation,
//   a tokenizer's training, reading runs, a run's set-up before its first step.
// - the training loop polls interrupted() and ends gracefully instead: it finishes the step,
//   writes a checkpoint and records the run as interrupted. Nothing there throws Interrupted.
// The MPI collectives watch the same record while they wait (distributed.hpp).
//
// Not a cancellation framework: nothing is undone, and a signal is never "taken back".
#pragma once

#include "nanolab/errors.hpp"

namespace nanolab {

// The work stopped because a signal asked the process to stop (exit 130).
struct NANOLAB_VISIBLE Interrupted : Error {
  explicit Interrupted(int signal);
  int signal() const noexcept { return signal_; }

 private:
  int signal_;
};

// Installs the SIGINT and SIGTERM handlers (idempotent). Blocking system calls that a signal
// interrupts fail with EINTR rather than restart, so that a read from a terminal or a pipe
// cannot hold the process.
NANOLAB_VISIBLE void install_interrupt_handlers();
// The signal (SIGINT, SIGTERM) that asked this process to stop, 0 if none.
NANOLAB_VISIBLE int interrupt_signal() noexcept;
NANOLAB_VISIBLE bool interrupted() noexcept;
// Throws Interrupted if a signal asked the process to stop.
NANOLAB_VISIBLE void throw_if_interrupted();

// An interruption point (Boost.Thread's term) inside one long computation that can be abandoned
// whole: the model's forward pass polls it between blocks, the backward pass between nodes, so
// that a step longer than the 2 s a signal may wait is cut. It throws Interrupted after a signal,
// unless a DisableInterruption is alive on this thread: the data-parallel training loop, whose
// ranks must finish each step together and agree on stopping after it.
NANOLAB_VISIBLE void interruption_point();
class NANOLAB_VISIBLE DisableInterruption {
 public:
  DisableInterruption();
  ~DisableInterruption();
  DisableInterruption(const DisableInterruption&) = delete;
  DisableInterruption& operator=(const DisableInterruption&) = delete;
};

}  // namespace nanolab
