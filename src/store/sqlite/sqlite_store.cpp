#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "core/text.h"
#include "store/postgres/connection.h"
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

using core::ErrorCode;
using core::fail;

namespace {

constexpr int kMaxPageLimit = 500;
constexpr int kExportChunk = 1000;
constexpr TimeMs kDefaultOverviewRange = 30 * core::kDayMs;
// Readers kept open for reuse; more are opened under load and closed when returned.
constexpr size_t kMaxIdleReaders = 8;

constexpr const char* kThreatColumns =
    "SELECT t.id, t.project_id, t.name, t.description, t.score, t.severity, t.kind, t.source, "
    "t.rule_id, t.rule_group, t.entity_type, t.entity_value, t.entity_group, t.host, t.tags, "
    "t.evidence, t.group_id, t.state_id, t.outcome_id, t.owner_id, g.name, s.name, o.name, "
    "u.email, t.closed, t.count, t.created_at, t.last_seen, t.updated_at, t.closed_at, "
    "t.dedup_key FROM threats t LEFT JOIN tags g ON g.id = t.group_id "
    "LEFT JOIN tags s ON s.id = t.state_id LEFT JOIN tags o ON o.id = t.outcome_id "
    "LEFT JOIN users u ON u.id = t.owner_id ";

std::string jsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static const char* kHex = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

std::string tagsJson(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i) out += ',';
    out += jsonString(tags[i]);
  }
  out += ']';
  return out;
}

std::vector<std::string> parseTagsJson(std::string_view text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& v : j)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

core::Threat threatFromRow(const Statement& st) {
  core::Threat t;
  t.id = st.i64(0);
  t.project_id = st.i64(1);
  t.name = st.text(2);
  t.description = st.text(3);
  t.score = st.i32(4);
  t.severity = static_cast<core::Severity>(std::clamp(st.i32(5), 0, core::kSeverityCount - 1));
  t.kind = st.i32(6) == 0 ? core::ThreatKind::kSignal : core::ThreatKind::kThreat;
  t.source = st.text(7);
  t.rule_id = st.text(8);
  t.rule_group = st.text(9);
  t.entity.type = st.text(10);
  t.entity.value = st.text(11);
  t.entity_group = st.text(12);
  t.host = st.text(13);
  t.tags = parseTagsJson(st.textView(14));
  t.evidence_json = st.text(15);
  t.group_id = st.optI64(16);
  t.state_id = st.i64(17);
  t.outcome_id = st.optI64(18);
  t.owner_id = st.optI64(19);
  t.group = st.text(20);
  t.state = st.text(21);
  t.outcome = st.text(22);
  t.owner = st.text(23);
  t.closed = st.i64(24) != 0;
  t.count = st.i64(25);
  t.created_at = st.i64(26);
  t.last_seen = st.i64(27);
  t.updated_at = st.i64(28);
  t.closed_at = st.optI64(29);
  t.dedup_key = st.text(30);
  return t;
}

IndexRow indexRowOf(const core::Threat& t) {
  IndexRow r;
  r.id = t.id;
  r.project_id = t.project_id;
  r.score = t.score;
  r.severity = t.severity;
  r.kind = t.kind;
  r.closed = t.closed;
  r.state_id = t.state_id;
  r.group_id = t.group_id.value_or(0);
  r.outcome_id = t.outcome_id.value_or(0);
  r.owner_id = t.owner_id.value_or(0);
  r.source = t.source;
  r.entity_group = t.entity_group;
  r.host = t.host;
  r.entity_type = t.entity.type;
  r.entity_value = t.entity.value;
  r.rule_id = t.rule_id;
  r.name = t.name;
  r.created_at = t.created_at;
  r.last_seen = t.last_seen;
  return r;
}

Org orgFromRow(const Statement& st) { return Org{st.i64(0), st.text(1), st.optI64(2)}; }

User userFromRow(const Statement& st) {
  User u;
  u.id = st.i64(0);
  u.org_id = st.i64(1);
  u.email = st.text(2);
  u.display_name = st.text(3);
  u.role = parseRole(st.textView(4)).value_or(Role::kReadonly);
  u.time_zone = st.text(5);
  u.password_hash = st.text(6);
  u.disabled = st.i64(7) != 0;
  u.created_at = st.i64(8);
  return u;
}
constexpr const char* kUserColumns =
    "SELECT id, org_id, email, display_name, role, time_zone, password_hash, disabled, created_at "
    "FROM users ";

ApiToken tokenFromRow(const Statement& st) {
  ApiToken t;
  t.id = st.i64(0);
  t.project_id = st.i64(1);
  t.name = st.text(2);
  t.token_hash = st.text(3);
  t.prefix = st.text(4);
  t.scopes = static_cast<Scope>(st.i64(5) & 7);
  t.created_by = st.optI64(6);
  t.created_at = st.i64(7);
  t.revoked_at = st.optI64(8);
  t.last_used_at = st.optI64(9);
  return t;
}
constexpr const char* kTokenColumns =
    "SELECT id, project_id, name, token_hash, prefix, scopes, created_by, created_at, revoked_at, "
    "last_used_at FROM api_tokens ";

TagValue tagFromRow(const Statement& st) {
  TagValue t;
  t.id = st.i64(0);
  t.org_id = st.i64(1);
  t.kind = static_cast<TagKind>(std::clamp(st.i32(2), 0, 2));
  t.name = st.text(3);
  t.position = st.i32(4);
  return t;
}
constexpr const char* kTagColumns = "SELECT id, org_id, kind, name, position FROM tags ";

OutboxEvent outboxFromRow(const Statement& st) {
  OutboxEvent e;
  e.id = st.i64(0);
  e.project_id = st.i64(1);
  e.threat_id = st.i64(2);
  e.kind = st.text(3);
  e.payload_json = st.text(4);
  e.created_at = st.i64(5);
  e.attempts = st.i32(6);
  e.delivered_at = st.optI64(7);
  return e;
}
constexpr const char* kOutboxColumns =
    "id, project_id, threat_id, kind, payload, created_at, attempts, delivered_at";

const char* tagColumn(TagKind kind) {
  switch (kind) {
    case TagKind::kGroup:
      return "group_id";
    case TagKind::kState:
      return "state_id";
    case TagKind::kOutcome:
      return "outcome_id";
  }
  return "group_id";
}

// Rewrites a constraint failure into a message about the value that collided.
core::Error conflictAs(core::Error e, std::string message, std::string field) {
  if (e.code == ErrorCode::kConflict) {
    e.message = std::move(message);
    e.field = std::move(field);
  }
  return e;
}

// --- cursors --------------------------------------------------------------------------------
constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> unbase64url(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    const size_t v = kB64.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string encodeCursor(ThreatSort sort, bool descending, const IndexCursor& c) {
  std::string plain = "v1.";
  plain += threatSortName(sort);
  plain += descending ? ".d." : ".a.";
  plain += std::to_string(c.key) + "." + std::to_string(c.id);
  return base64url(plain);
}

bool parseInt(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

Result<std::optional<IndexCursor>> decodeCursor(const PageRequest& page) {
  if (page.cursor.empty()) return std::optional<IndexCursor>{};
  auto bad = [] {
    return fail(ErrorCode::kInvalidArgument,
                "cursor is not one this server handed out (take next_cursor of the previous page "
                "with the same sort)",
                "cursor");
  };
  if (page.cursor.size() > 200) return bad();
  auto plain = unbase64url(page.cursor);
  if (!plain) return bad();
  std::vector<std::string_view> parts;
  std::string_view rest = *plain;
  for (size_t dot; (dot = rest.find('.')) != std::string_view::npos; rest.remove_prefix(dot + 1))
    parts.push_back(rest.substr(0, dot));
  parts.push_back(rest);
  if (parts.size() != 5 || parts[0] != "v1") return bad();
  if (parts[1] != threatSortName(page.sort)) return bad();
  if (parts[2] != (page.descending ? "d" : "a")) return bad();
  IndexCursor c;
  if (!parseInt(parts[3], c.key) || !parseInt(parts[4], c.id)) return bad();
  return std::optional<IndexCursor>{c};
}

}  // namespace

// --- opening ------------------------------------------------------------------------------------

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  return openWith([path](bool read_only) -> Result<std::unique_ptr<Connection>> {
    TD_TRY(c, SqliteConnection::open(path, read_only));
    return std::unique_ptr<Connection>(std::move(c));
  });
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::openPostgres(const std::string& url) {
  return openWith([url](bool) -> Result<std::unique_ptr<Connection>> {
    TD_TRY(c, postgres::PgConnection::open(url));
    return std::unique_ptr<Connection>(std::move(c));
  });
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::openWith(Connect connect) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(connect)));
  TD_TRY(writer, store->connect_(false));
  store->writer_ = std::move(writer);
  TD_CHECK(migrate(*store->writer_));
  TD_CHECK(store->reloadIndex());
  return store;
}

