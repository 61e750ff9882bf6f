// Writes two consecutive generated jobs of N objects as job files for `buildtrace diff`:
// make_job_pair N PREV.json CUR.json [--shuffle] [--seed S]. The second job is a realistic
// evolution of the first (see simulator/job_generator.h); --shuffle writes the second job's
// objects in an independent random order, as a client that does not keep the order would.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <string_view>

#include "simulator/job_generator.h"

namespace {

bool WriteFile(const char* path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: make_job_pair N PREV.json CUR.json [--shuffle] [--seed S]\n");
    return 2;
  }
  buildtrace::JobGenerator::Options options;
  options.objects = std::strtoull(argv[1], nullptr, 10);
  options.change_fraction = 0.1;
  options.failure_rate = 0;
  bool shuffle = false;
  for (int i = 4; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--shuffle") shuffle = true;
    if (arg == "--seed" && i + 1 < argc) options.seed = std::strtoull(argv[++i], nullptr, 10);
  }
  if (options.objects == 0) {
    std::fprintf(stderr, "make_job_pair: N must be a positive number of objects\n");
    return 2;
  }
  buildtrace::JobGenerator generator(options);
  const buildtrace::GeneratedJob previous = generator.Next();
  buildtrace::GeneratedJob current = generator.Next();
  if (shuffle) {
    std::mt19937_64 rng(options.seed ^ 0x5eed);
    std::shuffle(current.state.begin(), current.state.end(), rng);
  }
  if (!WriteFile(argv[2], buildtrace::GeneratedJobToJson(previous, "bench")) ||
      !WriteFile(argv[3], buildtrace::GeneratedJobToJson(current, "bench"))) {
    std::fprintf(stderr, "make_job_pair: cannot write the output files\n");
    return 1;
  }
  return 0;
}
