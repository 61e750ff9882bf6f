// The SQL that creates and migrates the PostgreSQL warehouse's schema, kept apart from the
// connection code of postgres_warehouse.cc. Internal to the PostgreSQL warehouse and its tests.
#pragma once

namespace buildtrace {

// Schema version this build writes and understands, kept in buildtrace_meta under the key
// 'schema_version' (databases made before it was kept are version 1).
//  1: buildtrace_job_metrics (primary key (project, job_id, base_job_id)); buildtrace_job_latency
//     (each job's smallest timestamp_ms and latency_ms over its rows), kept by triggers;
//     buildtrace_meta holding the epoch.
//  2: buildtrace_job_metrics gains `status` TEXT ('succeeded' / 'failed'; NULL on rows written
//     before, which count as succeeded: Record leaves a row of the same base as it is, so they
//     keep NULL until their job is recorded against a greater base; `buildtrace rebuild-metrics`
//     into a new database writes every row with its status).
//     buildtrace_job_latency holds each job's lineage row (its row with the greatest base_job_id
//     below job_id): base_job_id, status, timestamp_ms, latency_ms, and bucket =
//     buildtrace_latency_bucket(latency_ms). buildtrace_latency_histogram (status, day, bucket,
//     jobs) counts the jobs of buildtrace_job_latency per status, UTC day of timestamp_ms
//     (floor(timestamp_ms / 86 400 000)) and bucket, kept by a trigger on
//     buildtrace_job_latency. A version 1 database is migrated on open: the column is added,
//     buildtrace_job_latency and the histogram are made again from the rows.
//  3: adds the view job_results, for queries written for the original service (whose table had
//     that name): one row per succeeded job, its lineage row (the one buildtrace_job_latency
//     names), with columns "timestamp" TIMESTAMPTZ (from timestamp_ms), job_id, latency_ms,
//     total_added, total_removed, total_modified, total_unchanged (added, removed, modified,
//     unchanged) and project. A version 2 database gains the view on open (nothing else
//     changes); a version 1 one migrates as above, then gains it. The view depends on both
//     tables, so dropping buildtrace_job_metrics by hand takes DROP ... CASCADE (Open makes the
//     view again). A relation named job_results that is not a view is refused (22023).
inline constexpr int kPostgresWarehouseSchemaVersion = 3;

// Creates or migrates the schema in one statement (a DO block, one transaction). A transaction-
// scoped advisory lock serializes instances doing it at the same time, which CREATE TABLE IF NOT
// EXISTS alone does not (the loser fails on a unique index of the catalog). The derived tables
// are made (and filled from the rows) with buildtrace_job_metrics locked against writes, so that
// no row is missed between the fill and the triggers. Raises SQLSTATE 22023 (kInvalidArgument)
// on a database of a newer schema version.
extern const char* const kPostgresCreateSchemaSql;

}  // namespace buildtrace