SqliteStore::~SqliteStore() = default;

namespace {
// SQLite: rows written by another connection are picked up by updated_at; the margin covers a
// transaction that stamped its rows a little before it committed.
constexpr TimeMs kRefreshMarginMs = 60'000;
constexpr std::string_view kIndexColumns =
    "SELECT id, project_id, score, severity, kind, closed, state_id, group_id, outcome_id, "
    "owner_id, source, entity_group, host, entity_type, entity_value, rule_id, name, created_at, "
    "last_seen FROM threats ";
}  // namespace

Status SqliteStore::loadIndexRows(std::optional<std::int64_t> changed_since) {
  std::string sql(kIndexColumns);
  if (!changed_since)
    sql += "ORDER BY id";
  else if (writer_->backend() == sql::Backend::kPostgres)
    sql += "WHERE change_xid >= ?";
  else
    sql += "WHERE updated_at >= ?";
  TD_TRY(st, writer_->prepare(sql));
  if (changed_since) st->bind(1, *changed_since);
  std::int64_t rows = 0;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    ++rows;
    IndexRow r;
    r.id = st->i64(0);
    r.project_id = st->i64(1);
    r.score = st->i32(2);
    r.severity = static_cast<core::Severity>(std::clamp(st->i32(3), 0, core::kSeverityCount - 1));
    r.kind = st->i32(4) == 0 ? core::ThreatKind::kSignal : core::ThreatKind::kThreat;
    r.closed = st->i64(5) != 0;
    r.state_id = st->i64(6);
    r.group_id = st->optI64(7).value_or(0);
    r.outcome_id = st->optI64(8).value_or(0);
    r.owner_id = st->optI64(9).value_or(0);
    r.source = st->textView(10);
    r.entity_group = st->textView(11);
    r.host = st->textView(12);
    r.entity_type = st->textView(13);
    r.entity_value = st->textView(14);
    r.rule_id = st->textView(15);
    r.name = st->textView(16);
    r.created_at = st->i64(17);
    r.last_seen = st->i64(18);
    index_.put(r);
  }
  st->reset();
  if (changed_since) refreshed_rows_.fetch_add(rows, std::memory_order_relaxed);
  return {};
}

Result<std::int64_t> SqliteStore::dataVersion() { return writer_->changeCounter(); }

Result<std::int64_t> SqliteStore::changeHorizon() {
  // The snapshot's xmin: every transaction with a smaller id has ended. A commit this store's
  // later reads can see but an earlier read could not came from a transaction that was running
  // then or began later, so its id is at least this.
  TD_TRY(st, writer_->prepare(
                 "SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT)"));
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kInternal, "no snapshot horizon");
  const std::int64_t horizon = st->i64(0);
  st->reset();
  return horizon;
}

Status SqliteStore::reloadIndex() {
  std::lock_guard lock(write_mu_);
  const TimeMs started = core::nowMs();
  TD_TRY(version, dataVersion());
  if (writer_->backend() == sql::Backend::kPostgres) {
    TD_TRY(horizon, changeHorizon());  // before the rows are read
    xid_horizon_ = horizon;
  }
  index_.clear();
  auto count = writer_->prepare("SELECT count(*) FROM threats");
  if (!count) return fail(count.error());
  TD_CHECK((*count)->step());
  index_.reserve(static_cast<size_t>((*count)->i64(0)));
  (*count)->reset();
  TD_CHECK(loadIndexRows(std::nullopt));
  data_version_ = version;
  refreshed_at_ = started;
  return {};
}

Status SqliteStore::refreshIfChanged() {
  // write_mu_ held. data_version moves only when another connection (another process: the CLI
  // beside a running server) commits; our own writes update the index as they commit.
  TD_TRY(version, dataVersion());
  if (version == data_version_) return {};
  if (writer_->backend() == sql::Backend::kPostgres) {
    // Exactly the rows written since the last refresh (and a few seen then already): their
    // change_xid is at least the horizon taken before that refresh read.
    TD_TRY(horizon, changeHorizon());
    TD_CHECK(loadIndexRows(xid_horizon_));
    xid_horizon_ = horizon;
  } else {
    const TimeMs started = core::nowMs();
    TD_CHECK(loadIndexRows(refreshed_at_ - kRefreshMarginMs));
    refreshed_at_ = started;
  }
  data_version_ = version;
  project_info_.clear();  // states may have changed too
  return {};
}

Status SqliteStore::refreshIndex() {
  // A read never waits for a sink batch to check: while the writer is busy it refreshes by
  // itself before each write, and the next idle read catches up.
  std::unique_lock lock(write_mu_, std::try_to_lock);
  if (!lock) return {};
  return refreshIfChanged();
}

SqliteStore::Reader::~Reader() {
  if (!conn_) return;
  conn_->resetAll();
  std::lock_guard lock(store_->pool_mu_);
  if (store_->idle_readers_.size() < kMaxIdleReaders)
    store_->idle_readers_.push_back(std::move(conn_));
}

Result<SqliteStore::Reader> SqliteStore::reader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Reader(this, std::move(conn));
    }
  }
  TD_TRY(conn, connect_(true));
  return Reader(this, std::move(conn));
}

Status SqliteStore::withWriter(const std::function<Status(Connection&)>& fn) {
  std::lock_guard lock(write_mu_);
  return fn(*writer_);
}

Status SqliteStore::withReader(const std::function<Status(Connection&)>& fn) {
  TD_TRY(conn, reader());
  return fn(*conn);
}

// --- organisations, projects, users ----------------------------------------------------------

Result<Org> SqliteStore::createOrg(const std::string& name, std::optional<OrgId> parent) {
  std::lock_guard lock(write_mu_);
  if (parent) {
    TD_TRY(st, writer_->prepare("SELECT id FROM orgs WHERE id = ?"));
    st->bind(1, *parent);
    TD_TRY(found, st->step());
    st->reset();
    if (!found)
      return fail(ErrorCode::kUnprocessable, "no parent organisation " + std::to_string(*parent),
                  "parent");
  }
  TD_TRY(st, writer_->prepare("INSERT INTO orgs (name, parent_id, created_at) VALUES (?, ?, ?)"));
  st->bind(1, name).bind(2, parent).bind(3, core::nowMs());
  if (auto s = st->run(); !s)
    return fail(conflictAs(s.error(), "organisation '" + name + "' exists already", "name"));
  return Org{writer_->lastInsertId(), name, parent};
}

Result<std::vector<Org>> SqliteStore::listOrgs() {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare("SELECT id, name, parent_id FROM orgs ORDER BY id"));
  std::vector<Org> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(orgFromRow(*st));
  }
  return out;
}

Result<Org> SqliteStore::findOrg(const std::string& name) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare("SELECT id, name, parent_id FROM orgs WHERE lower(name) = lower(?)"));
  st->bind(1, name);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no organisation '" + name + "'");
  return orgFromRow(*st);
}

Result<Org> SqliteStore::getOrg(OrgId id) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare("SELECT id, name, parent_id FROM orgs WHERE id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no organisation " + std::to_string(id));
  return orgFromRow(*st);
}

Result<std::vector<OrgId>> SqliteStore::orgSubtree(OrgId root) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare("WITH RECURSIVE sub(id) AS (SELECT id FROM orgs WHERE id = ? "
                        "UNION SELECT o.id FROM orgs o JOIN sub ON o.parent_id = sub.id) "
                        "SELECT id FROM sub ORDER BY id"));
  st->bind(1, root);
  std::vector<OrgId> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(st->i64(0));
  }
  if (out.empty()) return fail(ErrorCode::kNotFound, "no organisation " + std::to_string(root));
  return out;
}

