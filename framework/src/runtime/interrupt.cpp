// The record of SIGINT/SIGTERM and its handlers (nanolab/interrupt.hpp).
#include "nanolab/interrupt.hpp"

#include <atomic>
#include <csignal>
#include <string>

namespace nanolab {
namespace {

// Lock-free, so that storing into it is async-signal-safe.
std::atomic<int> received{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void record_signal(int signal) { received.store(signal, std::memory_order_relaxed); }

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace

Interrupted::Interrupted(int signal)
    : Error(ExitCode::interrupted, "interrupted by " + signal_name(signal)), signal_(signal) {}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = record_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: see the header
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int interrupt_signal() noexcept { return received.load(std::memory_order_relaxed); }

bool interrupted() noexcept { return interrupt_signal() != 0; }

void throw_if_interrupted() {
  if (const int signal = interrupt_signal()) throw Interrupted(signal);
}

namespace {
thread_local int disabled = 0;  // DisableInterruption scopes alive on this thread
}  // namespace

void interruption_point() {
  if (disabled == 0) throw_if_interrupted();
}

DisableInterruption::DisableInterruption() { ++disabled; }
DisableInterruption::~DisableInterruption() { --disabled; }

}  // namespace nanolab
