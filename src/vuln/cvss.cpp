#include "vuln/cvss.h"

#include <algorithm>
#include <cmath>

namespace td::vuln {
namespace {

using core::ErrorCode;
using core::fail;

struct MetricDef {
  std::string_view name;
  std::string_view values;  // allowed single-letter values
  bool mandatory;
};

constexpr MetricDef kV3[] = {
    {"AV", "NALP", true},   {"AC", "LH", true},     {"PR", "NLH", true},    {"UI", "NR", true},
    {"S", "UC", true},      {"C", "HLN", true},     {"I", "HLN", true},     {"A", "HLN", true},
    {"E", "XUPFH", false},  {"RL", "XOTWU", false}, {"RC", "XURC", false},  {"CR", "XLMH", false},
    {"IR", "XLMH", false},  {"AR", "XLMH", false},  {"MAV", "XNALP", false}, {"MAC", "XLH", false},
    {"MPR", "XNLH", false}, {"MUI", "XNR", false},  {"MS", "XUC", false},   {"MC", "XHLN", false},
    {"MI", "XHLN", false},  {"MA", "XHLN", false},
};

constexpr MetricDef kV4[] = {
    {"AV", "NALP", true},     {"AC", "LH", true},       {"AT", "NP", true},
    {"PR", "NLH", true},      {"UI", "NPA", true},      {"VC", "HLN", true},
    {"VI", "HLN", true},      {"VA", "HLN", true},      {"SC", "HLN", true},
    {"SI", "HLN", true},      {"SA", "HLN", true},      {"E", "XAPU", false},
    {"CR", "XHML", false},    {"IR", "XHML", false},    {"AR", "XHML", false},
    {"MAV", "XNALP", false},  {"MAC", "XLH", false},    {"MAT", "XNP", false},
    {"MPR", "XNLH", false},   {"MUI", "XNPA", false},   {"MVC", "XHLN", false},
    {"MVI", "XHLN", false},   {"MVA", "XHLN", false},   {"MSC", "XHLN", false},
    {"MSI", "XSHLN", false},  {"MSA", "XSHLN", false},  {"S", "XNP", false},
    {"AU", "XNY", false},     {"R", "XAUI", false},     {"V", "XDC", false},
    {"RE", "XLMH", false},    {"U", "", false},
};

// CVSS v3.1 Roundup: the smallest number with one decimal that is >= the input, computed on
// integers to avoid floating-point artefacts (specification Appendix A).
double roundup31(double x) {
  auto i = static_cast<long long>(std::llround(x * 100000.0));
  if (i % 10000 == 0) return static_cast<double>(i) / 100000.0;
  return (std::floor(static_cast<double>(i) / 10000.0) + 1) / 10.0;
}
double roundup30(double x) { return std::ceil(x * 10.0 - 1e-9) / 10.0; }

double av(char v) { return v == 'N' ? 0.85 : v == 'A' ? 0.62 : v == 'L' ? 0.55 : 0.2; }
double ac(char v) { return v == 'L' ? 0.77 : 0.44; }
double pr(char v, bool changed) {
  if (v == 'N') return 0.85;
  if (v == 'L') return changed ? 0.68 : 0.62;
  return changed ? 0.5 : 0.27;
}
double ui(char v) { return v == 'N' ? 0.85 : 0.62; }
double cia(char v) { return v == 'H' ? 0.56 : v == 'L' ? 0.22 : 0.0; }
double exploitCode(char v) {
  switch (v) {
    case 'U': return 0.91;
    case 'P': return 0.94;
    case 'F': return 0.97;
    default: return 1.0;
  }
}
double remediation(char v) {
  switch (v) {
    case 'O': return 0.95;
    case 'T': return 0.96;
    case 'W': return 0.97;
    default: return 1.0;
  }
}
double confidence(char v) {
  switch (v) {
    case 'U': return 0.92;
    case 'R': return 0.96;
    default: return 1.0;
  }
}
double requirement(char v) { return v == 'L' ? 0.5 : v == 'H' ? 1.5 : 1.0; }

}  // namespace

std::string_view CvssVector::value(std::string_view metric) const {
  for (const auto& [k, v] : metrics) {
    if (k == metric) return v;
  }
  return {};
}

core::Result<CvssVector> parseCvss(std::string_view text, std::optional<CvssVersion> assume) {
  CvssVector out;
  std::string_view rest = text;
  size_t offset = 0;
  if (rest.substr(0, 5) == "CVSS:") {
    size_t slash = rest.find('/');
    std::string_view ver = rest.substr(5, slash == std::string_view::npos ? slash : slash - 5);
    if (ver == "3.0") {
      out.version = CvssVersion::kV30;
    } else if (ver == "3.1") {
      out.version = CvssVersion::kV31;
    } else if (ver == "4.0") {
      out.version = CvssVersion::kV40;
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  "unsupported CVSS version \"" + std::string(ver) + "\" (3.0, 3.1, 4.0)",
                  "offset 5");
    }
    if (slash == std::string_view::npos) {
      return fail(ErrorCode::kInvalidArgument, "CVSS vector has no metrics", "offset 0");
    }
    offset = slash + 1;
    rest = rest.substr(slash + 1);
  } else if (assume) {
    out.version = *assume;
  } else {
    return fail(ErrorCode::kInvalidArgument,
                "CVSS vector must start with \"CVSS:3.0/\", \"CVSS:3.1/\" or \"CVSS:4.0/\"",
                "offset 0");
  }
  const MetricDef* defs = out.version == CvssVersion::kV40 ? kV4 : kV3;
  size_t ndefs = out.version == CvssVersion::kV40 ? std::size(kV4) : std::size(kV3);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    size_t colon = part.find(':');
    std::string where = "offset " + std::to_string(offset);
    if (colon == std::string_view::npos || colon == 0 || colon + 1 >= part.size()) {
      return fail(ErrorCode::kInvalidArgument,
                  "CVSS metric \"" + std::string(part) + "\" is not NAME:VALUE", where);
    }
    std::string_view name = part.substr(0, colon), value = part.substr(colon + 1);
    const MetricDef* def = nullptr;
    for (size_t i = 0; i < ndefs; ++i) {
      if (defs[i].name == name) def = &defs[i];
    }
    if (!def) {
      return fail(ErrorCode::kInvalidArgument, "unknown CVSS metric \"" + std::string(name) + "\"",
                  where);
    }
    bool free_text = def->values.empty();
    if (!free_text && (value.size() != 1 || def->values.find(value[0]) == std::string_view::npos)) {
      return fail(ErrorCode::kInvalidArgument,
                  "CVSS metric " + std::string(name) + " has value \"" + std::string(value) +
                      "\"; allowed: " + std::string(def->values),
                  where);
    }
    if (!out.value(name).empty()) {
      return fail(ErrorCode::kInvalidArgument, "CVSS metric " + std::string(name) + " repeated",
                  where);
    }
    out.metrics.emplace_back(std::string(name), std::string(value));
    if (slash == std::string_view::npos) break;
    offset += slash + 1;
    rest = rest.substr(slash + 1);
  }
  for (size_t i = 0; i < ndefs; ++i) {
    if (defs[i].mandatory && out.value(defs[i].name).empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "CVSS vector lacks the base metric " + std::string(defs[i].name), "vector");
    }
  }
  return out;
}

