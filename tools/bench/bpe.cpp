// The bpe tokenizer plugin on tiny Shakespeare (docs/tokenizers.md): encode throughput with GPT-2's
// vocabulary, against the npm tiktoken package on the same file (one thread; skipped, saying so,
// without node and tools/reference/tiktoken/node_modules), and training time for vocab 4096 with
// the GPT-2 and GPT-4 patterns and for vocab 20,000, on the thread count of NANOLAB_THREADS (the
// framework fixes it once per process: run it with 1, then 2). The training on the large corpus
// against spm_train is tools/bench/bpe_corpus.sh (two processes, for their peak RSS).
// In the same run, SentencePiece's `spm_train --model_type=bpe` (Debian `sentencepiece`) trains
// vocab 4096 on the same file with as many threads, timed by wall clock around the process
// (including its start and model write, as a user sees it); skipped, saying so, without it.
// Median of a few runs. Reads $NANOLAB_DATA/tinyshakespeare/input.txt and
// $NANOLAB_DATA/gpt2/{encoder.json,vocab.bpe}. Not a test: it prints, and checks nothing but the
// exit status of spm_train.
//   bench_bpe [--encode FILE [MB]]
//   bench_bpe --cold FILE [MB] [REPS]
// --encode also times the encoding of the first MB megabytes (default 32) of FILE (a large corpus,
// such as datasets/linux_source's), by nanolab and by npm tiktoken, median of 3.
// --cold does only this: REPS (default 5) cold encodes of the first MB megabytes of FILE with
// GPT-2's vocabulary, each by a tokenizer just made (its chunk caches empty, as one pass over a
// large file finds them), printing for each its wall time and its CPU time (user + system, from
// getrusage, so that the figure holds on a machine shared with other jobs), then their medians.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "nanolab/registry.hpp"
#include "nanolab/runtime.hpp"

using namespace nanolab;

