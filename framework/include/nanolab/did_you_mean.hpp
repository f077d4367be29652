// "Did you mean" for misspelled names: plugin names, plugin options, experiment keys.
//
// Suggests the candidate closest to what was typed by Levenshtein distance (insert, delete,
// substitute, each cost 1), as long as that distance is at most max(2, length of the typed
// name / 3): far enough to catch a typo or two, near enough not to suggest an unrelated name.
// Ties go to the earlier candidate, so callers pass candidates in a meaningful order. Public: the
// framework, the `nanolab` program and plugins (an option's choices) suggest names the same way.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nanolab/errors.hpp"

namespace nanolab {

NANOLAB_VISIBLE size_t edit_distance(std::string_view a, std::string_view b);

// The largest edit distance that is still a typo of `typed`: max(2, its length / 3).
NANOLAB_VISIBLE size_t typo_distance(std::string_view typed);

NANOLAB_VISIBLE std::optional<std::string> did_you_mean(std::string_view typed,
                                        const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" when nothing is close: appended to an error message.
NANOLAB_VISIBLE std::string did_you_mean_hint(std::string_view typed, const std::vector<std::string>& candidates);

}  // namespace nanolab
