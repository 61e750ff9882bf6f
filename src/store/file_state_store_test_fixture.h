// The fixture of the file store's tests: a fresh temporary folder per test and helpers to look at
// and plant files in it behind the store's back.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "store/file_state_store.h"

namespace buildtrace {

namespace fs = std::filesystem;
using Names = std::vector<std::string>;

// Makes a new empty folder under the test temporary directory.
inline std::string MakeTempFolder() {
  std::string path = ::testing::TempDir() + "bt-file-store-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) return "";
  return path;
}

class FileStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = MakeTempFolder();
    ASSERT_FALSE(folder_.empty()) << "cannot make a temporary folder";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(folder_, ignored);
  }

  std::unique_ptr<FileStateStore> OpenOk(const std::string& root, FileStoreOptions options = {}) {
    Result<std::unique_ptr<FileStateStore>> opened = FileStateStore::Open(root, std::move(options));
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // Relative paths of all entries below `root` but folders (symlinks included), sorted.
  static Names FilesBelow(const std::string& root) {
    Names files;
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(root)) {
      if (entry.is_symlink() || !entry.is_directory())
        files.push_back(entry.path().lexically_relative(root).native());
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  static void WriteFile(const std::string& path, const std::string& content) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << content;
  }

  std::string folder_;
};

}  // namespace buildtrace
