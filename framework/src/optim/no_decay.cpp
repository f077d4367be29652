// optimizer.no_decay (no_decay.hpp).
#include "optim/no_decay.hpp"

#include <fnmatch.h>

#include "nanolab/did_you_mean.hpp"
#include "nanolab/errors.hpp"

namespace nanolab::optim {

void apply_no_decay(Gpt& model, const std::vector<std::string>& patterns) {
  std::vector<std::string> names;
  for (const Parameter& p : model.parameters()) names.push_back(p.name);
  for (const std::string& pattern : patterns) {
    bool matched = false;
    for (size_t i = 0; i < names.size(); ++i)
      if (fnmatch(pattern.c_str(), names[i].c_str(), 0) == 0) {
        model.set_decay(i, false);
        matched = true;
      }
    if (!matched)
      throw ConfigError("optimizer.no_decay: the pattern '" + pattern +
                        "' matches no parameter of the model" +
                        did_you_mean_hint(pattern, names) +
                        "\nhint: patterns are globs on parameter names ('*' matches any "
                        "characters, dots too), e.g. \"wpe.*\" or \"h.*.attn.*\"; a run's parameter "
                        "names are the datasets under /model in its checkpoint.h5");
  }
}

}  // namespace nanolab::optim
