// oneDNN engine, stream and primitive cache. See dnnl_context.hpp.
#include "runtime/dnnl_context.hpp"

#include "nanolab/runtime.hpp"

namespace nanolab::dnnl_ctx {
namespace {

struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = std::hash<const void*>()(k.op);
    for (int64_t x : k.v) h = h * 1000003u ^ std::hash<int64_t>()(x);
    return h;
  }
};

std::unordered_map<Key, Entry, KeyHash>& cache() {
  static std::unordered_map<Key, Entry, KeyHash> c;
  return c;
}
uint64_t created = 0;

}  // namespace

Key::Key(const char* op_, std::initializer_list<int64_t> values) : op(op_) {
  size_t i = 0;
  for (int64_t x : values) v.at(i++) = x;
}

dnnl::engine& engine() {
  static dnnl::engine e = [] {
    runtime::init_threads();  // the thread count is fixed when primitives are created
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

const Entry& get(const Key& key, const std::function<Entry()>& make) {
  auto& c = cache();
  auto it = c.find(key);
  if (it != c.end()) return it->second;
  ++created;
  return c.emplace(key, make()).first->second;
}

uint64_t primitives_created() { return created; }

dnnl::memory::desc plain_md(const dnnl::memory::dims& dims) {
  dnnl::memory::dims strides(dims.size());
  int64_t s = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = s;
    s *= dims[i];
  }
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

dnnl::memory mem(const dnnl::memory::desc& md, const float* data) {
  return dnnl::memory(md, engine(), const_cast<float*>(data));
}

void execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args) {
  p.execute(stream(), args);
  stream().wait();
}

}  // namespace nanolab::dnnl_ctx
