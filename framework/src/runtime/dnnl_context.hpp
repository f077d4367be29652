// oneDNN engine, stream and the op-level primitive cache. Internal.
//
// Every oneDNN primitive an op uses is created once per (op, shapes, flags) key and kept; the
// training step only looks it up and executes it. The number of creations is counted
// (runtime::stats().primitives_created) so that a test can prove a steady-state step creates none.
// Call only from the thread that runs the ops (see runtime.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

namespace nanolab::dnnl_ctx {

dnnl::engine& engine();
dnnl::stream& stream();

// Identifies one primitive: the op's kind tag plus up to 11 integers (dims, flags).
struct Key {
  Key(const char* op, std::initializer_list<int64_t> values);
  const char* op;
  std::array<int64_t, 11> v{};
  bool operator==(const Key& o) const { return op == o.op && v == o.v; }
};

struct Entry {
  dnnl::primitive primitive;
  dnnl::primitive_desc_base pd;  // for queries (memory descs) and as a backward hint
};

// The cached entry for `key`, created with `make` on first use.
const Entry& get(const Key& key, const std::function<Entry()>& make);

uint64_t primitives_created();

// Plain row-major f32 memory description of `dims`, and a memory over existing data.
dnnl::memory::desc plain_md(const dnnl::memory::dims& dims);
dnnl::memory mem(const dnnl::memory::desc& md, const float* data);

// Runs a primitive on the stream and waits for it.
void execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args);

}  // namespace nanolab::dnnl_ctx