Result<Project> SqliteStore::createProject(OrgId org, const std::string& name) {
  std::lock_guard lock(write_mu_);
  TD_TRY(chk, writer_->prepare("SELECT id FROM orgs WHERE id = ?"));
  chk->bind(1, org);
  TD_TRY(found, chk->step());
  chk->reset();
  if (!found)
    return fail(ErrorCode::kUnprocessable, "no organisation " + std::to_string(org), "org");
  TD_TRY(st, writer_->prepare("INSERT INTO projects (org_id, name, created_at) VALUES (?, ?, ?)"));
  st->bind(1, org).bind(2, name).bind(3, core::nowMs());
  if (auto s = st->run(); !s)
    return fail(conflictAs(s.error(), "project '" + name + "' exists already", "name"));
  return Project{writer_->lastInsertId(), org, name};
}

Result<std::vector<Project>> SqliteStore::listProjects() {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare("SELECT id, org_id, name FROM projects ORDER BY id"));
  std::vector<Project> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(Project{st->i64(0), st->i64(1), st->text(2)});
  }
  return out;
}

Result<Project> SqliteStore::findProject(const std::string& name) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare("SELECT id, org_id, name FROM projects WHERE lower(name) = lower(?)"));
  st->bind(1, name);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no project '" + name + "'");
  return Project{st->i64(0), st->i64(1), st->text(2)};
}

Result<Project> SqliteStore::getProject(ProjectId id) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare("SELECT id, org_id, name FROM projects WHERE id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no project " + std::to_string(id));
  return Project{st->i64(0), st->i64(1), st->text(2)};
}

Result<User> SqliteStore::createUser(const User& user) {
  std::lock_guard lock(write_mu_);
  TD_TRY(chk, writer_->prepare("SELECT id FROM orgs WHERE id = ?"));
  chk->bind(1, user.org_id);
  TD_TRY(found, chk->step());
  chk->reset();
  if (!found)
    return fail(ErrorCode::kUnprocessable, "no organisation " + std::to_string(user.org_id), "org");
  User u = user;
  if (u.created_at == 0) u.created_at = core::nowMs();
  TD_TRY(st, writer_->prepare(
                 "INSERT INTO users (org_id, email, display_name, role, time_zone, password_hash, "
                 "disabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  st->bind(1, u.org_id).bind(2, u.email).bind(3, u.display_name).bind(4, roleName(u.role));
  st->bind(5, u.time_zone).bind(6, u.password_hash).bind(7, u.disabled).bind(8, u.created_at);
  if (auto s = st->run(); !s)
    return fail(conflictAs(s.error(), "user '" + u.email + "' exists already", "email"));
  u.id = writer_->lastInsertId();
  return u;
}

Result<std::vector<User>> SqliteStore::listUsers() {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare(std::string(kUserColumns) + "ORDER BY id"));
  std::vector<User> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(userFromRow(*st));
  }
  return out;
}

Result<User> SqliteStore::findUserByEmail(const std::string& email) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare(std::string(kUserColumns) + "WHERE lower(email) = lower(?)"));
  st->bind(1, email);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no user '" + email + "'");
  return userFromRow(*st);
}

Result<User> SqliteStore::getUser(UserId id) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare(std::string(kUserColumns) + "WHERE id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no user " + std::to_string(id));
  return userFromRow(*st);
}

Status SqliteStore::setPasswordHash(UserId id, const std::string& hash) {
  std::lock_guard lock(write_mu_);
  TD_TRY(st, writer_->prepare("UPDATE users SET password_hash = ? WHERE id = ?"));
  st->bind(1, hash).bind(2, id);
  TD_CHECK(st->run());
  if (writer_->changes() == 0) return fail(ErrorCode::kNotFound, "no user " + std::to_string(id));
  return {};
}

// --- credentials -------------------------------------------------------------------------------

Result<ApiToken> SqliteStore::createToken(const ApiToken& token) {
  std::lock_guard lock(write_mu_);
  TD_TRY(chk, writer_->prepare("SELECT id FROM projects WHERE id = ?"));
  chk->bind(1, token.project_id);
  TD_TRY(found, chk->step());
  chk->reset();
  if (!found)
    return fail(ErrorCode::kUnprocessable, "no project " + std::to_string(token.project_id),
                "project");
  ApiToken t = token;
  if (t.created_at == 0) t.created_at = core::nowMs();
  TD_TRY(st,
         writer_->prepare(
             "INSERT INTO api_tokens (project_id, name, token_hash, prefix, scopes, created_by, "
             "created_at, revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st->bind(1, t.project_id).bind(2, t.name).bind(3, t.token_hash).bind(4, t.prefix);
  st->bind(5, static_cast<std::int64_t>(t.scopes)).bind(6, t.created_by).bind(7, t.created_at);
  st->bind(8, t.revoked_at).bind(9, t.last_used_at);
  if (auto s = st->run(); !s)
    return fail(conflictAs(s.error(), "a token with this hash exists already", "token"));
  t.id = writer_->lastInsertId();
  return t;
}

Result<ApiToken> SqliteStore::findTokenByHash(const std::string& hash) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare(std::string(kTokenColumns) + "WHERE token_hash = ?"));
  st->bind(1, hash);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no such token");
  return tokenFromRow(*st);
}

Result<std::vector<ApiToken>> SqliteStore::listTokens(std::optional<ProjectId> project) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare(std::string(kTokenColumns) +
                        "WHERE (? IS NULL OR project_id = ?) ORDER BY id"));
  st->bind(1, project).bind(2, project);
  std::vector<ApiToken> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(tokenFromRow(*st));
  }
  return out;
}

Status SqliteStore::revokeToken(std::int64_t id) {
  std::lock_guard lock(write_mu_);
  TD_TRY(st, writer_->prepare(
                 "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?"));
  st->bind(1, core::nowMs()).bind(2, id);
  TD_CHECK(st->run());
  if (writer_->changes() == 0) return fail(ErrorCode::kNotFound, "no token " + std::to_string(id));
  return {};
}

Status SqliteStore::touchToken(std::int64_t id, TimeMs at) {
  std::lock_guard lock(write_mu_);
  TD_TRY(st, writer_->prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"));
  st->bind(1, at).bind(2, id);
  TD_CHECK(st->run());
  if (writer_->changes() == 0) return fail(ErrorCode::kNotFound, "no token " + std::to_string(id));
  return {};
}

Status SqliteStore::createSession(const Session& session) {
  std::lock_guard lock(write_mu_);
  TD_TRY(st, writer_->prepare("INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, "
                              "expires_at) VALUES (?, ?, ?, ?, ?)"));
  st->bind(1, session.id_hash).bind(2, session.user_id).bind(3, session.csrf_token);
  st->bind(4, session.created_at).bind(5, session.expires_at);
  if (auto s = st->run(); !s) {
    auto e = s.error();
    // A foreign key failure names a user that does not exist.
    if (e.code == ErrorCode::kConflict && e.message.find("FOREIGN") != std::string::npos)
      return fail(ErrorCode::kUnprocessable, "no user " + std::to_string(session.user_id), "user");
    return fail(conflictAs(e, "session exists already", "session"));
  }
  return {};
}

Result<Session> SqliteStore::findSession(const std::string& id_hash) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare("SELECT id_hash, user_id, csrf_token, created_at, expires_at FROM sessions "
                        "WHERE id_hash = ?"));
  st->bind(1, id_hash);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no such session");
  return Session{st->text(0), st->i64(1), st->text(2), st->i64(3), st->i64(4)};
}

Status SqliteStore::deleteSession(const std::string& id_hash) {
  std::lock_guard lock(write_mu_);
  TD_TRY(st, writer_->prepare("DELETE FROM sessions WHERE id_hash = ?"));
  st->bind(1, id_hash);
  TD_CHECK(st->run());
  return {};
}

// --- custom tags
// ----------------------------------------------------------------------------------

Result<TagValue> SqliteStore::readTag(Connection& c, TagId id) {
  TD_TRY(st, c.prepare(std::string(kTagColumns) + "WHERE id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no tag " + std::to_string(id));
  auto t = tagFromRow(*st);
  st->reset();
  return t;
}

Result<std::vector<TagValue>> SqliteStore::readTags(Connection& c, OrgId org, TagKind kind) {
  TD_TRY(st, c.prepare(std::string(kTagColumns) +
                       "WHERE org_id = ? AND kind = ? ORDER BY position, id"));
  st->bind(1, org).bind(2, static_cast<int>(kind));
  std::vector<TagValue> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(tagFromRow(*st));
  }
  return out;
}

