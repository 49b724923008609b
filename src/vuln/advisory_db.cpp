#include "vuln/advisory_db.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "vuln/version.h"
#include "vuln/zip_archive.h"

namespace td::vuln {
namespace {

using core::ErrorCode;

core::Result<std::string> readWhole(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    return core::fail(ErrorCode::kNotFound, "cannot read " + p.string(), p.string());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void account(const Advisory& a, ImportReport& r) {
  ++r.imported;
  if (a.isWithdrawn()) ++r.withdrawn;
  for (const auto& p : a.affected) {
    ++r.affected_by_ecosystem[p.ecosystem.name];
    if (p.ecosystem.kind == Ecosystem::kUnknown) ++r.unsupported_ecosystems[p.ecosystem.name];
    for (const auto& range : p.ranges) {
      if (range.type == RangeType::kGit) ++r.git_ranges;
    }
  }
}

}  // namespace

void ImportReport::merge(const ImportReport& o) {
  documents += o.documents;
  imported += o.imported;
  replaced += o.replaced;
  withdrawn += o.withdrawn;
  git_ranges += o.git_ranges;
  bytes += o.bytes;
  for (const auto& [k, v] : o.affected_by_ecosystem) affected_by_ecosystem[k] += v;
  for (const auto& [k, v] : o.unsupported_ecosystems) unsupported_ecosystems[k] += v;
  errors.insert(errors.end(), o.errors.begin(), o.errors.end());
  warnings.insert(warnings.end(), o.warnings.begin(), o.warnings.end());
}

std::string AdvisoryDb::key(std::string_view ecosystem_base, Ecosystem kind,
                            std::string_view name) {
  std::string k = ecosystemKey(ecosystem_base);
  k += '\x1f';
  k += normalisePackageName(kind, name);
  return k;
}

void AdvisoryDb::index(Advisory& a) {
  for (auto& p : a.affected) {
    index_[key(p.ecosystem.name, p.ecosystem.kind, p.name)].push_back(Candidate{&a, &p});
    ++entries_;
  }
}

void AdvisoryDb::unindex(const Advisory& a) {
  for (const auto& p : a.affected) {
    auto it = index_.find(key(p.ecosystem.name, p.ecosystem.kind, p.name));
    if (it == index_.end()) continue;
    auto& list = it->second;
    size_t before = list.size();
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const Candidate& c) { return c.advisory == &a; }),
               list.end());
    entries_ -= before - list.size();
    if (list.empty()) index_.erase(it);
  }
}

bool AdvisoryDb::add(Advisory advisory) {
  auto it = by_id_.find(advisory.id);
  if (it != by_id_.end()) {
    Advisory* existing = it->second;
    // RFC 3339 UTC timestamps order lexically.
    if (advisory.modified < existing->modified) return false;
    unindex(*existing);
    *existing = std::move(advisory);
    index(*existing);
    return true;
  }
  advisories_.push_back(std::make_unique<Advisory>(std::move(advisory)));
  Advisory* a = advisories_.back().get();
  by_id_.emplace(a->id, a);
  index(*a);
  return true;
}

ImportReport AdvisoryDb::importJson(std::string_view json, const std::string& source) {
  ImportReport r;
  r.bytes = json.size();
  // osv.dev's files hold one advisory; some exports hold an array of them.
  size_t first = json.find_first_not_of(" \t\r\n");
  std::vector<std::string> docs;
  if (first != std::string_view::npos && json[first] == '[') {
    auto arr = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
    if (arr.is_discarded() || !arr.is_array()) {
      r.errors.push_back(core::Error{ErrorCode::kInvalidArgument, "not a JSON array", source});
      return r;
    }
    for (const auto& d : arr) docs.push_back(d.dump());
  } else {
    docs.emplace_back(json);
  }
  for (size_t i = 0; i < docs.size(); ++i) {
    ++r.documents;
    std::string where = docs.size() > 1 ? source + "[" + std::to_string(i) + "]" : source;
    std::vector<std::string> warnings;
    auto a = parseOsvAdvisory(docs[i], where, &warnings);
    for (auto& w : warnings) r.warnings.push_back(where + ": " + w);
    if (!a) {
      r.errors.push_back(a.error());
      continue;
    }
    bool existed = by_id_.count(a->id) > 0;
    std::string id = a->id;
    if (add(std::move(*a))) {
      if (existed) ++r.replaced;
      const Advisory& added = *by_id_.at(id);
      account(added, r);
      if (observer_) observer_(added, docs[i]);
    }
  }
  return r;
}

core::Result<ImportReport> AdvisoryDb::importPath(const std::filesystem::path& path) {
  std::error_code ec;
  ImportReport report;
  auto importFile = [&](const std::filesystem::path& p) {
    auto bytes = readWhole(p);
    if (!bytes) {
      report.errors.push_back(bytes.error());
      return;
    }
    if (endsWith(p.string(), ".zip") || looksLikeZip(*bytes)) {
      auto status = forEachZipMember(*bytes, [&](std::string_view name, std::string_view data) {
        if (endsWith(name, ".json")) {
          report.merge(importJson(data, p.string() + "!" + std::string(name)));
        }
        return true;
      });
      if (!status) {
        core::Error e = status.error();
        e.field = p.string() + (e.field.empty() ? "" : "!" + e.field);
        report.errors.push_back(e);
      }
      return;
    }
    report.merge(importJson(*bytes, p.string()));
  };
  if (std::filesystem::is_directory(path, ec)) {
    std::vector<std::filesystem::path> files;
    for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      std::string name = it->path().filename().string();
      if (endsWith(name, ".json") || endsWith(name, ".zip")) files.push_back(it->path());
    }
    if (ec) return core::fail(ErrorCode::kInvalidArgument, "cannot list " + path.string() + ": " + ec.message(), path.string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) importFile(f);
    return report;
  }
  if (!std::filesystem::exists(path, ec)) {
    return core::fail(ErrorCode::kNotFound, "no such file or directory: " + path.string(),
                      path.string());
  }
  importFile(path);
  return report;
}

std::span<const AdvisoryDb::Candidate> AdvisoryDb::candidates(const EcosystemId& ecosystem,
                                                              std::string_view name) const {
  auto it = index_.find(key(ecosystem.name, ecosystem.kind, name));
  if (it == index_.end()) return {};
  return it->second;
}

const Advisory* AdvisoryDb::find(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : it->second;
}

}  // namespace td::vuln
