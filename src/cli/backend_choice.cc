// ChooseBackends, the checks of BUCKET and PROJECT_ID, and RedactUrl.
#include "cli/backend_choice.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "store/gcs_state_store.h"

namespace buildtrace {
namespace {

std::string DefaultUrl(const char* scheme, const std::string& data_dir, const char* name) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(data_dir, ec);
  if (ec) dir = data_dir;
  return std::string(scheme) + "://" + (dir / name).lexically_normal().string();
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A store prefix: '/'-separated parts of A-Z a-z 0-9 . _ -, none empty, "." or ".."; a trailing
// '/' is allowed (the store drops it).
bool IsPrefix(std::string_view prefix) {
  if (prefix.ends_with('/')) prefix.remove_suffix(1);
  if (prefix.empty()) return false;
  size_t start = 0;
  while (start <= prefix.size()) {
    const size_t slash = std::min(prefix.find('/', start), prefix.size());
    const std::string_view part = prefix.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (const char c : part) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
        return false;
      }
    }
    start = slash + 1;
  }
  return true;
}

Result<std::string> StoreOfBucket(const std::string& bucket) {
  const auto bad = [&] {
    return InvalidArgument("BUCKET=" + bucket +
                           " is not a Cloud Storage bucket; set it to gs://NAME, gs://NAME/PREFIX "
                           "or NAME (3-222 characters of a-z 0-9 . _ -), or give --store URL");
  };
  std::string_view rest = bucket;
  if (rest.starts_with("gs://")) {
    rest.remove_prefix(5);
  } else if (rest.find('/') != std::string_view::npos || rest.find(':') != std::string_view::npos) {
    return bad();  // another scheme, or a path without gs://
  }
  const size_t slash = rest.find('/');
  if (!IsValidBucketName(rest.substr(0, slash))) return bad();
  if (slash != std::string_view::npos && !IsPrefix(rest.substr(slash + 1))) return bad();
  return "gs://" + std::string(rest);
}

Result<std::string> WarehouseOfProject(const std::string& project) {
  const bool valid = !project.empty() && project.size() <= 128 && project.front() >= 'a' &&
                     project.front() <= 'z' &&
                     std::all_of(project.begin(), project.end(), [](char c) {
                       return IsLowerAlnum(c) || c == '-' || c == '.' || c == ':';
                     });
  if (!valid) {
    return InvalidArgument("PROJECT_ID=" + project +
                           " is not a Google Cloud project ID; set it to the project's ID (a "
                           "lower-case letter, then a-z 0-9 - . :), or give --warehouse URL");
  }
  return "bigquery://" + project + "/" + std::string(kOriginalDataset) + "/" +
         std::string(kOriginalTable);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsSecretParameter(std::string_view name) {
  const std::string lower = Lower(name);
  return lower.find("password") != std::string::npos || lower.find("secret") != std::string::npos ||
         lower.find("token") != std::string::npos;
}

}  // namespace

std::string DefaultStoreUrl(const std::string& data_dir) {
  return DefaultUrl("file", data_dir, "states");
}
std::string DefaultWarehouseUrl(const std::string& data_dir) {
  return DefaultUrl("sqlite", data_dir, "metrics.db");
}

Result<BackendChoice> ChooseBackends(const std::string& store_flag,
                                     const std::string& warehouse_flag, const std::string& data_dir,
                                     const EnvironmentReader& read_env) {
  BackendChoice choice;
  const char* bucket = read_env("BUCKET");
  if (!store_flag.empty()) {
    choice = {.store_url = store_flag, .store_source = "--store"};
  } else if (bucket != nullptr && *bucket != '\0') {
    Result<std::string> url = StoreOfBucket(bucket);
    if (!url.ok()) return url.status();
    choice = {.store_url = *url, .store_source = "BUCKET"};
  } else {
    choice = {.store_url = DefaultStoreUrl(data_dir), .store_source = "--data-dir"};
  }
  const char* project = read_env("PROJECT_ID");
  if (!warehouse_flag.empty()) {
    choice.warehouse_url = warehouse_flag;
    choice.warehouse_source = "--warehouse";
  } else if (project != nullptr && *project != '\0') {
    Result<std::string> url = WarehouseOfProject(project);
    if (!url.ok()) return url.status();
    choice.warehouse_url = *url;
    choice.warehouse_source = "PROJECT_ID";
  } else {
    choice.warehouse_url = DefaultWarehouseUrl(data_dir);
    choice.warehouse_source = "--data-dir";
  }
  return choice;
}

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  const size_t scheme_end = out.find("://");
  const size_t authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  // The user info ends at the last '@' before the path, query or fragment (as libpq reads it).
  const size_t authority_end = std::min(out.find_first_of("/?#", authority), out.size());
  const size_t at = out.rfind('@', authority_end);
  if (at != std::string::npos && at >= authority) {
    const size_t colon = out.find(':', authority);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  const size_t question = out.find('?');
  if (question == std::string::npos) return out;
  std::string redacted = out.substr(0, question + 1);
  std::string_view query = std::string_view(out).substr(question + 1);
  while (true) {
    const size_t end = std::min(query.find_first_of("&#"), query.size());
    const std::string_view parameter = query.substr(0, end);
    const size_t equals = parameter.find('=');
    if (equals != std::string_view::npos && IsSecretParameter(parameter.substr(0, equals))) {
      redacted += std::string(parameter.substr(0, equals)) + "=***";
    } else {
      redacted += parameter;
    }
    if (end == query.size()) break;
    redacted += query[end];
    query.remove_prefix(end + 1);
  }
  return redacted;
}

std::string DescribeBackends(const BackendChoice& choice, const std::string& queue_url) {
  auto source = [](const std::string& from, const char* flag) {
    if (from == "--data-dir") return std::string("default in --data-dir");
    if (from == flag)
      return "from " + from + " or " +
             (from == "--store" ? "BUILDTRACE_STORE" : "BUILDTRACE_WAREHOUSE");
    return "from " + from;
  };
  std::string line = "store " + RedactUrl(choice.store_url) + " (" +
                     source(choice.store_source, "--store") + "), warehouse " +
                     RedactUrl(choice.warehouse_url) + " (" +
                     source(choice.warehouse_source, "--warehouse") + ")";
  if (!queue_url.empty()) line += ", queue " + RedactUrl(queue_url);
  return line;
}

}  // namespace buildtrace
