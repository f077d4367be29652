// The record of SIGINT/SIGTERM (nanolab/interrupt.hpp), each case in a forked child: the record is
// process-wide and is never cleared, so a signal must not reach the test process itself.
#include <gtest/gtest.h>

#include <csignal>
#include <functional>
#include <stdexcept>
#include <string>

#include "nanolab/interrupt.hpp"
#include "unit/store/child.hpp"

namespace nanolab {
namespace {

// Runs `body` in a child with the handlers installed; true if it returned (its checks held).
bool in_child(const std::function<void()>& body) {
  test::Child child([&](const std::function<void()>&) {
    install_interrupt_handlers();
    body();
  });
  const int status = child.wait();
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("failed: ") + what);
}

TEST(Interrupt, NothingIsRecordedBeforeASignal) {
  EXPECT_TRUE(in_child([] {
    check(!interrupted() && interrupt_signal() == 0, "no signal yet");
    throw_if_interrupted();  // does not throw
  }));
}

void expect_recorded(int sig, const char* name) {
  EXPECT_TRUE(in_child([&] {
    check(std::raise(sig) == 0, "raise");
    check(interrupted() && interrupt_signal() == sig, "the signal is recorded");
    try {
      throw_if_interrupted();
    } catch (const Interrupted& e) {
      check(e.signal() == sig, "Interrupted carries the signal");
      check(e.code() == ExitCode::interrupted && int(e.code()) == 130, "exit status 130");
      check(std::string(e.what()) == std::string("interrupted by ") + name, "the message");
      return;
    }
    check(false, "throw_if_interrupted threw");
  })) << name;
}

TEST(Interrupt, SigintIsRecordedAndThrownAsInterrupted) { expect_recorded(SIGINT, "SIGINT"); }
TEST(Interrupt, SigtermIsRecordedAndThrownAsInterrupted) { expect_recorded(SIGTERM, "SIGTERM"); }

}  // namespace
}  // namespace nanolab
