#include "detect/diagnostics.h"

#include <sstream>

namespace td::detect {

std::string Diagnostic::format() const {
  std::ostringstream out;
  out << (file.empty() ? "<input>" : file);
  if (line > 0) out << ':' << line << ':' << column;
  out << ": " << (level == DiagnosticLevel::kError ? "error " : "warning ") << code << ": "
      << message;
  if (!rule_id.empty()) out << " [rule " << rule_id << "]";
  return out.str();
}

size_t LoadReport::errorCount() const {
  size_t n = 0;
  for (const auto& d : diagnostics) n += d.level == DiagnosticLevel::kError;
  return n;
}

size_t LoadReport::warningCount() const { return diagnostics.size() - errorCount(); }

std::map<std::string, size_t> LoadReport::countsByCode() const {
  std::map<std::string, size_t> counts;
  for (const auto& d : diagnostics) ++counts[d.code];
  return counts;
}

std::string LoadReport::format(bool with_warnings) const {
  std::ostringstream out;
  out << "files read:          " << files << '\n'
      << "rules loaded:        " << rules_loaded << '\n'
      << "correlations loaded: " << correlations_loaded << '\n'
      << "rules refused:       " << rules_refused << '\n'
      << "rules filtered:      " << rules_filtered << " (by status)\n"
      << "errors: " << errorCount() << ", warnings: " << warningCount() << '\n';
  const auto counts = countsByCode();
  if (!counts.empty()) {
    out << "\nby reason:\n";
    for (const auto& [c, n] : counts) out << "  " << n << "\t" << c << '\n';
  }
  if (!diagnostics.empty()) out << '\n';
  for (const auto& d : diagnostics) {
    if (d.level == DiagnosticLevel::kWarning && !with_warnings) continue;
    out << d.format() << '\n';
  }
  return out.str();
}

}  // namespace td::detect
