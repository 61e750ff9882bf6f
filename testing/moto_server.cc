// Helpers of the moto test server.
#include "testing/moto_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace buildtrace {
namespace moto_detail {

const char* const kMotoServerScript = BT_MOTO_SERVER_SCRIPT;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Text between <tag> and </tag> in `xml`, or "" (enough for moto's IAM answers).
std::string ElementText(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const size_t start = xml.find(open);
  const size_t end = xml.find("</" + std::string(tag) + ">");
  if (start == std::string_view::npos || end == std::string_view::npos || end < start) return "";
  return std::string(xml.substr(start + open.size(), end - start - open.size()));
}

std::string FormEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += {'%', kHex[byte >> 4], kHex[byte & 0xF]};
    }
  }
  return out;
}

bool CanConnect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace moto_detail

Result<int> PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  ::close(fd);
  if (!ok) return Unavailable("cannot bind a loopback port");
  return static_cast<int>(ntohs(address.sin_port));
}

MotoServer* SharedMotoServer(std::string* failure) {
  struct Shared {
    Shared() {
      char pattern[] = "/tmp/bt-moto-XXXXXX";
      if (::mkdtemp(pattern) == nullptr) {
        why = "cannot make a temporary folder for moto";
        return;
      }
      dir = pattern;
      Result<std::unique_ptr<MotoServer>> started = MotoServer::Start(dir);
      if (started.ok()) {
        server = std::move(*started);
      } else {
        why = started.status().message();
      }
    }
    ~Shared() {
      server.reset();
      std::error_code ignored;
      if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
    }
    std::string dir, why;
    std::unique_ptr<MotoServer> server;
  };
  static Shared shared;
  if (failure != nullptr) *failure = shared.why;
  return shared.server.get();
}

}  // namespace buildtrace
