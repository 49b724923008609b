#!/usr/bin/env bash
# Reports from the command line: templates, rendering a template, a file and a stored report to
# PDF (opened with pdfinfo when poppler-utils is there), PNG, CSV; `check` listing every error
# with its path while failing in one line; saved versions; a schedule with its next run.
source "$(dirname "$0")/lib.sh"

"$TD_BIN" org add --store "$STORE" --name Acme >/dev/null
"$TD_BIN" project add --store "$STORE" --org Acme --name web >/dev/null
for n in 1 2 3; do
  "$TD_BIN" threat create --store "$STORE" --project web --name "Lost laptop $n" --severity high \
    --entity "user:u$n" >/dev/null
done

out=$("$TD_BIN" report templates)
expect_match "four templates" "$(printf '%s\n' "$out" | wc -l)" '^ *4$'
expect_match "weekly template listed" "$out" 'weekly-soc-summary'

"$TD_BIN" report render weekly-soc-summary --store "$STORE" --project web --format pdf --out "$WORK/weekly.pdf"
expect_eq "a PDF" "$(head -c 5 "$WORK/weekly.pdf")" "%PDF-"
if command -v pdfinfo >/dev/null; then
  expect_match "title page and widget pages" "$(pdfinfo "$WORK/weekly.pdf")" 'Pages: +[2-9]'
  expect_match "Letter on request" \
    "$("$TD_BIN" report render weekly-soc-summary --store "$STORE" --format pdf --page-size Letter --out - | pdfinfo -)" \
    'letter'
fi
"$TD_BIN" report render backlog-by-queue --store "$STORE" --format png --width 800 --out "$WORK/b.png"
expect_eq "a PNG" "$(head -c 4 "$WORK/b.png" | tail -c 3)" "PNG"
csv=$("$TD_BIN" report render weekly-soc-summary --store "$STORE" --project web --format csv --widget new --out -)
expect_match "three new threats" "$csv" 'new,3,0,threats,3'

"$TD_BIN" report templates --show weekly-soc-summary >"$WORK/mine.json"
expect_match "check passes" "$("$TD_BIN" report check "$WORK/mine.json")" 'valid, 12 widgets'
sed 's/"dimension": "group"/"dimension": "colour"/' "$WORK/mine.json" >"$WORK/bad.json"
expect_cli_error "a bad document fails in one line" report check "$WORK/bad.json"
listed=$("$TD_BIN" report check "$WORK/bad.json" 2>/dev/null || true)
expect_match "check lists the error with its path" "$listed" 'widgets\[8\]\.chart\.dimension: unknown dimension'
expect_cli_error "render refuses it too" report render "$WORK/bad.json" --store "$STORE" --out "$WORK/x.pdf"

expect_match "saved" "$("$TD_BIN" report save --store "$STORE" --project web --name Weekly "$WORK/mine.json")" 'version 1'
expect_match "saved again" "$("$TD_BIN" report save --store "$STORE" --project web --name Weekly weekly-soc-summary)" 'version 2'
"$TD_BIN" report render Weekly --store "$STORE" --format html --out "$WORK/w.html"
expect_match "stored report rendered" "$(cat "$WORK/w.html")" '<h1>Weekly SOC summary</h1>'
expect_match "listed" "$("$TD_BIN" report list --store "$STORE" --project web)" 'Weekly.*version 2'
out=$("$TD_BIN" report schedule add --store "$STORE" --project web --report Weekly \
  --cron '0 8 * * MON' --time-zone Europe/Berlin --to soc@example.com)
expect_match "next run on a Monday morning" "$out" 'next run 20[0-9-]+T0[67]:00:00Z'
expect_match "schedule listed" "$("$TD_BIN" report schedule list --store "$STORE")" '0 8 \* \* MON \(Europe/Berlin\)'
expect_cli_error "bad cron in one line" report schedule add --store "$STORE" --project web \
  --report Weekly --cron '0 8 * *' --to soc@example.com
expect_cli_error "unknown report in one line" report render nope --store "$STORE" --out "$WORK/n.pdf"
finish
