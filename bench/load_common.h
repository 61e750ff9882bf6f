// What the load generators under bench/ (load, soak) share: the guard that keeps them on
// loopback addresses, request bodies of generated jobs, latency quantiles and number flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/job_generator.h"

namespace buildtrace {

// True for "localhost", "::1" and any address of 127.0.0.0/8: the only hosts we load-test.
bool IsLoopbackHost(std::string_view host);

// A POST /process body: a JSON array of the generator's next `jobs` jobs, in `project`.
std::string JobBatchBody(JobGenerator& generator, int jobs, std::string_view project);

// Nearest rank: the smallest value with at least a share q of the values at or below it.
// `sorted` is in ascending order; 0 when it is empty.
double NearestRankQuantile(const std::vector<double>& sorted, double q);

// The value of a flag that takes a positive integer (a positive number), or nullopt when `text`
// is not one, whole.
std::optional<int64_t> ParsePositiveInteger(const char* text);
std::optional<double> ParsePositiveNumber(const char* text);

}  // namespace buildtrace
