# Install rules of the framework and the CMake package that lets third parties build plugins
# against an installed nanolab (find_package(nanolab) + nanolab_add_plugin). Included once from
# the top-level CMakeLists.txt after the targets exist. The `nanolab` program installs itself
# (tools/nanolab) and each plugin through nanolab_add_plugin.
#
# Layout under the prefix:
#   lib/libnanolab.so*                          the framework
#   lib/nanolab/plugins/*.so                    the plugins (found relative to libnanolab.so)
#   include/nanolab/*.hpp                       the public headers
#   lib/cmake/nanolab/                          nanolabConfig.cmake, version, targets, NanolabPlugin.cmake
# The build folder holds the same package for the build tree (nanolabConfig.cmake, version,
# targets, NanolabPlugin.cmake), so that `cmake -Dnanolab_DIR=<build>` builds a plugin against it
# without an install; its config also names the contract suites (NANOLAB_CONTRACT_TESTS), which
# nanolab_add_contract_test runs on a plugin.
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(NANOLAB_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/nanolab)

install(TARGETS nanolab EXPORT nanolabTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/include/nanolab
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT nanolabTargets NAMESPACE nanolab:: DESTINATION ${NANOLAB_INSTALL_CMAKEDIR})

set(NANOLAB_CONTRACT_TESTS "")
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/nanolabConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/install/nanolabConfig.cmake
  INSTALL_DESTINATION ${NANOLAB_INSTALL_CMAKEDIR})
# A plugin asks for the nanolab major version it was written for; the plugin ABI itself is checked
# by the loader when the library is loaded (plugin.hpp).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nanolabConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/install/nanolabConfig.cmake
  ${PROJECT_BINARY_DIR}/nanolabConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/NanolabPlugin.cmake
  DESTINATION ${NANOLAB_INSTALL_CMAKEDIR})

# The build tree's package (see the top).
export(EXPORT nanolabTargets NAMESPACE nanolab:: FILE ${PROJECT_BINARY_DIR}/nanolabTargets.cmake)
configure_file(${CMAKE_CURRENT_LIST_DIR}/NanolabPlugin.cmake ${PROJECT_BINARY_DIR}/NanolabPlugin.cmake
  COPYONLY)
if(NANOLAB_BUILD_TESTS)
  set(NANOLAB_CONTRACT_TESTS "$<TARGET_FILE:nanolab_plugin_tests>")  # tests/CMakeLists.txt
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/nanolabConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/build/nanolabConfig.cmake.in
  INSTALL_DESTINATION ${PROJECT_BINARY_DIR} INSTALL_PREFIX ${PROJECT_BINARY_DIR})
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/nanolabConfig.cmake
  INPUT ${PROJECT_BINARY_DIR}/cmake/build/nanolabConfig.cmake.in)