core::Result<CvssScores> scoreCvss(const CvssVector& v) {
  if (v.version == CvssVersion::kV40) {
    auto score = scoreCvss4(v);
    if (!score) return fail(score.error());
    CvssScores out;
    out.base = *score;
    return out;
  }
  bool v31 = v.version == CvssVersion::kV31;
  auto roundup = [&](double x) { return v31 ? roundup31(x) : roundup30(x); };
  auto m = [&](std::string_view name) -> char {
    std::string_view s = v.value(name);
    return s.empty() ? 'X' : s[0];
  };
  CvssScores out;
  bool changed = m("S") == 'C';
  double iss = 1 - (1 - cia(m("C"))) * (1 - cia(m("I"))) * (1 - cia(m("A")));
  double impact =
      changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  double exploitability = 8.22 * av(m("AV")) * ac(m("AC")) * pr(m("PR"), changed) * ui(m("UI"));
  if (impact <= 0) {
    out.base = 0;
  } else if (changed) {
    out.base = roundup(std::min(1.08 * (impact + exploitability), 10.0));
  } else {
    out.base = roundup(std::min(impact + exploitability, 10.0));
  }
  double temporal_factor = exploitCode(m("E")) * remediation(m("RL")) * confidence(m("RC"));
  bool has_temporal = !v.value("E").empty() || !v.value("RL").empty() || !v.value("RC").empty();
  if (has_temporal) out.temporal = roundup(out.base * temporal_factor);
  bool has_env = false;
  for (const char* n : {"CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA"}) {
    if (!v.value(n).empty()) has_env = true;
  }
  if (has_env) {
    auto mod = [&](const char* modified, const char* base) {
      char c = m(modified);
      return c == 'X' ? m(base) : c;
    };
    bool mchanged = mod("MS", "S") == 'C';
    double miss = std::min(1 - (1 - requirement(m("CR")) * cia(mod("MC", "C"))) *
                                   (1 - requirement(m("IR")) * cia(mod("MI", "I"))) *
                                   (1 - requirement(m("AR")) * cia(mod("MA", "A"))),
                           0.915);
    double mimpact;
    if (!mchanged) {
      mimpact = 6.42 * miss;
    } else if (v31) {
      mimpact = 7.52 * (miss - 0.029) - 3.25 * std::pow(miss * 0.9731 - 0.02, 13);
    } else {
      mimpact = 7.52 * (miss - 0.029) - 3.25 * std::pow(miss - 0.02, 15);
    }
    double mexpl = 8.22 * av(mod("MAV", "AV")) * ac(mod("MAC", "AC")) *
                   pr(mod("MPR", "PR"), mchanged) * ui(mod("MUI", "UI"));
    if (mimpact <= 0) {
      out.environmental = 0.0;
    } else if (mchanged) {
      out.environmental =
          roundup(roundup(std::min(1.08 * (mimpact + mexpl), 10.0)) * temporal_factor);
    } else {
      out.environmental = roundup(roundup(std::min(mimpact + mexpl, 10.0)) * temporal_factor);
    }
  }
  return out;
}

core::Result<double> cvssBaseScore(std::string_view text) {
  auto v = parseCvss(text);
  if (!v) return tl::unexpected(v.error());
  auto s = scoreCvss(*v);
  if (!s) return tl::unexpected(s.error());
  return s->base;
}

std::string_view cvssRating(double score) {
  if (score <= 0) return "NONE";
  if (score < 4.0) return "LOW";
  if (score < 7.0) return "MEDIUM";
  if (score < 9.0) return "HIGH";
  return "CRITICAL";
}

core::Severity severityForCvss(double score) {
  if (score <= 0) return core::Severity::kInfo;
  if (score < 4.0) return core::Severity::kLow;
  if (score < 7.0) return core::Severity::kMedium;
  if (score < 9.0) return core::Severity::kHigh;
  return core::Severity::kCritical;
}

}  // namespace td::vuln
