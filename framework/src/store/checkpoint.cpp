// Checkpoints: DIR/checkpoint.h5, written whole or not at all.
//
// The new checkpoint goes to checkpoint.h5.tmp, which is fsynced (HDF5 never fsyncs), renamed
// over checkpoint.h5, and then the directory is fsynced so the rename itself survives a power
// cut. Until the rename, checkpoint.h5 is the previous whole checkpoint; a .tmp left by a killed
// writer is never read and is overwritten by the next write.
//
// Corruption is caught by a sha256 over everything the checkpoint holds (the root attribute
// "sha256"; see digest()), because HDF5's default file format has no checksums of its own on raw
// data: a flipped bit in a weight would otherwise load silently.
//
// The run's identity (run_id, config_sha256) is in the root attributes. A checkpoint written
// before run ids has no run_id, and its sha256 is the one it was written with: the run_id is
// hashed only when there is one.
//
// The optimizer's scalars (a step count) are int64 attributes of the /optimizer group since
// format_version 2; version 1 kept its one scalar as a float tensor "step" in it, read into the
// scalars here (and hashed as it was written).
//
// Not a general tensor archive: float32 tensors only, the layout of docs/run-format.md.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "nanolab/run_store.hpp"
#include "config/loader.hpp"
#include "runtime/sha256.hpp"
#include "store/h5.hpp"

namespace nanolab {
namespace {

using store::Handle;

constexpr const char* checkpoint_format = "nanolab-checkpoint";
constexpr int64_t checkpoint_format_version = 2;
constexpr const char* hint =
    "\nhint: the checkpoint is incomplete or damaged (a crash while it was copied, a full or "
    "failing disk?); restore checkpoint.h5 from a copy, or start the run again from step 0: delete "
    "checkpoint.h5 and `nanolab resume` the run";

// HDF5 link names may hold any character but '/'; parameter names are dotted paths
// ("h.0.attn.c_attn.weight"), kept as they are. '%' is escaped too so that the map is 1:1.
std::string escape(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '%')
      out += "%25";
    else if (c == '/')
      out += "%2F";
    else
      out += c;
  }
  return out;
}

std::string unescape(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%' && name.compare(i, 3, "%25") == 0) {
      out += '%';
      i += 2;
    } else if (name[i] == '%' && name.compare(i, 3, "%2F") == 0) {
      out += '/';
      i += 2;
    } else {
      out += name[i];
    }
  }
  return out;
}

void feed(runtime::Sha256& h, std::string_view bytes) {
  const uint64_t n = bytes.size();  // length first: no two contents hash the same stream
  h.update(&n, sizeof n);
  h.update(bytes);
}

// sha256 of the step, run id (when there is one), counters, values, tokenizer, config, every
// tensor's name, shape and values, and the optimizer's scalars (version 2 on), in the maps'
// (sorted) order.
std::string digest(const Checkpoint& c, int64_t version) {
  runtime::Sha256 h;
  h.update(&c.step, sizeof c.step);
  if (!c.run_id.empty()) feed(h, c.run_id);
  for (const auto& [name, v] : c.counters) {
    feed(h, name);
    h.update(&v, sizeof v);
  }
  for (const auto& [name, v] : c.values) {
    feed(h, name);
    h.update(&v, sizeof v);
  }
  feed(h, c.tokenizer);
  feed(h, c.config_toml);
  for (const auto* tensors : {&c.model, &c.optimizer}) {
    feed(h, tensors == &c.model ? "model" : "optimizer");
    for (const auto& [name, t] : *tensors) {
      feed(h, name);
      const int64_t ndim = t.ndim();
      h.update(&ndim, sizeof ndim);
      h.update(t.shape().data(), sizeof(int64_t) * size_t(ndim));
      h.update(t.data(), sizeof(float) * size_t(t.numel()));
    }
  }
  if (version >= 2) {
    feed(h, "optimizer_scalars");
    for (const auto& [name, v] : c.optimizer_scalars) {
      feed(h, name);
      h.update(&v, sizeof v);
    }
  }
  return runtime::to_hex(h.finish());
}

