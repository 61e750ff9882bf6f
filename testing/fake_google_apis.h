// A loopback HTTP server that plays the Google APIs used by the gs:// store and the bigquery://
// warehouse, for tests on machines without emulators: the metadata server's token endpoint, the
// OAuth2 token endpoint (JWT bearer flow, signature checked), the Cloud Storage JSON API
// (media upload with ifGenerationMatch, get alt=media, list with paging, testIamPermissions) and
// BigQuery v2 (tables.get/insert/patch, tabledata.insertAll, jobs.query (the warehouse's
// queries and its DML DELETE), jobs.getQueryResults).
//
// Every request is checked against the public API reference (method, path, query, headers,
// body); a request that breaks it is answered 400 and recorded in ProtocolErrors(), which tests
// expect to be empty. Data lives in memory. Faults are injected on demand. BigQuery queries are
// not parsed: the fake recognizes the queries the warehouse sends (its DELETE too), and the
// original service's P99 query that docs/configuration.md gives, by their required fragments and
// computes their answers itself (APPROX_QUANTILES as exact nearest rank at 1%). What it does check
// of any query is that every name in it is a column of its table, a keyword, a function, a
// parameter or an alias (BigQuery's "Unrecognized name").
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace buildtrace {

// Sets (or, with nullptr, unsets) an environment variable for its lifetime, then restores it, so
// that tests of *_EMULATOR_HOST and friends leave the variables of a real-service run alone.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

class FakeGoogleApis {
 public:
  enum class Op {
    kMetadataToken,
    kOAuthToken,
    kUpload,
    kGetObject,
    kDeleteObject,
    kListObjects,
    kTestPermissions,
    kGetTable,
    kInsertTable,
    kPatchTable,
    kInsertAll,
    kQuery,
    kGetQueryResults,
  };

  struct Field {
    std::string name;
    std::string type;
    std::string mode;
    bool operator==(const Field&) const = default;
  };

  // Starts serving on 127.0.0.1, port 0, on a thread of its own.
  FakeGoogleApis();
  ~FakeGoogleApis();
  FakeGoogleApis(const FakeGoogleApis&) = delete;
  FakeGoogleApis& operator=(const FakeGoogleApis&) = delete;

  std::string base_url() const;  // "http://127.0.0.1:PORT"

  // ---- Authentication
  // Bearer tokens the storage and BigQuery endpoints accept (the token endpoints add theirs).
  void AcceptToken(const std::string& token);
  // Every token accepted so far is answered 401 from now on, as an expired one would be.
  void ExpireAllTokens();
  // expires_in of the tokens the metadata server and the OAuth2 endpoint hand out.
  void SetIssuedTokenLifetime(std::chrono::seconds lifetime);
  // The service account whose JWTs the OAuth2 endpoint (POST /token) accepts.
  void SetServiceAccount(const std::string& client_email, const std::string& public_key_pem);

  // ---- Cloud Storage
  void AddBucket(const std::string& bucket);
  void SetListPageSize(int items);
  void SetGrantedPermissions(std::vector<std::string> permissions);
  std::optional<std::string> Object(const std::string& bucket, const std::string& name) const;

  // ---- BigQuery
  void AddDataset(const std::string& project, const std::string& dataset);
  // The schema given to tables.insert (then tables.patch); empty if the table does not exist.
  std::vector<Field> TableSchema(const std::string& project, const std::string& dataset,
                                 const std::string& table) const;
  size_t RowCount(const std::string& project, const std::string& dataset,
                  const std::string& table) const;
  // Creates an empty table with `schema`, as `bq mk` would (e.g. one made by an older version).
  void CreateTable(const std::string& project, const std::string& dataset, const std::string& table,
                   std::vector<Field> schema);
  // Every row of the table as insertAll took it: column name -> the value's JSON text as sent
  // (e.g. "\"12\"" for a string, "5.5" for a number); columns that were NULL or absent are not
  // in it.
  std::vector<std::map<std::string, std::string>> TableRows(const std::string& project,
                                                            const std::string& dataset,
                                                            const std::string& table) const;
  // Adds one row (a JSON object of column values) as insertAll would, without an insertId, e.g.
  // a row the original service wrote. "" or the reason insertAll would give ("invalid").
  std::string AddRow(const std::string& project, const std::string& dataset,
                     const std::string& table, const std::string& json_row);
  // Runs `sql` (GoogleSQL, no parameters) as jobs.query would, e.g. a query from the
  // documentation, and returns the one value it selects ("NULL" for NULL), or "error: " and why
  // BigQuery (or this fake, for a query it does not know) would refuse it.
  std::string RunQuery(const std::string& sql);
  // Removes the table and its rows, as `bq rm -t` would. A table created again gets a later
  // creationTime (tables.get gives it, in ms since the epoch, as BigQuery does).
  void DeleteTable(const std::string& project, const std::string& dataset,
                   const std::string& table);
  // Whether insertAll drops rows whose insertId it has seen (BigQuery's best-effort dedup).
  void SetInsertIdDedup(bool on);
  // While on, DML (DELETE) over a table that has rows is refused with 400 invalidQuery "...would
  // affect rows in the streaming buffer...", as BigQuery refuses it for rows inserted through
  // insertAll in the last 90 minutes or so. Off by default.
  void SetStreamingBuffer(bool rows_in_buffer);
  // The next query job answers jobComplete:false `answers` times (its jobs.query answer first).
  void SetIncompleteAnswers(int answers);
  // The next `times` insertAll calls answer 200 with insertErrors of `reason` for every row.
  void InsertErrorsNext(const std::string& reason, int times = 1);

  // ---- Faults and observations
  // The next `times` requests of `op` are answered `status` with a Google error body, unapplied.
  void FailNext(Op op, int status, int times = 1);
  // The next request of `op` is applied, then answered `status`, as if the answer were lost.
  void FailNextAfterApplying(Op op, int status);
  int Count(Op op) const;
  std::vector<std::string> ProtocolErrors() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether `signature` is an RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature of `data` by the
// private key of `public_key_pem` (a PEM SubjectPublicKeyInfo), as Google checks a JWT.
bool VerifyRs256(const std::string& public_key_pem, std::string_view data,
                 const std::string& signature);

}  // namespace buildtrace
