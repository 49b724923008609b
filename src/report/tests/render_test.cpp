// Rendering: a real PDF (opened by poppler's pdfinfo/pdftotext when installed, and checked for
// its page objects either way), PNG and SVG sizes, HTML and CSV, and charts that stay legible in
// black and white: rendered in grey, every series' bars must look different (pattern or shade).
#include "report/render.h"

#include <cairo.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "report/templates.h"
#include "report/tests/seed.h"

namespace td::report {
namespace {

using testing::Seed;

std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

bool have(const char* tool) {
  return run(std::string("command -v ") + tool + " 2>/dev/null").size() > 0;
}

int countPages(const std::string& pdf) {
  // "/Type /Page" objects, not "/Type /Pages".
  int n = 0;
  for (size_t at = pdf.find("/Type /Page"); at != std::string::npos;
       at = pdf.find("/Type /Page", at + 1))
    if (pdf.compare(at, 12, "/Type /Pages") != 0) ++n;
  return n;
}

class RenderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(seed_.build()); }

  ReportData weekly(std::string_view tweak_from = "", std::string_view tweak_to = "") {
    auto doc = findTemplate("weekly-soc-summary")->document;
    if (!tweak_from.empty()) doc.replace(doc.find(tweak_from), tweak_from.size(), tweak_to);
    auto spec = parseSpec(doc);
    EXPECT_TRUE(spec);
    QueryOptions o;
    o.project_id = seed_.project.id;
    o.now = seed_.D + 7 * testing::kDay;
    auto data = runReport(*seed_.store, *spec, o);
    EXPECT_TRUE(data) << data.error().message;
    return *data;
  }

