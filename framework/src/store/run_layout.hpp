// The names and columns of run.h5 shared by the writer (run_writer.cpp) and the reader
// (run_reader.cpp), so that the two can never disagree. The layout itself is documented in
// docs/run-format.md; a change here is a change of format_version.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nanolab/run_store.hpp"
#include "store/h5.hpp"

namespace nanolab::store {

inline constexpr const char* run_format = "nanolab-run";
inline constexpr int64_t run_format_version = 1;

inline constexpr const char* train_group = "metrics/train";
inline constexpr const char* val_group = "metrics/val";
inline constexpr const char* samples_group = "samples";

// The float32 columns beside each group's int64 `step` column.
struct TrainColumn {
  const char* name;
  float TrainRow::*field;
};
inline constexpr TrainColumn train_columns[] = {{"loss", &TrainRow::loss},
                                                {"lr", &TrainRow::lr},
                                                {"grad_norm", &TrainRow::grad_norm},
                                                {"tokens_per_s", &TrainRow::tokens_per_s},
                                                {"elapsed_s", &TrainRow::elapsed_s}};
struct ValColumn {
  const char* name;
  float ValRow::*field;
};
inline constexpr ValColumn val_columns[] = {{"loss", &ValRow::loss},
                                            {"train_loss", &ValRow::train_loss},
                                            {"accuracy", &ValRow::accuracy}};

// A file that HDF5 reads but that is not a run (or is a run of a newer format): reading it
// again would not change that.
struct NotARun : StorageError {
  using StorageError::StorageError;
};

inline void require_run_format(hid_t f, const std::filesystem::path& file) {
  if (!has_attr(f, "format") || read_string_attr(f, "format", file) != run_format)
    throw NotARun(file.string() + ": not a nanolab run (no format attribute \"" + run_format +
                  "\")");
  const int64_t version = read_int_attr(f, "format_version", file);
  if (version > run_format_version)
    throw NotARun(file.string() + ": written by a newer nanolab (format_version " +
                  std::to_string(version) + "; this one reads up to " +
                  std::to_string(run_format_version) + ")");
}

inline std::string column(const char* group, const char* name) {
  return std::string(group) + "/" + name;
}

// The HDF5 path of a group of /metrics ("loss" -> "metrics/loss").
inline std::string recorded_group(const std::string& group) { return "metrics/" + group; }

// The groups of /metrics ("train", "val", "loss"...).
inline std::vector<std::string> metric_groups(hid_t f, const std::filesystem::path& file) {
  Handle metrics = open_group(f, "metrics", file);
  return link_names(metrics, file);
}

// The columns of /metrics/<group> other than its step column.
inline std::vector<std::string> metric_columns(hid_t f, const std::string& group,
                                               const std::filesystem::path& file) {
  Handle g = open_group(f, recorded_group(group), file);
  std::vector<std::string> columns = link_names(g, file);
  std::erase(columns, std::string("step"));
  return columns;
}

// The names of a column table, for code that handles every column of a group alike.
template <class Columns>
std::vector<const char*> names_of(const Columns& columns) {
  std::vector<const char*> names;
  for (const auto& c : columns) names.push_back(c.name);
  return names;
}

}  // namespace nanolab::store
