// The `buildtrace` command: serve, worker, rebuild-metrics, simulate, diff, post, report, jobs,
// stats (src/cli/command_line.h).
#include "cli/command_line.h"

int main(int argc, char** argv) { return buildtrace::RunCommandLine(argc, argv); }