void fsync_path(const std::filesystem::path& path, bool directory) {
  const int fd = open(path.c_str(), O_RDONLY | (directory ? O_DIRECTORY : 0));
  if (fd < 0 || fsync(fd) != 0) {
    const int saved = errno;
    if (fd >= 0) close(fd);
    throw StorageError(path.string() + ": could not sync to disk: " + std::strerror(saved) +
                       (saved == ENOSPC ? " (disk full?)" : ""));
  }
  close(fd);
}

void write_tensors(hid_t f, const char* group, const std::map<std::string, Tensor>& tensors,
                   const std::filesystem::path& file) {
  Handle g = store::create_group(f, group, file);
  for (const auto& [name, t] : tensors) {
    if (!t.defined())
      throw Error(ExitCode::internal, "checkpoint: tensor " + std::string(group) + "/" + name +
                                          " is undefined");
    std::vector<hsize_t> dims(t.shape().data(), t.shape().data() + t.ndim());
    store::write_floats(g, escape(name), dims, t.data(), file);
  }
}

std::map<std::string, Tensor> read_tensors(hid_t f, const char* group,
                                           const std::filesystem::path& file) {
  std::map<std::string, Tensor> tensors;
  Handle g = store::open_group(f, group, file);
  for (const auto& link : store::link_names(g, file)) {
    const std::vector<hsize_t> dims = store::dataset_dims(g, link, file);
    std::vector<int64_t> shape(dims.begin(), dims.end());
    Tensor t = Tensor::empty(Shape::of(shape.data(), int(shape.size())));
    store::read_floats(g, link, t.data(), file);
    tensors.emplace(unescape(link), std::move(t));
  }
  return tensors;
}

Checkpoint read_file(const std::filesystem::path& file) {
  Handle f = store::open_file(file, H5F_ACC_RDONLY);
  if (!store::has_attr(f, "format") ||
      store::read_string_attr(f, "format", file) != checkpoint_format)
    throw CheckpointError(file.string() + ": not a nanolab checkpoint (no format attribute \"" +
                          checkpoint_format + "\")" + hint);
  const int64_t version = store::read_int_attr(f, "format_version", file);
  if (version > checkpoint_format_version)
    throw CheckpointError(file.string() + ": written by a newer nanolab (format_version " +
                          std::to_string(version) + "; this one reads up to " +
                          std::to_string(checkpoint_format_version) + ")");
  Checkpoint c;
  c.step = store::read_int_attr(f, "step", file);
  if (store::has_attr(f, "run_id")) c.run_id = store::read_string_attr(f, "run_id", file);
  {
    Handle g = store::open_group(f, "counters", file);
    for (const auto& name : store::attr_names(g, file))
      c.counters[name] = store::read_int_attr(g, name, file);
  }
  {
    Handle g = store::open_group(f, "values", file);
    for (const auto& name : store::attr_names(g, file))
      c.values[name] = store::read_double_attr(g, name, file);
  }
  c.tokenizer = store::read_bytes(f, "tokenizer", file);
  c.config_toml = store::read_string(f, "config", file);
  c.model = read_tensors(f, "model", file);
  c.optimizer = read_tensors(f, "optimizer", file);
  if (version >= 2) {
    Handle g = store::open_group(f, "optimizer", file);
    for (const auto& name : store::attr_names(g, file))
      c.optimizer_scalars[name] = store::read_int_attr(g, name, file);
  }
  const std::string stored = store::read_string_attr(f, "sha256", file);
  const std::string actual = digest(c, version);
  if (stored != actual)
    throw CheckpointError(file.string() + ": corrupt: its contents hash to sha256 " + actual +
                          " but it was written with " + stored + hint);
  c.format_version = version;
  if (version == 1) {
    auto it = c.optimizer.find("step");
    if (it != c.optimizer.end()) {
      const Tensor& t = it->second;
      const float v = t.numel() == 1 ? t.data()[0] : -1.0f;
      if (!(v >= 0.0f && v == std::floor(v)))
        throw CheckpointError(file.string() + ": /optimizer/step must be one whole number >= 0, "
                              "got a tensor " + t.shape().str() + hint);
      c.optimizer_scalars["step"] = int64_t(v);
      c.optimizer.erase(it);
    }
  }
  return c;
}

}  // namespace

