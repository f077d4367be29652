// The MPI world of a job (distributed.hpp). With NANOLAB_HAVE_MPI (CMake found Open MPI) the
// collectives and the texts are MPI's non-blocking operations, completed by polling MPI_Test so
// that a rank waiting for a dead peer notices the SIGTERM that mpirun sends and gives up with a
// DistributedError rather than blocking until SIGKILL. Without MPI every collective is the
// identity.
#include "nanolab/distributed.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>

#ifdef NANOLAB_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // MPI's C API only: the C++ bindings would need libmpi_cxx
#include <mpi.h>
#endif

#include "nanolab/interrupt.hpp"

namespace nanolab::distributed {
namespace {

World the_world;
bool started = false;  // MPI_Init was called by init()

bool launched_by_mpirun() {
  for (const std::string& name : launcher_variables())
    if (std::getenv(name.c_str())) return true;
  return false;
}

[[noreturn]] void no_other_rank(const char* what) {
  throw DistributedError(std::string(what) + ": there is no other rank (this process is not part "
                         "of an MPI job of several ranks)");
}

#ifdef NANOLAB_HAVE_MPI
std::string mpi_error_text(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  return std::string(text, size_t(length));
}

// The tag of the texts of send and receive.
constexpr int text_tag = 1;

// Waits for `request`. A signal that asks this process to stop (mpirun's SIGTERM when another
// rank died, or the user's) gives the other ranks half a second to arrive, then gives up.
void wait(MPI_Request& request, const char* what, MPI_Status* status = MPI_STATUS_IGNORE) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::optional<clock::time_point> signalled;
  for (int polls = 0;; ++polls) {
    int done = 0;
    const int rc = MPI_Test(&request, &done, status);
    if (rc != MPI_SUCCESS)
      throw DistributedError(std::string(what) + " failed on rank " +
                             std::to_string(the_world.rank) + ": " + mpi_error_text(rc) +
                             "; hint: another rank of the job has died");
    if (done) return;
    const auto now = clock::now();
    if (interrupted()) {
      if (!signalled) signalled = now;
      if (now - *signalled > std::chrono::milliseconds(500))
        throw DistributedError(
            std::string(what) + ": rank " + std::to_string(the_world.rank) + " got signal " +
            std::to_string(interrupt_signal()) +
            " while waiting for the other ranks; mpirun stops every rank when one of them dies "
            "(see its message above for which)");
    }
    // Spin for the first millisecond (a step's all-reduce is usually that close), then sleep
    // 20 us between polls so that a rank waiting long does not take a core from the others.
    if (now - start > std::chrono::milliseconds(1)) {
      const timespec pause{0, 20'000};
      nanosleep(&pause, nullptr);
    }
  }
}

// Waits for the operation that returned `rc` and `request`, unless it could not start.
void complete(int rc, MPI_Request& request, const char* what,
              MPI_Status* status = MPI_STATUS_IGNORE) {
  if (rc != MPI_SUCCESS)
    throw DistributedError(std::string(what) + " could not start on rank " +
                           std::to_string(the_world.rank) + ": " + mpi_error_text(rc));
  wait(request, what, status);
}

template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  else return MPI_INT64_T;
}
#endif

enum class Reduce { sum, max };

// data[0 .. n) reduced over the ranks, in place; the identity in one process or without MPI.
template <class T>
void allreduce(T* data, int64_t n, Reduce reduce, const char* what) {
#ifdef NANOLAB_HAVE_MPI
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> ||
                std::is_same_v<T, int64_t>);
  if (the_world.size == 1) return;
  const MPI_Op op = reduce == Reduce::max ? MPI_MAX : MPI_SUM;
  // MPI counts are int: large buffers go in slices of 2^30 elements.
  constexpr int64_t slice = int64_t(1) << 30;
  for (int64_t at = 0; at < n; at += slice) {
    MPI_Request request;
    const int count = int(std::min(slice, n - at));
    const int rc = MPI_Iallreduce(MPI_IN_PLACE, data + at, count, mpi_type<T>(), op,
                                  MPI_COMM_WORLD, &request);
    complete(rc, request, what);
  }
#else
  (void)data, (void)n, (void)reduce, (void)what;
#endif
}

}  // namespace

