// Storing, reading and listing jobs in a StateStore.
#include "service/job_repository.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "core/canonical_hash.h"
#include "core/job_writer.h"
#include "core/stored_job.h"
#include "service/log.h"

namespace buildtrace {
namespace {

constexpr std::string_view kJobsPrefix = "jobs/";
constexpr std::string_view kJobSuffix = ".json";
constexpr size_t kIdDigits = 19;

// Parses "<19 digits>.json"; nullopt for any other name (ignored when listing).
std::optional<int64_t> JobIdFromFileName(std::string_view name) {
  if (name.size() != kIdDigits + kJobSuffix.size() || !name.ends_with(kJobSuffix)) {
    return std::nullopt;
  }
  int64_t id = 0;
  auto r = std::from_chars(name.data(), name.data() + kIdDigits, id);
  if (r.ec != std::errc() || r.ptr != name.data() + kIdDigits || id < 1) return std::nullopt;
  return id;
}

}  // namespace

std::string JobIdDigits(int64_t job_id) {
  char id[24];
  std::snprintf(id, sizeof id, "%019lld", static_cast<long long>(job_id));
  return id;
}

std::string JobFolder(std::string_view project) {
  return std::string(kJobsPrefix) + std::string(project) + "/";
}

std::string JobObjectName(std::string_view project, int64_t job_id) {
  std::string name(kJobsPrefix);
  name.append(project).append("/").append(JobIdDigits(job_id)).append(kJobSuffix);
  return name;
}

std::vector<std::string> DifferingFields(const Job& a, const Job& b) {
  const JobHeader& x = a.header;
  const JobHeader& y = b.header;
  std::vector<std::string> out;
  if (x.job_id != y.job_id) out.push_back("job_id");
  if (x.project != y.project) out.push_back("project");
  // The same instant however it is spelled ("Z" or "+00:00", another offset, trailing zeros).
  if (x.timestamp_ms != y.timestamp_ms) out.push_back("timestamp");
  if (x.latency_ms != y.latency_ms) out.push_back("latency_ms");
  if (x.status != y.status) out.push_back("status");
  // Metadata is a JSON object: its key order carries no meaning (keys are unique).
  auto x_metadata = x.metadata;
  auto y_metadata = y.metadata;
  std::sort(x_metadata.begin(), x_metadata.end());
  std::sort(y_metadata.begin(), y_metadata.end());
  if (x_metadata != y_metadata) out.push_back("metadata");
  bool same_state = a.state.size() == b.state.size();
  if (same_state) {
    std::unordered_map<std::string_view, StateEntry> index;  // views: entries are packed
    index.reserve(a.state.size());
    for (const StateEntry& e : a.state) index.emplace(e.id, e);
    for (const StateEntry& e : b.state) {
      auto it = index.find(e.id);
      if (it == index.end() || it->second.value != e.value ||
          it->second.structured != e.structured) {
        same_state = false;
        break;
      }
    }
  }
  if (!same_state) out.push_back("state");
  return out;
}

bool SameJob(const Job& a, const Job& b) { return DifferingFields(a, b).empty(); }

namespace {

// Names what differs, and the ways out: a new job_id, or, for a run started over (a simulator
// numbers its jobs from 1 again), a new project or the same one deleted first.
std::string ConflictMessage(const JobHeader& job, const std::vector<std::string>& differing) {
  std::string fields;
  for (const std::string& f : differing) fields += (fields.empty() ? "" : ", ") + f;
  return "job " + std::to_string(job.job_id) + " of project " + job.project +
         " is already stored with a different " + fields +
         "; jobs are immutable: post it under a new job_id, or, to start a run over, post it to a "
         "new project or delete the project (DELETE /projects/" +
         job.project + ", `buildtrace delete-project " + job.project + " --yes`) and post again";
}

std::string HeaderKey(std::string_view project, int64_t job_id) {
  return std::string(project) + "/" + std::to_string(job_id);
}

// What one cached header costs, roughly: its map node and bucket, and the bytes of its strings.
size_t CachedHeaderBytes(const std::string& key, const JobHeader& header) {
  size_t bytes = sizeof(std::pair<const std::string, JobHeader>) + 4 * sizeof(void*) + key.size() +
                 header.project.size() + header.timestamp.size();
  for (const auto& [name, value] : header.metadata) {
    bytes += sizeof(std::pair<std::string, std::string>) + name.size() + value.size();
  }
  return bytes;
}

}  // namespace

void JobRepository::RememberHeader(const JobHeader& header) {
  statuses_.Remember(header.project, header.job_id, header.status);
  std::string key = HeaderKey(header.project, header.job_id);
  const size_t bytes = CachedHeaderBytes(key, header);
  std::lock_guard lock(headers_mutex_);
  if (headers_.contains(key)) return;  // jobs are immutable: it is the same header
  if (header_bytes_ + bytes > kMaxCachedHeaderBytes) {
    headers_.clear();
    header_bytes_ = 0;
  }
  headers_.emplace(std::move(key), header);
  header_bytes_ += bytes;
}

size_t JobRepository::cached_header_bytes() {
  std::lock_guard lock(headers_mutex_);
  return header_bytes_;
}

Result<JobHeader> JobRepository::LoadHeader(std::string_view project, int64_t job_id) {
  {
    std::lock_guard lock(headers_mutex_);
    auto it = headers_.find(HeaderKey(project, job_id));
    if (it != headers_.end()) return it->second;
  }
  auto job = Load(project, job_id);  // remembers the header
  if (!job.ok()) return job.status();
  return (*job)->jobs().front().header;
}

Result<JobStatus> JobRepository::LoadStatus(std::string_view project, int64_t job_id) {
  if (std::optional<JobStatus> known = statuses_.Find(project, job_id)) return *known;
  Result<JobHeader> header = LoadHeader(project, job_id);
  if (!header.ok()) return header.status();
  return header->status;
}

Result<StoredJob> JobRepository::Store(const Job& job) {
  return std::move(StoreMany(std::span<const Job>(&job, 1)).front());
}

void JobRepository::ForgetProject(std::string_view project) {
  statuses_.ForgetProject(project);
  {
    std::lock_guard lock(unindexed_mutex_);
    unindexed_.erase(std::string(project));
  }
  const std::string prefix = std::string(project) + "/";
  std::lock_guard lock(headers_mutex_);
  for (auto it = headers_.begin(); it != headers_.end();) {
    if (it->first.starts_with(prefix)) {
      header_bytes_ -= std::min(header_bytes_, CachedHeaderBytes(it->first, it->second));
      it = headers_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<Result<StoredJob>> JobRepository::StoreMany(std::span<const Job> jobs) {
  Result<std::vector<Result<StoredJob>>> stored = StoreManyChecked(jobs, {});
  if (stored.ok()) return std::move(*stored);
  return std::vector<Result<StoredJob>>(jobs.size(), stored.status());  // a seal gone wrong
}

Result<std::vector<Result<StoredJob>>> JobRepository::StoreManyChecked(
    std::span<const Job> jobs, const std::function<Status()>& check) {
  std::vector<std::string_view> projects;
  projects.reserve(jobs.size());
  for (const Job& job : jobs) projects.push_back(job.header.project);
  const ProjectLocks::Held held = locks_.Share(projects);
  // Each job is written as its head, the client's own state bytes (not copied, when the parser
  // kept them) and the seal; the digest is that of the canonical form, which ends where the seal
  // begins. The digests, the seals and `check` are the store's preparation: the store may write
  // the heads and states meanwhile (StateStore::CreateManyIfAbsentPreparing), and so is marking
  // a new project's index complete, which must come before its first jobs are in place.
  std::vector<std::string> names, digests, seals;
  std::vector<std::string> marked;  // projects whose index this batch marked complete
  Status index_refused;             // the store's error marking one
  std::vector<SerializedJob> forms;
  std::vector<ObjectToCreate> objects;
  names.reserve(jobs.size());
  digests.reserve(jobs.size());
  seals.reserve(jobs.size());
  forms.reserve(jobs.size());
  objects.reserve(jobs.size());
  for (const Job& job : jobs) {
    names.push_back(JobObjectName(job.header.project, job.header.job_id));
    forms.push_back(SerializeJobPieces(job));
    seals.emplace_back(kStoredJobSealBytes, '\0');
    objects.push_back(
        ObjectToCreate(names.back(), {forms.back().head, forms.back().state, seals.back()}));
  }
  const Result<std::vector<Status>> outcomes = store_.CreateManyIfAbsentPreparing(objects, [&] {
    for (size_t i = 0; i < jobs.size(); ++i) {
      const std::string_view canonical[] = {forms[i].head, forms[i].state, kJobEnd};
      digests.push_back(ContentDigest(canonical));
      const std::string seal = StoredJobSeal(digests.back());
      if (seal.size() != seals[i].size()) return Internal("a job's seal is not of its fixed size");
      std::copy(seal.begin(), seal.end(), seals[i].begin());
    }
    if (Status checked = check ? check() : Status::Ok(); !checked.ok()) return checked;
    // Before anything is renamed into place, and only for jobs that will be stored.
    index_refused = CompleteNewIndexes(projects, marked);
    return index_refused;
  });
  // The store's failure, not the jobs': each job's answer, as when their creates fail.
  if (!index_refused.ok()) {
    NoteWrites({index_refused});
    return std::vector<Result<StoredJob>>(jobs.size(), index_refused);
  }
  if (!outcomes.ok()) return outcomes.status();
  if (digests.size() != jobs.size()) {  // a store that created without preparing
    return Internal("the store did not compute the jobs' digests before creating them");
  }
  const std::vector<Status>& created = *outcomes;
  std::vector<Result<StoredJob>> results;
  results.reserve(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (created[i].ok()) {
      RememberHeader(jobs[i].header);
      results.push_back(StoredJob{digests[i], true});
    } else if (created[i].code() == StatusCode::kAlreadyExists) {
      results.push_back(ResolveExisting(jobs[i], names[i], digests[i]));
    } else {
      results.push_back(created[i]);
    }
  }
  NoteWrites(created);
  IndexStored(jobs, results, marked);
  return results;
}

Status JobRepository::CompleteNewIndexes(std::span<const std::string_view> projects,
                                         std::vector<std::string>& marked) {
  std::vector<std::string_view> distinct(projects.begin(), projects.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  for (std::string_view project : distinct) {
    Result<bool> complete = index_.IsComplete(project);
    if (complete.ok() && *complete) continue;
    {
      std::lock_guard lock(unindexed_mutex_);
      if (complete.ok() && unindexed_.contains(std::string(project))) continue;
    }
    Result<std::vector<int64_t>> ids =
        complete.ok() ? ListJobIds(project) : Result<std::vector<int64_t>>(complete.status());
    Status failed = ids.ok() ? Status::Ok()
                             : ids.status().WithContext("checking whether project " +
                                                        std::string(project) + " is new: ");
    if (ids.ok() && ids->empty()) {
      failed = index_.MarkComplete(project);
      if (failed.ok()) marked.emplace_back(project);
    } else if (ids.ok()) {
      std::lock_guard lock(unindexed_mutex_);
      if (unindexed_.size() >= kMaxUnindexedProjects) unindexed_.clear();
      unindexed_.insert(std::string(project));
    }
    // Stored without its mark, a new project would be taken for one of an earlier version.
    if (!failed.ok()) return failed;
  }
  return Status::Ok();
}

void JobRepository::IndexStored(std::span<const Job> jobs,
                                const std::vector<Result<StoredJob>>& results,
                                std::span<const std::string> marked) {
  std::map<std::string_view, std::vector<IndexedJob>> by_project;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!results[i].ok()) continue;
    by_project[jobs[i].header.project].push_back(
        IndexedJob{jobs[i].header.job_id, jobs[i].header.status});
  }
  for (const auto& [project, project_jobs] : by_project) {
    Status added = index_.Add(project, project_jobs);
    if (added.ok()) continue;
    index_failures_.fetch_add(1, std::memory_order_relaxed);
    std::string what = "the job index of project " + std::string(project) +
                       " lacks jobs just stored (the sweep adds them): " + added.message();
    // Marked complete for these first jobs, the index would hide them from lineage: the mark
    // goes again, and readers list the project's jobs until the sweep has built its index.
    if (std::find(marked.begin(), marked.end(), project) != marked.end()) {
      const Status unmarked = index_.Unmark(project);
      what +=
          unmarked.ok() ? "; its index is no longer marked complete" : "; " + unmarked.message();
    }
    LogWarning(what);
  }
}

Result<std::vector<IndexedJob>> JobRepository::BackfillIndex(std::string_view project) {
  const ProjectLocks::Held held = locks_.Share(project);
  Result<std::vector<int64_t>> ids = ListJobIds(project);
  if (!ids.ok()) return ids.status();
  std::vector<int64_t> indexed;
  Status walked = index_.Ascending(project, std::nullopt, [&](const IndexedJob& job) {
    indexed.push_back(job.job_id);
    return true;
  });
  if (!walked.ok()) return walked;
  std::vector<IndexedJob> added;
  for (int64_t id : *ids) {
    if (std::binary_search(indexed.begin(), indexed.end(), id)) continue;
    Result<JobStatus> status = LoadStatus(project, id);
    if (!status.ok()) {
      // A corrupt job is left out of lineage, as listing-based selection could not use it either.
      if (status.status().reason() == "corrupt_object") continue;
      return status.status();
    }
    added.push_back(IndexedJob{id, *status});
    if (added.size() % 256 == 0) {
      Status s = index_.Add(project, std::span(added).last(256));
      if (!s.ok()) return s;
    }
  }
  Status s = index_.Add(project, std::span(added).last(added.size() % 256));
  if (!s.ok()) return s;
  s = index_.MarkComplete(project);
  if (!s.ok()) return s;
  {
    std::lock_guard lock(unindexed_mutex_);
    unindexed_.erase(std::string(project));
  }
  return added;
}

void JobRepository::NoteWrites(const std::vector<Status>& created) {
  std::lock_guard lock(write_failure_mutex_);
  for (const Status& s : created) {
    if (s.ok()) {
      last_write_failure_.reset();
    } else if (s.code() == StatusCode::kUnavailable) {
      last_write_failure_ = s.message();
    }
  }
}

std::optional<std::string> JobRepository::last_write_failure() {
  std::lock_guard lock(write_failure_mutex_);
  return last_write_failure_;
}

Status JobRepository::Corrupt(Status status) {
  corrupt_objects_.fetch_add(1, std::memory_order_relaxed);
  return std::move(status).WithReason("corrupt_object");
}

// The parser's own messages say what is wrong with the bytes; the advice is the operator's, never
// the client's (a stored job was not sent by whoever reads it).
Status JobRepository::CorruptJob(std::string_view project, int64_t job_id,
                                 std::string_view problem) {
  return Corrupt(Internal("stored job " + std::string(project) + "/" + std::to_string(job_id) +
                          " (" + JobObjectName(project, job_id) + " in " + store_.Describe() +
                          ") is corrupt: " + std::string(problem) + "; restore it from a backup"));
}

Result<std::string> JobRepository::ReadChecked(const std::string& name) {
  Result<std::string> bytes = store_.Read(name);
  if (!bytes.ok()) return bytes;
  Result<UnsealedJob> unsealed = UnsealStoredJob(*bytes, name + " in " + store_.Describe());
  if (!unsealed.ok()) return Corrupt(unsealed.status());
  return bytes;
}

Result<StoredJob> JobRepository::ResolveExisting(const Job& job, const std::string& name,
                                                 const std::string& digest) {
  Result<std::string> existing = ReadChecked(name);
  if (!existing.ok()) return existing.status();
  const std::string existing_digest = ContentDigest(*existing);
  if (existing_digest == digest) return StoredJob{digest, false};
  auto parsed = ParseJobDocument(InputBytes(std::move(*existing)), limits_);
  if (!parsed.ok()) {
    // Not a client's conflict: the stored object is damaged, as Load would report it.
    return CorruptJob(job.header.project, job.header.job_id, parsed.status().message());
  }
  if ((*parsed)->jobs().size() != 1) {
    return CorruptJob(job.header.project, job.header.job_id, "it holds more than one job");
  }
  const std::vector<std::string> differing = DifferingFields((*parsed)->jobs()[0], job);
  if (!differing.empty()) return Conflict(ConflictMessage(job.header, differing));
  return StoredJob{existing_digest, false};
}

Result<std::string> JobRepository::ReadRaw(std::string_view project, int64_t job_id) {
  return ReadChecked(JobObjectName(project, job_id));
}

Result<std::unique_ptr<ParsedJobs>> JobRepository::Load(std::string_view project, int64_t job_id,
                                                        IdCheck ids) {
  const std::string name = JobObjectName(project, job_id);
  // Read as a parse input (the file store maps it), checked, then parsed in place: the parsed
  // job's strings point into these bytes, which the ParsedJobs takes over.
  Result<InputBytes> bytes = store_.ReadInput(name);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      return NotFound("job " + std::to_string(job_id) + " of project " + std::string(project) +
                      " does not exist; post it to /process first");
    }
    return bytes.status();
  }
  Result<UnsealedJob> unsealed = UnsealStoredJob(*bytes, name + " in " + store_.Describe());
  if (!unsealed.ok()) return Corrupt(unsealed.status());
  // A job whose digest verifies holds the bytes POST /process validated, its unique IDs included:
  // for a caller that diffs it, indexing a million IDs here would only repeat the diff's check.
  // An object without a digest, from before sealing, is checked in full.
  ParseLimits limits = limits_;
  if (ids == IdCheck::kByTheDiff && unsealed->verified) limits.check_duplicate_ids = false;
  auto parsed = ParseJobDocument(std::move(*bytes), limits);
  if (!parsed.ok()) return CorruptJob(project, job_id, parsed.status().message());
  const Job& job = (*parsed)->jobs().front();
  if (job.header.job_id != job_id || job.header.project != project) {
    return CorruptJob(project, job_id, "it holds another job, changed outside BuildTrace");
  }
  RememberHeader(job.header);
  return parsed;
}

Result<std::vector<int64_t>> JobRepository::ListJobIds(std::string_view project) {
  const std::string prefix = JobFolder(project);
  Result<std::vector<std::string>> names = store_.List(prefix);
  if (!names.ok()) return names.status();
  std::vector<int64_t> ids;
  ids.reserve(names->size());
  for (const std::string& name : *names) {
    const std::string_view rest = std::string_view(name).substr(prefix.size());
    if (auto id = JobIdFromFileName(rest)) ids.push_back(*id);
  }
  return ids;  // byte order of zero-padded IDs is numeric order
}

Result<std::vector<ProjectSummary>> JobRepository::ListProjects() {
  Result<std::vector<std::string>> names = store_.List(kJobsPrefix);
  if (!names.ok()) return names.status();
  std::vector<ProjectSummary> projects;
  for (const std::string& name : *names) {
    const std::string_view rest = std::string_view(name).substr(kJobsPrefix.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) continue;
    const std::string_view project = rest.substr(0, slash);
    const auto id = JobIdFromFileName(rest.substr(slash + 1));
    if (!id || !IsValidProjectName(project)) continue;
    if (projects.empty() || projects.back().project != project) {
      projects.push_back({std::string(project), 0, 0});
    }
    ++projects.back().jobs;
    projects.back().latest_job_id = std::max(projects.back().latest_job_id, *id);
  }
  // Each project's names are contiguous in byte order, but the projects are not in name order:
  // "jobs/a-b/..." sorts before "jobs/a/..." because '-' and '.' sort before '/'.
  std::sort(projects.begin(), projects.end(),
            [](const ProjectSummary& l, const ProjectSummary& r) { return l.project < r.project; });
  return projects;
}

}  // namespace buildtrace