Result<std::vector<TagValue>> SqliteStore::listTags(OrgId org, TagKind kind) {
  TD_TRY(c, reader());
  return readTags(*c, org, kind);
}

Result<TagValue> SqliteStore::getTag(TagId id) {
  TD_TRY(c, reader());
  return readTag(*c, id);
}

namespace {
Result<std::int64_t> countCarriers(Connection& c, TagKind kind, TagId id) {
  TD_TRY(st,
         c.prepare(std::string("SELECT count(*) FROM threats WHERE ") + tagColumn(kind) + " = ?"));
  st->bind(1, id);
  TD_CHECK(st->step());
  const auto n = st->i64(0);
  st->reset();
  return n;
}
}  // namespace

Result<TagValue> SqliteStore::addTag(OrgId org, TagKind kind, const std::string& name,
                                     std::optional<int> position) {
  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  TD_CHECK(tx.begin());
  TD_TRY(chk, writer_->prepare("SELECT id FROM orgs WHERE id = ?"));
  chk->bind(1, org);
  TD_TRY(found, chk->step());
  chk->reset();
  if (!found)
    return fail(ErrorCode::kUnprocessable, "no organisation " + std::to_string(org), "org");
  TD_TRY(existing, readTags(*writer_, org, kind));
  const int n = static_cast<int>(existing.size());
  int pos = position ? std::clamp(*position, 0, n) : (kind == TagKind::kState && n > 0 ? n - 1 : n);
  if (kind == TagKind::kState && pos == n && n > 0) {
    // The new value becomes the closed state: threats closed under the old one would be left in
    // a state that no longer closes them.
    TD_TRY(carriers, countCarriers(*writer_, kind, existing.back().id));
    if (carriers > 0)
      return fail(ErrorCode::kConflict,
                  "a new last state would replace the closed state '" + existing.back().name +
                      "' that " + std::to_string(carriers) +
                      " threats carry; add it before the closed state",
                  "position");
  }
  TD_TRY(shift, writer_->prepare(
                    "UPDATE tags SET position = position + 1 WHERE org_id = ? AND kind = ? AND "
                    "position >= ?"));
  shift->bind(1, org).bind(2, static_cast<int>(kind)).bind(3, pos);
  TD_CHECK(shift->run());
  TD_TRY(ins,
         writer_->prepare("INSERT INTO tags (org_id, kind, name, position) VALUES (?, ?, ?, ?)"));
  ins->bind(1, org).bind(2, static_cast<int>(kind)).bind(3, name).bind(4, pos);
  if (auto s = ins->run(); !s)
    return fail(conflictAs(
        s.error(), std::string(tagKindName(kind)) + " '" + name + "' exists already", "name"));
  const TagId id = writer_->lastInsertId();
  TD_CHECK(tx.commit());
  project_info_.clear();  // the first state may have changed
  return TagValue{id, org, kind, name, pos};
}

Result<TagValue> SqliteStore::renameTag(TagId id, const std::string& name) {
  std::lock_guard lock(write_mu_);
  TD_TRY(tag, readTag(*writer_, id));
  TD_TRY(st, writer_->prepare("UPDATE tags SET name = ? WHERE id = ?"));
  st->bind(1, name).bind(2, id);
  if (auto s = st->run(); !s)
    return fail(conflictAs(
        s.error(), std::string(tagKindName(tag.kind)) + " '" + name + "' exists already", "name"));
  tag.name = name;
  return tag;
}

Status SqliteStore::deleteTag(TagId id, std::optional<TagId> replacement) {
  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  TD_CHECK(tx.begin());
  TD_TRY(tag, readTag(*writer_, id));
  const std::string what = std::string(tagKindName(tag.kind)) + " '" + tag.name + "'";
  TD_TRY(carriers, countCarriers(*writer_, tag.kind, id));
  if (tag.kind == TagKind::kState) {
    TD_TRY(states, readTags(*writer_, tag.org_id, TagKind::kState));
    if (states.size() <= 2)
      return fail(ErrorCode::kConflict,
                  "cannot delete " + what +
                      ": an organisation needs at least two states (the last is the closed state)");
    if (states.back().id == id) {
      // The state before it would become the closed state: only safe when neither is in use.
      TD_TRY(before, countCarriers(*writer_, tag.kind, states[states.size() - 2].id));
      if (carriers + before > 0)
        return fail(ErrorCode::kConflict, "cannot delete the closed state '" + tag.name +
                                              "' while threats carry it or '" +
                                              states[states.size() - 2].name +
                                              "' (which would become the closed state); "
                                              "rename it instead");
    }
  }
  if (carriers > 0) {
    if (!replacement)
      return fail(ErrorCode::kConflict,
                  std::to_string(carriers) + " threats carry " + what +
                      "; name a replacement to move them to",
                  "replacement");
    if (*replacement == id)
      return fail(ErrorCode::kUnprocessable, "a value cannot replace itself", "replacement");
    auto repl = readTag(*writer_, *replacement);
    if (!repl || repl->org_id != tag.org_id || repl->kind != tag.kind)
      return fail(ErrorCode::kUnprocessable,
                  "the replacement must be a " + std::string(tagKindName(tag.kind)) +
                      " of the same organisation",
                  "replacement");
    if (tag.kind == TagKind::kState) {
      TD_TRY(states, readTags(*writer_, tag.org_id, TagKind::kState));
      if (states.back().id == *replacement)
        return fail(ErrorCode::kUnprocessable,
                    "open threats cannot be moved to the closed state '" + repl->name +
                        "' (closing needs an outcome); choose an open state",
                    "replacement");
    }
    TD_TRY(mv, writer_->prepare(std::string("UPDATE threats SET ") + tagColumn(tag.kind) +
                                " = ?, updated_at = ? WHERE " + tagColumn(tag.kind) + " = ?"));
    mv->bind(1, *replacement).bind(2, core::nowMs()).bind(3, id);
    TD_CHECK(mv->run());
  }
  TD_TRY(del, writer_->prepare("DELETE FROM tags WHERE id = ?"));
  del->bind(1, id);
  TD_CHECK(del->run());
  TD_TRY(shift, writer_->prepare(
                    "UPDATE tags SET position = position - 1 WHERE org_id = ? AND kind = ? AND "
                    "position > ?"));
  shift->bind(1, tag.org_id).bind(2, static_cast<int>(tag.kind)).bind(3, tag.position);
  TD_CHECK(shift->run());
  TD_CHECK(tx.commit());
  if (carriers > 0) index_.replaceTag(static_cast<int>(tag.kind), id, *replacement);
  project_info_.clear();
  return {};
}

// --- threats ----------------------------------------------------------------------------------