namespace {

double median_seconds(int reps, const std::function<void()>& f) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "bench_bpe: cannot read %s (set NANOLAB_DATA)\n", path.c_str());
    std::exit(3);
  }
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Encodes `path` (holding `text`) with `gpt2` and with npm tiktoken (one thread; skipped, saying
// so, without node and its package), each the median of `reps`: tokens, seconds, MB/s and the ratio.
void encode_both(Tokenizer& gpt2, const std::string& name, const std::string& path,
                 const std::string& text, int reps) {
  const double mb = double(text.size()) / 1e6;
  size_t n = 0;
  const double s = median_seconds(reps, [&] { n = gpt2.encode(text).size(); });
  std::printf("encode %s, GPT-2 vocab, %d thread(s): %zu tokens, %.3f s, %.1f MB/s\n", name.c_str(),
              runtime::num_threads(), n, s, mb / s);
  const std::filesystem::path tiktoken =
      std::filesystem::path(NANOLAB_SOURCE_DIR) / "tools/reference/tiktoken";
  if (std::system("command -v node > /dev/null") != 0 ||
      !std::filesystem::exists(tiktoken / "node_modules/tiktoken")) {
    std::printf("npm tiktoken: not installed (npm ci in %s), not measured\n", tiktoken.c_str());
    return;
  }
  const std::string node = "node " + (tiktoken / "tiktoken_ids.cjs").string() + " time gpt2 " +
                           path + " " + std::to_string(reps);
  FILE* out = popen(node.c_str(), "r");
  double node_s = 0;
  size_t node_n = 0;
  const bool read = out && std::fscanf(out, "%lf %zu", &node_s, &node_n) == 2;
  if (out) pclose(out);
  if (!read) {
    std::printf("npm tiktoken: failed (%s)\n", node.c_str());
    return;
  }
  std::printf("encode %s, npm tiktoken gpt2, 1 thread: %zu tokens, %.3f s, %.1f MB/s; "
              "nanolab/tiktoken %.1fx\n",
              name.c_str(), node_n, node_s, mb / node_s, node_s / s);
}

// User + system CPU seconds of this process so far (all its threads).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// --cold: `reps` encodes of `text`, each by a fresh GPT-2 tokenizer; wall and CPU time of each.
int cold_encodes(const std::string& data, const std::string& text, int reps) {
  const double mb = double(text.size()) / 1e6;
  std::vector<double> wall, cpu;
  size_t n = 0;
  for (int r = 0; r < reps; ++r) {
    auto gpt2 = Registry::instance().make<PluginKind::tokenizer>(
        "bpe",
        {{"encoder_json", data + "/gpt2/encoder.json"}, {"vocab_bpe", data + "/gpt2/vocab.bpe"}});
    const double cpu0 = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    n = gpt2->encode(text).size();
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    cpu.push_back(cpu_seconds() - cpu0);
    std::printf("cold encode %d: %zu tokens, wall %.3f s (%.1f MB/s), CPU %.3f s (%.1f MB per "
                "CPU-second)\n",
                r + 1, n, wall.back(), mb / wall.back(), cpu.back(), mb / cpu.back());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  const double w = wall[wall.size() / 2], c = cpu[cpu.size() / 2];
  std::printf("median of %d cold encodes of %.1f MB, %d thread(s): wall %.3f s (%.1f MB/s), "
              "CPU %.3f s (%.1f MB per CPU-second)\n",
              reps, mb, runtime::num_threads(), w, mb / w, c, mb / c);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* env = std::getenv("NANOLAB_DATA");
  const std::string data = env ? env : "";
  if (argc >= 3 && std::string(argv[1]) == "--cold") {
    const double want_mb = argc >= 4 ? std::atof(argv[3]) : 32.0;
    return cold_encodes(data, read(argv[2]).substr(0, size_t(want_mb * 1e6)),
                        argc >= 5 ? std::max(1, std::atoi(argv[4])) : 5);
  }
  const std::string shakespeare = data + "/tinyshakespeare/input.txt";
  const std::string text = read(shakespeare);
  constexpr int reps = 5;

  auto gpt2 = Registry::instance().make<PluginKind::tokenizer>(
      "bpe", {{"encoder_json", data + "/gpt2/encoder.json"}, {"vocab_bpe", data + "/gpt2/vocab.bpe"}});
  std::printf("tiny Shakespeare: %zu bytes, median of %d, %d thread(s)\n", text.size(), reps,
              runtime::num_threads());
  encode_both(*gpt2, "tiny Shakespeare", shakespeare, text, reps);
  if (argc >= 3 && std::string(argv[1]) == "--encode") {
    const double want_mb = argc >= 4 ? std::atof(argv[3]) : 32.0;
    const std::string large = read(argv[2]).substr(0, size_t(want_mb * 1e6));
    const std::filesystem::path slice =
        std::filesystem::temp_directory_path() / ("bench_bpe_" + std::to_string(::getpid()) + ".txt");
    std::ofstream(slice, std::ios::binary) << large;
    encode_both(*gpt2, std::to_string(large.size() / 1000000) + " MB of " + argv[2], slice.string(),
                large, 3);
    std::filesystem::remove(slice);
  }
  for (const char* pattern : {"gpt2", "gpt4"}) {
    auto tok = Registry::instance().make<PluginKind::tokenizer>("bpe", {{"pattern", std::string(pattern)}});
    const double s = median_seconds(reps, [&] { tok->train(text, 4096); });
    std::printf("train vocab 4096, %s pattern: %.3f s\n", pattern, s);
  }
  {
    auto tok = Registry::instance().make<PluginKind::tokenizer>("bpe", {});
    const double s = median_seconds(reps, [&] { tok->train(text, 20000); });
    std::printf("train vocab 20000, gpt2 pattern: %.3f s\n", s);
  }

  if (std::system("command -v spm_train > /dev/null") != 0) {
    std::printf("spm_train: not found (apt-get install sentencepiece), not measured\n");
    return 0;
  }
  const std::filesystem::path prefix =
      std::filesystem::temp_directory_path() / ("bench_bpe_spm_" + std::to_string(::getpid()));
  const std::string spm = "spm_train --input=" + data + "/tinyshakespeare/input.txt" +
                          " --model_prefix=" + prefix.string() +
                          " --vocab_size=4096 --model_type=bpe --minloglevel=2 --num_threads=" +
                          std::to_string(runtime::num_threads()) + " > /dev/null 2>&1";
  bool failed = false;
  const double spm_s = median_seconds(reps, [&] { failed |= std::system(spm.c_str()) != 0; });
  std::filesystem::remove(prefix.string() + ".model");
  std::filesystem::remove(prefix.string() + ".vocab");
  if (failed) {
    std::fprintf(stderr, "bench_bpe: spm_train failed: %s\n", spm.c_str());
    return 1;
  }
  std::printf("spm_train --model_type=bpe vocab 4096, %d thread(s): %.3f s\n",
              runtime::num_threads(), spm_s);
  return 0;
}
