// The JSON reader and writer of json.hpp over nlohmann-json: the library parses, a callback adds
// the refusals it does not make, and its parse errors are reworded as "at byte B: what".
#include "runtime/json.hpp"

#include <set>
#include <vector>

namespace nanolab::json {
namespace {

// The library's "[json.exception.parse_error.101] parse error at line 1, column 6: syntax error
// ..." without its prefix and position, which JsonError gives as a byte offset.
std::string reason(const nlohmann::json::exception& e) {
  const std::string what = e.what();
  const size_t head = what.find("] ");
  size_t from = head == std::string::npos ? 0 : head + 2;
  if (what.compare(from, 12, "parse error ") == 0) {
    const size_t colon = what.find(": ", from);
    from = colon == std::string::npos ? from : colon + 2;
  }
  return what.substr(from);
}

}  // namespace

Json parse(std::string_view text) {
  std::vector<std::set<std::string>> keys;  // of each object being read, outermost first
  const Json::parser_callback_t check = [&](int, Json::parse_event_t event, Json& parsed) {
    using E = Json::parse_event_t;
    if (event == E::object_start) {
      keys.emplace_back();
    } else if (event == E::object_end) {
      keys.pop_back();
    } else if (event == E::key && !keys.back().insert(parsed.get<std::string>()).second) {
      throw JsonError("the key " + dump(parsed) + " appears twice in one object");
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), check);
  } catch (const nlohmann::json::parse_error& e) {
    throw JsonError(e.byte > 0 ? e.byte - 1 : 0, reason(e));
  } catch (const nlohmann::json::exception& e) {  // a number out of double's range
    throw JsonError(reason(e));
  }
}

std::string describe(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "the number " + dump(v);
    case Json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      return "the string " + dump(s.size() > 40 ? s.substr(0, 40) + "..." : s);
    }
    case Json::value_t::array:
      return "an array";
    default:
      return "an object";
  }
}

std::string dump(const Json& v, int indent) {
  return v.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace nanolab::json
