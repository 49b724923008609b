// Rendering a computed report: PDF (vector; A4 or Letter; a title page, then the widgets on the
// report's grid, page numbers in the footer), PNG and SVG (the whole dashboard as one image),
// all drawn natively with cairo and pango; HTML (the UI's printable view, charts inline as SVG)
// and CSV (each widget's data).
//
// Charts stay readable in black and white: every series carries a fill pattern (solid, hatches,
// dots, cross-hatch ...) and lines a dash style and marker besides its colour, bars and slices are
// labelled with their values, and legends show the same swatches.
//
// Thread safety: every function may be called from any thread (each call draws on surfaces of its
// own; pango's font map is thread-safe).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "report/query.h"

namespace td::report {

enum class Format { kPdf, kPng, kSvg, kHtml, kCsv };
core::Result<Format> parseFormat(std::string_view text);  // pdf|png|svg|html|csv
std::string_view formatName(Format f);
std::string_view contentType(Format f);

struct RenderOptions {
  Format format = Format::kPdf;
  std::optional<PageSize> page_size;  // overrides the report's
  bool grayscale = false;             // shades of grey only (what a black-and-white print shows)
  int png_width_px = 1240;            // PNG: the image's width; its height follows the content
  std::string widget;                 // CSV: one widget's id; empty: every widget, long form
};

core::Result<std::string> renderReport(const ReportData& report, const RenderOptions& options);

// Where a chart drew one bar segment or slice (tests check patterns and labels there).
struct Mark {
  int series = 0;
  int category = 0;
  double x = 0, y = 0, w = 0, h = 0;  // bounding box in the output's units (PNG: pixels)
};

// One widget alone, as PNG or SVG of `width` x `height` (pixels for PNG, points for SVG).
core::Result<std::string> renderWidget(const WidgetData& widget, Format format, double width,
                                       double height, bool grayscale,
                                       std::vector<Mark>* marks = nullptr);

// Text formats (render_text.cpp).
std::string renderHtml(const ReportData& report, bool grayscale);
core::Result<std::string> renderCsv(const ReportData& report, const std::string& widget_id);

// The figure of a KPI as shown ("42", "3 h 20 min", "12.5 %"), and its change line.
std::string kpiValueText(const KpiData& kpi);
std::string kpiChangeText(const KpiData& kpi);

}  // namespace td::report
