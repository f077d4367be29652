// The HTTP side of `nanolab serve` (nanolab/serve.hpp): the only file that includes httplib.h.
// Routes map onto RunIndex (dashboard.hpp) and the embedded page (page_files.hpp); a thread
// re-reads the runs twice a second. Signals go to the main thread only, which waits for one and
// then stops the server.
#include "nanolab/serve.hpp"

#include <httplib.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "nanolab/interrupt.hpp"
#include "report/dashboard.hpp"
#include "report/page_files.hpp"

namespace nanolab::serve {
namespace {

using report::RunIndex;
using Request = httplib::Request;
using Response = httplib::Response;

constexpr auto refresh_interval = std::chrono::milliseconds(500);

void fail(Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(message + "\n", "text/plain; charset=utf-8");
}

void json_answer(Response& res, const std::string& text) {
  res.set_header("Cache-Control", "no-store");
  res.set_content(text, "application/json");
}

bool is_loopback_name(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == "[::1]";
}

// The host part of a Host header: "127.0.0.1:8080" -> 127.0.0.1, "[::1]:80" -> [::1].
std::string host_of(const std::string& header) {
  if (!header.empty() && header[0] == '[') return header.substr(0, header.find(']') + 1);
  return header.substr(0, header.find(':'));
}

// A whole number within [lo, hi] from the query, or `fallback` when absent; ConfigError else.
double query_number(const Request& req, const std::string& key, double fallback, double lo,
                    double hi) {
  if (!req.has_param(key)) return fallback;
  const std::string text = req.get_param_value(key);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(v >= lo && v <= hi))
    throw ConfigError(key + "=" + text + ": expected a number from " + std::to_string(lo) +
                      " to " + std::to_string(hi));
  return v;
}

// The query's ids=0,3,7 (empty when absent); ConfigError for one that is not a number.
std::vector<size_t> run_ids(const Request& req) {
  std::vector<size_t> out;
  std::stringstream ids(req.get_param_value("ids"));
  for (std::string id; std::getline(ids, id, ',');) {
    char* end = nullptr;
    const unsigned long n = std::strtoul(id.c_str(), &end, 10);
    if (id.empty() || *end || id[0] == '-' || n > 999999999)
      throw ConfigError("ids: '" + id + "' is not a run id (GET /api/runs lists them)");
    out.push_back(n);
  }
  return out;
}

report::MetricsQuery metrics_query(const Request& req) {
  report::MetricsQuery q;
  if (req.has_param("x")) q.x = report::parse_x_axis(req.get_param_value("x"));
  q.points = size_t(query_number(req, "points", 1000, 2, 1e6));
  q.lo = query_number(req, "lo", NAN, -1e300, 1e300);
  q.hi = query_number(req, "hi", NAN, -1e300, 1e300);
  q.since = int64_t(query_number(req, "since", -1, -1, 9e18));
  for (size_t i = 0; i < req.get_param_value_count("metric"); ++i)
    q.metrics.push_back(req.get_param_value("metric", i));
  return q;
}

std::string content_type(const std::filesystem::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".toml" || ext == ".txt" || ext == ".log" || ext == ".md") return "text/plain; charset=utf-8";
  if (ext == ".json") return "application/json";
  return "application/octet-stream";
}

// The file, streamed: a checkpoint can be larger than memory.
void send_file(Response& res, const std::filesystem::path& file) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(file, ec);
  auto in = std::make_shared<std::ifstream>(file, std::ios::binary);
  if (ec || !*in) return fail(res, 404, file.filename().string() + ": cannot be read");
  res.set_content_provider(size_t(size), content_type(file),
                           [in](size_t offset, size_t length, httplib::DataSink& sink) {
                             char buf[1 << 16];
                             in->seekg(std::streamoff(offset));
                             const size_t n = std::min(length, sizeof buf);
                             in->read(buf, std::streamsize(n));
                             if (in->gcount() <= 0) return false;
                             return sink.write(buf, size_t(in->gcount()));
                           });
}

