// The temporary files below a folder: names that start ".tmp-" (store/writer_identity.h), which a
// test expects none of once a store's create has succeeded or failed.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace buildtrace {

inline std::vector<std::filesystem::path> TempFilesBelow(const std::string& folder) {
  std::vector<std::filesystem::path> temps;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
    if (entry.path().filename().string().starts_with(".tmp-")) temps.push_back(entry.path());
  }
  return temps;
}

}  // namespace buildtrace
