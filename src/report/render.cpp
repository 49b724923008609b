#include "report/render.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <memory>

#include "core/text.h"

// fontconfig (under pango's font map) keeps its caches for the life of the process, and cairo
// parks freed surfaces in static pools (`_freed_pool_put`, freed only by
// cairo_debug_reset_static_data); LeakSanitizer reports both at exit. With the default fast
// unwinder the stacks stop in the library, so the suppressions name the libraries. The hook is
// only compiled under ASan.
#if defined(__SANITIZE_ADDRESS__)
#define TD_REPORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TD_REPORT_ASAN 1
#endif
#endif
#ifdef TD_REPORT_ASAN
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libfontconfig.so\nleak:libcairo.so\n";
}
#endif

namespace td::report {
namespace {

using core::ErrorCode;
using core::fail;

// --- colours and patterns ---------------------------------------------------------------------

struct Rgb {
  double r, g, b;
};

// Eight series colours of clearly different lightness, so that they stay apart in grey too.
constexpr std::array<Rgb, 8> kPalette = {{{0.12, 0.31, 0.47},
                                          {0.95, 0.62, 0.27},
                                          {0.35, 0.63, 0.31},
                                          {0.70, 0.20, 0.22},
                                          {0.56, 0.80, 0.84},
                                          {0.93, 0.79, 0.28},
                                          {0.45, 0.35, 0.55},
                                          {0.75, 0.75, 0.75}}};

// Severity series keep colours people expect.
std::optional<Rgb> severityColour(std::string_view name) {
  if (name == "CRITICAL") return Rgb{0.55, 0.05, 0.10};
  if (name == "HIGH") return Rgb{0.90, 0.35, 0.15};
  if (name == "MEDIUM") return Rgb{0.96, 0.75, 0.25};
  if (name == "LOW") return Rgb{0.40, 0.65, 0.85};
  if (name == "INFO") return Rgb{0.80, 0.80, 0.80};
  return std::nullopt;
}

double luminance(Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

class Painter {
 public:
  Painter(cairo_t* cr, bool grayscale, std::vector<Mark>* marks, double mark_scale)
      : cr_(cr), grayscale_(grayscale), marks_(marks), mark_scale_(mark_scale) {}

  cairo_t* cr() { return cr_; }

  void colour(Rgb c, double alpha = 1.0) {
    if (grayscale_) {
      const double l = luminance(c);
      c = {l, l, l};
    }
    cairo_set_source_rgba(cr_, c.r, c.g, c.b, alpha);
  }

  Rgb seriesColour(int index, std::string_view name) const {
    if (auto s = severityColour(name)) return *s;
    return kPalette[static_cast<size_t>(index) % kPalette.size()];
  }

  // Fills the current path with series `index`'s colour and pattern. Pattern 0 is solid; the
  // others draw hatches, dots or grids in black or white (whichever contrasts with the colour).
  void fillSeries(int index, std::string_view name, bool preserve = false) {
    const Rgb base = seriesColour(index, name);
    const int pattern = index % 8;
    if (pattern == 0) {
      colour(base);
    } else {
      const int size = 8;
      cairo_surface_t* tile = cairo_surface_create_similar(
          cairo_get_target(cr_), CAIRO_CONTENT_COLOR_ALPHA, size, size);
      cairo_t* t = cairo_create(tile);
      Painter p(t, grayscale_, nullptr, 1);
      p.colour(base);
      cairo_paint(t);
      const double ink = luminance(base) > 0.45 ? 0.0 : 1.0;
      cairo_set_source_rgb(t, ink, ink, ink);
      cairo_set_line_width(t, 1.3);
      auto line = [&](double x0, double y0, double x1, double y1) {
        cairo_move_to(t, x0, y0);
        cairo_line_to(t, x1, y1);
      };
      switch (pattern) {
        case 1:  // diagonal /
          line(0, size, size, 0);
          line(-size / 2.0, size / 2.0, size / 2.0, -size / 2.0);
          line(size / 2.0, size * 1.5, size * 1.5, size / 2.0);
          break;
        case 2:  // dots
          cairo_arc(t, size / 2.0, size / 2.0, 2.2, 0, 2 * M_PI);
          cairo_fill(t);
          break;
        case 3:  // horizontal
          line(0, size / 2.0, size, size / 2.0);
          break;
        case 4:  // cross-hatch
          line(0, 0, size, size);
          line(0, size, size, 0);
          break;
        case 5:  // diagonal \ .
          line(0, 0, size, size);
          line(-size / 2.0, size / 2.0, size / 2.0, size * 1.5);
          line(size / 2.0, -size / 2.0, size * 1.5, size / 2.0);
          break;
        case 6:  // vertical
          line(size / 2.0, 0, size / 2.0, size);
          break;
        case 7:  // grid
          line(0, size / 2.0, size, size / 2.0);
          line(size / 2.0, 0, size / 2.0, size);
          break;
      }
      cairo_stroke(t);
      cairo_destroy(t);
      cairo_pattern_t* pat = cairo_pattern_create_for_surface(tile);
      cairo_pattern_set_extend(pat, CAIRO_EXTEND_REPEAT);
      cairo_set_source(cr_, pat);
      cairo_pattern_destroy(pat);
      cairo_surface_destroy(tile);
    }
    if (preserve)
      cairo_fill_preserve(cr_);
    else
      cairo_fill(cr_);
  }

  // A filled, outlined rectangle of a series; recorded as a mark.
  void seriesRect(int series, std::string_view name, int category, double x, double y, double w,
                  double h) {
    if (w <= 0 || h <= 0) return;
    cairo_rectangle(cr_, x, y, w, h);
    fillSeries(series, name, true);
    cairo_set_source_rgb(cr_, 0, 0, 0);
    cairo_set_line_width(cr_, 0.6);
    cairo_stroke(cr_);
    mark(series, category, x, y, w, h);
  }

  void mark(int series, int category, double x, double y, double w, double h) {
    if (!marks_) return;
    double ux = x, uy = y, uw = w, uh = h;
    cairo_user_to_device(cr_, &ux, &uy);
    cairo_user_to_device_distance(cr_, &uw, &uh);
    marks_->push_back({series, category, ux, uy, uw, uh});
    (void)mark_scale_;
  }

  // Text with pango. Returns the height used. `align`: 0 left, 1 centre, 2 right of [x, x+w].
  double text(const std::string& s, double x, double y, double w, double size, bool bold = false,
              int align = 0, Rgb c = {0.1, 0.1, 0.1}, bool wrap = false, double max_h = 0) {
    PangoLayout* layout = pango_cairo_create_layout(cr_);
    PangoFontDescription* font = pango_font_description_new();
    pango_font_description_set_family(font, "DejaVu Sans");
    pango_font_description_set_absolute_size(font, size * PANGO_SCALE);
    pango_font_description_set_weight(font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(layout, font);
    pango_layout_set_text(layout, s.c_str(), static_cast<int>(s.size()));
    if (w > 0) {
      pango_layout_set_width(layout, static_cast<int>(w * PANGO_SCALE));
      if (wrap) {
        pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
        if (max_h > 0) pango_layout_set_height(layout, static_cast<int>(max_h * PANGO_SCALE));
      }
      pango_layout_set_ellipsize(layout, wrap && max_h <= 0 ? PANGO_ELLIPSIZE_NONE
                                                            : PANGO_ELLIPSIZE_END);
      pango_layout_set_alignment(layout, align == 1   ? PANGO_ALIGN_CENTER
                                         : align == 2 ? PANGO_ALIGN_RIGHT
                                                      : PANGO_ALIGN_LEFT);
    }
    int pw = 0, ph = 0;
    pango_layout_get_pixel_size(layout, &pw, &ph);
    colour(c);
    cairo_move_to(cr_, x, y);
    pango_cairo_show_layout(cr_, layout);
    pango_font_description_free(font);
    g_object_unref(layout);
    return ph;
  }

  double textWidth(const std::string& s, double size, bool bold = false) {
    PangoLayout* layout = pango_cairo_create_layout(cr_);
    PangoFontDescription* font = pango_font_description_new();
    pango_font_description_set_family(font, "DejaVu Sans");
    pango_font_description_set_absolute_size(font, size * PANGO_SCALE);
    pango_font_description_set_weight(font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(layout, font);
    pango_layout_set_text(layout, s.c_str(), static_cast<int>(s.size()));
    int pw = 0, ph = 0;
    pango_layout_get_pixel_size(layout, &pw, &ph);
    pango_font_description_free(font);
    g_object_unref(layout);
    return pw;
  }

  void line(double x0, double y0, double x1, double y1, double width, Rgb c) {
    colour(c);
    cairo_set_line_width(cr_, width);
    cairo_move_to(cr_, x0, y0);
    cairo_line_to(cr_, x1, y1);
    cairo_stroke(cr_);
  }

  // Line series: dash style and marker by index.
  void seriesStroke(int index, std::string_view name, double width) {
    colour(seriesColour(index, name));
    cairo_set_line_width(cr_, width);
    static const std::array<std::vector<double>, 4> kDashes = {
        {{}, {6, 3}, {2, 2}, {8, 3, 2, 3}}};
    const auto& d = kDashes[static_cast<size_t>(index) % kDashes.size()];
    cairo_set_dash(cr_, d.data(), static_cast<int>(d.size()), 0);
  }

  void marker(int index, std::string_view name, double x, double y, double r) {
    cairo_set_dash(cr_, nullptr, 0, 0);
    switch (index % 4) {
      case 0: cairo_arc(cr_, x, y, r, 0, 2 * M_PI); break;
      case 1: cairo_rectangle(cr_, x - r, y - r, 2 * r, 2 * r); break;
      case 2:
        cairo_move_to(cr_, x, y - r * 1.2);
        cairo_line_to(cr_, x + r * 1.1, y + r * 0.8);
        cairo_line_to(cr_, x - r * 1.1, y + r * 0.8);
        cairo_close_path(cr_);
        break;
      case 3:
        cairo_move_to(cr_, x, y - r * 1.3);
        cairo_line_to(cr_, x + r * 1.3, y);
        cairo_line_to(cr_, x, y + r * 1.3);
        cairo_line_to(cr_, x - r * 1.3, y);
        cairo_close_path(cr_);
        break;
    }
    colour(seriesColour(index, name));
    cairo_fill_preserve(cr_);
    cairo_set_source_rgb(cr_, 0, 0, 0);
    cairo_set_line_width(cr_, 0.6);
    cairo_stroke(cr_);
  }

 private:
  cairo_t* cr_;
  bool grayscale_;
  std::vector<Mark>* marks_;
  double mark_scale_;
};

constexpr Rgb kInk{0.1, 0.1, 0.1};
constexpr Rgb kMuted{0.4, 0.4, 0.4};
constexpr Rgb kRule{0.75, 0.75, 0.75};

std::string number(double v, const std::string& unit) {
  char buf[48];
  if (unit == "minutes") return formatMinutes(v);
  if (unit == "%") {
    std::snprintf(buf, sizeof buf, "%.1f %%", v);
    return buf;
  }
  if (std::fabs(v - std::round(v)) < 1e-9) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(std::llround(v)));
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// The axis maximum and tick step: a step of 1, 2 or 5 times a power of ten giving 3 to 5 ticks.
struct Axis {
  double max = 1, step = 0.25;
  int ticks = 4;
};
Axis niceAxis(double v) {
  Axis a;
  if (v <= 0) return a;
  const double raw = v / 4;
  const double p = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * p) {
      a.step = m * p;
      break;
    }
  a.ticks = std::max(1, static_cast<int>(std::ceil(v / a.step - 1e-9)));
  a.max = a.step * a.ticks;
  return a;
}
double niceMax(double v) { return niceAxis(v).max; }

// --- widgets ---------------------------------------------------------------------------------

double legend(Painter& p, const ChartData& c, bool lines, double x, double y, double w) {
  if (c.series.size() <= 1 && c.series[0].name.empty()) return 0;
  double cx = x, cy = y;
  const double size = 8, box = 9;
  for (size_t i = 0; i < c.series.size(); ++i) {
    const auto& s = c.series[i];
    const double tw = p.textWidth(s.name, size) + box + 14;
    if (cx + tw > x + w && cx > x) {
      cx = x;
      cy += 13;
    }
    if (lines) {
      p.seriesStroke(static_cast<int>(i), s.name, 1.5);
      cairo_move_to(p.cr(), cx, cy + box / 2);
      cairo_line_to(p.cr(), cx + box + 4, cy + box / 2);
      cairo_stroke(p.cr());
      p.marker(static_cast<int>(i), s.name, cx + (box + 4) / 2, cy + box / 2, 2.5);
      cx += 4;
    } else {
      cairo_rectangle(p.cr(), cx, cy, box, box);
      p.fillSeries(static_cast<int>(i), s.name, true);
      cairo_set_source_rgb(p.cr(), 0, 0, 0);
      cairo_set_line_width(p.cr(), 0.6);
      cairo_stroke(p.cr());
    }
    p.text(s.name, cx + box + 3, cy - 1, 0, size);
    cx += tw;
  }
  return cy - y + 15;
}

void drawHorizontalBars(Painter& p, const WidgetData& wd, double x, double y, double w, double h) {
  const ChartData& c = wd.chart;
  const bool stacked = wd.widget.chart.kind == ChartKind::kStackedBar;
  const double top = legend(p, c, false, x, y, w);
  y += top;
  h -= top;
  const size_t n = c.categories.size();
  if (n == 0) {
    p.text("No threats in this range.", x, y + 4, w, 9, false, 0, kMuted);
    return;
  }
  double label_w = 0;
  for (const auto& cat : c.categories) label_w = std::max(label_w, p.textWidth(cat, 8));
  label_w = std::min(label_w + 6, w * 0.38);
  double max = 0;
  std::vector<double> totals(n, 0);
  for (size_t k = 0; k < n; ++k) {
    for (const auto& s : c.series) {
      const double v = s.values[k].value_or(0);
      if (stacked)
        totals[k] += v;
      else
        max = std::max(max, v);
    }
    if (stacked) max = std::max(max, totals[k]);
  }
  max = niceMax(max);
  const double value_w = 46;
  const double plot_x = x + label_w, plot_w = std::max(10.0, w - label_w - value_w);
  const double band = std::min(h / static_cast<double>(n), stacked || c.series.size() == 1
                                                               ? 20.0
                                                               : 8.0 * c.series.size() + 6);
  for (size_t k = 0; k < n; ++k) {
    const double by = y + static_cast<double>(k) * band;
    if (by + band > y + h + 0.5) break;
    p.text(c.categories[k], x, by + band / 2 - 6, label_w - 6, 8, false, 2);
    if (stacked) {
      double cx = plot_x;
      for (size_t s = 0; s < c.series.size(); ++s) {
        const double v = c.series[s].values[k].value_or(0);
        const double bw = plot_w * v / max;
        p.seriesRect(static_cast<int>(s), c.series[s].name, static_cast<int>(k), cx, by + 3, bw,
                     band - 6);
        // Segment values inside when they fit: the figures stay readable without colour.
        const std::string label = number(v, c.unit);
        if (v > 0 && bw > p.textWidth(label, 7) + 6) {
          cairo_rectangle(p.cr(), cx + bw / 2 - p.textWidth(label, 7) / 2 - 2, by + band / 2 - 5,
                          p.textWidth(label, 7) + 4, 10);
          cairo_set_source_rgb(p.cr(), 1, 1, 1);
          cairo_fill(p.cr());
          p.text(label, cx, by + band / 2 - 5.5, bw, 7, false, 1);
        }
        cx += bw;
      }
      p.text(number(totals[k], c.unit), cx + 4, by + band / 2 - 6, value_w, 8, true);
    } else {
      const double sub = (band - 6) / static_cast<double>(c.series.size());
      for (size_t s = 0; s < c.series.size(); ++s) {
        const auto v = c.series[s].values[k];
        const double bw = plot_w * v.value_or(0) / max;
        const double sy = by + 3 + sub * static_cast<double>(s);
        p.seriesRect(static_cast<int>(s), c.series[s].name, static_cast<int>(k), plot_x, sy, bw,
                     sub);
        p.text(v ? number(*v, c.unit) : "-", plot_x + bw + 4, sy + sub / 2 - 5.5, value_w + 30,
               7.5);
      }
    }
  }
  p.line(plot_x, y, plot_x, y + std::min(h, band * static_cast<double>(n)), 0.8, kInk);
}

void drawColumns(Painter& p, const WidgetData& wd, double x, double y, double w, double h) {
  const ChartData& c = wd.chart;
  const bool line_chart = wd.widget.chart.kind == ChartKind::kLine;
  const bool stacked = wd.widget.chart.kind == ChartKind::kStackedBar;
  const double top = legend(p, c, line_chart, x, y, w);
  y += top;
  h -= top;
  const size_t n = c.categories.size();
  if (n == 0) return;
  double max = 0;
  for (size_t k = 0; k < n; ++k) {
    double total = 0;
    for (const auto& s : c.series) {
      const double v = s.values[k].value_or(0);
      total += v;
      if (!stacked) max = std::max(max, v);
    }
    if (stacked) max = std::max(max, total);
  }
  const Axis axis = niceAxis(max);
  max = axis.max;
  const double axis_w = 40, label_h = 14;
  const double px = x + axis_w, pw = w - axis_w - 4, py = y + 6, ph = h - label_h - 8;
  if (pw <= 10 || ph <= 10) return;
  for (int g = 0; g <= axis.ticks; ++g) {
    const double gy = py + ph - ph * g / axis.ticks;
    p.line(px, gy, px + pw, gy, 0.4, kRule);
    p.text(number(axis.step * g, c.unit), x, gy - 5, axis_w - 4, 7, false, 2, kMuted);
  }
  const double slot = pw / static_cast<double>(n);
  const size_t every = std::max<size_t>(1, static_cast<size_t>(std::ceil(60.0 / slot)));
  for (size_t k = 0; k < n; k += every)
    p.text(c.categories[k], px + slot * static_cast<double>(k) - 20, py + ph + 3, slot + 40, 7,
           false, 1, kMuted);
  if (line_chart) {
    for (size_t s = 0; s < c.series.size(); ++s) {
      const auto& series = c.series[s];
      p.seriesStroke(static_cast<int>(s), series.name, 1.6);
      bool started = false;
      for (size_t k = 0; k < n; ++k) {
        if (!series.values[k]) {
          started = false;
          continue;
        }
        const double vx = px + slot * (static_cast<double>(k) + 0.5);
        const double vy = py + ph - ph * *series.values[k] / max;
        if (started)
          cairo_line_to(p.cr(), vx, vy);
        else
          cairo_move_to(p.cr(), vx, vy);
        started = true;
      }
      cairo_stroke(p.cr());
      cairo_set_dash(p.cr(), nullptr, 0, 0);
      for (size_t k = 0; k < n; ++k) {
        if (!series.values[k]) continue;
        const double vx = px + slot * (static_cast<double>(k) + 0.5);
        const double vy = py + ph - ph * *series.values[k] / max;
        p.marker(static_cast<int>(s), series.name, vx, vy, n > 40 ? 1.5 : 2.8);
        p.mark(static_cast<int>(s), static_cast<int>(k), vx - 3, vy - 3, 6, 6);
        if (n <= 16 && c.series.size() <= 2)
          p.text(number(*series.values[k], c.unit), vx - 20, vy - 13, 40, 6.5, false, 1);
      }
    }
  } else {
    const double gap = std::min(4.0, slot * 0.2);
    for (size_t k = 0; k < n; ++k) {
      const double sx = px + slot * static_cast<double>(k) + gap / 2;
      const double sw = slot - gap;
      double base = py + ph, total = 0;
      for (size_t s = 0; s < c.series.size(); ++s) {
        const double v = c.series[s].values[k].value_or(0);
        const double bh = ph * v / max;
        if (stacked) {
          p.seriesRect(static_cast<int>(s), c.series[s].name, static_cast<int>(k), sx, base - bh,
                       sw, bh);
          base -= bh;
          total += v;
        } else {
          const double sub = sw / static_cast<double>(c.series.size());
          p.seriesRect(static_cast<int>(s), c.series[s].name, static_cast<int>(k),
                       sx + sub * static_cast<double>(s), py + ph - bh, sub, bh);
          if (n * c.series.size() <= 24 && v > 0)
            p.text(number(v, c.unit), sx + sub * static_cast<double>(s) - 10, py + ph - bh - 10,
                   sub + 20, 6.5, false, 1);
        }
      }
      if (stacked && n <= 31 && total > 0)
        p.text(number(total, c.unit), sx - 10, base - 10, sw + 20, 6.5, true, 1);
    }
  }
  p.line(px, py + ph, px + pw, py + ph, 0.8, kInk);
}

void drawPie(Painter& p, const WidgetData& wd, double x, double y, double w, double h) {
  const ChartData& c = wd.chart;
  double total = 0;
  for (const auto& v : c.series[0].values) total += v.value_or(0);
  if (total <= 0) {
    p.text("No threats in this range.", x, y + 4, w, 9, false, 0, kMuted);
    return;
  }
  const double r = std::max(10.0, std::min(h, w * 0.45) / 2 - 4);
  const double cx = x + r + 4, cy = y + r + 2;
  double angle = -M_PI / 2;
  for (size_t k = 0; k < c.categories.size(); ++k) {
    const double v = c.series[0].values[k].value_or(0);
    if (v <= 0) continue;
    const double a = 2 * M_PI * v / total;
    cairo_move_to(p.cr(), cx, cy);
    cairo_arc(p.cr(), cx, cy, r, angle, angle + a);
    cairo_close_path(p.cr());
    // Slices are patterned by category, like series.
    p.fillSeries(static_cast<int>(k), c.categories[k], true);
    cairo_set_source_rgb(p.cr(), 0, 0, 0);
    cairo_set_line_width(p.cr(), 0.8);
    cairo_stroke(p.cr());
    const double mid = angle + a / 2;
    p.mark(0, static_cast<int>(k), cx + std::cos(mid) * r * 0.6 - 2,
           cy + std::sin(mid) * r * 0.6 - 2, 4, 4);
    angle += a;
  }
  // The legend is the direct label: swatch, name, count and share.
  double ly = y + 2;
  const double lx = cx + r + 14, lw = x + w - lx;
  for (size_t k = 0; k < c.categories.size() && ly + 12 < y + h; ++k) {
    const double v = c.series[0].values[k].value_or(0);
    cairo_rectangle(p.cr(), lx, ly + 1, 9, 9);
    p.fillSeries(static_cast<int>(k), c.categories[k], true);
    cairo_set_source_rgb(p.cr(), 0, 0, 0);
    cairo_set_line_width(p.cr(), 0.6);
    cairo_stroke(p.cr());
    char share[32];
    std::snprintf(share, sizeof share, " %.0f%%", 100.0 * v / total);
    p.text(c.categories[k] + "  " + number(v, c.unit) + share, lx + 13, ly, lw - 13, 8);
    ly += 13;
  }
}

void drawTable(Painter& p, const TableData& t, double x, double y, double w, double h) {
  if (t.columns.empty()) return;
  const double size = 7.5, row_h = 12.5;
  // Column widths in proportion to their longest text (capped), filling the width.
  std::vector<double> widths(t.columns.size());
  for (size_t c = 0; c < t.columns.size(); ++c) {
    double m = p.textWidth(t.columns[c], size, true);
    for (size_t r = 0; r < t.rows.size() && r < 60; ++r)
      m = std::max(m, std::min(p.textWidth(t.rows[r][c], size), 260.0));
    widths[c] = m + 8;
  }
  double sum = 0;
  for (double v : widths) sum += v;
  for (double& v : widths) v = v * w / sum;
  double cx = x;
  for (size_t c = 0; c < t.columns.size(); ++c) {
    p.text(t.columns[c], cx + 2, y, widths[c] - 4, size, true);
    cx += widths[c];
  }
  p.line(x, y + row_h, x + w, y + row_h, 0.8, kInk);
  double ry = y + row_h + 1;
  const size_t fits = static_cast<size_t>(std::max(0.0, (y + h - ry - row_h) / row_h));
  const size_t shown = t.rows.size() <= fits + 1 ? t.rows.size() : fits;
  for (size_t r = 0; r < shown; ++r) {
    if (r % 2 == 1) {
      cairo_rectangle(p.cr(), x, ry, w, row_h);
      p.colour({0.93, 0.93, 0.93});
      cairo_fill(p.cr());
    }
    cx = x;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const bool numeric = !t.rows[r][c].empty() &&
                           std::isdigit(static_cast<unsigned char>(t.rows[r][c][0])) && c > 0;
      p.text(t.rows[r][c], cx + 2, ry + 1.5, widths[c] - 4, size, false, numeric ? 2 : 0);
      cx += widths[c];
    }
    ry += row_h;
  }
  if (t.rows.empty()) p.text("No threats in this range.", x + 2, ry + 2, w, size, false, 0, kMuted);
  if (shown < t.rows.size())
    p.text(std::to_string(t.rows.size() - shown) + " more rows in the CSV export", x + 2, ry + 2,
           w, size, false, 0, kMuted);
}

void drawKpi(Painter& p, const WidgetData& wd, double x, double y, double w, double h) {
  const double big = std::min(22.0, h * 0.38);
  p.text(kpiValueText(wd.kpi), x, y, w, big, true);
  const std::string change = kpiChangeText(wd.kpi);
  if (!change.empty())
    p.text(change, x, y + big * 1.35, w, 7.5, false, 0, kMuted, true,
           std::max(9.0, h - big * 1.35));
}

// A widget inside its frame: border, title, body.
void drawWidget(Painter& p, const WidgetData& wd, double x, double y, double w, double h) {
  cairo_rectangle(p.cr(), x + 0.5, y + 0.5, w - 1, h - 1);
  p.colour({0.7, 0.7, 0.7});
  cairo_set_line_width(p.cr(), 0.7);
  cairo_stroke(p.cr());
  const double pad = 7;
  const double title_h = p.text(wd.title, x + pad, y + pad - 1, w - 2 * pad, 9, true) + 4;
  const double bx = x + pad, by = y + pad + title_h, bw = w - 2 * pad, bh = h - 2 * pad - title_h;
  if (bh <= 4 || bw <= 4) return;
  cairo_save(p.cr());
  cairo_rectangle(p.cr(), x, y, w, h);
  cairo_clip(p.cr());
  switch (wd.widget.type) {
    case WidgetType::kKpi: drawKpi(p, wd, bx, by, bw, bh); break;
    case WidgetType::kChart:
      if (wd.chart.series.empty()) break;
      if (wd.widget.chart.kind == ChartKind::kPie)
        drawPie(p, wd, bx, by, bw, bh);
      else if (wd.widget.chart.dimension == Dimension::kTime ||
               wd.widget.chart.kind == ChartKind::kLine)
        drawColumns(p, wd, bx, by, bw, bh);
      else
        drawHorizontalBars(p, wd, bx, by, bw, bh);
      break;
    case WidgetType::kTable: drawTable(p, wd.table, bx, by, bw, bh); break;
  }
  cairo_restore(p.cr());
}

// --- documents -------------------------------------------------------------------------------

constexpr double kMargin = 36;
constexpr double kRowUnit = 78;  // points per grid row
constexpr double kGutter = 8;
constexpr double kHeaderH = 34;
constexpr double kFooterH = 20;

struct PageDims {
  double w, h;
};

PageDims pageDims(const ReportData& r, const RenderOptions& o) {
  const PageSize size = o.page_size.value_or(r.spec.page_size);
  PageDims d = size == PageSize::kLetter ? PageDims{612, 792} : PageDims{595.28, 841.89};
  if (r.spec.landscape) std::swap(d.w, d.h);
  return d;
}

// Pages of widgets: each page shows the grid rows [first_row, end_row).
struct PagePlan {
  int first_row = 0;
  std::vector<size_t> widgets;
};

std::vector<PagePlan> paginate(const ReportData& r, double content_h) {
  std::vector<size_t> order(r.widgets.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return r.widgets[a].widget.position.y < r.widgets[b].widget.position.y;
  });
  const int rows_per_page = std::max(1, static_cast<int>(content_h / kRowUnit));
  std::vector<PagePlan> pages;
  for (size_t i : order) {
    const auto& pos = r.widgets[i].widget.position;
    const int h = std::min(pos.h, rows_per_page);
    if (pages.empty() || pos.y + h > pages.back().first_row + rows_per_page) {
      // A new page starts at this widget's row, unless the page already started further down.
      if (pages.empty() || pos.y >= pages.back().first_row + 1 || pages.back().widgets.empty())
        pages.push_back({pos.y, {}});
    }
    pages.back().widgets.push_back(i);
  }
  if (pages.empty()) pages.push_back({0, {}});
  return pages;
}

void drawGrid(Painter& p, const ReportData& r, const std::vector<size_t>& widgets, int first_row,
              double x, double y, double w, int max_rows) {
  const double col = (w + kGutter) / r.spec.columns;
  for (size_t i : widgets) {
    const auto& wd = r.widgets[i];
    const auto& pos = wd.widget.position;
    const int h = std::min(pos.h, std::max(1, max_rows - (pos.y - first_row)));
    drawWidget(p, wd, x + col * pos.x, y + kRowUnit * (pos.y - first_row), col * pos.w - kGutter,
               kRowUnit * h - kGutter);
  }
}

std::string filterSummary(const store::ThreatFilter& f) {
  std::vector<std::string> parts;
  auto list = [&](const char* name, const std::vector<std::string>& v) {
    if (v.empty()) return;
    std::string s = std::string(name) + ": ";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + (v[i].empty() ? "(none)" : v[i]);
    parts.push_back(s);
  };
  list("groups", f.groups);
  list("states", f.states);
  std::vector<std::string> sev;
  for (auto s : f.severities) sev.emplace_back(core::severityName(s));
  list("severities", sev);
  list("sources", f.sources);
  list("owners", f.owners);
  std::vector<std::string> kinds;
  for (auto k : f.kinds) kinds.emplace_back(core::threatKindName(k));
  list("kinds", kinds);
  if (!f.entity.empty()) parts.push_back("entity: " + f.entity);
  if (!f.host.empty()) parts.push_back("host: " + f.host);
  if (!f.text.empty()) parts.push_back("text: " + f.text);
  if (f.open) parts.push_back(*f.open ? "open only" : "closed only");
  std::string out;
  for (const auto& s : parts) out += (out.empty() ? "" : "; ") + s;
  return out.empty() ? "all threats" : out;
}

void drawTitlePage(Painter& p, const ReportData& r, PageDims d) {
  const double x = kMargin * 1.5, w = d.w - 3 * kMargin;
  double y = d.h * 0.28;
  p.line(x, y - 18, x + 80, y - 18, 4, {0.12, 0.31, 0.47});
  y += p.text(r.spec.title, x, y, w, 26, true, 0, kInk, true) + 10;
  if (!r.spec.description.empty())
    y += p.text(r.spec.description, x, y, w, 11, false, 0, kMuted, true) + 16;
  y += p.text("Period: " + r.range_label, x, y, w, 10) + 4;
  y += p.text("Threats: " + filterSummary(r.spec.filters), x, y, w, 10, false, 0, kInk, true) + 4;
  y += p.text("Generated: " + core::formatRfc3339(r.generated_at / 1000 * 1000), x, y, w, 10) + 24;
  y += p.text("Contents", x, y, w, 11, true) + 4;
  for (const auto& wd : r.widgets) {
    if (y > d.h - kMargin - 40) break;
    y += p.text("\u2022 " + wd.title, x + 6, y, w - 6, 9) + 2;
  }
}

cairo_status_t appendTo(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void drawHeader(Painter& p, const ReportData& r, double x, double y, double w) {
  p.text(r.spec.title, x, y, w * 0.6, 12, true);
  p.text(r.range_label, x + w * 0.4, y + 2, w * 0.6, 8, false, 2, kMuted);
  p.line(x, y + 20, x + w, y + 20, 0.6, kRule);
}

core::Status checkSurface(cairo_surface_t* s, const char* what) {
  const auto st = cairo_surface_status(s);
  if (st != CAIRO_STATUS_SUCCESS)
    return fail(ErrorCode::kInternal,
                std::string("cannot render ") + what + ": " + cairo_status_to_string(st));
  return {};
}

core::Result<std::string> renderPdf(const ReportData& r, const RenderOptions& o) {
  const PageDims d = pageDims(r, o);
  const double content_w = d.w - 2 * kMargin;
  const double content_h = d.h - 2 * kMargin - kHeaderH - kFooterH;
  const auto pages = paginate(r, content_h);
  const int rows_per_page = std::max(1, static_cast<int>(content_h / kRowUnit));
  std::string out;
  cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(appendTo, &out, d.w, d.h);
  if (auto st = checkSurface(surface, "PDF"); !st) {
    cairo_surface_destroy(surface);
    return fail(st.error());
  }
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, r.spec.title.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "ThreatDesk");
  cairo_t* cr = cairo_create(surface);
  Painter p(cr, o.grayscale, nullptr, 1);
  const int total = static_cast<int>(pages.size()) + 1;
  auto footer = [&](int page) {
    p.text("Page " + std::to_string(page) + " of " + std::to_string(total), kMargin,
           d.h - kMargin - 4, d.w - 2 * kMargin, 8, false, 1, kMuted);
  };
  drawTitlePage(p, r, d);
  footer(1);
  cairo_show_page(cr);
  for (size_t i = 0; i < pages.size(); ++i) {
    drawHeader(p, r, kMargin, kMargin, content_w);
    drawGrid(p, r, pages[i].widgets, pages[i].first_row, kMargin, kMargin + kHeaderH, content_w,
             rows_per_page);
    footer(static_cast<int>(i) + 2);
    cairo_show_page(cr);
  }
  cairo_destroy(cr);
  cairo_surface_finish(surface);
  auto st = checkSurface(surface, "PDF");
  cairo_surface_destroy(surface);
  if (!st) return fail(st.error());
  return out;
}

// The dashboard as one image: a header, then every grid row.
core::Result<std::string> renderImage(const ReportData& r, const RenderOptions& o) {
  const double w_pt = 842;  // an A4 landscape width keeps charts and text in proportion
  int rows = 0;
  for (const auto& wd : r.widgets)
    rows = std::max(rows, wd.widget.position.y + wd.widget.position.h);
  const double h_pt = kMargin * 2 + kHeaderH + rows * kRowUnit;
  std::vector<size_t> all(r.widgets.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  auto draw = [&](cairo_t* cr) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    Painter p(cr, o.grayscale, nullptr, 1);
    drawHeader(p, r, kMargin, kMargin, w_pt - 2 * kMargin);
    drawGrid(p, r, all, 0, kMargin, kMargin + kHeaderH, w_pt - 2 * kMargin, rows + 1);
  };
  std::string out;
  if (o.format == Format::kSvg) {
    cairo_surface_t* s = cairo_svg_surface_create_for_stream(appendTo, &out, w_pt, h_pt);
    cairo_t* cr = cairo_create(s);
    draw(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    auto st = checkSurface(s, "SVG");
    cairo_surface_destroy(s);
    if (!st) return fail(st.error());
    return out;
  }
  const double scale = std::clamp(o.png_width_px, 200, 8000) / w_pt;
  const int pw = static_cast<int>(std::lround(w_pt * scale));
  const int ph = static_cast<int>(std::lround(std::min(h_pt * scale, 30000.0)));
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw, ph);
  if (auto st = checkSurface(s, "PNG"); !st) {
    cairo_surface_destroy(s);
    return fail(st.error());
  }
  cairo_t* cr = cairo_create(s);
  cairo_scale(cr, scale, scale);
  draw(cr);
  cairo_destroy(cr);
  cairo_surface_write_to_png_stream(s, appendTo, &out);
  cairo_surface_destroy(s);
  return out;
}

}  // namespace

core::Result<Format> parseFormat(std::string_view text) {
  const std::string t = core::toLower(text);
  if (t == "pdf") return Format::kPdf;
  if (t == "png") return Format::kPng;
  if (t == "svg") return Format::kSvg;
  if (t == "html") return Format::kHtml;
  if (t == "csv") return Format::kCsv;
  return fail(ErrorCode::kInvalidArgument,
              "unknown format '" + std::string(text.substr(0, 20)) +
                  "' (expected pdf, png, svg, html or csv)",
              "format");
}

std::string_view formatName(Format f) {
  switch (f) {
    case Format::kPdf: return "pdf";
    case Format::kPng: return "png";
    case Format::kSvg: return "svg";
    case Format::kHtml: return "html";
    case Format::kCsv: return "csv";
  }
  return "";
}

std::string_view contentType(Format f) {
  switch (f) {
    case Format::kPdf: return "application/pdf";
    case Format::kPng: return "image/png";
    case Format::kSvg: return "image/svg+xml";
    case Format::kHtml: return "text/html; charset=utf-8";
    case Format::kCsv: return "text/csv; charset=utf-8";
  }
  return "application/octet-stream";
}

std::string kpiValueText(const KpiData& kpi) {
  if (!kpi.value) return "\u2013";
  return number(*kpi.value, kpi.unit);
}

std::string kpiChangeText(const KpiData& kpi) {
  if (!kpi.previous) return "";
  if (!kpi.value) return "previous period: " + number(*kpi.previous, kpi.unit);
  const double delta = *kpi.value - *kpi.previous;
  std::string out;
  if (std::fabs(delta) < 1e-9) {
    out = "\u25B6 no change";
  } else {
    out = delta > 0 ? "\u25B2 up " : "\u25BC down ";
    out += number(std::fabs(delta), kpi.unit);
    if (*kpi.previous != 0 && kpi.unit != "%") {
      char pct[32];
      std::snprintf(pct, sizeof pct, " (%+.0f %%)", 100.0 * delta / *kpi.previous);
      out += pct;
    }
  }
  return out + " vs previous period (" + number(*kpi.previous, kpi.unit) + ")";
}

core::Result<std::string> renderReport(const ReportData& report, const RenderOptions& options) {
  switch (options.format) {
    case Format::kPdf: return renderPdf(report, options);
    case Format::kPng:
    case Format::kSvg: return renderImage(report, options);
    case Format::kHtml: return renderHtml(report, options.grayscale);
    case Format::kCsv: return renderCsv(report, options.widget);
  }
  return fail(ErrorCode::kInvalidArgument, "unknown format", "format");
}

core::Result<std::string> renderWidget(const WidgetData& widget, Format format, double width,
                                       double height, bool grayscale, std::vector<Mark>* marks) {
  if (format != Format::kPng && format != Format::kSvg)
    return fail(ErrorCode::kInvalidArgument, "a widget renders as png or svg", "format");
  if (!(width >= 16 && width <= 8000 && height >= 16 && height <= 8000))
    return fail(ErrorCode::kInvalidArgument, "a widget is 16 to 8000 units wide and high", "size");
  std::string out;
  cairo_surface_t* s =
      format == Format::kSvg
          ? cairo_svg_surface_create_for_stream(appendTo, &out, width, height)
          : cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(width),
                                       static_cast<int>(height));
  cairo_t* cr = cairo_create(s);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  Painter p(cr, grayscale, marks, 1);
  drawWidget(p, widget, 0, 0, width, height);
  cairo_destroy(cr);
  if (format == Format::kPng) cairo_surface_write_to_png_stream(s, appendTo, &out);
  cairo_surface_finish(s);
  auto st = checkSurface(s, format == Format::kSvg ? "SVG" : "PNG");
  cairo_surface_destroy(s);
  if (!st) return fail(st.error());
  return out;
}

}  // namespace td::report
