// The server's table of open connections: decides whether a new connection is served, which idle
// connection it displaces when the table is full (the one idle longest), and how many connections
// one peer address may hold. Knows nothing about sockets: a connection is a TrackedConnection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "http/server.h"

namespace buildtrace {

// What the table asks of a connection. Both are called from any thread and must only post work
// to the connection's own executor.
class TrackedConnection {
 public:
  virtual ~TrackedConnection() = default;
  // Close if still idle when this runs on the connection's executor; a connection that has begun
  // a request in the meantime finishes it (the table then holds one more than its maximum until
  // one closes).
  virtual void CloseIfIdle() = 0;
  // The server stops: close if waiting for a request, else answer the request and close.
  virtual void OnServerStopping() = 0;
};

// Thread-safe.
class ConnectionTable {
 public:
  // Connections refused with an answer (503) at most at once beyond `max_connections`; more are
  // closed without one, so that a flood of them cannot use up the process's descriptors.
  static constexpr uint32_t kMaxRejecting = 8;

  enum class Admission {
    kServe,   // registered; read its requests
    kReject,  // registered; answer 503 and close (reason in Admitted::reason)
    kDrop,    // not registered; close at once without an answer
  };
  struct Admitted {
    Admission admission = Admission::kServe;
    uint64_t id = 0;  // for the calls below; valid unless kDrop
    // The idle connection closed to make room; call its CloseIfIdle() (outside any lock).
    std::shared_ptr<TrackedConnection> displaced;
    std::string reason;  // for kReject: one sentence for the 503's message
  };

  // `stats` may be null; not owned.
  ConnectionTable(uint32_t max_connections, uint32_t max_per_peer, ServerStats* stats);

  // Decides for a new connection from `peer` (an address, any spelling that is the same for the
  // same peer). Fails with kDrop once the table is stopping. A served connection starts idle.
  Admitted Admit(std::weak_ptr<TrackedConnection> connection, const std::string& peer);
  // The connection has closed. True when it was the last one and the table is stopping.
  bool Remove(uint64_t id);
  // A served connection waits for a request's first byte (true) or has received one (false).
  void SetIdle(uint64_t id, bool idle);
  // From now on every Admit is kDrop. Fills `open` with every connection still open, to be told
  // to stop; true when the table is empty (no Remove will follow).
  bool BeginStop(std::vector<std::shared_ptr<TrackedConnection>>& open);
  bool stopping() const;

 private:
  struct Entry {
    std::weak_ptr<TrackedConnection> connection;
    std::string peer;
    uint64_t idle_since = 0;  // a sequence number; 0: not idle
    bool displaced = false;   // closing to make room; no longer counted as open
    bool rejecting = false;   // answered 503; not counted as open
  };

  // The longest-idle connection (of `peer` only, when given); nullptr if none is idle.
  Entry* OldestIdle(const std::string* peer, uint64_t* id);
  std::shared_ptr<TrackedConnection> Displace(uint64_t id, Entry& entry);
  void MarkIdle(uint64_t id, Entry& entry, bool idle);
  void Publish();  // copies the counts to stats_

  const uint32_t max_connections_;
  const uint32_t max_per_peer_;
  ServerStats* const stats_;
  mutable std::mutex mutex_;
  std::map<uint64_t, Entry> entries_;             // guarded by mutex_
  std::set<std::pair<uint64_t, uint64_t>> idle_;  // (idle_since, id); guarded by mutex_
  std::map<std::string, uint32_t> per_peer_;      // counted connections; guarded by mutex_
  uint64_t counted_ = 0;                          // served, not displaced; guarded by mutex_
  uint64_t rejecting_ = 0;                        // guarded by mutex_
  uint64_t next_id_ = 1;                          // guarded by mutex_
  uint64_t next_idle_seq_ = 1;                    // guarded by mutex_
  bool stopping_ = false;                         // guarded by mutex_
};

}  // namespace buildtrace
