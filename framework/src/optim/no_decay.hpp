// optimizer.no_decay: the experiment's name patterns of the parameters weight decay leaves alone.
//
// A pattern is a glob on the dotted parameter name (fnmatch(3) without flags: `*` is any run of
// characters, dots included, `?` one character, `[...]` a set), e.g. "wpe.*", "h.*.attn.*.bias".
// It turns `decay` off (parameter.hpp) on every parameter it matches; a pattern that matches no
// parameter of the model is a ConfigError naming it, with the closest name.
#pragma once

#include <string>
#include <vector>

#include "nanolab/model.hpp"

namespace nanolab::optim {

void apply_no_decay(Gpt& model, const std::vector<std::string>& patterns);

}  // namespace nanolab::optim
