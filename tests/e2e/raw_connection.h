// A plain TCP connection to the server under test, for the tests that must choose the bytes on
// the wire and their timing (a client that trickles its headers, a request cut in two around a
// signal) and must see when the server closes the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace buildtrace::e2e {

class RawConnection {
 public:
  // Connects to 127.0.0.1:port; ok() says whether that worked, error() why not (an errno).
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  int error() const { return error_; }

  // Sends all of `bytes`; false once the connection is broken.
  bool Send(std::string_view bytes);
  // Reads until what was received contains `needle` (true), or the server closed the
  // connection, or `timeout` passed (false).
  bool ReadUntil(std::string_view needle, std::chrono::milliseconds timeout);
  // Reads until the server closes the connection (true) or `timeout` passes (false).
  bool ReadUntilClosed(std::chrono::milliseconds timeout);
  // Waits up to `timeout` for bytes or a close, and takes what came; true when closed.
  bool WaitForClose(std::chrono::milliseconds timeout);

  const std::string& received() const { return received_; }
  bool closed() const { return closed_; }
  void Close();

 private:
  int fd_ = -1;
  int error_ = 0;
  bool closed_ = false;  // end of file or reset from the server
  std::string received_;
};

}  // namespace buildtrace::e2e