  std::string save(const std::string& bytes, const std::string& name) {
    const auto path = seed_.dir.file(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  Seed seed_;
};

TEST_F(RenderTest, PdfHasATitlePagePageNumbersAndTheFigures) {
  auto data = weekly();
  RenderOptions o;
  o.format = Format::kPdf;
  auto pdf = renderReport(data, o);
  ASSERT_TRUE(pdf) << pdf.error().message;
  ASSERT_EQ(pdf->rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf->find("%%EOF"), std::string::npos);
  const int pages = countPages(*pdf);
  EXPECT_GE(pages, 2);  // the title page and at least one page of widgets
  if (!have("pdfinfo") || !have("pdftotext")) GTEST_SKIP() << "poppler-utils not installed";
  const auto path = save(*pdf, "weekly.pdf");
  const auto info = run("pdfinfo " + path);
  auto field = [](const std::string& info, const std::string& name) {
    const auto at = info.find(name + ":");
    if (at == std::string::npos) return std::string();
    const auto start = info.find_first_not_of(' ', at + name.size() + 1);
    return info.substr(start, info.find('\n', start) - start);
  };
  EXPECT_EQ(field(info, "Pages"), std::to_string(pages)) << info;
  EXPECT_EQ(field(info, "Page size"), "595.28 x 841.89 pts (A4)") << info;
  EXPECT_EQ(field(info, "Title"), "Weekly SOC summary") << info;
  const auto text = run("pdftotext -layout " + path + " -");
  EXPECT_NE(text.find("Weekly SOC summary"), std::string::npos);
  EXPECT_NE(text.find("Page 1 of " + std::to_string(pages)), std::string::npos) << text;
  EXPECT_NE(text.find("Page " + std::to_string(pages) + " of " + std::to_string(pages)),
            std::string::npos);
  EXPECT_NE(text.find("Mean time to acknowledge"), std::string::npos);
  EXPECT_NE(text.find("Open threats by queue"), std::string::npos);

  o.page_size = PageSize::kLetter;
  auto letter = renderReport(data, o);
  ASSERT_TRUE(letter);
  const auto letter_info = run("pdfinfo " + save(*letter, "letter.pdf"));
  EXPECT_EQ(field(letter_info, "Page size"), "612 x 792 pts (letter)") << letter_info;
}

TEST_F(RenderTest, PngAndSvgSizes) {
  auto data = weekly();
  RenderOptions o;
  o.format = Format::kPng;
  o.png_width_px = 1000;
  auto png = renderReport(data, o);
  ASSERT_TRUE(png) << png.error().message;
  ASSERT_GT(png->size(), 24u);
  ASSERT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&](size_t at) {
    return (static_cast<unsigned char>((*png)[at]) << 24) |
           (static_cast<unsigned char>((*png)[at + 1]) << 16) |
           (static_cast<unsigned char>((*png)[at + 2]) << 8) |
           static_cast<unsigned char>((*png)[at + 3]);
  };
  EXPECT_EQ(be32(16), 1000u);  // IHDR width
  EXPECT_GT(be32(20), 1000u);  // the dashboard is taller than wide (15 grid rows)
  o.format = Format::kSvg;
  auto svg = renderReport(data, o);
  ASSERT_TRUE(svg);
  EXPECT_NE(svg->find("<svg"), std::string::npos);
  EXPECT_NE(svg->find("width=\"842pt\""), std::string::npos);
}

TEST_F(RenderTest, ChartsStayDistinctInBlackAndWhite) {
  auto data = weekly();
  // The stacked bar of new threats per day by severity: T1-T3 on day one, one per severity.
  const WidgetData* chart = nullptr;
  for (const auto& w : data.widgets)
    if (w.widget.id == "new-by-day") chart = &w;
  ASSERT_NE(chart, nullptr);
  ASSERT_EQ(chart->chart.series.size(), 3u);
  std::vector<Mark> marks;
  auto png = renderWidget(*chart, Format::kPng, 700, 320, /*grayscale=*/true, &marks);
  ASSERT_TRUE(png) << png.error().message;
  // Read the image back.
  struct Reader {
    const std::string* data;
    size_t at = 0;
  } reader{&*png};
  cairo_surface_t* img = cairo_image_surface_create_from_png_stream(
      [](void* closure, unsigned char* out, unsigned int length) {
        auto* r = static_cast<Reader*>(closure);
        if (r->at + length > r->data->size()) return CAIRO_STATUS_READ_ERROR;
        std::memcpy(out, r->data->data() + r->at, length);
        r->at += length;
        return CAIRO_STATUS_SUCCESS;
      },
      &reader);
  ASSERT_EQ(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
  const int stride = cairo_image_surface_get_stride(img);
  const unsigned char* px = cairo_image_surface_get_data(img);
  const int width = cairo_image_surface_get_width(img);
  const int height = cairo_image_surface_get_height(img);
  bool all_grey = true;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const auto* p = px + y * stride + x * 4;  // BGRx
      all_grey &= p[0] == p[1] && p[1] == p[2];
    }
  EXPECT_TRUE(all_grey);
  // Per series: the grey levels inside its first segment (inset past the outline).
  std::map<int, std::map<int, int>> levels;
  for (const auto& m : marks) {
    if (m.category != 0 || levels.count(m.series)) continue;
    std::map<int, int> hist;
    for (int y = static_cast<int>(m.y) + 2; y < static_cast<int>(m.y + m.h) - 2; ++y)
      for (int x = static_cast<int>(m.x) + 2; x < static_cast<int>(m.x + m.w) - 2; ++x)
        ++hist[px[y * stride + x * 4]];
    levels[m.series] = hist;
  }
  cairo_surface_destroy(img);
  ASSERT_EQ(levels.size(), 3u);
  // Series after the first carry a pattern: at least two grey levels, each a real share.
  for (int s = 1; s < 3; ++s) {
    int strong = 0, total = 0;
    for (auto [v, n] : levels[s]) total += n;
    for (auto [v, n] : levels[s]) strong += n * 10 >= total;
    EXPECT_GE(strong, 2) << "series " << s << " has no visible pattern";
  }
  // No two series look alike: their two most common grey levels differ.
  auto signature = [](const std::map<int, int>& hist) {
    std::vector<std::pair<int, int>> v;
    for (auto [level, n] : hist) v.push_back({n, level});
    std::sort(v.rbegin(), v.rend());
    std::set<int> top;
    for (size_t i = 0; i < v.size() && i < 2; ++i) top.insert(v[i].second / 16);
    return top;
  };
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      EXPECT_NE(signature(levels[a]), signature(levels[b])) << a << " vs " << b;
}

TEST_F(RenderTest, HtmlAndCsv) {
  auto data = weekly();
  RenderOptions as_html;
  as_html.format = Format::kHtml;
  auto html = renderReport(data, as_html);
  ASSERT_TRUE(html);
  EXPECT_NE(html->find("<h1>Weekly SOC summary</h1>"), std::string::npos);
  EXPECT_NE(html->find("data:image/svg+xml;base64,"), std::string::npos);
  EXPECT_NE(html->find("id=\"widget-mtta\""), std::string::npos);

  RenderOptions csv;
  csv.format = Format::kCsv;
  csv.widget = "open-by-group";
  auto one = renderReport(data, csv);
  ASSERT_TRUE(one) << one.error().message;
  // Open at the end: T2 (L1), T3 (L2), T6 (no group).
  EXPECT_EQ(*one, "group,count\r\n(no group),1\r\nL1 Support,1\r\nL2 Support,1\r\n");
  csv.widget = "mtta";
  EXPECT_EQ(*renderReport(data, csv), "metric,value,previous,unit,samples\r\nmtta,45,780,minutes,2\r\n");
  csv.widget = "nope";
  EXPECT_EQ(renderReport(data, csv).error().field, "widget");
  csv.widget = "";
  auto all = renderReport(data, csv);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->rfind("widget,title,row,column,value\r\n", 0), 0u);
  EXPECT_NE(all->find("new,New threats,new,value,3\r\n"), std::string::npos) << *all;
}

TEST(RenderFormatTest, Names) {
  EXPECT_EQ(*parseFormat("PDF"), Format::kPdf);
  EXPECT_EQ(parseFormat("docx").error().field, "format");
  EXPECT_EQ(contentType(Format::kPng), "image/png");
}

}  // namespace
}  // namespace td::report