void write_checkpoint(const std::filesystem::path& dir, const Checkpoint& checkpoint) {
  store::quiet_errors();
  const auto tmp = dir / "checkpoint.h5.tmp";
  try {
    // TRUNC is safe here, unlike for run.h5: only the holder of the run lock writes checkpoints.
    Handle f = store::create_file(tmp, true);
    store::write_attr(f, "format", std::string(checkpoint_format), tmp);
    store::write_attr(f, "format_version", checkpoint_format_version, tmp);
    store::write_attr(f, "step", checkpoint.step, tmp);
    if (!checkpoint.run_id.empty()) store::write_attr(f, "run_id", checkpoint.run_id, tmp);
    store::write_attr(f, "config_sha256", config_sha256(checkpoint.config_toml), tmp);
    store::write_attr(f, "sha256", digest(checkpoint, checkpoint_format_version), tmp);
    {
      Handle g = store::create_group(f, "counters", tmp);
      for (const auto& [name, v] : checkpoint.counters) store::write_attr(g, name, v, tmp);
    }
    {
      Handle g = store::create_group(f, "values", tmp);
      for (const auto& [name, v] : checkpoint.values) store::write_attr(g, name, v, tmp);
    }
    store::write_bytes(f, "tokenizer", checkpoint.tokenizer, tmp);
    store::write_string(f, "config", checkpoint.config_toml, tmp);
    write_tensors(f, "model", checkpoint.model, tmp);
    write_tensors(f, "optimizer", checkpoint.optimizer, tmp);
    {
      Handle g = store::open_group(f, "optimizer", tmp);
      for (const auto& [name, v] : checkpoint.optimizer_scalars) store::write_attr(g, name, v, tmp);
    }
    store::close_file(f, tmp);
    fsync_path(tmp, false);
  } catch (...) {
    // A partial .tmp is useless; removing it gives back the space a full disk needs.
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  const auto final_file = dir / "checkpoint.h5";
  if (rename(tmp.c_str(), final_file.c_str()) != 0)
    throw StorageError(final_file.string() + ": could not rename " + tmp.string() + " to it: " +
                       std::strerror(errno));
  fsync_path(dir, true);
}

Checkpoint read_checkpoint(const std::filesystem::path& dir) {
  store::quiet_errors();
  const auto file = dir / "checkpoint.h5";
  if (!std::filesystem::exists(file))
    throw CheckpointError(file.string() +
                          ": no checkpoint (the run stopped before it wrote its first one)"
                          "\nhint: `nanolab resume " + dir.string() +
                          "` trains the run again from step 0");
  try {
    return read_file(file);
  } catch (const StorageError& e) {
    throw CheckpointError(e.what() + std::string(hint));
  } catch (const ShapeError& e) {
    throw CheckpointError(file.string() + ": a tensor has an impossible shape: " + e.what() + hint);
  }
}

std::string config_sha256(const std::string& config_toml) {
  return runtime::sha256_hex(config_toml);
}

bool require_checkpoint_of(const RunLog& run, const Checkpoint& checkpoint,
                           const std::filesystem::path& dir) {
  const bool same_id = run.run_id == checkpoint.run_id;
  // A run extended by `resume --set train.max_iters=N` holds the new length in run.h5 before its
  // next checkpoint does: a configuration that differs in train.max_iters alone is the same.
  const bool same_config = run.config_toml == checkpoint.config_toml ||
                           config::with_max_iters(run.config_toml, 0) ==
                               config::with_max_iters(checkpoint.config_toml, 0);
  if (same_id && same_config) return !run.run_id.empty();
  const auto identity = [](const std::string& id, const std::string& config) {
    return (id.empty() ? std::string("no run_id (written before run ids)") : "run_id " + id) +
           ", config_sha256 " + config_sha256(config);
  };
  const std::string differs = !same_id && !same_config ? "another run and another configuration"
                              : !same_id               ? "another run"
                                                       : "another configuration";
  throw CheckpointError((dir / "checkpoint.h5").string() + " belongs to " + differs +
                        ": the checkpoint has " +
                        identity(checkpoint.run_id, checkpoint.config_toml) + "; " +
                        (dir / "run.h5").string() + " has " +
                        identity(run.run_id, run.config_toml) +
                        "\nhint: put this run's own checkpoint.h5 back (or delete checkpoint.h5 to "
                        "train the run again from step 0), or resume the checkpoint in the "
                        "directory of the run that wrote it");
}

}  // namespace nanolab
