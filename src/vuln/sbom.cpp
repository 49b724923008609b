#include "vuln/sbom.h"

#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include <algorithm>
#include <set>
#include <unordered_set>

#include "core/text.h"

namespace td::vuln {
namespace {

using core::ErrorCode;
using nlohmann::json;

constexpr size_t kMaxProblems = 20;
constexpr int kMaxDepth = 64;  // nested components

// The SPDX license ids the strict check accepts (the most used part of the SPDX list).
const std::set<std::string, std::less<>>& spdxIds() {
  static const std::set<std::string, std::less<>> ids = {
      "0BSD", "AFL-3.0", "AGPL-1.0", "AGPL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later",
      "Apache-1.0", "Apache-1.1", "Apache-2.0", "APSL-2.0", "Artistic-1.0", "Artistic-2.0",
      "BlueOak-1.0.0", "BSD-1-Clause", "BSD-2-Clause", "BSD-2-Clause-Patent", "BSD-3-Clause",
      "BSD-3-Clause-Clear", "BSD-4-Clause", "BSL-1.0", "BUSL-1.1", "bzip2-1.0.6", "CC-BY-3.0",
      "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "CC0-1.0", "CDDL-1.0",
      "CDDL-1.1", "CPL-1.0", "curl", "ECL-2.0", "EFL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.1",
      "EUPL-1.2", "FTL", "GFDL-1.3", "GFDL-1.3-only", "GFDL-1.3-or-later", "GPL-1.0",
      "GPL-1.0-only", "GPL-1.0-or-later", "GPL-2.0", "GPL-2.0-only", "GPL-2.0-or-later",
      "GPL-2.0-with-classpath-exception", "GPL-3.0", "GPL-3.0-only", "GPL-3.0-or-later", "HPND",
      "ICU", "IJG", "ISC", "JSON", "LGPL-2.0", "LGPL-2.0-only", "LGPL-2.0-or-later", "LGPL-2.1",
      "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0", "LGPL-3.0-only", "LGPL-3.0-or-later",
      "Libpng", "libtiff", "MIT", "MIT-0", "MPL-1.0", "MPL-1.1", "MPL-2.0",
      "MPL-2.0-no-copyleft-exception", "MS-PL", "MS-RL", "NCSA", "ODbL-1.0", "OFL-1.1",
      "OpenSSL", "OSL-3.0", "PHP-3.0", "PHP-3.01", "PostgreSQL", "PSF-2.0", "Python-2.0",
      "Ruby", "SISSL", "Sleepycat", "SSPL-1.0", "Unicode-DFS-2016", "Unicode-3.0", "Unlicense",
      "UPL-1.0", "Vim", "W3C", "WTFPL", "X11", "Zlib", "zlib-acknowledgement", "ZPL-2.0",
      "ZPL-2.1"};
  return ids;
}

bool contains(std::initializer_list<std::string_view> set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

class Checker {
 public:
  explicit Checker(SbomOptions options) : options_(options) {}

  void problem(const std::string& path, const std::string& what) {
    if (problems_.size() < kMaxProblems) problems_.push_back(path + ": " + what);
    ++count_;
    if (first_path_.empty()) first_path_ = path;
  }
  bool ok() const { return count_ == 0; }
  core::Error error(std::string_view format) const {
    std::string msg = std::string(format) + " document refused (" + std::to_string(count_) +
                      (count_ == 1 ? " problem" : " problems") + "): ";
    for (size_t i = 0; i < problems_.size(); ++i) msg += (i ? "; " : "") + problems_[i];
    if (count_ > problems_.size()) msg += "; ...";
    return core::Error{ErrorCode::kInvalidArgument, msg, first_path_};
  }

  // Returns the string member, recording a problem when present with another type.
  std::string str(const json& obj, const char* key, const std::string& path, bool required = false,
                  bool non_empty = false) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (required) problem(path, std::string("missing \"") + key + "\"");
      return {};
    }
    if (!it->is_string()) {
      problem(path + "." + key, "must be a string");
      return {};
    }
    std::string v = it->get<std::string>();
    if (non_empty && v.empty()) problem(path + "." + key, "must not be empty");
    return v;
  }
  const json* arr(const json& obj, const char* key, const std::string& path) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    if (!it->is_array()) {
      problem(path + "." + key, "must be an array");
      return nullptr;
    }
    return &*it;
  }
  const json* obj(const json& o, const char* key, const std::string& path) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return nullptr;
    if (!it->is_object()) {
      problem(path + "." + key, "must be an object");
      return nullptr;
    }
    return &*it;
  }

  const SbomOptions& options() const { return options_; }
  std::vector<std::string> warnings;

 private:
  SbomOptions options_;
  std::vector<std::string> problems_;
  size_t count_ = 0;
  std::string first_path_;
};