Result<SqliteStore::ProjectInfo> SqliteStore::projectInfo(ProjectId id) {
  if (auto it = project_info_.find(id); it != project_info_.end()) return it->second;
  TD_TRY(st, writer_->prepare(
                 "SELECT p.org_id, (SELECT t.id FROM tags t WHERE t.org_id = p.org_id AND "
                 "t.kind = 1 ORDER BY t.position, t.id LIMIT 1) FROM projects p WHERE p.id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row)
    return fail(ErrorCode::kUnprocessable, "no project " + std::to_string(id), "project_id");
  ProjectInfo info{st->i64(0), st->optI64(1).value_or(0)};
  st->reset();
  if (info.first_state == 0)
    return fail(ErrorCode::kUnprocessable,
                "the organisation of project " + std::to_string(id) + " has no threat states",
                "project_id");
  project_info_[id] = info;
  return info;
}

Result<SinkResult> SqliteStore::applyDetections(const std::vector<core::Detection>& batch,
                                                const std::vector<std::optional<TagId>>& group_ids,
                                                const Actor& actor) {
  if (!group_ids.empty() && group_ids.size() != batch.size())
    return fail(ErrorCode::kInvalidArgument, "group_ids must be empty or one per detection");
  SinkResult result;
  if (batch.empty()) return result;
  const TimeMs now = core::nowMs();

  // Duplicates inside the batch fold together first, so each key costs one upsert.
  struct Fold {
    std::vector<size_t> members;
    TimeMs first_seen = 0;
    TimeMs last_seen = 0;
    std::string key;
  };
  std::vector<Fold> folds;
  folds.reserve(batch.size());
  std::unordered_map<std::string, size_t> by_key;
  by_key.reserve(batch.size());
  std::vector<size_t> fold_of(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto& d = batch[i];
    const TimeMs seen = d.seen_at ? d.seen_at : now;
    std::string key = core::dedupKey(d);
    size_t f = folds.size();
    if (!key.empty()) {
      std::string scoped = std::to_string(d.project_id);
      scoped += '\0';
      scoped += key;
      auto [it, inserted] = by_key.emplace(std::move(scoped), folds.size());
      f = it->second;
      if (!inserted) {
        folds[f].members.push_back(i);
        folds[f].first_seen = std::min(folds[f].first_seen, seen);
        folds[f].last_seen = std::max(folds[f].last_seen, seen);
        fold_of[i] = f;
        continue;
      }
    }
    folds.push_back(Fold{{i}, seen, seen, std::move(key)});
    fold_of[i] = f;
  }

  std::lock_guard lock(write_mu_);
  TD_CHECK(refreshIfChanged());
  // Referential checks before the transaction: the project exists and its organisation has
  // states; an initial group is a threat_group of that organisation.
  std::unordered_map<TagId, TagValue> groups_seen;
  for (size_t i = 0; i < batch.size(); ++i) {
    TD_TRY(info, projectInfo(batch[i].project_id));
    if (group_ids.empty() || !group_ids[i]) continue;
    auto it = groups_seen.find(*group_ids[i]);
    if (it == groups_seen.end()) {
      auto tag = readTag(*writer_, *group_ids[i]);
      if (!tag)
        return fail(ErrorCode::kUnprocessable, "no threat group " + std::to_string(*group_ids[i]),
                    "group");
      it = groups_seen.emplace(*group_ids[i], *tag).first;
    }
    if (it->second.kind != TagKind::kGroup || it->second.org_id != info.org_id)
      return fail(ErrorCode::kUnprocessable,
                  "tag " + std::to_string(*group_ids[i]) +
                      " is not a threat group of the project's organisation",
                  "group");
  }

  Transaction tx(*writer_);
  TD_CHECK(tx.begin());
  TD_TRY(upsert, writer_->prepare(
                     "INSERT INTO threats (project_id, name, description, score, severity, kind, "
                     "source, rule_id, rule_group, entity_type, entity_value, entity_group, host, "
                     "tags, evidence, group_id, state_id, closed, count, created_at, last_seen, "
                     "updated_at, dedup_key, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                     "?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT (project_id, dedup_key) WHERE closed = 0 DO UPDATE SET "
                     "count = threats.count + excluded.count, "
                     "last_seen = CASE WHEN excluded.last_seen > threats.last_seen "
                     "THEN excluded.last_seen ELSE threats.last_seen END, "
                     "updated_at = excluded.updated_at "
                     "RETURNING id, count, last_seen"));
  TD_TRY(outbox, writer_->prepare("INSERT INTO outbox (project_id, threat_id, kind, payload, "
                                  "created_at) VALUES (?, ?, ?, ?, ?)"));
  TD_TRY(sample,
         writer_->prepare(
             "INSERT INTO evidence_samples (threat_id, seq, at, evidence) VALUES (?, ?, ?, ?)"));

  struct Written {
    ThreatId id = 0;
    bool created = false;
    TimeMs last_seen = 0;
  };
  std::vector<Written> written(folds.size());
  // Upserts go in key order: two nodes writing overlapping batches at once then take the open
  // threats' unique-index entries in the same order and wait for each other instead of
  // deadlocking (PostgreSQL; SQLite has one writer anyway).
  std::vector<size_t> order(folds.size());
  for (size_t f = 0; f < folds.size(); ++f) order[f] = f;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto pa = batch[folds[a].members.front()].project_id;
    const auto pb = batch[folds[b].members.front()].project_id;
    return pa != pb ? pa < pb : folds[a].key < folds[b].key;
  });
  for (size_t fi : order) {
    const auto& f = folds[fi];
    const auto& d = batch[f.members.front()];
    const auto n = static_cast<std::int64_t>(f.members.size());
    const std::optional<TagId> group =
        group_ids.empty() ? std::nullopt : group_ids[f.members.front()];
    upsert->reset();
    upsert->bind(1, d.project_id).bind(2, d.name).bind(3, d.description).bind(4, d.score);
    upsert->bind(5, static_cast<int>(d.severity)).bind(6, static_cast<int>(d.kind));
    upsert->bind(7, d.source).bind(8, d.rule_id).bind(9, d.rule_group);
    upsert->bind(10, d.entity.type).bind(11, d.entity.value).bind(12, d.entity_group);
    upsert->bind(13, d.host).bind(14, tagsJson(d.tags)).bind(15, d.evidence_json);
    upsert->bind(16, group).bind(17, project_info_[d.project_id].first_state);
    upsert->bind(18, n).bind(19, f.first_seen).bind(20, f.last_seen).bind(21, now);
    if (f.key.empty())
      upsert->bindNull(22);
    else
      upsert->bind(22, f.key);
    upsert->bind(23, actor.name);
    TD_TRY(row, upsert->step());
    if (!row) return fail(ErrorCode::kInternal, "the threat upsert returned no row");
    const ThreatId id = upsert->i64(0);
    const std::int64_t count = upsert->i64(1);
    const TimeMs last_seen = upsert->i64(2);
    upsert->reset();
    // A new row's count is exactly this fold's size; a bumped one's is larger.
    const bool created = count == n;
    written[fi] = {id, created, last_seen};
    size_t next_sample = 1;  // the first detection's evidence is the threat's own
    std::int64_t held = 0;   // samples the threat keeps already

    if (created) {
      ++result.created;
      result.updated += n - 1;  // the batch's own duplicates folded into the new threat
      // What response rules select on (severity, kind, group); the rest the dispatcher reads
      // from the threat itself, which keeps the sink's per-threat write small.
      std::string payload = "{\"threat_id\":" + std::to_string(id) + ",\"severity\":\"" +
                            std::string(core::severityName(d.severity)) +
                            "\",\"score\":" + std::to_string(d.score) + ",\"kind\":\"" +
                            std::string(core::threatKindName(d.kind)) +
                            "\",\"group_id\":" + (group ? std::to_string(*group) : "null") + "}";
      outbox->reset();
      outbox->bind(1, d.project_id).bind(2, id).bind(3, "threat.created").bind(4, payload);
      outbox->bind(5, now);
      TD_CHECK(outbox->run());
    } else {
      result.updated += n;
      // Samples so far: one per earlier duplicate, up to the bound. No SELECT needed.
      held = std::min<std::int64_t>(count - n - 1, kEvidenceSamples);
      next_sample = 0;
    }
    for (size_t m = next_sample; m < f.members.size() && held < kEvidenceSamples; ++m) {
      const auto& dup = batch[f.members[m]];
      sample->reset();
      sample->bind(1, id).bind(2, ++held).bind(3, dup.seen_at ? dup.seen_at : now);
      sample->bind(4, dup.evidence_json);
      TD_CHECK(sample->run());
    }
  }
  TD_CHECK(tx.commit());
  notifyOutbox();

  for (size_t f = 0; f < folds.size(); ++f) {
    const auto& w = written[f];
    if (w.created) result.created_ids.push_back(w.id);  // in the batch's order
    if (!w.created) {
      index_.touch(w.id, w.last_seen);
      continue;
    }
    const auto& d = batch[folds[f].members.front()];
    IndexRow r;
    r.id = w.id;
    r.project_id = d.project_id;
    r.score = d.score;
    r.severity = d.severity;
    r.kind = d.kind;
    r.state_id = project_info_[d.project_id].first_state;
    r.group_id = group_ids.empty() ? 0 : group_ids[folds[f].members.front()].value_or(0);
    r.source = d.source;
    r.entity_group = d.entity_group;
    r.host = d.host;
    r.entity_type = d.entity.type;
    r.entity_value = d.entity.value;
    r.rule_id = d.rule_id;
    r.name = d.name;
    r.created_at = folds[f].first_seen;
    r.last_seen = w.last_seen;
    index_.put(r);
  }
  result.threat_ids.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) result.threat_ids.push_back(written[fold_of[i]].id);
  return result;
}

