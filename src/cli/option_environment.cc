// BindEnvironment: CLI11's envname for every option, set when its command starts parsing.
#include "cli/option_environment.h"

#include <cctype>
#include <cstdlib>

namespace buildtrace {
namespace {

// Whether `option` takes its value from the environment: a named option or flag, not a
// positional argument, not --help or --version, and not --yes (a confirmation to destroy data is
// given on each command line, never once for all in an environment).
bool TakesEnvironment(const CLI::App& command, const CLI::Option& option) {
  if (option.get_lnames().empty() || option.get_lnames().front() == "yes") return false;
  if (&option == command.get_help_ptr() || &option == command.get_help_all_ptr()) return false;
  return option.get_lnames().front() != "version";
}

void BindOptions(CLI::App& command) {
  for (CLI::Option* option : command.get_options()) {
    if (TakesEnvironment(command, *option)) {
      option->envname(EnvironmentVariableOf(option->get_lnames().front()));
    }
  }
}

}  // namespace

std::string EnvironmentVariableOf(std::string_view long_name) {
  while (long_name.starts_with('-')) long_name.remove_prefix(1);
  std::string name = "BUILDTRACE_";
  for (const char c : long_name) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

void BindEnvironment(CLI::App& app, const std::set<std::string>& without) {
  BindOptions(app);
  for (CLI::App* command : app.get_subcommands({})) {
    if (without.contains(command->get_name())) continue;
    command->preparse_callback([command](size_t) { BindOptions(*command); });
  }
}

std::vector<std::string> VariablesInUse(const CLI::App& command) {
  std::vector<std::string> in_use;
  for (const CLI::Option* option : command.get_options()) {
    const std::string name = option->get_envname();
    const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
    if (value != nullptr && *value != '\0') in_use.push_back(name);
  }
  return in_use;
}

}  // namespace buildtrace
