// CVSS v4.0 scoring as the FIRST specification (section 8, "CVSS v4.0 Scoring") defines it: a
// vector falls into one of 270 MacroVectors (equivalence classes EQ1..EQ6), each with a score
// from the specification's lookup table; the vector's score is the MacroVector's score minus the
// mean of its proportional severity distances, per EQ, from the highest-severity vectors of its
// MacroVector towards the next lower MacroVector. The tables below are the specification's data
// (MacroVector scores, highest-severity vectors per EQ level, and the depth of each EQ level).
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vuln/cvss.h"

namespace td::vuln {
namespace {

// MacroVector "EQ1 EQ2 EQ3 EQ4 EQ5 EQ6" -> score (FIRST CVSS v4.0 specification).
const std::unordered_map<std::string_view, double>& macroScores() {
  static const std::unordered_map<std::string_view, double> kTable = {
      {"000000", 10},  {"000001", 9.9}, {"000010", 9.8}, {"000011", 9.5}, {"000020", 9.5},
      {"000021", 9.2}, {"000100", 10},  {"000101", 9.6}, {"000110", 9.3}, {"000111", 8.7},
      {"000120", 9.1}, {"000121", 8.1}, {"000200", 9.3}, {"000201", 9},   {"000210", 8.9},
      {"000211", 8},   {"000220", 8.1}, {"000221", 6.8}, {"001000", 9.8}, {"001001", 9.5},
      {"001010", 9.5}, {"001011", 9.2}, {"001020", 9},   {"001021", 8.4}, {"001100", 9.3},
      {"001101", 9.2}, {"001110", 8.9}, {"001111", 8.1}, {"001120", 8.1}, {"001121", 6.5},
      {"001200", 8.8}, {"001201", 8},   {"001210", 7.8}, {"001211", 7},   {"001220", 6.9},
      {"001221", 4.8}, {"002001", 9.2}, {"002011", 8.2}, {"002021", 7.2}, {"002101", 7.9},
      {"002111", 6.9}, {"002121", 5},   {"002201", 6.9}, {"002211", 5.5}, {"002221", 2.7},
      {"010000", 9.9}, {"010001", 9.7}, {"010010", 9.5}, {"010011", 9.2}, {"010020", 9.2},
      {"010021", 8.5}, {"010100", 9.5}, {"010101", 9.1}, {"010110", 9},   {"010111", 8.3},
      {"010120", 8.4}, {"010121", 7.1}, {"010200", 9.2}, {"010201", 8.1}, {"010210", 8.2},
      {"010211", 7.1}, {"010220", 7.2}, {"010221", 5.3}, {"011000", 9.5}, {"011001", 9.3},
      {"011010", 9.2}, {"011011", 8.5}, {"011020", 8.5}, {"011021", 7.3}, {"011100", 9.2},
      {"011101", 8.2}, {"011110", 8},   {"011111", 7.2}, {"011120", 7},   {"011121", 5.9},
      {"011200", 8.4}, {"011201", 7},   {"011210", 7.1}, {"011211", 5.2}, {"011220", 5},
      {"011221", 3},   {"012001", 8.6}, {"012011", 7.5}, {"012021", 5.2}, {"012101", 7.1},
      {"012111", 5.2}, {"012121", 2.9}, {"012201", 6.3}, {"012211", 2.9}, {"012221", 1.7},
      {"100000", 9.8}, {"100001", 9.5}, {"100010", 9.4}, {"100011", 8.7}, {"100020", 9.1},
      {"100021", 8.1}, {"100100", 9.4}, {"100101", 8.9}, {"100110", 8.6}, {"100111", 7.4},
      {"100120", 7.7}, {"100121", 6.4}, {"100200", 8.7}, {"100201", 7.5}, {"100210", 7.4},
      {"100211", 6.3}, {"100220", 6.3}, {"100221", 4.9}, {"101000", 9.4}, {"101001", 8.9},
      {"101010", 8.8}, {"101011", 7.7}, {"101020", 7.6}, {"101021", 6.7}, {"101100", 8.6},
      {"101101", 7.6}, {"101110", 7.4}, {"101111", 5.8}, {"101120", 5.9}, {"101121", 5},
      {"101200", 7.2}, {"101201", 5.7}, {"101210", 5.7}, {"101211", 5.2}, {"101220", 5.2},
      {"101221", 2.5}, {"102001", 8.3}, {"102011", 7},   {"102021", 5.4}, {"102101", 6.5},
      {"102111", 5.8}, {"102121", 2.6}, {"102201", 5.3}, {"102211", 2.1}, {"102221", 1.3},
      {"110000", 9.5}, {"110001", 9},   {"110010", 8.8}, {"110011", 7.6}, {"110020", 7.6},
      {"110021", 7},   {"110100", 9},   {"110101", 7.7}, {"110110", 7.5}, {"110111", 6.2},
      {"110120", 6.1}, {"110121", 5.3}, {"110200", 7.7}, {"110201", 6.6}, {"110210", 6.8},
      {"110211", 5.9}, {"110220", 5.2}, {"110221", 3},   {"111000", 8.9}, {"111001", 7.8},
      {"111010", 7.6}, {"111011", 6.7}, {"111020", 6.2}, {"111021", 5.8}, {"111100", 7.4},
      {"111101", 5.9}, {"111110", 5.7}, {"111111", 5.7}, {"111120", 4.7}, {"111121", 2.3},
      {"111200", 6.1}, {"111201", 5.2}, {"111210", 5.7}, {"111211", 2.9}, {"111220", 2.4},
      {"111221", 1.6}, {"112001", 7.1}, {"112011", 5.9}, {"112021", 3},   {"112101", 5.8},
      {"112111", 2.6}, {"112121", 1.5}, {"112201", 2.3}, {"112211", 1.3}, {"112221", 0.6},
      {"200000", 9.3}, {"200001", 8.7}, {"200010", 8.6}, {"200011", 7.2}, {"200020", 7.5},
      {"200021", 5.8}, {"200100", 8.6}, {"200101", 7.4}, {"200110", 7.4}, {"200111", 6.1},
      {"200120", 5.6}, {"200121", 3.4}, {"200200", 7},   {"200201", 5.4}, {"200210", 5.2},
      {"200211", 4},   {"200220", 4},   {"200221", 2.2}, {"201000", 8.5}, {"201001", 7.5},
      {"201010", 7.4}, {"201011", 5.5}, {"201020", 6.2}, {"201021", 5.1}, {"201100", 7.2},
      {"201101", 5.7}, {"201110", 5.5}, {"201111", 4.1}, {"201120", 4.6}, {"201121", 1.9},
      {"201200", 5.3}, {"201201", 3.6}, {"201210", 3.4}, {"201211", 1.9}, {"201220", 1.9},
      {"201221", 0.8}, {"202001", 6.4}, {"202011", 5.1}, {"202021", 2},   {"202101", 4.7},
      {"202111", 2.1}, {"202121", 1.1}, {"202201", 2.4}, {"202211", 0.9}, {"202221", 0.4},
      {"210000", 8.8}, {"210001", 7.5}, {"210010", 7.3}, {"210011", 5.3}, {"210020", 6},
      {"210021", 5},   {"210100", 7.3}, {"210101", 5.5}, {"210110", 5.9}, {"210111", 4},
      {"210120", 4.1}, {"210121", 2},   {"210200", 5.4}, {"210201", 4.3}, {"210210", 4.5},
      {"210211", 2.2}, {"210220", 2},   {"210221", 1.1}, {"211000", 7.5}, {"211001", 5.5},
      {"211010", 5.8}, {"211011", 4.5}, {"211020", 4},   {"211021", 2.1}, {"211100", 6.1},
      {"211101", 5.1}, {"211110", 4.8}, {"211111", 1.8}, {"211120", 2},   {"211121", 0.9},
      {"211200", 4.6}, {"211201", 1.8}, {"211210", 1.7}, {"211211", 0.7}, {"211220", 0.8},
      {"211221", 0.2}, {"212001", 5.3}, {"212011", 2.4}, {"212021", 1.4}, {"212101", 2.4},
      {"212111", 1.2}, {"212121", 0.5}, {"212201", 1},   {"212211", 0.3}, {"212221", 0.1},
  };
  return kTable;
}

// The highest-severity vectors of each EQ level (the specification's "max composed" data), as
// metric=value lists.
using Parts = std::vector<std::pair<const char*, char>>;
const std::vector<Parts>& eq1Max(int level) {
  static const std::array<std::vector<Parts>, 3> k = {{
      {{{"AV", 'N'}, {"PR", 'N'}, {"UI", 'N'}}},
      {{{"AV", 'A'}, {"PR", 'N'}, {"UI", 'N'}},
       {{"AV", 'N'}, {"PR", 'L'}, {"UI", 'N'}},
       {{"AV", 'N'}, {"PR", 'N'}, {"UI", 'P'}}},
      {{{"AV", 'P'}, {"PR", 'N'}, {"UI", 'N'}}, {{"AV", 'A'}, {"PR", 'L'}, {"UI", 'P'}}},
  }};
  return k[static_cast<size_t>(level)];
}
const std::vector<Parts>& eq2Max(int level) {
  static const std::array<std::vector<Parts>, 2> k = {{
      {{{"AC", 'L'}, {"AT", 'N'}}},
      {{{"AC", 'H'}, {"AT", 'N'}}, {{"AC", 'L'}, {"AT", 'P'}}},
  }};
  return k[static_cast<size_t>(level)];
}
Parts vcia(char vc, char vi, char va, char cr, char ir, char ar) {
  return {{"VC", vc}, {"VI", vi}, {"VA", va}, {"CR", cr}, {"IR", ir}, {"AR", ar}};
}
const std::vector<Parts>& eq3eq6Max(int eq3, int eq6) {
  static const std::vector<Parts> k00 = {vcia('H', 'H', 'H', 'H', 'H', 'H')};
  static const std::vector<Parts> k01 = {vcia('H', 'H', 'L', 'M', 'M', 'H'),
                                         vcia('H', 'H', 'H', 'M', 'M', 'M')};
  static const std::vector<Parts> k10 = {vcia('L', 'H', 'H', 'H', 'H', 'H'),
                                         vcia('H', 'L', 'H', 'H', 'H', 'H')};
  static const std::vector<Parts> k11 = {
      vcia('L', 'H', 'L', 'H', 'M', 'H'), vcia('L', 'H', 'H', 'H', 'M', 'M'),
      vcia('H', 'L', 'H', 'M', 'H', 'M'), vcia('H', 'L', 'L', 'M', 'H', 'H'),
      vcia('L', 'L', 'H', 'H', 'H', 'M')};
  static const std::vector<Parts> k21 = {vcia('L', 'L', 'L', 'H', 'H', 'H')};
  static const std::vector<Parts> kNone;
  if (eq3 == 0) return eq6 == 0 ? k00 : k01;
  if (eq3 == 1) return eq6 == 0 ? k10 : k11;
  return eq6 == 1 ? k21 : kNone;
}
const std::vector<Parts>& eq4Max(int level) {
  static const std::array<std::vector<Parts>, 3> k = {{
      {{{"SC", 'H'}, {"SI", 'S'}, {"SA", 'S'}}},
      {{{"SC", 'H'}, {"SI", 'H'}, {"SA", 'H'}}},
      {{{"SC", 'L'}, {"SI", 'L'}, {"SA", 'L'}}},
  }};
  return k[static_cast<size_t>(level)];
}

// Depth of each EQ level: its largest severity distance plus one (specification data).
double depthEq1(int l) { return std::array<double, 3>{1, 4, 5}[static_cast<size_t>(l)]; }
double depthEq2(int l) { return std::array<double, 2>{1, 2}[static_cast<size_t>(l)]; }
double depthEq3Eq6(int eq3, int eq6) {
  if (eq3 == 0) return eq6 == 0 ? 7 : 6;
  if (eq3 == 1) return 8;
  return 10;
}
double depthEq4(int l) { return std::array<double, 3>{6, 5, 4}[static_cast<size_t>(l)]; }

// Severity level of a metric value: 0 is the most severe, in steps of 0.1.
double level(std::string_view metric, char v) {
  if (metric == "AV") return v == 'N' ? 0 : v == 'A' ? 0.1 : v == 'L' ? 0.2 : 0.3;
  if (metric == "PR") return v == 'N' ? 0 : v == 'L' ? 0.1 : 0.2;
  if (metric == "UI") return v == 'N' ? 0 : v == 'P' ? 0.1 : 0.2;
  if (metric == "AC") return v == 'L' ? 0 : 0.1;
  if (metric == "AT") return v == 'N' ? 0 : 0.1;
  if (metric == "VC" || metric == "VI" || metric == "VA")
    return v == 'H' ? 0 : v == 'L' ? 0.1 : 0.2;
  if (metric == "SC") return v == 'H' ? 0.1 : v == 'L' ? 0.2 : 0.3;
  if (metric == "SI" || metric == "SA")
    return v == 'S' ? 0 : v == 'H' ? 0.1 : v == 'L' ? 0.2 : 0.3;
  // CR, IR, AR
  return v == 'H' ? 0 : v == 'M' ? 0.1 : 0.2;
}

// The value a metric takes for scoring: an environmental override (M*) wins; E and the
// security requirements default to their worst case when not given.
class Effective {
 public:
  explicit Effective(const CvssVector& v) : v_(v) {}
  char operator()(std::string_view metric) const {
    auto first = [](std::string_view s) { return s.empty() ? 'X' : s[0]; };
    if (metric == "E") {
      char e = first(v_.value("E"));
      return e == 'X' ? 'A' : e;
    }
    if (metric == "CR" || metric == "IR" || metric == "AR") {
      char r = first(v_.value(metric));
      return r == 'X' ? 'H' : r;
    }
    std::string modified = "M" + std::string(metric);
    char m = first(v_.value(modified));
    if (m != 'X') return m;
    return first(v_.value(metric));
  }