// --------------------------------------------------------------------------------------------
// CycloneDX

struct CdxContext {
  Checker& c;
  int minor = 4;  // spec 1.<minor>
  std::unordered_set<std::string> refs;
  Sbom* sbom;
};

bool isRfc3339(const std::string& s) {
  static const RE2 re(
      R"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))");
  return RE2::FullMatch(s, re);
}

void checkRef(CdxContext& ctx, const json& o, const std::string& path) {
  auto it = o.find("bom-ref");
  if (it == o.end()) return;
  if (!it->is_string()) {
    ctx.c.problem(path + ".bom-ref", "must be a string");
    return;
  }
  std::string ref = it->get<std::string>();
  if (ref.empty()) {
    ctx.c.problem(path + ".bom-ref", "must not be empty");
    return;
  }
  if (!ctx.refs.insert(ref).second) {
    ctx.c.problem(path + ".bom-ref", "\"" + ref + "\" is not unique in the document");
  }
}

void checkHashes(CdxContext& ctx, const json& o, const std::string& path) {
  const json* hashes = ctx.c.arr(o, "hashes", path);
  if (!hashes) return;
  static const RE2 hex(R"([0-9a-fA-F]+)");
  for (size_t i = 0; i < hashes->size(); ++i) {
    std::string p = path + ".hashes[" + std::to_string(i) + "]";
    const json& h = (*hashes)[i];
    if (!h.is_object()) {
      ctx.c.problem(p, "must be an object");
      continue;
    }
    std::string alg = ctx.c.str(h, "alg", p, true);
    std::string content = ctx.c.str(h, "content", p, true);
    if (!alg.empty() &&
        !contains({"MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512", "SHA3-256", "SHA3-384",
                   "SHA3-512", "BLAKE2b-256", "BLAKE2b-384", "BLAKE2b-512", "BLAKE3", "Streebog-256",
                   "Streebog-512"},
                  alg)) {
      ctx.c.problem(p + ".alg", "unknown hash algorithm \"" + alg + "\"");
    }
    size_t n = content.size();
    bool length_ok = n == 32 || n == 40 || n == 64 || n == 96 || n == 128;
    if (!content.empty() && (!length_ok || !RE2::FullMatch(content, hex))) {
      ctx.c.problem(p + ".content", "not a hex digest of 32, 40, 64, 96 or 128 characters");
    } else if (!content.empty()) {
      size_t want = alg == "MD5" ? 32 : alg == "SHA-1" ? 40 : (alg == "SHA-256" || alg == "SHA3-256" || alg == "BLAKE2b-256") ? 64 : (alg == "SHA-384" || alg == "SHA3-384" || alg == "BLAKE2b-384") ? 96 : (alg == "SHA-512" || alg == "SHA3-512" || alg == "BLAKE2b-512") ? 128 : 0;
      if (want && n != want) ctx.c.problem(p + ".content", alg + " digest must have " + std::to_string(want) + " hex characters");
    }
  }
}

void checkProperties(CdxContext& ctx, const json& o, const std::string& path) {
  const json* props = ctx.c.arr(o, "properties", path);
  if (!props) return;
  for (size_t i = 0; i < props->size(); ++i) {
    std::string p = path + ".properties[" + std::to_string(i) + "]";
    const json& prop = (*props)[i];
    if (!prop.is_object()) {
      ctx.c.problem(p, "must be an object");
      continue;
    }
    ctx.c.str(prop, "name", p, true);
    ctx.c.str(prop, "value", p);
    for (const auto& [k, v] : prop.items()) {
      if (k != "name" && k != "value") ctx.c.problem(p + "." + k, "unexpected property");
    }
  }
}

