#include "store/postgres/connection.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace td::store::postgres {

using core::ErrorCode;
using core::fail;

namespace {

// Calls `plain(begin, end)` for each stretch of `sql` outside quoted literals ('…'), quoted
// identifiers ("…") and comments, and copies the quoted parts through unchanged.
template <typename Plain>
std::string rewriteOutsideQuotes(std::string_view sql, Plain plain) {
  std::string out;
  out.reserve(sql.size() + 16);
  std::size_t i = 0, start = 0;
  auto flushPlain = [&](std::size_t end) {
    if (end > start) plain(sql.substr(start, end - start), out);
  };
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      flushPlain(i);
      std::size_t j = i + 1;
      while (j < sql.size()) {
        if (sql[j] == c) {
          if (j + 1 < sql.size() && sql[j + 1] == c) {  // doubled quote inside
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      j = std::min(j + 1, sql.size());
      out.append(sql.substr(i, j - i));
      i = start = j;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      flushPlain(i);
      std::size_t j = sql.find('\n', i);
      j = j == std::string_view::npos ? sql.size() : j;
      out.append(sql.substr(i, j - i));
      i = start = j;
    } else {
      ++i;
    }
  }
  flushPlain(sql.size());
  return out;
}

bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Replaces whole-word, case-insensitive occurrences of `from` (a sequence of words separated by
// single spaces; runs of whitespace in the text match a space) with `to`.
std::string replaceWords(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const bool at_word_start = i == 0 || !isIdentChar(text[i - 1]);
    if (at_word_start) {
      std::size_t t = i, f = 0;
      while (f < from.size() && t < text.size()) {
        if (from[f] == ' ') {
          if (!std::isspace(static_cast<unsigned char>(text[t]))) break;
          while (t < text.size() && std::isspace(static_cast<unsigned char>(text[t]))) ++t;
          ++f;
          continue;
        }
        if (std::toupper(static_cast<unsigned char>(text[t])) !=
            std::toupper(static_cast<unsigned char>(from[f])))
          break;
        ++t;
        ++f;
      }
      if (f == from.size() && (t == text.size() || !isIdentChar(text[t]))) {
        out.append(to);
        i = t;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

// SQLite's scalar max(a, b, …) and min(a, b, …) (two or more arguments; one argument is the
// aggregate, which PostgreSQL spells the same) become greatest(…) and least(…).
std::string scalarMinMax(std::string_view sql) {
  std::string out(sql);
  for (std::size_t i = 0; i + 4 <= out.size(); ++i) {
    if (out[i] == '\'' || out[i] == '"') {  // skip quoted text
      const char q = out[i];
      for (++i; i < out.size() && out[i] != q; ++i) {
      }
      continue;
    }
    if (i > 0 && isIdentChar(out[i - 1])) continue;
    std::string word;
    for (std::size_t j = i; j < out.size() && j < i + 3; ++j)
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(out[j]))));
    if (word != "max" && word != "min") continue;
    std::size_t open = i + 3;
    while (open < out.size() && out[open] == ' ') ++open;
    if (open >= out.size() || out[open] != '(') continue;
    int depth = 0;
    bool top_comma = false;
    for (std::size_t j = open; j < out.size(); ++j) {
      const char c = out[j];
      if (c == '\'' || c == '"') {
        for (++j; j < out.size() && out[j] != c; ++j) {
        }
        continue;
      }
      if (c == '(') ++depth;
      if (c == ')' && --depth == 0) break;
      if (c == ',' && depth == 1) top_comma = true;
    }
    if (!top_comma) continue;
    const std::string to = word == "max" ? "greatest" : "least";
    out.replace(i, 3, to);
    i += to.size() - 1;
  }
  return out;
}

}  // namespace

std::string translateSql(std::string_view sql, const std::vector<sql::ParamType>& types,
                         std::vector<int>* used) {
  std::vector<int> renumber;  // original number -> new number (0: unused)
  if (used) {
    used->clear();
    int highest_seen = 0;
    rewriteOutsideQuotes(sql, [&](std::string_view part, std::string&) {
      for (std::size_t i = 0; i < part.size(); ++i) {
        if (part[i] != '?') continue;
        std::size_t j = i + 1;
        while (j < part.size() && std::isdigit(static_cast<unsigned char>(part[j]))) ++j;
        int n = highest_seen + 1;
        if (j > i + 1) std::from_chars(part.data() + i + 1, part.data() + j, n);
        highest_seen = std::max(highest_seen, n);
        if (static_cast<std::size_t>(n) >= renumber.size()) renumber.resize(n + 1, 0);
        renumber[static_cast<std::size_t>(n)] = 1;
        i = j - 1;
      }
    });
    for (std::size_t n = 1; n < renumber.size(); ++n)
      if (renumber[n]) {
        used->push_back(static_cast<int>(n));
        renumber[n] = static_cast<int>(used->size());
      }
  }
  int highest = 0;
  const std::string portable = scalarMinMax(sql);
  return rewriteOutsideQuotes(portable, [&](std::string_view part, std::string& out) {
    for (std::size_t i = 0; i < part.size(); ++i) {
      if (part[i] != '?') {
        out.push_back(part[i]);
        continue;
      }
      std::size_t j = i + 1;
      while (j < part.size() && std::isdigit(static_cast<unsigned char>(part[j]))) ++j;
      int n = 0;
      if (j > i + 1) {
        std::from_chars(part.data() + i + 1, part.data() + j, n);
      } else {
        n = highest + 1;
      }
      highest = std::max(highest, n);
      out.push_back('$');
      out.append(std::to_string(used ? renumber[static_cast<std::size_t>(n)] : n));
      if (n >= 1 && static_cast<std::size_t>(n) <= types.size()) {
        switch (types[static_cast<std::size_t>(n) - 1]) {
          case sql::ParamType::kInt: out.append("::int8"); break;
          case sql::ParamType::kText: out.append("::text"); break;
          case sql::ParamType::kReal: out.append("::float8"); break;
          case sql::ParamType::kBlob: out.append("::bytea"); break;
          case sql::ParamType::kUnknown: break;
        }
      }
      i = j - 1;
    }
  });
}

std::string translateDdl(std::string_view sql) {
  return rewriteOutsideQuotes(sql, [](std::string_view part, std::string& out) {
    std::string s = replaceWords(part, "INTEGER PRIMARY KEY AUTOINCREMENT",
                                 "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
    s = replaceWords(s, "INTEGER PRIMARY KEY",
                     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
    s = replaceWords(s, "INTEGER", "BIGINT");
    s = replaceWords(s, "REAL", "DOUBLE PRECISION");
    s = replaceWords(s, "BLOB", "BYTEA");
    s = replaceWords(s, "WITHOUT ROWID", "");
    out.append(s);
  });
}

core::Error postgresError(const std::exception& e, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();
    if (state == "23505" || state == "23503" || state == "23514") code = ErrorCode::kConflict;
    if (state == "40001" || state == "40P01" || state.rfind("08", 0) == 0 || state == "57P01")
      code = ErrorCode::kUnavailable;
  } else if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    code = ErrorCode::kUnavailable;
  }
  std::string msg(what);
  msg += ": ";
  std::string detail = e.what();
  while (!detail.empty() && std::isspace(static_cast<unsigned char>(detail.back()))) detail.pop_back();
  msg += detail;
  return core::Error{code, std::move(msg), {}};
}

Result<bool> PgStatement::step() {
  if (!executed_) {
    auto r = conn_.execPrepared(sql_, params_, types_);
    if (!r) return fail(r.error());
    result_ = std::move(*r);
    executed_ = true;
    row_ = 0;
  }
  if (row_ >= result_.size()) return false;
  ++row_;
  return true;
}

std::int64_t PgStatement::i64(int col) const {
  const auto f = row().at(col);
  if (f.is_null()) return 0;
  const char* p = f.c_str();
  const char* end = p + f.size();
  if (f.size() == 1 && (*p == 't' || *p == 'f')) return *p == 't' ? 1 : 0;  // boolean columns
  std::int64_t v = 0;
  std::from_chars(p, end, v);  // numeric results such as "12.50" read as their integer part
  return v;
}

PgStatement& PgStatement::bind(int i, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  return set(i, std::string(buf, ec == std::errc() ? end : buf), sql::ParamType::kReal);
}

PgStatement& PgStatement::bindBlob(int i, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex = "\\x";
  hex.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return set(i, std::move(hex), sql::ParamType::kBlob);
}

double PgStatement::f64(int col) const {
  const auto f = row().at(col);
  if (f.is_null()) return 0;
  return std::strtod(f.c_str(), nullptr);
}

std::string PgStatement::blob(int col) const {
  const std::string_view hex = textView(col);
  if (hex.size() < 2 || hex[0] != '\\' || hex[1] != 'x') return std::string(hex);
  auto nibble = [](char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  std::string out;
  out.reserve((hex.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

std::string_view PgStatement::textView(int col) const {
  const auto f = row().at(col);
  if (f.is_null()) return {};
  return {f.c_str(), f.size()};
}

void PgStatement::reset() {
  for (auto& p : params_) p = std::nullopt;
  for (auto& t : types_) t = sql::ParamType::kUnknown;
  result_ = pqxx::result();
  row_ = 0;
  executed_ = false;
}

PgConnection::PgConnection(std::unique_ptr<pqxx::connection> conn)
    : conn_(std::move(conn)), work_(std::make_unique<pqxx::nontransaction>(*conn_)) {}

PgConnection::~PgConnection() {
  cache_.clear();
  work_.reset();
  listener_.reset();
}

Result<std::unique_ptr<PgConnection>> PgConnection::open(const std::string& url) {
  try {
    auto conn = std::make_unique<pqxx::connection>(url);
    std::unique_ptr<PgConnection> c(new PgConnection(std::move(conn)));
    // Notices (e.g. "relation already exists, skipping") would go to stderr otherwise.
    if (auto s = c->exec("SET client_min_messages = warning"); !s) return fail(s.error());
    return c;
  } catch (const std::exception& e) {
    return fail(postgresError(e, "cannot connect to PostgreSQL"));
  }
}

Result<sql::Statement*> PgConnection::prepare(std::string_view sql) {
  const std::string key(sql);
  if (auto it = cache_.find(key); it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  // The number of parameters is the highest $N of the translated text.
  const std::string translated = translateSql(sql);
  int params = 0;
  for (std::size_t i = 0; i + 1 < translated.size(); ++i) {
    if (translated[i] != '$' || !std::isdigit(static_cast<unsigned char>(translated[i + 1]))) continue;
    int n = 0;
    std::from_chars(translated.data() + i + 1, translated.data() + translated.size(), n);
    params = std::max(params, n);
  }
  auto owned = std::make_unique<PgStatement>(*this, key, params);
  PgStatement* raw = owned.get();
  cache_.emplace(key, std::move(owned));
  return raw;
}

Result<pqxx::result> PgConnection::execPrepared(
    const std::string& sql, const std::vector<std::optional<std::string>>& params,
    const std::vector<sql::ParamType>& types) {
  std::string key = sql;
  key.push_back('\0');
  for (auto t : types) key.push_back(static_cast<char>('0' + static_cast<int>(t)));
  try {
    auto it = prepared_.find(key);
    if (it == prepared_.end()) {
      Prepared p;
      p.name = "td" + std::to_string(prepared_.size() + 1);
      conn_->prepare(p.name, translateSql(sql, types, &p.used));
      it = prepared_.emplace(std::move(key), std::move(p)).first;
    }
    std::vector<const char*> values;
    values.reserve(it->second.used.size());
    for (int n : it->second.used) {
      const auto& v = params[static_cast<std::size_t>(n) - 1];
      values.push_back(v ? v->c_str() : nullptr);
    }
    pqxx::result r =
        work_->exec_prepared(it->second.name, pqxx::prepare::make_dynamic_params(values));
    changes_ = static_cast<std::int64_t>(r.affected_rows());
    return r;
  } catch (const std::exception& e) {
    return fail(postgresError(e, "postgres statement"));
  }
}

Status PgConnection::exec(std::string_view sql) {
  try {
    auto r = work_->exec(std::string(sql));
    changes_ = static_cast<std::int64_t>(r.affected_rows());
    return {};
  } catch (const std::exception& e) {
    return fail(postgresError(e, "postgres exec"));
  }
}

// Counts the commits announced by other sessions (a session hears its own NOTIFY too).
class PgConnection::ChangeListener final : public pqxx::notification_receiver {
 public:
  ChangeListener(PgConnection& owner)
      : pqxx::notification_receiver(*owner.conn_, "td_changes"), owner_(owner) {}
  void operator()(const std::string&, int backend_pid) override {
    if (backend_pid != owner_.conn_->backendpid()) ++owner_.other_commits_;
  }

 private:
  PgConnection& owner_;
};

Result<std::int64_t> PgConnection::changeCounter() {
  // libpqxx neither LISTENs nor delivers notifications while a transaction object is open, and
  // ours (the autocommit one) always is: step out of it for the moment. Called between
  // transactions only.
  try {
    work_.reset();
    if (!listener_) listener_ = std::make_unique<ChangeListener>(*this);
    conn_->get_notifs();
    work_ = std::make_unique<pqxx::nontransaction>(*conn_);
    return other_commits_;
  } catch (const std::exception& e) {
    if (!work_) work_ = std::make_unique<pqxx::nontransaction>(*conn_);
    return fail(postgresError(e, "postgres notifications"));
  }
}

std::int64_t PgConnection::lastInsertId() {
  // Only called right after a successful INSERT, where lastval() cannot fail short of a lost
  // connection, which the next statement reports.
  try {
    auto r = work_->exec("SELECT lastval()");
    return r[0][0].as<std::int64_t>();
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace td::store::postgres
