# Sanitizer and fuzzing builds. NANOLAB_SANITIZE=address,undefined compiles and links everything
# of this tree (libnanolab, the program, every plugin, the tests) with clang's sanitizers;
# NANOLAB_BUILD_FUZZ adds libFuzzer's coverage instrumentation to all of it and builds the fuzz
# targets of tests/fuzz. Included by the top-level CMakeLists.txt before any find_package, because
# it decides how OpenMP is found. Clang only (configure a fresh folder with CC=clang-14
# CXX=clang++-14): GCC has no libFuzzer. Third-party libraries (oneDNN, libgomp, oneTBB, HDF5,
# toml++) stay the uninstrumented Debian builds. docs/fuzzing.md says how to use it.
include_guard(GLOBAL)

set(nanolab_sanitize_doc "Comma-separated -fsanitize= list for the whole tree (address,undefined)")
set(NANOLAB_SANITIZE "" CACHE STRING "${nanolab_sanitize_doc}")
option(NANOLAB_BUILD_FUZZ "Build the fuzz targets of tests/fuzz (implies address,undefined)" OFF)

if(NANOLAB_BUILD_FUZZ AND NOT NANOLAB_SANITIZE)
  set(NANOLAB_SANITIZE "address,undefined" CACHE STRING "${nanolab_sanitize_doc}" FORCE)
endif()

if(NANOLAB_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "NANOLAB_SANITIZE and NANOLAB_BUILD_FUZZ need clang: configure a fresh "
      "build folder with CC=clang-14 CXX=clang++-14 (Debian: clang-14 libclang-rt-14-dev "
      "libomp-14-dev, installed by tools/install-deps.sh)")
  endif()
  # Every object, shared library and plugin gets the same flags: a plugin built without them
  # would still load (the runtime lives in the executable) but its bugs would go unseen.
  # -fno-sanitize-recover: an UBSan finding fails the test instead of printing and going on.
  # -gline-tables-only: file and line in every report, at a fraction of the compile time of -g.
  set(nanolab_sanitize_flags -fsanitize=${NANOLAB_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=all -gline-tables-only)
  if(NANOLAB_BUILD_FUZZ)
    list(APPEND nanolab_sanitize_flags -fsanitize=fuzzer-no-link)
  endif()
  add_compile_options(${nanolab_sanitize_flags})
  add_link_options(${nanolab_sanitize_flags})

  # oneDNN is built against GNU OpenMP (STACK.md), and libnanolab's omp_set_num_threads must reach
  # that same runtime: clang's default, -fopenmp=libomp, would load LLVM's libomp beside libgomp
  # and set the thread count of a runtime that nothing uses. The framework only calls the OpenMP
  # API (no pragmas), so clang needs just omp.h (libomp-14-dev) and libgomp to link against.
  find_library(NANOLAB_GOMP_LIBRARY NAMES gomp libgomp.so.1 REQUIRED)
  set(OpenMP_CXX_FLAGS "-fopenmp=libgomp" CACHE STRING "OpenMP flags (the GNU runtime)")
  set(OpenMP_CXX_LIB_NAMES "gomp" CACHE STRING "OpenMP libraries (GNU runtime)")
  set(OpenMP_gomp_LIBRARY "${NANOLAB_GOMP_LIBRARY}" CACHE FILEPATH "GNU OpenMP runtime")
  message(STATUS "nanolab: -fsanitize=${NANOLAB_SANITIZE}, fuzz targets: ${NANOLAB_BUILD_FUZZ}")
endif()
