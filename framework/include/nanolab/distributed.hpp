// The processes of a job started by `mpirun -np N nanolab ...` (Open MPI), and the collective
// operations the trainer needs: data-parallel training averages gradients with one all-reduce of
// a flat buffer per step (docs/scaling.md).
//
// Without mpirun, or in a build without MPI (CMake found no MPI: NANOLAB_MPI), the world is one
// process, rank 0, and every operation is the identity: the single-process code path is the
// same code. MPI is initialised only when the environment says a launcher started the process
// (OMPI_COMM_WORLD_SIZE, PMIX_RANK), so a plain `nanolab run` never starts MPI's runtime.
//
// A rank that dies ends the job: mpirun then stops the others with SIGTERM. A rank that is waiting
// in a collective when that signal arrives (nanolab/interrupt.hpp records it), or when the
// operation cannot complete, throws DistributedError instead of waiting forever, so that the
// trainer can record the run as failed before the job is gone.
#pragma once

#include <cstdint>
#include <string>

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

// In place, on every rank: data[i] = the sum over ranks of data[i]. `what` names the operation in
// errors ("the gradient all-reduce"); a static text, so that a call allocates nothing (the
// trainer calls them every step and adds the step to an error it catches).
NANOLAB_VISIBLE void allreduce_sum(float* data, int64_t n, const char* what);
NANOLAB_VISIBLE void allreduce_sum(double* data, int64_t n, const char* what);
// Every rank's `value`, the largest of them returned on every rank.
NANOLAB_VISIBLE int64_t allreduce_max(int64_t value, const char* what);
NANOLAB_VISIBLE void barrier(const char* what);

}  // namespace nanolab::distributed