void checkLicenses(CdxContext& ctx, const json& o, const std::string& path) {
  const json* licenses = ctx.c.arr(o, "licenses", path);
  if (!licenses) return;
  bool has_expression = false;
  for (size_t i = 0; i < licenses->size(); ++i) {
    std::string p = path + ".licenses[" + std::to_string(i) + "]";
    const json& choice = (*licenses)[i];
    if (!choice.is_object()) {
      ctx.c.problem(p, "must be an object");
      continue;
    }
    bool expr = choice.contains("expression");
    bool lic = choice.contains("license");
    if (expr == lic) {
      ctx.c.problem(p, "must hold exactly one of \"license\" and \"expression\"");
      continue;
    }
    has_expression |= expr;
    if (expr) {
      ctx.c.str(choice, "expression", p, true, true);
      continue;
    }
    const json* l = ctx.c.obj(choice, "license", p);
    if (!l) continue;
    std::string lp = p + ".license";
    bool has_id = l->contains("id"), has_name = l->contains("name");
    if (has_id == has_name) {
      ctx.c.problem(lp, "must hold exactly one of \"id\" and \"name\"");
    }
    if (has_id) {
      std::string id = ctx.c.str(*l, "id", lp, true, true);
      if (!id.empty() && !spdxIds().count(id)) {
        if (ctx.c.options().strict_license_ids) {
          ctx.c.problem(lp + ".id", "\"" + id + "\" is not an SPDX license id");
        } else {
          ctx.c.warnings.push_back(lp + ".id: \"" + id + "\" is not a known SPDX license id");
        }
      }
    }
    if (const json* text = ctx.c.obj(*l, "text", lp)) {
      std::string enc = ctx.c.str(*text, "encoding", lp + ".text");
      if (!enc.empty() && enc != "base64") {
        ctx.c.problem(lp + ".text.encoding", "must be \"base64\", not \"" + enc + "\"");
      }
    }
    checkProperties(ctx, *l, lp);
  }
  // Before 1.7 an expression had to stand alone; 1.7 allows declared/concluded mixes.
  if (has_expression && licenses->size() > 1 && ctx.minor <= 6) {
    ctx.c.problem(path + ".licenses", "an expression must be the only license entry");
  }
}

void parseComponent(CdxContext& ctx, const json& comp, const std::string& path, int depth);

void parseComponents(CdxContext& ctx, const json& owner, const std::string& path, int depth) {
  const json* comps = ctx.c.arr(owner, "components", path);
  if (!comps) return;
  if (depth > kMaxDepth) {
    ctx.c.problem(path, "components nested deeper than " + std::to_string(kMaxDepth));
    return;
  }
  for (size_t i = 0; i < comps->size(); ++i) {
    parseComponent(ctx, (*comps)[i], path + ".components[" + std::to_string(i) + "]", depth + 1);
  }
}

