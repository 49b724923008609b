// HTML and CSV: the text renderings of a computed report.
#include <cmath>
#include <cstdio>

#include "report/render.h"

namespace td::report {
namespace {

// Same rule as the threat export: cells from detections may come from attackers, and a
// spreadsheet runs a cell starting with = + - @ (or tab/CR) as a formula.
std::string csvCell(std::string_view value) {
  std::string v(value);
  if (!v.empty() &&
      (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r'))
    v.insert(v.begin(), '\'');
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csvNumber(const std::optional<double>& v) {
  if (!v) return "";
  char buf[48];
  if (std::fabs(*v - std::round(*v)) < 1e-9)
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(std::llround(*v)));
  else
    std::snprintf(buf, sizeof buf, "%.2f", *v);
  return buf;
}

void line(std::string& out, const std::vector<std::string>& cells) {
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i) out += ',';
    out += csvCell(cells[i]);
  }
  out += "\r\n";
}

// One widget as its own table: rows of (label, values...).
std::vector<std::vector<std::string>> widgetTable(const WidgetData& wd) {
  std::vector<std::vector<std::string>> rows;
  switch (wd.widget.type) {
    case WidgetType::kKpi:
      rows.push_back({"metric", "value", "previous", "unit", "samples"});
      rows.push_back({std::string(kpiMetricName(wd.widget.kpi.metric)), csvNumber(wd.kpi.value),
                      csvNumber(wd.kpi.previous), wd.kpi.unit, std::to_string(wd.kpi.samples)});
      break;
    case WidgetType::kChart: {
      std::vector<std::string> header = {std::string(dimensionName(wd.widget.chart.dimension))};
      for (const auto& s : wd.chart.series)
        header.push_back(s.name.empty() ? std::string(metricName(wd.widget.chart.metric))
                                        : s.name);
      rows.push_back(header);
      for (size_t k = 0; k < wd.chart.categories.size(); ++k) {
        std::vector<std::string> row = {wd.chart.bucket_starts.empty()
                                            ? wd.chart.categories[k]
                                            : core::formatRfc3339(wd.chart.bucket_starts[k])};
        for (const auto& s : wd.chart.series) row.push_back(csvNumber(s.values[k]));
        rows.push_back(row);
      }
      break;
    }
    case WidgetType::kTable:
      rows.push_back(wd.table.columns);
      for (const auto& r : wd.table.rows) rows.push_back(r);
      break;
  }
  return rows;
}

std::string html(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += kAlphabet[(v >> (6 * k)) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

core::Result<std::string> renderCsv(const ReportData& report, const std::string& widget_id) {
  std::string out;
  if (!widget_id.empty()) {
    for (const auto& wd : report.widgets)
      if (wd.widget.id == widget_id) {
        for (const auto& row : widgetTable(wd)) line(out, row);
        return out;
      }
    std::string ids;
    for (const auto& wd : report.widgets) ids += (ids.empty() ? "" : ", ") + wd.widget.id;
    return core::fail(core::ErrorCode::kNotFound,
                      "the report has no widget '" + widget_id + "' (widgets: " + ids + ")",
                      "widget");
  }
  // Every widget, long form: one line per cell of each widget's own table.
  line(out, {"widget", "title", "row", "column", "value"});
  for (const auto& wd : report.widgets) {
    const auto rows = widgetTable(wd);
    for (size_t r = 1; r < rows.size(); ++r)
      for (size_t c = 1; c < rows[r].size(); ++c)
        line(out, {wd.widget.id, wd.title, rows[r][0], rows[0][c], rows[r][c]});
  }
  return out;
}

std::string renderHtml(const ReportData& report, bool grayscale) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
         html(report.spec.title) + "</title>\n<style>\n";
  out += "body{font-family:'DejaVu Sans',sans-serif;margin:24px;color:#1a1a1a}"
         "h1{font-size:22px;margin:0 0 4px}.meta{color:#555;font-size:13px;margin-bottom:16px}"
         ".grid{display:grid;gap:8px;grid-template-columns:repeat(" +
         std::to_string(report.spec.columns) +
         ",1fr);grid-auto-rows:minmax(110px,auto)}"
         "section{border:1px solid #bbb;padding:8px;overflow:hidden}"
         "section h2{font-size:14px;margin:0 0 6px}.kpi{font-size:28px;font-weight:bold}"
         ".change{color:#555;font-size:12px}table{border-collapse:collapse;width:100%;"
         "font-size:12px}th{text-align:left;border-bottom:1px solid #333}"
         "tr:nth-child(even) td{background:#eee}img{max-width:100%}" +
         std::string(grayscale ? "body{filter:grayscale(1)}" : "") + "\n</style></head><body>\n";
  out += "<h1>" + html(report.spec.title) + "</h1>\n<div class=\"meta\">" +
         html(report.range_label) + " &middot; generated " +
         html(core::formatRfc3339(report.generated_at / 1000 * 1000)) + "</div>\n";
  if (!report.spec.description.empty())
    out += "<p>" + html(report.spec.description) + "</p>\n";
  out += "<div class=\"grid\">\n";
  for (const auto& wd : report.widgets) {
    const auto& pos = wd.widget.position;
    out += "<section id=\"widget-" + html(wd.widget.id) + "\" style=\"grid-column:" +
           std::to_string(pos.x + 1) + " / span " + std::to_string(pos.w) + ";grid-row:" +
           std::to_string(pos.y + 1) + " / span " + std::to_string(pos.h) + "\">\n<h2>" +
           html(wd.title) + "</h2>\n";
    switch (wd.widget.type) {
      case WidgetType::kKpi:
        out += "<div class=\"kpi\">" + html(kpiValueText(wd.kpi)) + "</div><div class=\"change\">" +
               html(kpiChangeText(wd.kpi)) + "</div>\n";
        break;
      case WidgetType::kChart: {
        // Each chart is an SVG image of its own (cairo's glyph and pattern ids would collide if
        // several were inlined into one document).
        const double w = 70.0 * pos.w, h = 78.0 * pos.h;
        auto svg = renderWidget(wd, Format::kSvg, std::max(w, 120.0), std::max(h, 80.0),
                                grayscale);
        if (svg)
          out += "<img alt=\"" + html(wd.title) + "\" src=\"data:image/svg+xml;base64," +
                 base64(*svg) + "\">\n";
        // The figures as a table too, for screen readers and copying.
        out += "<details><summary>Data</summary><table>";
        const auto rows = widgetTable(wd);
        for (size_t r = 0; r < rows.size(); ++r) {
          out += "<tr>";
          for (const auto& c : rows[r]) out += (r ? "<td>" : "<th>") + html(c) + (r ? "</td>" : "</th>");
          out += "</tr>";
        }
        out += "</table></details>\n";
        break;
      }
      case WidgetType::kTable: {
        out += "<table><tr>";
        for (const auto& c : wd.table.columns) out += "<th>" + html(c) + "</th>";
        out += "</tr>\n";
        for (const auto& row : wd.table.rows) {
          out += "<tr>";
          for (const auto& c : row) out += "<td>" + html(c) + "</td>";
          out += "</tr>\n";
        }
        out += "</table>\n";
        break;
      }
    }
    out += "</section>\n";
  }
  out += "</div>\n</body></html>\n";
  return out;
}

}  // namespace td::report
