// The full `buildtrace` binary, `buildtrace-full`: every command (serve, worker, rebuild-metrics,
// simulate, diff, post, report, jobs, stats; src/cli/command_line.h). Users run the front binary,
// `buildtrace` (front_main.cc), which runs `diff` itself and becomes this one for the rest.
#include <sys/prctl.h>

#include "cli/command_line.h"

int main(int argc, char** argv) {
  // The process's short name (top, pgrep -x, journald's _COMM) stays what users ran.
  ::prctl(PR_SET_NAME, "buildtrace", 0, 0, 0);
  return buildtrace::RunCommandLine(argc, argv);
}