void parseComponent(CdxContext& ctx, const json& comp, const std::string& path, int depth) {
  Checker& c = ctx.c;
  if (!comp.is_object()) {
    c.problem(path, "must be an object");
    return;
  }
  Component out;
  out.path = path;
  out.type = c.str(comp, "type", path, true);
  static const std::initializer_list<std::string_view> kTypes = {
      "application", "framework", "library", "container", "platform", "operating-system",
      "device", "device-driver", "firmware", "file", "machine-learning-model", "data",
      "cryptographic-asset"};
  if (!out.type.empty() && !contains(kTypes, out.type)) {
    c.problem(path + ".type", "unknown component type \"" + out.type + "\"");
  }
  out.name = c.str(comp, "name", path, true);
  out.group = c.str(comp, "group", path);
  out.version = c.str(comp, "version", path);
  if (comp.contains("versionRange")) {
    c.str(comp, "versionRange", path);
    bool external = comp.value("isExternal", false);
    if (!external) c.problem(path + ".versionRange", "only external components (isExternal) may have a versionRange");
    if (comp.contains("version")) c.problem(path, "may have \"version\" or \"versionRange\", not both");
  }
  if (ctx.minor <= 3 && !comp.contains("version")) {
    c.problem(path, "missing \"version\" (required before CycloneDX 1.4)");
  }
  std::string scope = c.str(comp, "scope", path);
  if (!scope.empty() && !contains({"required", "optional", "excluded"}, scope)) {
    c.problem(path + ".scope", "unknown scope \"" + scope + "\"");
  }
  checkRef(ctx, comp, path);
  if (auto it = comp.find("bom-ref"); it != comp.end() && it->is_string()) out.ref = *it;
  checkHashes(ctx, comp, path);
  checkLicenses(ctx, comp, path);
  checkProperties(ctx, comp, path);
  if (const json* swid = c.obj(comp, "swid", path)) {
    c.str(*swid, "tagId", path + ".swid", true);
    c.str(*swid, "name", path + ".swid", true);
  }
  if (const json* pedigree = c.obj(comp, "pedigree", path)) {
    if (const json* patches = c.arr(*pedigree, "patches", path + ".pedigree")) {
      for (size_t i = 0; i < patches->size(); ++i) {
        std::string p = path + ".pedigree.patches[" + std::to_string(i) + "]";
        if (!(*patches)[i].is_object()) {
          c.problem(p, "must be an object");
          continue;
        }
        std::string type = c.str((*patches)[i], "type", p, true);
        if (!type.empty() && !contains({"unofficial", "monkey", "backport", "cherry-pick"}, type)) {
          c.problem(p + ".type", "unknown patch type \"" + type + "\"");
        }
        if (const json* resolves = c.arr((*patches)[i], "resolves", p)) {
          for (size_t j = 0; j < resolves->size(); ++j) {
            std::string rp = p + ".resolves[" + std::to_string(j) + "]";
            if (!(*resolves)[j].is_object()) continue;
            std::string it = c.str((*resolves)[j], "type", rp, true);
            if (!it.empty() && !contains({"defect", "enhancement", "security"}, it)) {
              c.problem(rp + ".type", "unknown issue type \"" + it + "\"");
            }
          }
        }
      }
    }
    parseComponents(ctx, *pedigree, path + ".pedigree.ancestors", depth + 1);
  }
  std::string purl = c.str(comp, "purl", path);
  if (!purl.empty()) {
    auto parsed = parsePurl(purl, PurlStrictness::kLenient);
    if (parsed) {
      out.purl = toString(*parsed);
      out.parsed_purl = std::move(*parsed);
    } else {
      out.purl = purl;
      out.purl_error = parsed.error().message;
      c.warnings.push_back(path + ".purl: " + parsed.error().message);
    }
  }
  ctx.sbom->components.push_back(std::move(out));
  parseComponents(ctx, comp, path, depth);
}

void parseServices(CdxContext& ctx, const json& owner, const std::string& path, int depth) {
  const json* services = ctx.c.arr(owner, "services", path);
  if (!services || depth > kMaxDepth) return;
  for (size_t i = 0; i < services->size(); ++i) {
    std::string p = path + ".services[" + std::to_string(i) + "]";
    const json& s = (*services)[i];
    if (!s.is_object()) {
      ctx.c.problem(p, "must be an object");
      continue;
    }
    ctx.c.str(s, "name", p, true);
    checkRef(ctx, s, p);
    checkLicenses(ctx, s, p);
    checkProperties(ctx, s, p);
    if (const json* data = ctx.c.arr(s, "data", p)) {
      for (size_t j = 0; j < data->size(); ++j) {
        std::string dp = p + ".data[" + std::to_string(j) + "]";
        const json& d = (*data)[j];
        if (!d.is_object()) {
          ctx.c.problem(dp, "must be an object");
          continue;
        }
        std::string flow = ctx.c.str(d, "flow", dp, true);
        if (!flow.empty() && !contains({"inbound", "outbound", "bi-directional", "unknown"}, flow)) {
          ctx.c.problem(dp + ".flow", "unknown data flow \"" + flow + "\"");
        }
      }
    }
    parseServices(ctx, s, p, depth + 1);
  }
}

void parseVulnerabilities(CdxContext& ctx, const json& doc) {
  const json* vulns = ctx.c.arr(doc, "vulnerabilities", "$");
  if (!vulns) return;
  for (size_t i = 0; i < vulns->size(); ++i) {
    std::string p = "$.vulnerabilities[" + std::to_string(i) + "]";
    const json& v = (*vulns)[i];
    if (!v.is_object()) {
      ctx.c.problem(p, "must be an object");
      continue;
    }
    checkRef(ctx, v, p);
    VexStatement s;
    s.vulnerability = ctx.c.str(v, "id", p);
    if (const json* refs = ctx.c.arr(v, "references", p)) {
      for (const auto& r : *refs) {
        if (r.is_object() && r.contains("id") && r["id"].is_string()) s.aliases.push_back(r["id"]);
      }
    }
    if (const json* analysis = ctx.c.obj(v, "analysis", p)) {
      s.state = ctx.c.str(*analysis, "state", p + ".analysis");
      s.justification = ctx.c.str(*analysis, "justification", p + ".analysis");
      s.detail = ctx.c.str(*analysis, "detail", p + ".analysis");
      if (const json* response = ctx.c.arr(*analysis, "response", p + ".analysis")) {
        for (const auto& r : *response) {
          if (r.is_string()) s.response.push_back(r);
        }
      }
    }
    if (const json* affects = ctx.c.arr(v, "affects", p)) {
      for (size_t j = 0; j < affects->size(); ++j) {
        const json& a = (*affects)[j];
        std::string ap = p + ".affects[" + std::to_string(j) + "]";
        if (!a.is_object()) {
          ctx.c.problem(ap, "must be an object");
          continue;
        }
        std::string ref = ctx.c.str(a, "ref", ap, true);
        if (!ref.empty()) s.affects.push_back(ref);
      }
    }
    if (!s.state.empty()) ctx.sbom->vex.push_back(std::move(s));
  }
}

