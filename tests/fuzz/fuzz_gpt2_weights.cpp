// libFuzzer target: GPT-2's weight file readers (nanolab/gpt2.hpp) on arbitrary bytes. The first
// byte picks the file name (model.safetensors or gpt2.bin: a file without llm.c's magic is read as
// llm.c's only when its name ends in .bin), the rest is the file. gpt2::read must return or throw
// CheckpointError; what it returns holds exactly GPT-2's parameters for the architecture it
// reports, each of its shape, and only finite values.
#include <cmath>

#include "fuzz_input.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/gpt2.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nanolab;
  if (size == 0) return 0;
  const auto file = fuzz::write_input(data[0] & 1 ? "gpt2.bin" : "model.safetensors", data + 1,
                                      size - 1);
  gpt2::Weights w;
  try {
    w = gpt2::read(file);
  } catch (const CheckpointError&) {
    return 0;
  }
  const auto shapes = gpt2::parameter_shapes(w.info.arch);
  if (w.tensors.size() != shapes.size())
    fuzz::violated("read gave " + std::to_string(w.tensors.size()) + " tensors for " +
                   std::to_string(shapes.size()) + " parameters");
  for (const auto& [name, shape] : shapes) {
    auto it = w.tensors.find(name);
    if (it == w.tensors.end()) fuzz::violated("read gave no " + name);
    if (it->second.shape() != shape) fuzz::violated(name + " has the wrong shape");
    for (int64_t i = 0; i < it->second.numel(); ++i)
      if (!std::isfinite(it->second.data()[i]))
        fuzz::violated(name + " holds a non-finite value at " + std::to_string(i));
  }
  return 0;
}
