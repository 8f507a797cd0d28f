#include "ops/bench/pg_chain.h"

#include <libpq-fe.h>

#include <array>

#include "absl/strings/str_cat.h"

namespace carelog::bench {
namespace {

constexpr char kSchema[] = R"sql(
SET client_min_messages = warning;
DROP FUNCTION IF EXISTS append_event(text, bigint, text, text, bytea);
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS chain_head;
CREATE TABLE chain_head (
  id int PRIMARY KEY,
  position bigint NOT NULL,
  hash bytea NOT NULL);
INSERT INTO chain_head VALUES (1, 0, decode(repeat('00', 32), 'hex'));
CREATE TABLE events (
  position bigint PRIMARY KEY,
  stream_id text NOT NULL,
  version bigint NOT NULL,
  event_type text NOT NULL,
  recorded_at timestamptz NOT NULL,
  command_id text NOT NULL UNIQUE,
  payload bytea NOT NULL,
  prev_hash bytea NOT NULL,
  hash bytea NOT NULL,
  UNIQUE (stream_id, version));
CREATE FUNCTION append_event(p_stream text, p_expected bigint, p_type text,
                             p_command text, p_payload bytea)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  cur bigint;
  head_pos bigint;
  head_hash bytea;
  new_hash bytea;
BEGIN
  SELECT coalesce(max(version), 0) INTO cur FROM events WHERE stream_id = p_stream;
  IF cur <> p_expected THEN
    RAISE EXCEPTION 'stream % is at version %', p_stream, cur USING ERRCODE = '40001';
  END IF;
  SELECT position, hash INTO head_pos, head_hash FROM chain_head WHERE id = 1 FOR UPDATE;
  new_hash := sha256(head_hash || convert_to(p_stream || '|' || (cur + 1)::text || '|' ||
                     p_type || '|' || p_command || '|', 'UTF8') || p_payload);
  INSERT INTO events VALUES (head_pos + 1, p_stream, cur + 1, p_type, clock_timestamp(),
                             p_command, p_payload, head_hash, new_hash);
  UPDATE chain_head SET position = head_pos + 1, hash = new_hash WHERE id = 1;
  RETURN head_pos + 1;
END $$;
)sql";

constexpr char kVerify[] = R"sql(
SELECT count(*) FILTER (WHERE NOT ok), min(position) FILTER (WHERE NOT ok), count(*)
FROM (
  SELECT position,
         hash = sha256(prev_hash || convert_to(stream_id || '|' || version::text || '|' ||
                       event_type || '|' || command_id || '|', 'UTF8') || payload)
         AND prev_hash = coalesce(lag(hash) OVER (ORDER BY position),
                                  decode(repeat('00', 32), 'hex'))
         AND position = row_number() OVER (ORDER BY position) AS ok
  FROM events) AS checked;
)sql";

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;
using ResultPtr = std::unique_ptr<PGresult, ResultCloser>;

absl::StatusOr<ConnPtr> Open(const std::string& conninfo) {
  ConnPtr c(PQconnectdb(conninfo.c_str()));
  if (c == nullptr || PQstatus(c.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat(
        "postgres connect: ", c ? PQerrorMessage(c.get()) : "out of memory"));
  }
  return c;
}

absl::StatusOr<ResultPtr> Exec(PGconn* c, const char* sql) {
  ResultPtr r(PQexec(c, sql));
  const ExecStatusType st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    return absl::InternalError(absl::StrCat("postgres: ", PQerrorMessage(c)));
  return r;
}

}  // namespace

struct PgAppender::Conn {
  ConnPtr conn;
};

absl::Status PgSetup(const std::string& conninfo) {
  auto c = Open(conninfo);
  if (!c.ok())
    return c.status();
  return Exec(c->get(), kSchema).status();
}

absl::StatusOr<uint64_t> PgVerifyChain(const std::string& conninfo) {
  auto c = Open(conninfo);
  if (!c.ok())
    return c.status();
  auto r = Exec(c->get(), kVerify);
  if (!r.ok())
    return r.status();
  const std::string bad = PQgetvalue(r->get(), 0, 0);
  if (bad != "0") {
    return absl::DataLossError(absl::StrCat("postgres chain: ", bad,
                                            " bad rows, first at position ",
                                            PQgetvalue(r->get(), 0, 1)));
  }
  return std::stoull(PQgetvalue(r->get(), 0, 2));
}

absl::StatusOr<std::string> PgSetting(const std::string& conninfo,
                                      absl::string_view name) {
  auto c = Open(conninfo);
  if (!c.ok())
    return c.status();
  const std::string n(name);
  const char* params[] = {n.c_str()};
  ResultPtr r(PQexecParams(c->get(), "SELECT current_setting($1)", 1, nullptr,
                           params, nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
    return absl::InternalError(
        absl::StrCat("postgres: ", PQerrorMessage(c->get())));
  return std::string(PQgetvalue(r.get(), 0, 0));
}

absl::StatusOr<std::unique_ptr<PgAppender>> PgAppender::Connect(
    const std::string& conninfo) {
  auto c = Open(conninfo);
  if (!c.ok())
    return c.status();
  ResultPtr r(PQprepare(
      c->get(), "append",
      "SELECT append_event($1, $2::bigint, $3, $4, $5::bytea)", 5, nullptr));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
    return absl::UnavailableError(
        absl::StrCat("postgres prepare: ", PQerrorMessage(c->get())));
  auto conn = std::make_unique<Conn>();
  conn->conn = std::move(*c);
  return std::unique_ptr<PgAppender>(new PgAppender(std::move(conn)));
}

PgAppender::PgAppender(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}
PgAppender::~PgAppender() = default;

absl::Status PgAppender::Append(absl::string_view stream, int64_t expected,
                                absl::string_view type,
                                absl::string_view command_id,
                                absl::string_view payload) {
  const std::string expected_text = std::to_string(expected);
  // Text parameters for the strings, binary for the payload.
  const std::string s(stream), t(type), cmd(command_id);
  const std::array<const char*, 5> values = {
      s.c_str(), expected_text.c_str(), t.c_str(), cmd.c_str(), payload.data()};
  const std::array<int, 5> lengths = {0, 0, 0, 0,
                                      static_cast<int>(payload.size())};
  const std::array<int, 5> formats = {0, 0, 0, 0, 1};
  ResultPtr r(PQexecPrepared(conn_->conn.get(), "append", 5, values.data(),
                             lengths.data(), formats.data(), 0));
  if (PQresultStatus(r.get()) == PGRES_TUPLES_OK)
    return absl::OkStatus();
  const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
  const std::string msg =
      absl::StrCat("postgres append: ", PQerrorMessage(conn_->conn.get()));
  if (state != nullptr && std::string(state) == "40001")
    return absl::AbortedError(msg);
  return absl::InternalError(msg);
}

}  // namespace carelog::bench
