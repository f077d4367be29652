// The plugin probe (probe.hpp): the child's side (probe_main) and the parent's (probe_plugins).
//
// A record is a sequence of fields, each written `<length>:<bytes>`, and travels as one field
// itself, so the parent knows when a record is complete. Numbers are written exactly: integers in
// decimal, doubles in C's hexadecimal form (%a). The child's stdout goes to /dev/null (a plugin
// may print while it loads) and its stderr is kept, so that a crash can be told with the first
// line the child printed (a sanitizer's report, std::terminate's message).
#include "plugin/probe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "plugin/loader.hpp"

extern char** environ;

namespace nanolab::plugin {
namespace {

constexpr int record_fd = 3;               // where the child writes its records
constexpr size_t max_record = 16u << 20;   // far above any real descriptor
constexpr int max_option_depth = 16;       // tables of options nested deeper are refused
constexpr size_t max_stderr = 64u << 10;   // the child's stderr kept for the message
constexpr std::string_view ready_record = "ready";  // the child's first record

// ---- the record format ----------------------------------------------------------------------

void put(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

std::string hex_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

struct Malformed : std::runtime_error {
  Malformed() : std::runtime_error("malformed record") {}
};

// The next field of `in`, consumed; nullopt when `in` does not yet hold a whole field.
std::optional<std::string_view> next_field(std::string_view& in) {
  size_t colon = in.find(':');
  if (colon == std::string_view::npos) {
    if (in.size() > 9 || in.find_first_not_of("0123456789") != std::string_view::npos)
      throw Malformed();
    return std::nullopt;
  }
  if (colon == 0 || colon > 9 || in.substr(0, colon).find_first_not_of("0123456789") !=
                                     std::string_view::npos)
    throw Malformed();
  const size_t size = std::stoul(std::string(in.substr(0, colon)));
  if (size > max_record) throw Malformed();
  if (in.size() - colon - 1 < size) return std::nullopt;
  auto field = in.substr(colon + 1, size);
  in.remove_prefix(colon + 1 + size);
  return field;
}

std::string take(std::string_view& in) {
  auto field = next_field(in);
  if (!field) throw Malformed();
  return std::string(*field);
}

long long take_integer(std::string_view& in) {
  const std::string s = take(in);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end || errno) throw Malformed();
  return v;
}

double parse_double(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end) throw Malformed();
  return v;
}

double take_double(std::string_view& in) { return parse_double(take(in)); }

void put_value(std::string& out, const OptionValue& v) {
  put(out, std::to_string(v.index()));
  if (auto* b = std::get_if<bool>(&v)) put(out, *b ? "1" : "0");
  if (auto* i = std::get_if<int64_t>(&v)) put(out, std::to_string(*i));
  if (auto* d = std::get_if<double>(&v)) put(out, hex_double(*d));
  if (auto* s = std::get_if<std::string>(&v)) put(out, *s);
  if (auto* list = std::get_if<std::vector<double>>(&v)) {
    put(out, std::to_string(list->size()));
    for (double d : *list) put(out, hex_double(d));
  }
  if (auto* list = std::get_if<std::vector<std::string>>(&v)) {
    put(out, std::to_string(list->size()));
    for (const std::string& item : *list) put(out, item);
  }
}

size_t take_count(std::string_view& in) {
  const long long n = take_integer(in);
  if (n < 0 || size_t(n) > max_record) throw Malformed();
  return size_t(n);
}

OptionValue take_value(std::string_view& in) {
  switch (take_integer(in)) {
    case 0: return take_integer(in) != 0;
    case 1: return int64_t(take_integer(in));
    case 2: return take_double(in);
    case 3: return take(in);
    case 4: {
      std::vector<double> list(take_count(in));
      for (double& d : list) d = take_double(in);
      return list;
    }
    case 5: {
      std::vector<std::string> list(take_count(in));
      for (std::string& item : list) item = take(in);
      return list;
    }
  }
  throw Malformed();
}

// A bound is "" (none), or "[" or "(" (closed or open) followed by its value.
void put_bound(std::string& out, const std::optional<Bound>& bound) {
  std::string text;  // built by appending: GCC 12 warns falsely (-Wrestrict) on "(" + string
  if (bound) text.append(bound->exclusive ? "(" : "[").append(hex_double(bound->value));
  put(out, text);
}

std::optional<Bound> take_bound(std::string_view& in) {
  const std::string s = take(in);
  if (s.empty()) return std::nullopt;
  if (s[0] != '(' && s[0] != '[') throw Malformed();
  return Bound(parse_double(s.substr(1)), s[0] == '(');
}

// The options, each with the fields of a table option after it, in turn.
void put_options(std::string& out, const std::vector<OptionSpec>& options) {
  put(out, std::to_string(options.size()));
  for (const OptionSpec& o : options) {
    put(out, o.name);
    put(out, std::to_string(int(o.type)));
    put_value(out, o.default_value);
    put_bound(out, o.min);
    put_bound(out, o.max);
    put(out, std::to_string(o.choices.size()));
    for (const auto& c : o.choices) put(out, c);
    put(out, o.doc);
    put(out, o.length ? std::to_string(*o.length) : "");
    put_options(out, o.fields);
  }
}

std::vector<OptionSpec> take_options(std::string_view& in, int depth) {
  if (depth > max_option_depth) throw Malformed();
  std::vector<OptionSpec> options;
  for (long long n = take_integer(in); n > 0; --n) {
    OptionSpec o;
    o.name = take(in);
    const long long type = take_integer(in);
    if (type < 0 || type > int(OptionType::table)) throw Malformed();
    o.type = OptionType(type);
    o.default_value = take_value(in);
    o.min = take_bound(in);
    o.max = take_bound(in);
    for (long long c = take_integer(in); c > 0; --c) o.choices.push_back(take(in));
    o.doc = take(in);
    if (const std::string length = take(in); !length.empty()) {
      const long long n = std::strtoll(length.c_str(), nullptr, 10);
      if (n < 0 || size_t(n) > max_record || std::to_string(n) != length) throw Malformed();
      o.length = size_t(n);
    }
    o.fields = take_options(in, depth + 1);
    options.push_back(std::move(o));
  }
  return options;
}

std::string plugin_record(const PluginDescriptor& d, const std::string& sha256) {
  std::string out;
  put(out, "plugin");
  put(out, std::to_string(int(d.kind)));
  put(out, d.name);
  put(out, d.version);
  put(out, d.description);
  put(out, sha256);
  put_options(out, d.options);
  return out;
}

std::string problem_record(const std::string& message) {
  std::string out;
  put(out, "problem");
  put(out, message);
  return out;
}

ProbeResult read_record(std::string_view in) {
  ProbeResult r;
  const std::string tag = take(in);
  if (tag == "problem") {
    r.problem = take(in);
  } else if (tag == "plugin") {
    PluginDescriptor d;
    const long long kind = take_integer(in);
    if (kind < 0 || size_t(kind) >= plugin_kind_count) throw Malformed();
    d.kind = PluginKind(kind);
    d.name = take(in);
    d.version = take(in);
    d.description = take(in);
    r.sha256 = take(in);
    d.options = take_options(in, 0);
    r.descriptor = std::move(d);
  } else {
    throw Malformed();
  }
  if (!in.empty()) throw Malformed();
  return r;
}

// ---- the parent's side ----------------------------------------------------------------------

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

// A close-on-exec pipe whose ends are above the standard descriptors and `record_fd`, so that
// the child's dup2 onto 2 and 3 always copies (and so clears close-on-exec).
bool make_pipe(int ends[2]) {
  int raw[2];
  if (::pipe2(raw, O_CLOEXEC) != 0) return false;
  for (int i = 0; i < 2; ++i) {
    ends[i] = ::fcntl(raw[i], F_DUPFD_CLOEXEC, 10);
    ::close(raw[i]);
  }
  return ends[0] >= 0 && ends[1] >= 0;
}

// What the child printed that tells the most, for the message: a sanitizer's report line
// ("ERROR: AddressSanitizer: SEGV on unknown address ...", "... runtime error: ..."), or else its
// first line with a word in it (std::terminate's message).
std::string first_words(const std::string& err) {
  auto cut = [](std::string line) {
    line.erase(0, std::min(line.size(), line.find_first_not_of(" \t=")));
    return line.size() > 200 ? line.substr(0, 200) + "..." : line;
  };
  std::string first;
  size_t start = 0;
  while (start < err.size()) {
    size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    const std::string line = err.substr(start, end - start);
    if (const size_t at = line.find("ERROR: "); at != std::string::npos)
      return cut(line.substr(at + 7));
    if (line.find("runtime error: ") != std::string::npos) return cut(line);
    if (first.empty() && std::any_of(line.begin(), line.end(), [](char c) {
          return std::isalpha(static_cast<unsigned char>(c)) != 0;
        }))
      first = cut(line);
    start = end + 1;
  }
  return first;
}

// How the probe process ended, for a message: "signal 11 (SIGSEGV, Segmentation fault)".
std::string how_it_ended(int status, const std::string& err) {
  const std::string said = first_words(err);
  const std::string tail = said.empty() ? "" : "; it printed: " + said;
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "signal " + std::to_string(sig) + " (" +
           (abbrev ? std::string("SIG") + abbrev + ", " : std::string()) + strsignal(sig) + ")" +
           tail;
  }
  return "exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + tail;
}