void parseDependencies(CdxContext& ctx, const json& doc) {
  const json* deps = ctx.c.arr(doc, "dependencies", "$");
  if (!deps) return;
  for (size_t i = 0; i < deps->size(); ++i) {
    std::string p = "$.dependencies[" + std::to_string(i) + "]";
    const json& d = (*deps)[i];
    if (!d.is_object()) {
      ctx.c.problem(p, "must be an object");
      continue;
    }
    ctx.c.str(d, "ref", p, true, true);
    if (const json* on = ctx.c.arr(d, "dependsOn", p)) {
      std::set<std::string> seen;
      for (size_t j = 0; j < on->size(); ++j) {
        std::string dp = p + ".dependsOn[" + std::to_string(j) + "]";
        if (!(*on)[j].is_string() || (*on)[j].get<std::string>().empty()) {
          ctx.c.problem(dp, "must be a non-empty string");
        } else if (!seen.insert((*on)[j].get<std::string>()).second) {
          ctx.c.problem(dp, "repeats a reference");
        }
      }
    }
  }
}

core::Result<Sbom> parseCycloneDx(const json& doc, SbomOptions options) {
  Checker c(options);
  Sbom sbom;
  sbom.format = SbomFormat::kCycloneDx;
  CdxContext ctx{c, 4, {}, &sbom};
  std::string format = c.str(doc, "bomFormat", "$", true);
  if (!format.empty() && format != "CycloneDX") {
    c.problem("$.bomFormat", "must be \"CycloneDX\", not \"" + format + "\"");
  }
  sbom.spec_version = c.str(doc, "specVersion", "$", true);
  static const RE2 spec(R"(1\.([0-7]))");
  int minor = 0;
  if (!sbom.spec_version.empty()) {
    if (!RE2::FullMatch(sbom.spec_version, spec, &minor)) {
      c.problem("$.specVersion", "unsupported CycloneDX version \"" + sbom.spec_version +
                                     "\" (1.0 to 1.7 are read)");
    } else {
      ctx.minor = minor;
    }
  }
  if (auto it = doc.find("version"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<long long>() < 1) {
      c.problem("$.version", "must be an integer of at least 1");
    }
  }
  sbom.serial = c.str(doc, "serialNumber", "$");
  static const RE2 serial(
      R"(urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})");
  if (doc.contains("serialNumber") && !RE2::FullMatch(sbom.serial, serial)) {
    c.problem("$.serialNumber", "must be \"urn:uuid:\" and an RFC 4122 UUID");
  }
  if (const json* meta = c.obj(doc, "metadata", "$")) {
    std::string ts = c.str(*meta, "timestamp", "$.metadata");
    if (meta->contains("timestamp") && !isRfc3339(ts)) {
      c.problem("$.metadata.timestamp", "\"" + ts + "\" is not an RFC 3339 date-time");
    }
    checkLicenses(ctx, *meta, "$.metadata");
    checkProperties(ctx, *meta, "$.metadata");
    if (meta->contains("distribution")) {
      c.problem("$.metadata.distribution", "not a CycloneDX metadata property (distributionConstraints?)");
    }
    if (const json* subject = c.obj(*meta, "component", "$.metadata")) {
      sbom.subject = c.str(*subject, "name", "$.metadata.component");
      // The subject is the asset itself; its own purl is not scanned as a dependency, but its
      // fields are validated like any component.
      Sbom scratch;
      CdxContext sub{c, ctx.minor, {}, &scratch};
      sub.refs.swap(ctx.refs);
      parseComponent(sub, *subject, "$.metadata.component", 0);
      ctx.refs.swap(sub.refs);
    }
  }
  parseComponents(ctx, doc, "$", 0);
  parseServices(ctx, doc, "$", 0);
  parseDependencies(ctx, doc);
  parseVulnerabilities(ctx, doc);
  if (const json* citations = c.arr(doc, "citations", "$")) {
    for (size_t i = 0; i < citations->size(); ++i) {
      std::string p = "$.citations[" + std::to_string(i) + "]";
      const json& ci = (*citations)[i];
      if (!ci.is_object()) {
        c.problem(p, "must be an object");
        continue;
      }
      // A citation names what it is about by "pointers" or "expressions", and who attributed it.
      bool about = ci.contains("pointers") || ci.contains("expressions");
      if (!about) c.problem(p, "needs \"pointers\" or \"expressions\"");
      if (ci.contains("pointers") && ci.contains("expressions")) {
        c.problem(p, "may have \"pointers\" or \"expressions\", not both");
      }
      if (!ci.contains("timestamp")) c.problem(p, "missing \"timestamp\"");
      if (!ci.contains("attributedTo") && !ci.contains("process")) {
        c.problem(p, "needs \"attributedTo\" or \"process\"");
      }
    }
  }
  if (!c.ok()) return tl::unexpected(c.error("CycloneDX"));
  sbom.warnings = std::move(c.warnings);
  return sbom;
}

