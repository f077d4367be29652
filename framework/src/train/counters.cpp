// Saving and restoring a run's counters (counters.hpp).
#include "train/counters.hpp"

#include <type_traits>

namespace nanolab::train_detail {

void Counters::save(Checkpoint& ck) const {
  ck.step = step;
  for_each_field(*this, [&](const char* name, const auto& field) {
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, int64_t>)
      ck.counters[name] = field;
    else
      ck.values[name] = field;
  });
}

Counters Counters::restore(const Checkpoint& ck) {
  Counters c;
  c.step = ck.step;
  for_each_field(c, [&](const char* name, auto& field) {
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, int64_t>) {
      auto it = ck.counters.find(name);
      field = it == ck.counters.end() ? 0 : it->second;
    } else {
      auto it = ck.values.find(name);
      field = it == ck.values.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
    }
  });
  return c;
}

}  // namespace nanolab::train_detail
