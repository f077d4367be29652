# Source this before running anything of a sanitizer build (build-asan, see docs/fuzzing.md):
#   . tools/sanitizers/env.sh && ctest --test-dir build-asan -L unit
# It points ASan, UBSan and LeakSanitizer at the suppression files beside it (only for findings
# inside the uninstrumented Debian libraries; each entry says why) and makes every finding fatal
# with a stack trace. Not needed for the ordinary build. tools/test.sh sources it.
nanolab_sanitizers_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# detect_leaks: on (the default on x86-64 Linux, said for the reader). abort_on_error=0: exit
# status 1, not SIGABRT and a core dump, so CTest reports a failed test.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:suppressions=$nanolab_sanitizers_dir/asan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$nanolab_sanitizers_dir/ubsan.supp"
export LSAN_OPTIONS="suppressions=$nanolab_sanitizers_dir/lsan.supp"
unset nanolab_sanitizers_dir