// --------------------------------------------------------------------------------------------
// SPDX

void attachPurl(Component& out, const std::string& purl, Checker& c, const std::string& path) {
  auto parsed = parsePurl(purl, PurlStrictness::kLenient);
  if (parsed) {
    out.purl = toString(*parsed);
    out.parsed_purl = std::move(*parsed);
  } else {
    out.purl = purl;
    out.purl_error = parsed.error().message;
    c.warnings.push_back(path + ": " + parsed.error().message);
  }
}

core::Result<Sbom> parseSpdx2(const json& doc, SbomOptions options) {
  Checker c(options);
  Sbom sbom;
  sbom.format = SbomFormat::kSpdx2;
  sbom.spec_version = c.str(doc, "spdxVersion", "$", true);
  if (!sbom.spec_version.empty() && !contains({"SPDX-2.2", "SPDX-2.3"}, sbom.spec_version)) {
    c.problem("$.spdxVersion", "unsupported SPDX version \"" + sbom.spec_version +
                                   "\" (SPDX-2.2 and SPDX-2.3 are read)");
  }
  std::string id = c.str(doc, "SPDXID", "$", true);
  if (!id.empty() && id != "SPDXRef-DOCUMENT") c.problem("$.SPDXID", "must be \"SPDXRef-DOCUMENT\"");
  sbom.subject = c.str(doc, "name", "$", true);
  sbom.serial = c.str(doc, "documentNamespace", "$");
  if (const json* packages = c.arr(doc, "packages", "$")) {
    for (size_t i = 0; i < packages->size(); ++i) {
      std::string p = "$.packages[" + std::to_string(i) + "]";
      const json& pkg = (*packages)[i];
      if (!pkg.is_object()) {
        c.problem(p, "must be an object");
        continue;
      }
      Component out;
      out.path = p;
      out.type = "package";
      out.ref = c.str(pkg, "SPDXID", p, true, true);
      out.name = c.str(pkg, "name", p, true);
      out.version = c.str(pkg, "versionInfo", p);
      if (const json* refs = c.arr(pkg, "externalRefs", p)) {
        for (size_t j = 0; j < refs->size(); ++j) {
          std::string rp = p + ".externalRefs[" + std::to_string(j) + "]";
          const json& r = (*refs)[j];
          if (!r.is_object()) {
            c.problem(rp, "must be an object");
            continue;
          }
          std::string type = c.str(r, "referenceType", rp, true);
          std::string locator = c.str(r, "referenceLocator", rp, true);
          if (type == "purl" && out.purl.empty()) attachPurl(out, locator, c, rp + ".referenceLocator");
        }
      }
      sbom.components.push_back(std::move(out));
    }
  }
  if (!c.ok()) return tl::unexpected(c.error("SPDX"));
  sbom.warnings = std::move(c.warnings);
  return sbom;
}