// What the file being loaded did to the probe, as the problem's text.
std::string crash_message(bool timed_out, int status, const std::string& err) {
  const std::string what =
      ": its static constructors or its entry point nanolab_plugin_v1 (which must be the function "
      "NANOLAB_PLUGIN exports) are broken; nanolab did not load it";
  if (timed_out)
    return "did not finish loading within " + std::to_string(probe_timeout.count()) +
           " s in the plugin probe process, which was stopped" + what;
  return "crashed the plugin probe process while loading, with " + how_it_ended(status, err) +
         what;
}

// One probe process over files[first..]: the records it wrote, in order, and how it ended.
struct Session {
  std::vector<ProbeResult> results;
  bool started = false;
  std::string start_error;
  bool ready = false;  // the probe program started and wrote its first record
  bool timed_out = false;
  bool malformed = false;
  int status = 0;
  std::string err;
};

Session run_session(const std::vector<std::filesystem::path>& files, size_t first) {
  Session s;
  const auto program = probe_program();
  int records[2], errors[2];
  if (!make_pipe(records) || !make_pipe(errors)) {
    s.start_error = std::string("cannot make a pipe: ") + std::strerror(errno);
    return s;
  }
  std::vector<std::string> args = {program.string()};
  for (size_t i = first; i < files.size(); ++i) args.push_back(files[i].string());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, errors[1], 2);
  posix_spawn_file_actions_adddup2(&actions, records[1], record_fd);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int spawn_error = posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(records[1]);
  ::close(errors[1]);
  if (spawn_error != 0) {
    ::close(records[0]);
    ::close(errors[0]);
    s.start_error = "cannot start the plugin probe " + program.string() + ": " +
                    std::strerror(spawn_error);
    return s;
  }
  s.started = true;

  std::string buffer;
  bool errors_open = true;
  auto deadline = std::chrono::steady_clock::now() + probe_timeout;
  char chunk[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      s.timed_out = true;
      break;
    }
    pollfd fds[2] = {{records[0], POLLIN, 0}, {errors_open ? errors[0] : -1, POLLIN, 0}};
    if (::poll(fds, 2, int(left.count()) + 1) < 0) {
      if (errno == EINTR) continue;
      s.malformed = true;
      break;
    }
    if (fds[1].revents) {
      const ssize_t n = ::read(errors[0], chunk, sizeof chunk);
      if (n > 0 && s.err.size() < max_stderr) s.err.append(chunk, size_t(n));
      if (n == 0 || (n < 0 && errno != EINTR)) errors_open = false;
    }
    if (fds[0].revents) {
      const ssize_t n = ::read(records[0], chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the child closed its end: it has ended
      buffer.append(chunk, size_t(n));
      try {
        std::string_view view = buffer;
        while (auto record = next_field(view)) {
          deadline = std::chrono::steady_clock::now() + probe_timeout;  // for the next file
          if (s.ready) {
            s.results.push_back(read_record(*record));
          } else if (*record == ready_record) {
            s.ready = true;
          } else {
            throw Malformed();
          }
        }
        buffer.erase(0, buffer.size() - view.size());
      } catch (const std::exception&) {
        s.malformed = true;
        break;
      }
    }
  }
  if (s.timed_out || s.malformed) ::kill(pid, SIGKILL);
  while (::waitpid(pid, &s.status, 0) < 0 && errno == EINTR) {
  }
  // What the child printed before it ended is all in the pipe now.
  for (pollfd fd{errors[0], POLLIN, 0}; errors_open && ::poll(&fd, 1, 0) > 0;) {
    const ssize_t n = ::read(errors[0], chunk, sizeof chunk);
    if (n <= 0) break;
    if (s.err.size() < max_stderr) s.err.append(chunk, size_t(n));
  }
  ::close(records[0]);
  ::close(errors[0]);
  return s;
}

}  // namespace

