// The diff's command line and the options every command shares (diff_command_line.h).
#include "cli/diff_command_line.h"

#include <iostream>
#include <utility>
#include <vector>

#include "cli/option_environment.h"

namespace buildtrace {

void AddGlobalOptions(CLI::App& app, std::string& log_level, std::string& log_format) {
  app.set_version_flag("--version", "buildtrace " BUILDTRACE_VERSION);
  app.add_option("--log-level", log_level, "Least severe log lines written")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}))
      ->capture_default_str();
  app.add_option("--log-format", log_format,
                 "text, or json: one object a line with Cloud Logging's severity, message, time")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

void AddDiff(CLI::App& app, DiffOptions& o) {
  auto* diff = app.add_subcommand("diff",
                                  "Compare two job files offline and print the report "
                                  "(exit 0: no changes, 1: changes, 2: trouble)");
  diff->add_option("previous", o.previous_path, "The earlier job (JSON)")->required();
  diff->add_option("current", o.current_path, "The later job (JSON)")->required();
  diff->add_option("--format", o.format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  diff->add_option("--limit", o.limit, "Listed objects per kind of change")
      ->check(CLI::Range(size_t{0}, size_t{10000000}))
      ->capture_default_str();
}

void NameVariablesInUse(const CLI::App& app) {
  std::vector<std::string> in_use = VariablesInUse(app);
  for (const CLI::App* command : app.get_subcommands()) {
    for (std::string& name : VariablesInUse(*command)) in_use.push_back(std::move(name));
  }
  if (in_use.empty()) return;
  std::string names;
  for (const std::string& name : in_use) names += (names.empty() ? "" : ", ") + name;
  std::cerr << "(options set from the environment: " << names << ")\n";
}

int RunDiffCommandLine(int argc, char** argv) {
  CLI::App app(kCommandLineDescription);
  app.require_subcommand(1);
  app.fallthrough();
  std::string log_level = "info", log_format = "text";
  AddGlobalOptions(app, log_level, log_format);
  DiffOptions diff;
  AddDiff(app, diff);
  BindEnvironment(app, kCommandsWithoutEnvironment);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    if (code == 0) return 0;
    NameVariablesInUse(app);
    return 2;
  }
  return RunDiff(diff, std::cout, std::cerr);
}

}  // namespace buildtrace