core::Result<Sbom> parseSpdx3(const json& doc, SbomOptions options) {
  Checker c(options);
  Sbom sbom;
  sbom.format = SbomFormat::kSpdx3;
  const json* graph = c.arr(doc, "@graph", "$");
  if (!graph) c.problem("$", "SPDX 3 JSON-LD needs an \"@graph\" array");
  if (graph) {
    for (size_t i = 0; i < graph->size(); ++i) {
      std::string p = "$.@graph[" + std::to_string(i) + "]";
      const json& el = (*graph)[i];
      if (!el.is_object()) {
        c.problem(p, "must be an object");
        continue;
      }
      std::string type = c.str(el, "type", p);
      if (type == "SpdxDocument") {
        sbom.subject = c.str(el, "name", p);
        sbom.serial = c.str(el, "spdxId", p);
      } else if (type == "CreationInfo") {
        sbom.spec_version = c.str(el, "specVersion", p);
      }
      if (type != "software_Package") continue;
      Component out;
      out.path = p;
      out.type = "package";
      out.ref = c.str(el, "spdxId", p, true, true);
      out.name = c.str(el, "name", p, true);
      out.version = c.str(el, "software_packageVersion", p);
      std::string purl = c.str(el, "software_packageUrl", p);
      if (purl.empty()) {
        if (const json* ids = c.arr(el, "externalIdentifier", p)) {
          for (const auto& x : *ids) {
            if (x.is_object() && x.value("externalIdentifierType", "") == "packageUrl" &&
                x.contains("identifier") && x["identifier"].is_string()) {
              purl = x["identifier"];
              break;
            }
          }
        }
      }
      if (!purl.empty()) attachPurl(out, purl, c, p);
      sbom.components.push_back(std::move(out));
    }
  }
  if (!c.ok()) return tl::unexpected(c.error("SPDX 3"));
  sbom.warnings = std::move(c.warnings);
  return sbom;
}

}  // namespace

std::string_view sbomFormatName(SbomFormat f) {
  switch (f) {
    case SbomFormat::kCycloneDx: return "CycloneDX";
    case SbomFormat::kSpdx2: return "SPDX 2";
    case SbomFormat::kSpdx3: return "SPDX 3";
  }
  return "unknown";
}

core::Result<Sbom> parseSbom(std::string_view text, SbomOptions options) {
  if (text.size() > options.max_bytes) {
    return core::fail(ErrorCode::kTooLarge,
                      "SBOM of " + std::to_string(text.size()) + " bytes is over the limit of " +
                          std::to_string(options.max_bytes),
                      "$");
  }
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) {
    try {
      json ignored = json::parse(text.begin(), text.end());
      (void)ignored;
    } catch (const json::parse_error& e) {
      // Turn the byte offset into line:column for a person.
      size_t line = 1, col = 1;
      for (size_t i = 0; i < e.byte && i < text.size(); ++i) {
        if (text[i] == '\n') {
          ++line;
          col = 1;
        } else {
          ++col;
        }
      }
      return core::fail(ErrorCode::kInvalidArgument,
                        std::string("SBOM is not valid JSON: ") + e.what(),
                        std::to_string(line) + ":" + std::to_string(col));
    }
    return core::fail(ErrorCode::kInvalidArgument, "SBOM is not valid JSON", "$");
  }
  if (!doc.is_object()) {
    return core::fail(ErrorCode::kInvalidArgument, "an SBOM must be a JSON object", "$");
  }
  try {
    if (doc.contains("bomFormat")) return parseCycloneDx(doc, options);
    if (doc.contains("spdxVersion")) return parseSpdx2(doc, options);
    if (doc.contains("@context") || doc.contains("@graph")) {
      auto ctx = doc.find("@context");
      bool spdx3 = ctx != doc.end() && ctx->is_string() &&
                   ctx->get<std::string>().find("spdx.org/rdf/3") != std::string::npos;
      if (spdx3 || doc.contains("@graph")) return parseSpdx3(doc, options);
    }
  } catch (const json::exception& e) {
    return core::fail(ErrorCode::kInvalidArgument, std::string("SBOM: ") + e.what(), "$");
  }
  return core::fail(ErrorCode::kUnprocessable,
                    "not a CycloneDX or SPDX JSON document (no \"bomFormat\", \"spdxVersion\" or "
                    "SPDX 3 \"@context\")",
                    "$");
}

}  // namespace td::vuln
