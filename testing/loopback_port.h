// Picking a loopback port for a test server that cannot bind port 0 itself and report it
// (PostgreSQL, the Pub/Sub emulator).
#pragma once

namespace buildtrace {

// A loopback port that was free a moment ago (bound to port 0, then released); 0 if none could
// be had. Another process may take it before the server binds it, so callers retry.
int FreeLoopbackPort();

}  // namespace buildtrace
