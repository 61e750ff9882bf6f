// Raw HTTP/1.1 as tests send and read it on a socket: the headers of a POST announcing a body,
// and the statuses of the answers received.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace buildtrace {

// The headers of a POST /process announcing `length` bytes of body.
inline std::string Announce(uint64_t length, std::string_view extra_headers = "") {
  return "POST /process HTTP/1.1\r\nHost: x\r\n" + std::string(extra_headers) +
         "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

// The status of every answer in `received` (each "HTTP/1.1 NNN" at the start of a line), in
// order.
inline std::vector<int> Statuses(const std::string& received) {
  std::vector<int> out;
  for (size_t at = received.find("HTTP/1.1 "); at != std::string::npos;
       at = received.find("HTTP/1.1 ", at + 1)) {
    const bool line_start = at == 0 || received[at - 1] == '\n';
    if (line_start && at + 12 <= received.size()) {
      out.push_back(std::atoi(received.substr(at + 9, 3).c_str()));
    }
  }
  return out;
}

}  // namespace buildtrace
