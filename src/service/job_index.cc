// The job index's trees: a node's children are the names in one folder, so each step of a walk
// is one listing of at most 1 000 names.
#include "service/job_index.h"

#include <algorithm>

#include "service/job_repository.h"

namespace buildtrace {
namespace {

constexpr int kLevels = 7;  // leaves (0) and markers (1..6); the root is level 7
constexpr std::string_view kAllTree = "all";
constexpr std::string_view kOkTree = "ok";
constexpr std::string_view kProjectsFolder = "index-projects/";

// The digits naming a job's node at `level`: 19 - 3 * level of them (none at the root).
std::string NodeDigits(const std::string& id19, int level) {
  const int n = 19 - 3 * level;
  return n > 0 ? id19.substr(0, static_cast<size_t>(n)) : std::string();
}

std::string TreePrefix(std::string_view project, std::string_view tree) {
  return "index/" + std::string(project) + "/" + std::string(tree) + "/";
}

// The folder holding the children (at `level`) of node `parent`.
std::string Folder(const std::string& tree_prefix, int level, const std::string& parent) {
  return tree_prefix + "c" + std::to_string(level) + "/" + (parent.empty() ? "" : parent + "/");
}

char StatusLetter(JobStatus status) { return status == JobStatus::kSucceeded ? 's' : 'f'; }

// A leaf name's job ("<19 digits>.<s|f>"); nullopt for anything else.
std::optional<IndexedJob> ParseLeaf(std::string_view leaf) {
  if (leaf.size() != 21 || leaf[19] != '.' || (leaf[20] != 's' && leaf[20] != 'f')) {
    return std::nullopt;
  }
  int64_t id = 0;
  for (size_t i = 0; i < 19; ++i) {
    if (leaf[i] < '0' || leaf[i] > '9') return std::nullopt;
    id = id * 10 + (leaf[i] - '0');
  }
  if (id < 1) return std::nullopt;
  return IndexedJob{id, leaf[20] == 's' ? JobStatus::kSucceeded : JobStatus::kFailed};
}

bool AllDigits(std::string_view s, size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool JobIndex::KnownMarker(const std::string& name) {
  std::lock_guard lock(markers_mutex_);
  return markers_.count(name) > 0;
}

void JobIndex::RememberMarkers(const std::vector<std::string>& names) {
  std::lock_guard lock(markers_mutex_);
  if (markers_.size() + names.size() > kMaxRememberedMarkers) markers_.clear();
  markers_.insert(names.begin(), names.end());
}

Status JobIndex::Add(std::string_view project, std::span<const IndexedJob> jobs) {
  std::vector<std::string> markers;
  std::vector<std::string> leaves;
  std::unordered_set<std::string> seen;
  for (const IndexedJob& job : jobs) {
    const std::string id19 = JobIdDigits(job.job_id);
    for (std::string_view tree : {kAllTree, kOkTree}) {
      if (tree == kOkTree && job.status != JobStatus::kSucceeded) continue;
      const std::string prefix = TreePrefix(project, tree);
      for (int level = kLevels - 1; level >= 1; --level) {
        std::string name =
            Folder(prefix, level, NodeDigits(id19, level + 1)) + NodeDigits(id19, level);
        if (!KnownMarker(name) && seen.insert(name).second) markers.push_back(std::move(name));
      }
      leaves.push_back(Folder(prefix, 0, NodeDigits(id19, 1)) + id19 + "." +
                       StatusLetter(job.status));
    }
  }
  // Markers first, leaves after: a leaf is never visible without the path to it. In chunks, so
  // that a store grouping its flushes holds a bounded number of files open at once.
  constexpr size_t kChunk = 256;
  for (std::vector<std::string>* names : {&markers, &leaves}) {
    for (size_t first = 0; first < names->size(); first += kChunk) {
      std::vector<ObjectToCreate> objects;
      for (size_t i = first; i < names->size() && i < first + kChunk; ++i) {
        objects.push_back(ObjectToCreate{(*names)[i], ""});
      }
      std::vector<Status> created = store_.CreateManyIfAbsent(objects);
      for (size_t i = 0; i < created.size(); ++i) {
        if (!created[i].ok() && created[i].code() != StatusCode::kAlreadyExists) {
          return created[i].WithContext("adding " + (*names)[first + i] + " to the job index: ");
        }
      }
    }
  }
  RememberMarkers(markers);
  return Status::Ok();
}

Status JobIndex::WalkLevel(const std::string& tree_prefix, int level, const std::string& parent,
                           const std::optional<std::string>& bound, Direction direction,
                           const std::function<bool(const IndexedJob&)>& visit, bool* stopped) {
  const std::string folder = Folder(tree_prefix, level, parent);
  Result<std::vector<std::string>> names = store_.List(folder);
  if (!names.ok()) return names.status();
  std::vector<std::string> children;
  for (const std::string& name : *names) {
    std::string child = name.substr(folder.size());
    // Names that are not this layout's (a stray file) are left alone.
    const std::string_view digits =
        std::string_view(child).substr(0, level == 0 ? 19 : child.size());
    if (!AllDigits(digits, static_cast<size_t>(19 - 3 * level))) continue;
    if (bound) {
      const std::string_view key = std::string_view(child).substr(0, bound->size());
      if (direction == Direction::kDown ? key >= *bound : key <= *bound) continue;
    }
    children.push_back(std::move(child));
  }
  // Listings come in byte order, which is numeric order for fixed-width digits.
  if (direction == Direction::kDown) std::reverse(children.begin(), children.end());
  for (const std::string& child : children) {
    if (level == 0) {
      std::optional<IndexedJob> job = ParseLeaf(child);
      if (job && !visit(*job)) {
        *stopped = true;
        return Status::Ok();
      }
      continue;
    }
    Status status =
        WalkLevel(tree_prefix, level - 1, child, std::nullopt, direction, visit, stopped);
    if (!status.ok() || *stopped) return status;
  }
  return Status::Ok();
}

Status JobIndex::Walk(std::string_view project, std::string_view tree, Direction direction,
                      std::optional<int64_t> from,
                      const std::function<bool(const IndexedJob&)>& visit) {
  const std::string prefix = TreePrefix(project, tree);
  bool stopped = false;
  if (!from) return WalkLevel(prefix, kLevels - 1, "", std::nullopt, direction, visit, &stopped);
  // From the leaf's own folder upwards: at each level, the siblings beyond `from`'s node.
  const std::string id19 = JobIdDigits(*from);
  for (int level = 0; level < kLevels && !stopped; ++level) {
    Status status =
        WalkLevel(prefix, level, NodeDigits(id19, level + 1),
                  level == 0 ? id19 : NodeDigits(id19, level), direction, visit, &stopped);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

Status JobIndex::Descending(std::string_view project, std::optional<int64_t> before,
                            const std::function<bool(const IndexedJob&)>& visit) {
  return Walk(project, kAllTree, Direction::kDown, before, visit);
}

Status JobIndex::Ascending(std::string_view project, std::optional<int64_t> after,
                           const std::function<bool(const IndexedJob&)>& visit) {
  return Walk(project, kAllTree, Direction::kUp, after, visit);
}

Result<BaseSelection> JobIndex::SelectBase(std::string_view project, int64_t job_id) {
  BaseSelection selection;
  Status walked = Descending(project, job_id, [&](const IndexedJob& job) {
    if (job.status == JobStatus::kSucceeded) {
      selection.base_job_id = job.job_id;
      return false;
    }
    if (selection.skipped_failed.size() == kMaxSkippedListed) {
      selection.skipped_failed_capped = true;
      return false;
    }
    selection.skipped_failed.push_back(job.job_id);
    return true;
  });
  if (!walked.ok()) return walked;
  if (selection.skipped_failed_capped) {
    // A long run of failed jobs: the succeeded-only tree jumps over it.
    const int64_t below = selection.skipped_failed.back();
    Status jumped = Walk(project, kOkTree, Direction::kDown, below, [&](const IndexedJob& job) {
      selection.base_job_id = job.job_id;
      return false;
    });
    if (!jumped.ok()) return jumped;
    return selection;
  }
  selection.missing_ids = job_id - selection.base_job_id.value_or(0) - 1 -
                          static_cast<int64_t>(selection.skipped_failed.size());
  return selection;
}

Result<std::vector<IndexedJob>> JobIndex::Following(std::string_view project, int64_t job_id,
                                                    size_t max) {
  std::vector<IndexedJob> out;
  Status walked = Ascending(project, job_id, [&](const IndexedJob& job) {
    if (out.size() == max) return false;
    out.push_back(job);
    return job.status != JobStatus::kSucceeded;
  });
  if (!walked.ok()) return walked;
  return out;
}

Result<bool> JobIndex::IsComplete(std::string_view project) {
  {
    std::lock_guard lock(markers_mutex_);
    if (complete_.count(std::string(project))) return true;
  }
  Result<std::string> marker = store_.Read(std::string(kProjectsFolder) + std::string(project));
  if (!marker.ok()) {
    if (marker.status().code() == StatusCode::kNotFound) return false;
    return marker.status();
  }
  std::lock_guard lock(markers_mutex_);
  complete_.insert(std::string(project));
  return true;
}

Status JobIndex::MarkComplete(std::string_view project) {
  Status created = store_.CreateIfAbsent(std::string(kProjectsFolder) + std::string(project), "");
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) {
    return created.WithContext("marking the job index of project " + std::string(project) +
                               " complete: ");
  }
  std::lock_guard lock(markers_mutex_);
  complete_.insert(std::string(project));
  return Status::Ok();
}

Status JobIndex::Unmark(std::string_view project) {
  {
    std::lock_guard lock(markers_mutex_);
    complete_.erase(std::string(project));
  }
  Status deleted = store_.Delete(std::string(kProjectsFolder) + std::string(project));
  if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) {
    return deleted.WithContext("taking back the job index mark of project " + std::string(project) +
                               ": ");
  }
  return Status::Ok();
}

Result<int64_t> JobIndex::RemoveProject(std::string_view project) {
  const std::string complete = std::string(kProjectsFolder) + std::string(project);
  const std::string prefix = "index/" + std::string(project) + "/";
  {
    // Forgotten first: whatever happens below, this process creates the markers again.
    std::lock_guard lock(markers_mutex_);
    complete_.erase(std::string(project));
    std::erase_if(markers_, [&](const std::string& name) { return name.starts_with(prefix); });
  }
  int64_t deleted = 0;
  Result<std::vector<std::string>> marker = store_.List(complete);  // also "<project>-x": exact
  if (!marker.ok()) return marker.status();
  if (std::find(marker->begin(), marker->end(), complete) != marker->end()) {
    if (Status s = store_.Delete(complete); !s.ok()) return s;
    ++deleted;
  }
  Result<std::vector<std::string>> names = store_.List(prefix);
  if (!names.ok()) return names.status();
  // Leaves before the markers above them, so that a leaf is never left without its path.
  std::stable_partition(names->begin(), names->end(), [](const std::string& name) {
    return name.find("/c0/") != std::string::npos;
  });
  for (const std::string& name : *names) {
    if (Status s = store_.Delete(name); !s.ok()) return s;
    ++deleted;
  }
  return deleted;
}

Result<std::vector<std::string>> JobIndex::Projects() {
  Result<std::vector<std::string>> names = store_.List(kProjectsFolder);
  if (!names.ok()) return names;
  std::vector<std::string> projects;
  for (const std::string& name : *names) {
    std::string project = name.substr(kProjectsFolder.size());
    if (IsValidProjectName(project)) projects.push_back(std::move(project));
  }
  return projects;
}

}  // namespace buildtrace