Result<core::Threat> SqliteStore::readThreat(Connection& c, ThreatId id) {
  TD_TRY(st, c.prepare(std::string(kThreatColumns) + "WHERE t.id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no threat " + std::to_string(id));
  auto t = threatFromRow(*st);
  st->reset();
  return t;
}

Result<core::Threat> SqliteStore::getThreat(ThreatId id) {
  TD_TRY(c, reader());
  return readThreat(*c, id);
}

Result<core::Threat> SqliteStore::changeThreat(ThreatId id, const ThreatChange& change,
                                               const Actor& actor) {
  std::lock_guard lock(write_mu_);
  TD_CHECK(refreshIfChanged());
  Transaction tx(*writer_);
  TD_CHECK(tx.begin());
  TD_TRY(before, readThreat(*writer_, id));
  TD_TRY(org_st, writer_->prepare("SELECT org_id FROM projects WHERE id = ?"));
  org_st->bind(1, before.project_id);
  TD_TRY(org_row, org_st->step());
  if (!org_row) return fail(ErrorCode::kInternal, "threat without project");
  const OrgId org = org_st->i64(0);
  org_st->reset();

  // Referential checks: each tag is of the right kind and of the organisation owning the
  // threat's project; an owner exists.
  auto checkTag = [&](TagId tag_id, TagKind kind, const char* field) -> Result<TagValue> {
    auto tag = readTag(*writer_, tag_id);
    if (!tag || tag->org_id != org || tag->kind != kind)
      return fail(ErrorCode::kUnprocessable,
                  "tag " + std::to_string(tag_id) + " is not a " + std::string(tagKindName(kind)) +
                      " of this threat's organisation",
                  field);
    return tag;
  };
  core::Threat after = before;
  if (change.group_id) {
    after.group_id = *change.group_id;
    after.group.clear();
    if (*change.group_id) {
      TD_TRY(g, checkTag(**change.group_id, TagKind::kGroup, "group"));
      after.group = g.name;
    }
  }
  if (change.state_id) {
    TD_TRY(s, checkTag(*change.state_id, TagKind::kState, "state"));
    after.state_id = s.id;
    after.state = s.name;
  }
  if (change.outcome_id) {
    after.outcome_id = *change.outcome_id;
    after.outcome.clear();
    if (*change.outcome_id) {
      TD_TRY(o, checkTag(**change.outcome_id, TagKind::kOutcome, "outcome"));
      after.outcome = o.name;
    }
  }
  if (change.owner_id) {
    after.owner_id = *change.owner_id;
    after.owner.clear();
    if (*change.owner_id) {
      TD_TRY(u, writer_->prepare("SELECT email FROM users WHERE id = ?"));
      u->bind(1, **change.owner_id);
      TD_TRY(found, u->step());
      if (!found)
        return fail(ErrorCode::kUnprocessable, "no user " + std::to_string(**change.owner_id),
                    "owner");
      after.owner = u->text(0);
      u->reset();
    }
  }
  if (change.severity) after.severity = *change.severity;
  if (change.score) after.score = *change.score;

  TD_TRY(states, readTags(*writer_, org, TagKind::kState));
  const TimeMs now = core::nowMs();
  after.closed = !states.empty() && states.back().id == after.state_id;
  const bool closing = after.closed && !before.closed;
  const bool reopening = !after.closed && before.closed;
  if (closing) after.closed_at = now;
  if (reopening) after.closed_at.reset();
  if (reopening && !before.dedup_key.empty()) {
    TD_TRY(dup, writer_->prepare("SELECT id FROM threats WHERE project_id = ? AND dedup_key = ? "
                                 "AND closed = 0 AND id <> ?"));
    dup->bind(1, before.project_id).bind(2, before.dedup_key).bind(3, id);
    TD_TRY(found, dup->step());
    if (found) {
      const auto other = dup->i64(0);
      dup->reset();
      return fail(ErrorCode::kConflict,
                  "cannot reopen threat " + std::to_string(id) + ": threat " +
                      std::to_string(other) +
                      " is open for the same detection (same de-duplication key); work that one",
                  "state");
    }
    dup->reset();
  }
  after.updated_at = now;

  TD_TRY(upd, writer_->prepare(
                  "UPDATE threats SET group_id = ?, owner_id = ?, state_id = ?, outcome_id = ?, "
                  "severity = ?, score = ?, closed = ?, closed_at = ?, updated_at = ? "
                  "WHERE id = ?"));
  upd->bind(1, after.group_id).bind(2, after.owner_id).bind(3, after.state_id);
  upd->bind(4, after.outcome_id).bind(5, static_cast<int>(after.severity)).bind(6, after.score);
  upd->bind(7, after.closed).bind(8, after.closed_at).bind(9, now).bind(10, id);
  if (auto s = upd->run(); !s)
    return fail(conflictAs(s.error(),
                           "cannot reopen threat " + std::to_string(id) +
                               ": another open threat has the same de-duplication key",
                           "state"));

  TD_TRY(tl, writer_->prepare("INSERT INTO timeline (threat_id, at, actor, action, from_value, "
                              "to_value) VALUES (?, ?, ?, ?, ?, ?)"));
  auto entry = [&](const char* action, const std::string& from, const std::string& to) -> Status {
    tl->reset();
    tl->bind(1, id).bind(2, now).bind(3, actor.name).bind(4, action).bind(5, from).bind(6, to);
    return tl->run();
  };
  TD_TRY(ob, writer_->prepare("INSERT INTO outbox (project_id, threat_id, kind, payload, "
                              "created_at) VALUES (?, ?, ?, ?, ?)"));
  auto event = [&](const char* kind, const std::string& extra) -> Status {
    std::string payload =
        "{\"threat_id\":" + std::to_string(id) +
        ",\"project_id\":" + std::to_string(after.project_id) +
        ",\"name\":" + jsonString(after.name) + ",\"severity\":\"" +
        std::string(core::severityName(after.severity)) +
        "\",\"score\":" + std::to_string(after.score) + ",\"group\":" + jsonString(after.group) +
        ",\"owner\":" + jsonString(after.owner) + ",\"state\":" + jsonString(after.state) +
        ",\"outcome\":" + jsonString(after.outcome) + ",\"actor\":" + jsonString(actor.name) +
        extra + "}";
    ob->reset();
    ob->bind(1, after.project_id).bind(2, id).bind(3, kind).bind(4, payload).bind(5, now);
    return ob->run();
  };

  const bool group_changed = after.group_id != before.group_id;
  const bool owner_changed = after.owner_id != before.owner_id;
  if (group_changed) TD_CHECK(entry("assigned_group", before.group, after.group));
  if (owner_changed) TD_CHECK(entry("assigned_owner", before.owner, after.owner));
  if (after.state_id != before.state_id) TD_CHECK(entry("state", before.state, after.state));
  if (closing) {
    TD_CHECK(entry("closed", "", after.outcome));
  } else if (reopening) {
    TD_CHECK(entry("reopened", before.outcome, ""));
  } else if (after.outcome_id != before.outcome_id) {
    TD_CHECK(entry("outcome", before.outcome, after.outcome));
  }
  if (after.severity != before.severity)
    TD_CHECK(entry("severity", std::string(core::severityName(before.severity)),
                   std::string(core::severityName(after.severity))));
  if (after.score != before.score)
    TD_CHECK(entry("score", std::to_string(before.score), std::to_string(after.score)));

  if (group_changed || owner_changed)
    TD_CHECK(event("threat.assigned", ",\"previous_group\":" + jsonString(before.group) +
                                          ",\"previous_owner\":" + jsonString(before.owner)));
  if (closing)
    TD_CHECK(event("threat.closed", ",\"previous_state\":" + jsonString(before.state)));
  else if (reopening)
    TD_CHECK(event("threat.reopened", ",\"previous_state\":" + jsonString(before.state)));
  else if (after.state_id != before.state_id)
    TD_CHECK(event("threat.state_changed", ",\"previous_state\":" + jsonString(before.state)));

  if (change.note) {
    TD_TRY(nt,
           writer_->prepare("INSERT INTO notes (threat_id, at, author, text) VALUES (?, ?, ?, ?)"));
    nt->bind(1, id).bind(2, now).bind(3, actor.name).bind(4, *change.note);
    TD_CHECK(nt->run());
    TD_CHECK(entry("note", "", *change.note));
  }
  TD_CHECK(tx.commit());
  notifyOutbox();
  index_.put(indexRowOf(after));
  return after;
}

Result<Note> SqliteStore::addNote(ThreatId id, const std::string& text, const Actor& actor) {
  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  TD_CHECK(tx.begin());
  TD_TRY(chk, writer_->prepare("SELECT id FROM threats WHERE id = ?"));
  chk->bind(1, id);
  TD_TRY(found, chk->step());
  chk->reset();
  if (!found) return fail(ErrorCode::kNotFound, "no threat " + std::to_string(id));
  const TimeMs now = core::nowMs();
  TD_TRY(nt,
         writer_->prepare("INSERT INTO notes (threat_id, at, author, text) VALUES (?, ?, ?, ?)"));
  nt->bind(1, id).bind(2, now).bind(3, actor.name).bind(4, text);
  TD_CHECK(nt->run());
  const auto note_id = writer_->lastInsertId();
  TD_TRY(tl, writer_->prepare("INSERT INTO timeline (threat_id, at, actor, action, from_value, "
                              "to_value) VALUES (?, ?, ?, 'note', '', ?)"));
  tl->bind(1, id).bind(2, now).bind(3, actor.name).bind(4, text);
  TD_CHECK(tl->run());
  TD_TRY(up, writer_->prepare("UPDATE threats SET updated_at = ? WHERE id = ?"));
  up->bind(1, now).bind(2, id);
  TD_CHECK(up->run());
  // Subscribers of the threat's group hear of notes as of any other change.
  TD_TRY(ob, writer_->prepare("INSERT INTO outbox (project_id, threat_id, kind, payload, "
                              "created_at) SELECT project_id, id, 'threat.noted', ?, ? "
                              "FROM threats WHERE id = ?"));
  ob->bind(1, "{\"threat_id\":" + std::to_string(id) + ",\"note_id\":" +
                  std::to_string(note_id) + ",\"actor\":" + jsonString(actor.name) +
                  ",\"text\":" + jsonString(text) + "}")
      .bind(2, now)
      .bind(3, id);
  TD_CHECK(ob->run());
  TD_CHECK(tx.commit());
  notifyOutbox();
  return Note{note_id, id, now, actor.name, text};
}

Result<std::vector<Note>> SqliteStore::listNotes(ThreatId id) {
  TD_TRY(c, reader());
  TD_CHECK(readThreat(*c, id));
  TD_TRY(st, c->prepare("SELECT id, threat_id, at, author, text FROM notes WHERE threat_id = ? "
                        "ORDER BY id"));
  st->bind(1, id);
  std::vector<Note> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(Note{st->i64(0), st->i64(1), st->i64(2), st->text(3), st->text(4)});
  }
  return out;
}

