# Source this before running anything of a sanitizer build (build-asan, see docs/fuzzing.md):
#   . tools/sanitizers/env.sh && ctest --test-dir build-asan -L unit
# Every finding is fatal and comes with a stack trace; leaks are checked at exit. There are no
# suppressions: nothing in nanolab's suites or fuzz targets makes the uninstrumented Debian
# libraries report (docs/fuzzing.md). Not needed for the ordinary build. tools/test.sh sources it.
# abort_on_error=0: exit status 1, not SIGABRT and a core dump, so that CTest reports a failed test.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
ASAN_OPTIONS+=:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