void add_routes(httplib::Server& svr, RunIndex& index, bool loopback) {
  // Read-only, and (on loopback) only for pages that a loopback name loaded: a web page elsewhere
  // that resolves its own name to 127.0.0.1 cannot read the runs (DNS rebinding).
  svr.set_pre_routing_handler([loopback](const Request& req, Response& res) {
    if (req.method != "GET" && req.method != "HEAD") {
      res.set_header("Allow", "GET, HEAD");
      fail(res, 405, "nanolab serve is read-only: " + req.method + " is not allowed");
      return httplib::Server::HandlerResponse::Handled;
    }
    // Compression: none on loopback (sending is cheaper than compressing), gzip otherwise; never
    // brotli, which httplib prefers and which took 5 s for the 700 KB of /api/runs of a thousand
    // runs. httplib has no setting for it: the header is edited in the server's own request (a
    // non-const object that httplib hands on as const).
    auto& headers = const_cast<Request&>(req).headers;
    const bool gzip = !loopback && req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos;
    headers.erase("Accept-Encoding");
    if (gzip) headers.emplace("Accept-Encoding", "gzip");
    if (loopback && !is_loopback_name(host_of(req.get_header_value("Host")))) {
      fail(res, 403, "Host '" + req.get_header_value("Host") +
                         "' is not a loopback name: open the address nanolab serve printed");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_error_handler([](const Request& req, Response& res) {
    if (res.body.empty()) fail(res, res.status, req.path + ": not found");
  });
  svr.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const ConfigError& e) {
      fail(res, 400, e.what());
    } catch (const std::exception& e) {
      fail(res, 500, std::string("internal error: ") + e.what());
    }
  });

  for (const report::PageFile& f : report::page_files) {
    const auto handler = [&f](const Request&, Response& res) {
      res.set_content(f.text.data(), f.text.size(), std::string(f.type));
    };
    // The route is a regex: the name's dots match only dots.
    std::string route = "/";
    for (char c : f.name) route += c == '.' ? std::string("\\.") : std::string(1, c);
    svr.Get(route, handler);
    if (f.name == "index.html") svr.Get("/", handler);
  }
  svr.Get("/api/runs", [&index](const Request&, Response& res) {
    json_answer(res, index.runs_json());
  });
  svr.Get(R"(/api/runs/(\d{1,9})/metrics)", [&index](const Request& req, Response& res) {
    const auto text = index.metrics_json(std::stoul(req.matches[1].str()), metrics_query(req));
    if (!text) return fail(res, 404, "no run " + req.matches[1].str() + " (GET /api/runs lists them)");
    json_answer(res, *text);
  });
  svr.Get(R"(/api/runs/(\d{1,9})/samples)", [&index](const Request& req, Response& res) {
    const auto text = index.samples_json(std::stoul(req.matches[1].str()));
    if (!text) return fail(res, 404, "no run " + req.matches[1].str() + " (GET /api/runs lists them)");
    json_answer(res, *text);
  });
  // Several runs in one answer (ids=0,3,7): a page of a thousand runs asks once per chart.
  svr.Get("/api/metrics", [&index](const Request& req, Response& res) {
    const report::MetricsQuery q = metrics_query(req);
    std::string out = "[";
    for (size_t id : run_ids(req)) {
      const auto text = index.metrics_json(id, q);
      if (!text)
        return fail(res, 404, "ids: no run " + std::to_string(id) + " (GET /api/runs lists them)");
      out += (out.size() > 1 ? "," : "") + *text;
    }
    json_answer(res, out + "]");
  });
  // The compare table of `nanolab compare --group-seeds` (group_seeds=0: one row per run) of the
  // runs `ids` (all when absent), for the metric (val/loss when absent).
  svr.Get("/api/compare", [&index](const Request& req, Response& res) {
    report::CompareOptions options;
    if (req.has_param("metric"))
      options.metric = report::parse_metric(req.get_param_value("metric"));
    const std::string seeds =
        req.has_param("group_seeds") ? req.get_param_value("group_seeds") : "1";
    if (seeds != "0" && seeds != "1")
      throw ConfigError("group_seeds=" + seeds +
                        ": expected 1 (a row per seed group) or 0 (a row per run)");
    options.group_seeds = seeds == "1";
    const auto text = index.compare_json(options, run_ids(req));
    if (!text) return fail(res, 404, "ids: a run that GET /api/runs does not list");
    json_answer(res, *text);
  });
  svr.Get(R"(/files/(\d{1,9})(/.*)?)", [&index](const Request& req, Response& res) {
    const size_t root = std::stoul(req.matches[1].str());
    if (root >= index.roots().size()) return fail(res, 404, req.path + ": no such root");
    std::string rest = req.matches[2].str();
    if (!rest.empty()) rest.erase(0, 1);
    const report::FileLookup found = report::file_inside(index.roots()[root], rest);
    if (found.status == 403)
      return fail(res, 403, req.path + ": outside the served folders, or not a plain path");
    if (found.status != 200) return fail(res, 404, req.path + ": no such file");
    send_file(res, found.file);
  });
}

}  // namespace

void serve(const ServeOptions& options) {
  RunIndex index(options.roots);
  index.refresh();
  throw_if_interrupted();

  httplib::Server svr;
  // Connections are closed after each answer: a worker is then busy only while it answers, and
  // fifty clients that poll every second share the pool without waiting on idle connections.
  svr.new_task_queue = [] { return new httplib::ThreadPool(16); };
  svr.set_keep_alive_max_count(1);
  // Only SO_REUSEADDR: httplib's default adds SO_REUSEPORT, with which a second server on the same
  // port would start and silently take half of the connections.
  svr.set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  svr.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                           {"Content-Security-Policy",
                            "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                            "img-src 'self' data:"}});
  add_routes(svr, index, is_loopback_name(options.host));

  errno = 0;
  int port = options.port;
  const bool bound = port == 0 ? (port = svr.bind_to_any_port(options.host)) > 0
                               : svr.bind_to_port(options.host, port);
  if (!bound)
    throw ConfigError("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                      (errno ? std::string(": ") + std::strerror(errno) : std::string()) +
                      "\n    hint: --port N picks another port (--port 0: any free one)");

  // The server's threads start with SIGINT and SIGTERM blocked (they inherit this mask), so that
  // a signal always reaches this thread and never cuts a worker's system call short.
  sigset_t stop_signals, before;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &before);
  std::atomic<bool> listen_returned = false;
  std::thread listener([&] {
    svr.listen_after_bind();
    listen_returned = true;
  });
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread refresher([&] {
    std::unique_lock lock(mutex);
    while (!wake.wait_for(lock, refresh_interval, [&] { return stopping; })) {
      lock.unlock();
      index.refresh();
      lock.lock();
    }
  });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  // stop() does nothing to a server that is not running yet.
  while (!svr.is_running() && !listen_returned)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const std::string shown = options.host.find(':') != std::string::npos
                                ? "[" + options.host + "]"
                                : options.host;
  if (options.on_listening)
    options.on_listening("http://" + shown + ":" + std::to_string(port) + "/", index.size());
  while (!interrupted()) std::this_thread::sleep_for(std::chrono::milliseconds(50));

  svr.stop();
  listener.join();
  {
    std::lock_guard lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  refresher.join();
  throw_if_interrupted();
}

}  // namespace nanolab::serve