Result<std::vector<TimelineEntry>> SqliteStore::timeline(ThreatId id) {
  TD_TRY(c, reader());
  // The "created" entry comes from the threat row itself (see the schema).
  TD_TRY(head, c->prepare("SELECT created_at, created_by FROM threats WHERE id = ?"));
  head->bind(1, id);
  TD_TRY(found, head->step());
  if (!found) return fail(ErrorCode::kNotFound, "no threat " + std::to_string(id));
  std::vector<TimelineEntry> out;
  out.push_back(TimelineEntry{0, id, head->i64(0), head->text(1), "created", "", ""});
  head->reset();
  TD_TRY(st, c->prepare("SELECT id, threat_id, at, actor, action, from_value, to_value FROM "
                        "timeline WHERE threat_id = ? ORDER BY id"));
  st->bind(1, id);
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(TimelineEntry{st->i64(0), st->i64(1), st->i64(2), st->text(3), st->text(4),
                                st->text(5), st->text(6)});
  }
  // Finished deliveries come from their own rows (see SqliteResponseStore::deliveryTimeline),
  // placed by time among the rest; the "created" entry stays first.
  const size_t stored = out.size();
  TD_CHECK(SqliteResponseStore::deliveryTimeline(*c, id, out));
  if (out.size() > stored)
    std::stable_sort(out.begin() + 1, out.end(),
                     [](const TimelineEntry& a, const TimelineEntry& b) { return a.at < b.at; });
  return out;
}

Result<std::vector<std::string>> SqliteStore::evidenceSamples(ThreatId id) {
  TD_TRY(c, reader());
  TD_CHECK(readThreat(*c, id));
  TD_TRY(st, c->prepare("SELECT evidence FROM evidence_samples WHERE threat_id = ? ORDER BY seq"));
  st->bind(1, id);
  std::vector<std::string> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(st->text(0));
  }
  return out;
}

// --- lists, overview, export
// ----------------------------------------------------------------------

Result<IndexFilter> SqliteStore::resolveFilter(Connection& c, const ThreatFilter& filter) {
  IndexFilter f;
  f.project_id = filter.project_id;
  std::optional<OrgId> org;
  if (filter.project_id > 0) {
    TD_TRY(st, c.prepare("SELECT org_id FROM projects WHERE id = ?"));
    st->bind(1, filter.project_id);
    TD_TRY(row, st->step());
    if (row) org = st->i64(0);
    st->reset();
  }
  auto tagIds = [&](const std::vector<std::string>& names, TagKind kind,
                    bool none_allowed) -> Result<std::optional<std::vector<TagId>>> {
    if (names.empty()) return std::optional<std::vector<TagId>>{};
    std::vector<TagId> ids;
    TD_TRY(st, c.prepare("SELECT id FROM tags WHERE kind = ? AND lower(name) = lower(?) AND "
                         "(? IS NULL OR org_id = ?)"));
    for (const auto& name : names) {
      if (none_allowed && (name.empty() || core::equalsIgnoreCase(name, "none"))) {
        ids.push_back(0);
        if (name.empty()) continue;  // "none" may also be a real group's name
      }
      st->reset();
      st->bind(1, static_cast<int>(kind)).bind(2, name).bind(3, org).bind(4, org);
      while (true) {
        TD_TRY(row, st->step());
        if (!row) break;
        ids.push_back(st->i64(0));
      }
    }
    st->reset();
    return std::optional<std::vector<TagId>>{std::move(ids)};
  };
  TD_TRY(groups, tagIds(filter.groups, TagKind::kGroup, true));
  f.group_ids = std::move(groups);
  TD_TRY(states, tagIds(filter.states, TagKind::kState, false));
  f.state_ids = std::move(states);
  if (!filter.owners.empty()) {
    std::vector<UserId> ids;
    TD_TRY(st, c.prepare("SELECT id FROM users WHERE lower(email) = lower(?)"));
    for (const auto& email : filter.owners) {
      if (email.empty() || core::equalsIgnoreCase(email, "none")) {
        ids.push_back(0);
        continue;
      }
      st->reset();
      st->bind(1, email);
      TD_TRY(row, st->step());
      if (row) ids.push_back(st->i64(0));
    }
    st->reset();
    f.owner_ids = std::move(ids);
  }
  f.severities = filter.severities;
  f.sources = filter.sources;
  f.kinds = filter.kinds;
  f.entity = filter.entity;
  f.host = filter.host;
  f.entity_group = filter.entity_group;
  f.text = filter.text;
  f.open = filter.open;
  f.from = filter.from;
  f.to = filter.to;
  return f;
}

Result<ThreatPage> SqliteStore::hydrate(Connection& c, const IndexPage& ip,
                                        const PageRequest& page) {
  ThreatPage out;
  out.total = ip.total;
  out.items.reserve(ip.ids.size());
  // A page's threats are read in chunks of one statement each rather than one by one: one round
  // trip per chunk matters on PostgreSQL. A threat deleted since the index answered is skipped.
  constexpr size_t kChunk = 50;
  static const std::string kChunkSql = [] {
    std::string sql = std::string(kThreatColumns) + "WHERE t.id IN (?";
    for (size_t i = 1; i < kChunk; ++i) sql += ", ?";
    return sql + ")";
  }();
  std::unordered_map<ThreatId, core::Threat> found;
  for (size_t start = 0; start < ip.ids.size(); start += kChunk) {
    TD_TRY(st, c.prepare(kChunkSql));
    for (size_t i = 0; i < kChunk; ++i) {
      if (start + i < ip.ids.size())
        st->bind(static_cast<int>(i + 1), ip.ids[start + i]);
      else
        st->bindNull(static_cast<int>(i + 1), sql::ParamType::kInt);
    }
    found.clear();
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      auto t = threatFromRow(*st);
      found.emplace(t.id, std::move(t));
    }
    st->reset();
    for (size_t i = start; i < std::min(ip.ids.size(), start + kChunk); ++i) {
      auto it = found.find(ip.ids[i]);
      if (it != found.end()) out.items.push_back(std::move(it->second));
    }
  }
  if (ip.next) out.next_cursor = encodeCursor(page.sort, page.descending, *ip.next);
  return out;
}

