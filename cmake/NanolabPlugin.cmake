# nanolab_add_plugin: builds one nanolab plugin library. Used in the nanolab tree (plugins/) and,
# installed with the nanolab CMake package, by third-party plugins built out of tree:
#
#   find_package(nanolab REQUIRED)
#   nanolab_add_plugin(my_attention SOURCES my_attention.cpp)
#   nanolab_add_contract_test(my_attention)   # a CTest test: the contract suite of its kind
#
# The result is a MODULE library named exactly <NAME>.so (no "lib" prefix), target
# nanolab_plugin_<NAME>, compiled with hidden visibility so that only the NANOLAB_PLUGIN entry
# point is exported, and with -fno-math-errno: std::sqrt then compiles to the SIMD instruction, so
# that elementwise loops over parameters (an optimizer's update) are vectorised; no plugin reads
# errno after a math function, and every result stays the same. It links nanolab::nanolab for the public headers; at run time its framework
# symbols resolve to the host's libnanolab.so (same soname), never to a second copy.
# In the nanolab tree it lands in NANOLAB_PLUGIN_OUTPUT_DIR (<build>/lib/nanolab/plugins), where
# the program finds it without any setting; out of tree it lands in the build folder and is found
# through NANOLAB_PLUGIN_PATH. It installs into <libdir>/nanolab/plugins.
#
# Options, for tests that build plugins outside the plugin folder:
#   OUTPUT_DIRECTORY dir   build the library into `dir` instead
#   NO_INSTALL             no install rule (test plugins are not shipped)
include_guard(GLOBAL)
include(GNUInstallDirs)

function(nanolab_add_plugin NAME)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "NO_INSTALL" "OUTPUT_DIRECTORY" "SOURCES")
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "nanolab_add_plugin(${NAME}): no SOURCES given")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "nanolab_add_plugin(${NAME}): unexpected arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  set(target nanolab_plugin_${NAME})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE nanolab::nanolab)
  target_compile_options(${target} PRIVATE -fno-math-errno)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${NAME}
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(DEFINED NANOLAB_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${NANOLAB_PLUGIN_OUTPUT_DIR})
  endif()
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/nanolab/plugins)
  endif()
endfunction()

# nanolab_add_contract_test(NAME): the CTest test NAME.contract, which runs nanolab's contract
# suites (tests/plugins/contract_*.cpp) on the plugin NAME built by nanolab_add_plugin: the suite
# binary finds it through NANOLAB_PLUGIN_PATH and runs every test parametrized by its name. It
# passes only if at least one test ran and none failed. Needs the suites, which a build tree of
# nanolab with its tests has (NANOLAB_CONTRACT_TESTS, set by nanolabConfig.cmake); without them it
# says so and adds no test.
function(nanolab_add_contract_test NAME)
  if(NOT NANOLAB_CONTRACT_TESTS)
    message(STATUS "nanolab_add_contract_test(${NAME}): this nanolab has no contract suites "
      "(an installed one); configure with -Dnanolab_DIR=<a nanolab build folder> to run them")
    return()
  endif()
  # The attention suite names its tests <plugin>_<position>, the others <plugin>.
  set(filter "Every/*/${NAME}")
  foreach(position learned rope alibi none)
    string(APPEND filter ":Every/*/${NAME}_${position}")
  endforeach()
  add_test(NAME ${NAME}.contract
    COMMAND ${CMAKE_COMMAND} -E env NANOLAB_PLUGIN_PATH=$<TARGET_FILE_DIR:nanolab_plugin_${NAME}>
      OMP_WAIT_POLICY=passive ${NANOLAB_CONTRACT_TESTS} --gtest_filter=${filter})
  set_tests_properties(${NAME}.contract PROPERTIES
    PASS_REGULAR_EXPRESSION "\\[  PASSED  \\] [1-9][0-9]* test"
    FAIL_REGULAR_EXPRESSION "\\[  FAILED  \\]")
endfunction()
