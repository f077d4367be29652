# The dashboard page of `nanolab serve`, embedded into libnanolab (framework/src/report/page_files.hpp).
# uPlot, its charting library (MIT license), comes from npm, pinned by
# framework/src/report/page/package-lock.json: `npm ci` installs it into the build folder when the
# folder does not hold that lock's version yet (once per build folder, at configure time). The
# page's own files and uPlot's become page_files.cpp, rewritten only when one of them changes.
# Sets NANOLAB_PAGE_SOURCE: the generated file, for the library's sources.
set(page_src ${PROJECT_SOURCE_DIR}/framework/src/report/page)
set(page_deps ${CMAKE_CURRENT_BINARY_DIR}/page_deps)
set(uplot ${page_deps}/node_modules/uplot)
file(READ ${page_src}/package-lock.json page_lock)
set(page_installed "")
if(EXISTS ${page_deps}/installed.lock)
  file(READ ${page_deps}/installed.lock page_installed)
endif()
if(NOT page_installed STREQUAL page_lock OR NOT EXISTS ${uplot}/dist/uPlot.iife.min.js)
  find_program(NANOLAB_NPM npm)
  if(NOT NANOLAB_NPM)
    message(FATAL_ERROR "npm not found: the page of `nanolab serve` embeds uPlot from npm; "
      "tools/install-deps.sh installs it (Debian: apt-get install npm); then configure again")
  endif()
  file(MAKE_DIRECTORY ${page_deps})
  configure_file(${page_src}/package.json ${page_deps}/package.json COPYONLY)
  configure_file(${page_src}/package-lock.json ${page_deps}/package-lock.json COPYONLY)
  message(STATUS "nanolab: npm ci in ${page_deps} (uPlot for the page of nanolab serve)")
  execute_process(COMMAND ${NANOLAB_NPM} ci --no-audit --no-fund --silent
    WORKING_DIRECTORY ${page_deps} RESULT_VARIABLE npm_status OUTPUT_VARIABLE npm_out
    ERROR_VARIABLE npm_out)
  if(NOT npm_status EQUAL 0 OR NOT EXISTS ${uplot}/dist/uPlot.iife.min.js)
    message(FATAL_ERROR "npm ci in ${page_deps} failed (${npm_status}): ${npm_out}")
  endif()
  file(WRITE ${page_deps}/installed.lock "${page_lock}")
endif()

# name served | file | Content-Type (each a UTF-8 text)
set(page_files
  "index.html|${page_src}/index.html|text/html"
  "dashboard.js|${page_src}/dashboard.js|text/javascript"
  "dashboard.css|${page_src}/dashboard.css|text/css"
  "uPlot.iife.min.js|${uplot}/dist/uPlot.iife.min.js|text/javascript"
  "uPlot.min.css|${uplot}/dist/uPlot.min.css|text/css"
  "uPlot-LICENSE.txt|${uplot}/LICENSE|text/plain")
set(page_cpp "// Generated from framework/src/report/page and uPlot by cmake/NanolabPage.cmake.\n")
string(APPEND page_cpp "#include \"report/page_files.hpp\"\nnamespace nanolab::report {\n")
string(APPEND page_cpp "using namespace std::string_view_literals;\n")
string(APPEND page_cpp "const std::vector<PageFile> page_files = {\n")
foreach(entry ${page_files})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 file)
  list(GET parts 2 type)
  file(READ ${file} text)
  string(APPEND page_cpp "{\"${name}\"sv, \"${type}; charset=utf-8\"sv, R\"nanolab_page(${text})nanolab_page\"sv},\n")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
endforeach()
string(APPEND page_cpp "};\n}  // namespace nanolab::report\n")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/page_files.cpp.new "${page_cpp}")
configure_file(${CMAKE_CURRENT_BINARY_DIR}/page_files.cpp.new
  ${CMAKE_CURRENT_BINARY_DIR}/page_files.cpp COPYONLY)
set(NANOLAB_PAGE_SOURCE ${CMAKE_CURRENT_BINARY_DIR}/page_files.cpp)
