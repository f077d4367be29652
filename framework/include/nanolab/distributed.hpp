// The processes of a job started by `mpirun -np N nanolab ...` (Open MPI), the collective
// operations the trainer needs (data-parallel training averages gradients with one all-reduce of
// a flat buffer per step, docs/scaling.md), and short texts sent from one rank to another, by
// which rank 0 hands out a search's jobs.
//
// Without mpirun, or in a build without MPI (CMake found no MPI: NANOLAB_MPI), the world is one
// process, rank 0, and every operation is the identity: the single-process code path is the
// same code. MPI is initialised only when the environment says a launcher started the process
// (OMPI_COMM_WORLD_SIZE, PMIX_RANK), so a plain `nanolab run` never starts MPI's runtime.
//
// A rank that dies ends the job: mpirun then stops the others with SIGTERM. A rank that is waiting
// in a collective or for a text when that signal arrives (nanolab/interrupt.hpp records it), or
// when the operation cannot complete, throws DistributedError instead of waiting forever, so that the
// trainer can record the run as failed before the job is gone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nanolab/errors.hpp"

namespace nanolab::distributed {

struct World {
  int rank = 0;
  int size = 1;
  int local_size = 1;  // processes of this job on this machine
};

// Initialises MPI if a launcher started this process (idempotent); call first thing in main.
NANOLAB_VISIBLE void init(int* argc, char*** argv);
// Ends MPI if init started it; call before a normal exit.
NANOLAB_VISIBLE void finalize();
NANOLAB_VISIBLE const World& world();
// Whether this build can take part in an MPI job.
NANOLAB_VISIBLE bool built_with_mpi();
// The environment variables by which init() knows that a launcher started this process: a program
// started from a rank with them removed is one process of its own, not part of the job.
NANOLAB_VISIBLE const std::vector<std::string>& launcher_variables();

// In place, on every rank: data[i] = the sum over ranks of data[i]. `what` names the operation in
// errors ("the gradient all-reduce"); a static text, so that a call allocates nothing (the
// trainer calls them every step and adds the step to an error it catches).
NANOLAB_VISIBLE void allreduce_sum(float* data, int64_t n, const char* what);
NANOLAB_VISIBLE void allreduce_sum(double* data, int64_t n, const char* what);
// Every rank's `value`, the largest of them returned on every rank.
NANOLAB_VISIBLE int64_t allreduce_max(int64_t value, const char* what);
NANOLAB_VISIBLE void barrier(const char* what);

// Point to point, texts of at most text_limit bytes, in the order sent between two ranks. send
// returns once `text` is on its way to rank `to`; receive waits for the next text from rank
// `from`; both give up as the collectives do. poll_receive never waits: the next text any rank
// sent to this one and its sender, if one has arrived. In one process (or without MPI) there is
// no other rank: send and receive throw DistributedError, poll_receive returns none.
constexpr size_t text_limit = 4096;
NANOLAB_VISIBLE void send(int to, const std::string& text, const char* what);
NANOLAB_VISIBLE std::string receive(int from, const char* what);
NANOLAB_VISIBLE std::optional<std::pair<int, std::string>> poll_receive(const char* what);

}  // namespace nanolab::distributed
