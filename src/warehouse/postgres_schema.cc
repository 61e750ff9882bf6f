// The PostgreSQL warehouse's schema, version 3 (see postgres_schema.h).
#include "warehouse/postgres_schema.h"

namespace buildtrace {

static_assert(kPostgresWarehouseSchemaVersion == 3, "update kPostgresCreateSchemaSql");

// A buildtrace_job_metrics created anew drops the derived tables, so that they are rebuilt from
// the (empty) new table. The bucket of a latency is the top 18 bits of its IEEE 754 double
// (sign, exponent and 6 bits of mantissa, so about 1.5 % wide), 0 for latencies <= 0: a
// non-decreasing function of the latency, so that a bucket is a range of latencies. The derived
// tables are made again only when one is missing or the database is of version 1; version 2
// gains only the view job_results (version 3), which is also made again when it was dropped.
const char* const kPostgresCreateSchemaSql = R"sql(
DO $$
DECLARE
  stored_version INTEGER;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('buildtrace_job_metrics'));
  IF to_regclass('buildtrace_job_metrics') IS NULL THEN
    CREATE TABLE buildtrace_job_metrics (
      project      TEXT             NOT NULL,
      job_id       BIGINT           NOT NULL,
      base_job_id  BIGINT           NOT NULL,  -- 0 when the job has no base (job ids start at 1)
      "timestamp"  TEXT             NOT NULL,  -- RFC 3339, UTC
      timestamp_ms BIGINT           NOT NULL,
      latency_ms   DOUBLE PRECISION NOT NULL,
      added        BIGINT           NOT NULL,
      removed      BIGINT           NOT NULL,
      modified     BIGINT           NOT NULL,
      unchanged    BIGINT           NOT NULL,
      moved        BIGINT           NOT NULL,
      resized      BIGINT           NOT NULL,
      retyped      BIGINT           NOT NULL,
      changed      BIGINT           NOT NULL,
      recorded_at  TIMESTAMPTZ      NOT NULL DEFAULT now(),
      status       TEXT,  -- 'succeeded' or 'failed'; NULL (rows of version 1) = succeeded
      PRIMARY KEY (project, job_id, base_job_id));
    DROP TABLE IF EXISTS buildtrace_job_latency CASCADE;
  END IF;
  ALTER TABLE buildtrace_job_metrics ADD COLUMN IF NOT EXISTS status TEXT;
  CREATE INDEX IF NOT EXISTS buildtrace_job_metrics_by_timestamp
    ON buildtrace_job_metrics (timestamp_ms);
  CREATE TABLE IF NOT EXISTS buildtrace_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  SELECT value::integer INTO stored_version FROM buildtrace_meta WHERE key = 'schema_version';
  IF stored_version > 3 THEN
    RAISE EXCEPTION 'the database has schema version % but this build supports up to 3; upgrade BuildTrace or use another database', stored_version
      USING ERRCODE = '22023';
  END IF;
  IF (SELECT relkind <> 'v' FROM pg_class WHERE oid = to_regclass('job_results')) THEN
    RAISE EXCEPTION 'the database has a table job_results, the name of BuildTrace''s view for the original service''s queries; rename or drop that table'
      USING ERRCODE = '22023';
  END IF;
  IF to_regclass('buildtrace_job_latency') IS NOT NULL
     AND to_regclass('buildtrace_latency_histogram') IS NOT NULL AND stored_version >= 2 THEN
    IF stored_version = 3 AND to_regclass('job_results') IS NOT NULL THEN
      RETURN;
    END IF;
  ELSE
    LOCK TABLE buildtrace_job_metrics IN SHARE ROW EXCLUSIVE MODE;
    DROP TABLE IF EXISTS buildtrace_job_latency CASCADE;
    DROP TABLE IF EXISTS buildtrace_latency_histogram CASCADE;
    CREATE OR REPLACE FUNCTION buildtrace_latency_bucket(latency DOUBLE PRECISION) RETURNS INTEGER
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
      SELECT CASE WHEN latency > 0
        THEN (('x' || encode(float8send(latency), 'hex'))::bit(64)::bigint >> 46)::integer
        ELSE 0 END
    $f$;
    CREATE OR REPLACE FUNCTION buildtrace_day(ms BIGINT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
      SELECT (ms - ((ms % 86400000) + 86400000) % 86400000) / 86400000
    $f$;
    CREATE TABLE buildtrace_job_latency (
      project      TEXT             NOT NULL,
      job_id       BIGINT           NOT NULL,
      base_job_id  BIGINT           NOT NULL,  -- the lineage row's
      status       TEXT             NOT NULL,  -- the lineage row's, 'succeeded' when NULL there
      timestamp_ms BIGINT           NOT NULL,  -- the lineage row's
      latency_ms   DOUBLE PRECISION NOT NULL,  -- the lineage row's
      bucket       INTEGER          NOT NULL,  -- buildtrace_latency_bucket(latency_ms)
      PRIMARY KEY (project, job_id));
    INSERT INTO buildtrace_job_latency
      SELECT DISTINCT ON (project, job_id) project, job_id, base_job_id,
             COALESCE(status, 'succeeded'), timestamp_ms, latency_ms,
             buildtrace_latency_bucket(latency_ms)
      FROM buildtrace_job_metrics WHERE base_job_id < job_id
      ORDER BY project, job_id, base_job_id DESC;
    CREATE TABLE buildtrace_latency_histogram (
      status TEXT    NOT NULL,
      day    BIGINT  NOT NULL,  -- buildtrace_day(timestamp_ms)
      bucket INTEGER NOT NULL,
      jobs   BIGINT  NOT NULL,
      PRIMARY KEY (status, day, bucket));
    INSERT INTO buildtrace_latency_histogram
      SELECT status, buildtrace_day(timestamp_ms), bucket, COUNT(*) FROM buildtrace_job_latency
      GROUP BY 1, 2, 3;
    CREATE INDEX buildtrace_job_latency_by_timestamp
      ON buildtrace_job_latency (status, timestamp_ms, bucket, latency_ms);
    CREATE INDEX buildtrace_job_latency_by_project_timestamp
      ON buildtrace_job_latency (project, status, timestamp_ms, latency_ms);
    CREATE INDEX buildtrace_job_latency_by_latency
      ON buildtrace_job_latency (status, latency_ms, timestamp_ms);
    CREATE INDEX buildtrace_job_latency_by_project_latency
      ON buildtrace_job_latency (project, status, latency_ms, timestamp_ms);
    CREATE INDEX buildtrace_job_latency_by_bucket
      ON buildtrace_job_latency (status, bucket, latency_ms, timestamp_ms);
    CREATE OR REPLACE FUNCTION buildtrace_keep_job_latency() RETURNS trigger
    LANGUAGE plpgsql AS $f$
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE buildtrace_job_latency, buildtrace_latency_histogram;
        DELETE FROM buildtrace_meta WHERE key = 'epoch';  -- every row is gone: a new epoch
        RETURN NULL;
      END IF;
      IF TG_OP = 'INSERT' THEN
        IF NEW.base_job_id < NEW.job_id THEN
          INSERT INTO buildtrace_job_latency
          VALUES (NEW.project, NEW.job_id, NEW.base_job_id, COALESCE(NEW.status, 'succeeded'),
                  NEW.timestamp_ms, NEW.latency_ms, buildtrace_latency_bucket(NEW.latency_ms))
          ON CONFLICT (project, job_id) DO UPDATE SET
            base_job_id = EXCLUDED.base_job_id, status = EXCLUDED.status,
            timestamp_ms = EXCLUDED.timestamp_ms, latency_ms = EXCLUDED.latency_ms,
            bucket = EXCLUDED.bucket
          WHERE EXCLUDED.base_job_id > buildtrace_job_latency.base_job_id;
        END IF;
        RETURN NULL;
      END IF;
      DELETE FROM buildtrace_job_latency
      WHERE (project = OLD.project AND job_id = OLD.job_id)
         OR (TG_OP = 'UPDATE' AND project = NEW.project AND job_id = NEW.job_id);
      INSERT INTO buildtrace_job_latency
        SELECT DISTINCT ON (project, job_id) project, job_id, base_job_id,
               COALESCE(status, 'succeeded'), timestamp_ms, latency_ms,
               buildtrace_latency_bucket(latency_ms)
        FROM buildtrace_job_metrics
        WHERE ((project = OLD.project AND job_id = OLD.job_id)
            OR (TG_OP = 'UPDATE' AND project = NEW.project AND job_id = NEW.job_id))
          AND base_job_id < job_id
        ORDER BY project, job_id, base_job_id DESC;
      RETURN NULL;
    END
    $f$;
    CREATE OR REPLACE FUNCTION buildtrace_keep_latency_histogram() RETURNS trigger
    LANGUAGE plpgsql AS $f$
    BEGIN
      IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE buildtrace_latency_histogram SET jobs = jobs - 1
        WHERE status = OLD.status AND day = buildtrace_day(OLD.timestamp_ms)
          AND bucket = OLD.bucket;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO buildtrace_latency_histogram
        VALUES (NEW.status, buildtrace_day(NEW.timestamp_ms), NEW.bucket, 1)
        ON CONFLICT (status, day, bucket) DO UPDATE
        SET jobs = buildtrace_latency_histogram.jobs + 1;
      END IF;
      RETURN NULL;
    END
    $f$;
    CREATE TRIGGER buildtrace_job_latency_keeps_histogram
      AFTER INSERT OR DELETE OR UPDATE ON buildtrace_job_latency
      FOR EACH ROW EXECUTE FUNCTION buildtrace_keep_latency_histogram();
    DROP TRIGGER IF EXISTS buildtrace_job_metrics_keeps_job_latency ON buildtrace_job_metrics;
    CREATE TRIGGER buildtrace_job_metrics_keeps_job_latency
      AFTER INSERT OR DELETE OR UPDATE OF project, job_id, base_job_id, timestamp_ms, latency_ms,
        status
      ON buildtrace_job_metrics FOR EACH ROW EXECUTE FUNCTION buildtrace_keep_job_latency();
    DROP TRIGGER IF EXISTS buildtrace_job_metrics_truncate_keeps_job_latency
      ON buildtrace_job_metrics;
    CREATE TRIGGER buildtrace_job_metrics_truncate_keeps_job_latency
      AFTER TRUNCATE ON buildtrace_job_metrics
      FOR EACH STATEMENT EXECUTE FUNCTION buildtrace_keep_job_latency();
  END IF;
  -- Version 3: the original service's table, as a view of each succeeded job's lineage row.
  DROP VIEW IF EXISTS job_results;
  CREATE VIEW job_results AS
    SELECT TIMESTAMPTZ 'epoch' + m.timestamp_ms * INTERVAL '1 millisecond' AS "timestamp",
           m.job_id, m.latency_ms, m.added AS total_added, m.removed AS total_removed,
           m.modified AS total_modified, m.unchanged AS total_unchanged, m.project
    FROM buildtrace_job_latency AS l
    JOIN buildtrace_job_metrics AS m
      ON m.project = l.project AND m.job_id = l.job_id AND m.base_job_id = l.base_job_id
    WHERE l.status = 'succeeded';
  INSERT INTO buildtrace_meta (key, value) VALUES ('schema_version', '3')
  ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
END
$$
)sql";

}  // namespace buildtrace