Result<ThreatPage> SqliteStore::pageFromIndex(Connection& c, const IndexFilter& filter,
                                              const PageRequest& page) {
  TD_TRY(after, decodeCursor(page));
  return hydrate(c, index_.list(filter, {page.sort, page.descending, after, page.limit}), page);
}

namespace {
Status checkLimit(const PageRequest& page) {
  if (page.limit < 1 || page.limit > kMaxPageLimit)
    return fail(ErrorCode::kInvalidArgument,
                "limit must be between 1 and " + std::to_string(kMaxPageLimit), "limit");
  return {};
}
}  // namespace

Result<ThreatPage> SqliteStore::listThreats(const ThreatFilter& filter, const PageRequest& page) {
  TD_CHECK(checkLimit(page));
  TD_CHECK(refreshIndex());
  TD_TRY(c, reader());
  ReadTransaction snapshot(*c);
  TD_CHECK(snapshot.begin());
  TD_TRY(f, resolveFilter(*c, filter));
  return pageFromIndex(*c, f, page);
}

Result<Overview> SqliteStore::overview(const OverviewRequest& request) {
  TD_CHECK(checkLimit(request.page));
  TD_CHECK(refreshIndex());
  TD_TRY(c, reader());
  ReadTransaction snapshot(*c);
  TD_CHECK(snapshot.begin());
  TD_TRY(f, resolveFilter(*c, request.filter));
  const TimeMs now = request.now ? request.now : core::nowMs();
  const TimeMs to = request.filter.to.value_or(now);
  const TimeMs from = request.filter.from.value_or(to - kDefaultOverviewRange);
  Overview out;
  out.bucket = bucketSizeFor(from, to);
  const bool by_group = request.split == TimelineSplit::kGroup;
  TD_TRY(after, decodeCursor(request.page));
  IndexOverview io =
      index_.overview(f, {from,
                          to,
                          out.bucket,
                          by_group,
                          now,
                          {request.page.sort, request.page.descending, after, request.page.limit}});
  out.open_by_severity = io.open_by_severity;
  out.total = io.total;
  out.by_entity_group = std::move(io.by_entity_group);
  out.by_source = std::move(io.by_source);
  out.by_host = std::move(io.by_host);
  out.by_period = std::move(io.by_period);
  if (!by_group) {
    for (int s = 0; s < core::kSeverityCount; ++s)
      out.series.emplace_back(core::severityName(static_cast<core::Severity>(s)));
    for (size_t b = 0; b < io.bucket_starts.size(); ++b)
      out.timeline.push_back(TimelineBucket{
          io.bucket_starts[b],
          std::vector<std::int64_t>(io.by_severity[b].begin(), io.by_severity[b].end())});
  } else {
    // Series are group names (merged across organisations when several projects are shown),
    // in the groups' order; "" (no group) last.
    std::set<TagId> present;
    for (const auto& b : io.by_group)
      for (const auto& [id, n] : b) present.insert(id);
    std::map<TagId, std::pair<int, std::string>> names;  // id -> (position, name)
    TD_TRY(st, c->prepare("SELECT position, name FROM tags WHERE id = ?"));
    for (TagId id : present) {
      if (id == 0) continue;
      st->reset();
      st->bind(1, id);
      TD_TRY(row, st->step());
      names[id] = row ? std::make_pair(st->i32(0), st->text(1))
                      : std::make_pair(INT32_MAX, std::to_string(id));
    }
    st->reset();
    std::vector<std::pair<int, std::string>> order;
    for (const auto& [id, pn] : names) order.push_back(pn);
    std::sort(order.begin(), order.end());
    std::unordered_map<std::string, size_t> series_of;
    for (const auto& [pos, name] : order)
      if (series_of.emplace(name, out.series.size()).second) out.series.push_back(name);
    if (present.count(0)) {
      series_of.emplace(std::string(), out.series.size());
      out.series.emplace_back();
    }
    for (size_t b = 0; b < io.bucket_starts.size(); ++b) {
      TimelineBucket tb{io.bucket_starts[b], std::vector<std::int64_t>(out.series.size(), 0)};
      for (const auto& [id, n] : io.by_group[b])
        tb.counts[series_of[id == 0 ? std::string() : names[id].second]] += n;
      out.timeline.push_back(std::move(tb));
    }
  }
  TD_TRY(page, hydrate(*c, io.page, request.page));
  out.first_page = std::move(page);
  return out;
}

Status SqliteStore::exportThreats(const ThreatFilter& filter, const PageRequest& order,
                                  const std::function<bool(const core::Threat&)>& row) {
  TD_CHECK(refreshIndex());
  TD_TRY(c, reader());
  TD_TRY(f, resolveFilter(*c, filter));
  PageRequest page = order;
  page.limit = kExportChunk;
  // Chunks follow keyset cursors, so memory stays at one chunk whatever the number of threats.
  while (true) {
    TD_TRY(chunk, pageFromIndex(*c, f, page));
    for (const auto& t : chunk.items)
      if (!row(t)) return {};
    if (chunk.next_cursor.empty()) return {};
    page.cursor = chunk.next_cursor;
  }
}

Status SqliteStore::scanIndex(const ThreatFilter& filter,
                              const std::function<void(const IndexRow&)>& row) {
  TD_CHECK(refreshIndex());
  TD_TRY(c, reader());
  TD_TRY(f, resolveFilter(*c, filter));
  index_.scan(f, row);
  return {};
}

Result<std::vector<std::pair<std::string, std::array<std::int64_t, core::kSeverityCount>>>>
SqliteStore::countsByStateAndSeverity() {
  TD_CHECK(refreshIndex());
  auto by_id = index_.countsByState();
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare("SELECT name FROM tags WHERE id = ?"));
  std::map<std::string, std::array<std::int64_t, core::kSeverityCount>> by_name;
  for (const auto& [id, counts] : by_id) {
    st->reset();
    st->bind(1, id);
    TD_TRY(row, st->step());
    auto& into = by_name[row ? st->text(0) : std::to_string(id)];
    for (int s = 0; s < core::kSeverityCount; ++s) into[s] += counts[s];
  }
  st->reset();
  return std::vector<std::pair<std::string, std::array<std::int64_t, core::kSeverityCount>>>(
      by_name.begin(), by_name.end());
}

// --- outbox
// ---------------------------------------------------------------------------------------

void SqliteStore::setOutboxListener(std::function<void()> listener) {
  std::lock_guard lock(listener_mu_);
  outbox_listener_ = std::move(listener);
}

void SqliteStore::notifyOutbox() {
  std::lock_guard lock(listener_mu_);
  if (outbox_listener_) outbox_listener_();
}

Result<std::vector<OutboxEvent>> SqliteStore::claimOutbox(int limit, TimeMs lease_ms) {
  if (limit < 1) return std::vector<OutboxEvent>{};
  std::lock_guard lock(write_mu_);
  const TimeMs now = core::nowMs();
  TD_TRY(st, writer_->prepare(
                 std::string("UPDATE outbox SET claimed_until = ?, attempts = attempts + 1 "
                             "WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND "
                             "(claimed_until IS NULL OR claimed_until <= ?) ORDER BY id LIMIT ?") +
                 std::string(writer_->claimLock()) + ") RETURNING " + kOutboxColumns));
  st->bind(1, now + lease_ms).bind(2, now).bind(3, limit);
  std::vector<OutboxEvent> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(outboxFromRow(*st));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

Status SqliteStore::ackOutbox(const std::vector<std::int64_t>& ids) {
  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  TD_CHECK(tx.begin());
  TD_TRY(st, writer_->prepare("UPDATE outbox SET delivered_at = ? WHERE id = ? AND "
                              "delivered_at IS NULL"));
  const TimeMs now = core::nowMs();
  for (auto id : ids) {
    st->reset();
    st->bind(1, now).bind(2, id);
    TD_CHECK(st->run());
  }
  return tx.commit();
}

Result<std::vector<OutboxEvent>> SqliteStore::listOutbox(ThreatId threat) {
  TD_TRY(c, reader());
  TD_TRY(st, c->prepare(std::string("SELECT ") + kOutboxColumns +
                        " FROM outbox WHERE threat_id = ? ORDER BY id"));
  st->bind(1, threat);
  std::vector<OutboxEvent> out;
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    out.push_back(outboxFromRow(*st));
  }
  return out;
}

}  // namespace td::store::sqlite
