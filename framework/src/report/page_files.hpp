// The files of the dashboard page (framework/src/report/page/: the page, its script and style, and
// uPlot, the charting library, with its license), embedded into the library at build time by
// framework/CMakeLists.txt so that `nanolab serve` needs no file and no network to show them.
#pragma once

#include <string_view>
#include <vector>

namespace nanolab::report {

struct PageFile {
  std::string_view name;  // as served: "index.html", "uPlot.iife.min.js"
  std::string_view type;  // its Content-Type
  std::string_view text;
};
extern const std::vector<PageFile> page_files;

}  // namespace nanolab::report
