// See connection_table.h. One mutex; every operation is a few map updates.
#include "http/connection_table.h"

namespace buildtrace {

ConnectionTable::ConnectionTable(uint32_t max_connections, uint32_t max_per_peer,
                                 ServerStats* stats)
    : max_connections_(max_connections), max_per_peer_(max_per_peer), stats_(stats) {
  if (stats_ != nullptr) stats_->max_connections = max_connections_;
}

ConnectionTable::Admitted ConnectionTable::Admit(std::weak_ptr<TrackedConnection> connection,
                                                 const std::string& peer) {
  Admitted out;
  std::lock_guard lock(mutex_);
  if (stopping_) {
    out.admission = Admission::kDrop;
    return out;
  }
  uint64_t victim_id = 0;
  bool made_room = false;
  if (max_per_peer_ > 0 && per_peer_[peer] >= max_per_peer_) {
    // The peer's own idle connection makes room, never another peer's.
    if (Entry* victim = OldestIdle(&peer, &victim_id)) {
      out.displaced = Displace(victim_id, *victim);
      made_room = true;
    } else {
      out.admission = Admission::kReject;
      out.reason = "this client address already has " + std::to_string(max_per_peer_) +
                   " open connections, all busy; reuse one or retry later";
    }
  }
  if (out.admission == Admission::kServe && !made_room && counted_ >= max_connections_) {
    if (Entry* victim = OldestIdle(nullptr, &victim_id)) {
      out.displaced = Displace(victim_id, *victim);
    } else {
      out.admission = Admission::kReject;
      out.reason = "the server already has " + std::to_string(max_connections_) +
                   " open connections, all busy; retry later or raise --max-connections";
    }
  }
  if (out.admission == Admission::kReject && rejecting_ >= kMaxRejecting) {
    out.admission = Admission::kDrop;
  }
  if (out.admission == Admission::kDrop) {
    if (stats_ != nullptr) ++stats_->rejected_connections_total;
    Publish();
    return out;
  }
  out.id = next_id_++;
  Entry& entry = entries_[out.id];
  entry.connection = std::move(connection);
  entry.peer = peer;
  if (out.admission == Admission::kReject) {
    entry.rejecting = true;
    ++rejecting_;
    if (stats_ != nullptr) ++stats_->rejected_connections_total;
  } else {
    ++counted_;
    ++per_peer_[peer];
    MarkIdle(out.id, entry, true);
  }
  Publish();
  return out;
}

bool ConnectionTable::Remove(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it != entries_.end()) {
    Entry& entry = it->second;
    MarkIdle(id, entry, false);
    if (entry.rejecting) {
      --rejecting_;
    } else if (!entry.displaced) {
      --counted_;
      if (--per_peer_[entry.peer] == 0) per_peer_.erase(entry.peer);
    }
    entries_.erase(it);
    Publish();
  }
  return stopping_ && entries_.empty();
}

void ConnectionTable::SetIdle(uint64_t id, bool idle) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.displaced || it->second.rejecting) return;
  if ((it->second.idle_since != 0) == idle) return;  // keeps its place in the idle order
  MarkIdle(id, it->second, idle);
  Publish();
}

bool ConnectionTable::BeginStop(std::vector<std::shared_ptr<TrackedConnection>>& open) {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  for (auto& [id, entry] : entries_) {
    if (auto connection = entry.connection.lock()) open.push_back(std::move(connection));
  }
  return entries_.empty();
}

bool ConnectionTable::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

ConnectionTable::Entry* ConnectionTable::OldestIdle(const std::string* peer, uint64_t* id) {
  for (const auto& [since, candidate] : idle_) {
    Entry& entry = entries_.at(candidate);
    if (peer != nullptr && entry.peer != *peer) continue;
    *id = candidate;
    return &entry;
  }
  return nullptr;
}

std::shared_ptr<TrackedConnection> ConnectionTable::Displace(uint64_t id, Entry& entry) {
  MarkIdle(id, entry, false);
  entry.displaced = true;
  --counted_;
  if (--per_peer_[entry.peer] == 0) per_peer_.erase(entry.peer);
  if (stats_ != nullptr) ++stats_->idle_closed_total;
  return entry.connection.lock();
}

void ConnectionTable::MarkIdle(uint64_t id, Entry& entry, bool idle) {
  if (entry.idle_since != 0) idle_.erase({entry.idle_since, id});
  entry.idle_since = idle ? next_idle_seq_++ : 0;
  if (idle) idle_.emplace(entry.idle_since, id);
}

void ConnectionTable::Publish() {
  if (stats_ == nullptr) return;
  stats_->open_connections = counted_;
  stats_->idle_connections = idle_.size();
}

}  // namespace buildtrace