std::vector<ProbeResult> probe_plugins(const std::vector<std::filesystem::path>& files) {
  std::vector<ProbeResult> results;
  while (results.size() < files.size()) {
    Session s = run_session(files, results.size());
    if (s.started && !s.ready && !s.malformed)
      s.start_error = "the plugin probe " + probe_program().string() + " did not start (" +
                      (s.timed_out ? "no answer within " + std::to_string(probe_timeout.count()) +
                                         " s"
                                   : how_it_ended(s.status, s.err)) +
                      ")";
    if (!s.start_error.empty()) {
      while (results.size() < files.size()) results.push_back({{}, {}, s.start_error});
      break;
    }
    for (auto& r : s.results)
      if (results.size() < files.size()) results.push_back(std::move(r));
    if (results.size() == files.size()) break;
    // The file being read when the probe ended is the one that ended it.
    results.push_back({{}, {},
                       s.malformed ? "made the plugin probe process write an unreadable answer"
                                   : crash_message(s.timed_out, s.status, s.err)});
  }
  return results;
}

int probe_main(int argc, char** argv) {
  std::string ready;
  put(ready, ready_record);
  if (!write_all(record_fd, ready)) return 1;
  for (int i = 1; i < argc; ++i) {
    std::string record;
    try {
      const LoadedPlugin p = load_plugin(argv[i]);
      record = plugin_record(*p.descriptor, p.sha256);
    } catch (const std::exception& e) {
      record = problem_record(e.what());
    } catch (...) {
      record = problem_record("the loader failed with a non-standard exception");
    }
    std::string frame;
    put(frame, record);
    if (!write_all(record_fd, frame)) return 1;
  }
  return 0;
}

std::filesystem::path probe_program() {
  return default_plugin_dir().parent_path() / "nanolab-plugin-probe";
}

}  // namespace nanolab::plugin