 private:
  const CvssVector& v_;
};

}  // namespace

core::Result<double> scoreCvss4(const CvssVector& v) {
  if (v.version != CvssVersion::kV40)
    return core::fail(core::ErrorCode::kInvalidArgument, "not a CVSS 4.0 vector", "vector");
  const Effective m(v);
  // No impact on the vulnerable or any subsequent system: 0.
  if (m("VC") == 'N' && m("VI") == 'N' && m("VA") == 'N' && m("SC") == 'N' && m("SI") == 'N' &&
      m("SA") == 'N')
    return 0.0;

  const char av = m("AV"), pr = m("PR"), ui = m("UI");
  int eq1 = 2;
  if (av == 'N' && pr == 'N' && ui == 'N')
    eq1 = 0;
  else if ((av == 'N' || pr == 'N' || ui == 'N') && av != 'P')
    eq1 = 1;
  const int eq2 = m("AC") == 'L' && m("AT") == 'N' ? 0 : 1;
  const char vc = m("VC"), vi = m("VI"), va = m("VA");
  int eq3 = 2;
  if (vc == 'H' && vi == 'H')
    eq3 = 0;
  else if (vc == 'H' || vi == 'H' || va == 'H')
    eq3 = 1;
  // Subsequent-system integrity/availability "Safety" exists only as a modified value (MSI/MSA).
  const auto msi = v.value("MSI"), msa = v.value("MSA");
  int eq4 = 2;
  if (msi == "S" || msa == "S")
    eq4 = 0;
  else if (m("SC") == 'H' || m("SI") == 'H' || m("SA") == 'H')
    eq4 = 1;
  const char e = m("E");
  const int eq5 = e == 'A' ? 0 : e == 'P' ? 1 : 2;
  const int eq6 =
      (m("CR") == 'H' && vc == 'H') || (m("IR") == 'H' && vi == 'H') || (m("AR") == 'H' && va == 'H')
          ? 0
          : 1;

  const auto& table = macroScores();
  auto key = [](int a, int b, int c, int d, int e5, int f) {
    std::string k;
    for (int x : {a, b, c, d, e5, f}) k += static_cast<char>('0' + x);
    return k;
  };
  auto score = [&](const std::string& k) -> std::optional<double> {
    auto it = table.find(k);
    if (it == table.end()) return std::nullopt;
    return it->second;
  };
  const auto macro = score(key(eq1, eq2, eq3, eq4, eq5, eq6));
  if (!macro)
    return core::fail(core::ErrorCode::kUnprocessable, "CVSS 4.0 vector outside every MacroVector",
                      "vector");
  const double value = *macro;

  // The next lower MacroVector of each EQ (EQ3 and EQ6 move together).
  const auto lower1 = score(key(eq1 + 1, eq2, eq3, eq4, eq5, eq6));
  const auto lower2 = score(key(eq1, eq2 + 1, eq3, eq4, eq5, eq6));
  std::optional<double> lower36;
  if (eq3 == 0 && eq6 == 0) {
    auto left = score(key(eq1, eq2, eq3, eq4, eq5, eq6 + 1));
    auto right = score(key(eq1, eq2, eq3 + 1, eq4, eq5, eq6));
    // The higher of the two ways down (a missing one never wins).
    if (left && (!right || *left > *right))
      lower36 = left;
    else
      lower36 = right;
  } else if (eq3 == 1 && eq6 == 0) {
    lower36 = score(key(eq1, eq2, eq3, eq4, eq5, eq6 + 1));
  } else if (eq6 == 1 && eq3 < 2) {
    lower36 = score(key(eq1, eq2, eq3 + 1, eq4, eq5, eq6));
  } else {
    lower36 = score(key(eq1, eq2, eq3 + 1, eq4, eq5, eq6 + 1));
  }
  const auto lower4 = score(key(eq1, eq2, eq3, eq4 + 1, eq5, eq6));
  const auto lower5 = score(key(eq1, eq2, eq3, eq4, eq5 + 1, eq6));

  // Severity distances from the first highest-severity vector of the MacroVector that the
  // vector does not exceed in any metric.
  static constexpr std::array<std::string_view, 14> kMetrics = {
      "AV", "PR", "UI", "AC", "AT", "VC", "VI", "VA", "SC", "SI", "SA", "CR", "IR", "AR"};
  std::map<std::string_view, double> dist;
  const std::vector<Parts>* groups[] = {&eq1Max(eq1), &eq2Max(eq2), &eq3eq6Max(eq3, eq6),
                                        &eq4Max(eq4)};
  std::vector<std::map<std::string_view, char>> candidates(1);
  for (const auto* group : groups) {
    std::vector<std::map<std::string_view, char>> next;
    for (const auto& partial : candidates)
      for (const auto& parts : *group) {
        auto combined = partial;
        for (const auto& [metric, val] : parts) combined[metric] = val;
        next.push_back(std::move(combined));
      }
    candidates = std::move(next);
  }
  auto effectiveForDistance = [&](std::string_view metric) {
    // SI/SA may be raised to Safety through MSI/MSA; SC has no Safety level.
    return m(metric);
  };
  for (const auto& max : candidates) {
    bool fits = true;
    for (auto metric : kMetrics) {
      dist[metric] = level(metric, effectiveForDistance(metric)) - level(metric, max.at(metric));
      if (dist[metric] < 0) fits = false;
    }
    if (fits) break;
  }

  const double d1 = dist["AV"] + dist["PR"] + dist["UI"];
  const double d2 = dist["AC"] + dist["AT"];
  const double d36 = dist["VC"] + dist["VI"] + dist["VA"] + dist["CR"] + dist["IR"] + dist["AR"];
  const double d4 = dist["SC"] + dist["SI"] + dist["SA"];
  constexpr double kStep = 0.1;

  int lowers = 0;
  double sum = 0;
  if (lower1) {
    ++lowers;
    sum += (value - *lower1) * (d1 / (depthEq1(eq1) * kStep));
  }
  if (lower2) {
    ++lowers;
    sum += (value - *lower2) * (d2 / (depthEq2(eq2) * kStep));
  }
  if (lower36) {
    ++lowers;
    sum += (value - *lower36) * (d36 / (depthEq3Eq6(eq3, eq6) * kStep));
  }
  if (lower4) {
    ++lowers;
    sum += (value - *lower4) * (d4 / (depthEq4(eq4) * kStep));
  }
  if (lower5) ++lowers;  // EQ5's proportional distance is always 0
  double result = value - (lowers ? sum / lowers : 0.0);
  result = std::clamp(result, 0.0, 10.0);
  // Round half up to one decimal, as the reference calculator does.
  return std::floor(result * 10.0 + 0.5) / 10.0;
}

}  // namespace td::vuln
