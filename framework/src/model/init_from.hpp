// The init_from policy: what a GPT-2 weight file (gpt2_io.cpp) decides of an experiment that starts
// from it. The architecture is the file's (its header alone is read, gpt2::inspect): n_layer,
// n_embd, n_head and vocab_size are taken from it, and a key the experiment gave that disagrees is
// a problem naming both values, except a shorter data.block_size, which takes the first rows of wpe
// (nanoGPT's crop_block_size). bias is on and positions are learned, as GPT-2's. A file of GPT-2's
// vocabulary (50257, or nanoGPT's padded 50304) gets GPT-2's tokenizer from $NANOLAB_DATA/gpt2
// unless the experiment names a tokenizer. A damaged file is a CheckpointError (exit 7), thrown as
// it is. Not a loader: the file's path is already resolved, and the caller places each problem at
// the key it names (config/validate.cpp).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "nanolab/experiment.hpp"

namespace nanolab::model {

struct InitFromProblem {
  std::string key;  // the key the problem is reported at
  std::string message;
  std::string hint;
};

// Applies the file config.init_from (an existing path) to `config`. `given(key)` says whether the
// experiment set the key; keys in `refused` (their values were refused already) are neither checked
// nor taken, and the keys of the problems found here are added to it.
std::vector<InitFromProblem> apply_init_from(ExperimentConfig& config,
                                             const std::function<bool(const std::string&)>& given,
                                             std::set<std::string>& refused);

}  // namespace nanolab::model