void init(int* argc, char*** argv) {
  if (started || !launched_by_mpirun()) return;
#ifdef NANOLAB_HAVE_MPI
  // Only the main thread calls MPI; oneDNN's and TBB's threads never do.
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw DistributedError("MPI_Init_thread failed: this process was started by an MPI launcher, "
                           "but MPI could not start");
  started = true;
  // Errors come back as return codes (thrown as DistributedError), not as an abort of the job.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &the_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &the_world.size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &the_world.local_size);
  MPI_Comm_free(&local);
#else
  (void)argc;
  (void)argv;
  throw DistributedError(
      "this process was started by an MPI launcher (mpirun), but this nanolab was built without "
      "MPI; hint: install libopenmpi-dev and configure again (CMake option NANOLAB_MPI)");
#endif
}

void finalize() {
#ifdef NANOLAB_HAVE_MPI
  if (started) MPI_Finalize();
#endif
  started = false;
}

const World& world() { return the_world; }

const std::vector<std::string>& launcher_variables() {
  static const std::vector<std::string> names = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"};
  return names;
}

bool built_with_mpi() {
#ifdef NANOLAB_HAVE_MPI
  return true;
#else
  return false;
#endif
}

void allreduce_sum(float* data, int64_t n, const char* what) {
  allreduce(data, n, Reduce::sum, what);
}

void allreduce_sum(double* data, int64_t n, const char* what) {
  allreduce(data, n, Reduce::sum, what);
}

int64_t allreduce_max(int64_t value, const char* what) {
  allreduce(&value, 1, Reduce::max, what);
  return value;
}

void barrier(const char* what) {
#ifdef NANOLAB_HAVE_MPI
  if (the_world.size == 1) return;
  MPI_Request request;
  const int rc = MPI_Ibarrier(MPI_COMM_WORLD, &request);
  complete(rc, request, what);
#else
  (void)what;
#endif
}

void send(int to, const std::string& text, const char* what) {
  if (text.size() > text_limit)
    throw DistributedError(std::string(what) + ": a text of " + std::to_string(text.size()) +
                           " bytes, more than the " + std::to_string(text_limit) +
                           " a text may have");
#ifdef NANOLAB_HAVE_MPI
  if (the_world.size == 1) no_other_rank(what);
  MPI_Request request;
  const int rc = MPI_Isend(text.data(), int(text.size()), MPI_CHAR, to, text_tag, MPI_COMM_WORLD,
                           &request);
  complete(rc, request, what);
#else
  (void)to;
  no_other_rank(what);
#endif
}

std::string receive(int from, const char* what) {
#ifdef NANOLAB_HAVE_MPI
  if (the_world.size == 1) no_other_rank(what);
  std::string text(text_limit, '\0');
  MPI_Request request;
  const int rc = MPI_Irecv(text.data(), int(text.size()), MPI_CHAR, from, text_tag, MPI_COMM_WORLD,
                           &request);
  MPI_Status status;
  complete(rc, request, what, &status);
  int length = 0;
  MPI_Get_count(&status, MPI_CHAR, &length);
  text.resize(size_t(length));
  return text;
#else
  (void)from;
  no_other_rank(what);
#endif
}

std::optional<std::pair<int, std::string>> poll_receive(const char* what) {
#ifdef NANOLAB_HAVE_MPI
  if (the_world.size == 1) return std::nullopt;
  int arrived = 0;
  MPI_Status status;
  const int rc = MPI_Iprobe(MPI_ANY_SOURCE, text_tag, MPI_COMM_WORLD, &arrived, &status);
  if (rc != MPI_SUCCESS)
    throw DistributedError(std::string(what) + " failed on rank " +
                           std::to_string(the_world.rank) + ": " + mpi_error_text(rc));
  if (!arrived) return std::nullopt;
  return std::pair(status.MPI_SOURCE, receive(status.MPI_SOURCE, what));
#else
  (void)what;
  return std::nullopt;
#endif
}

}  // namespace nanolab::distributed
