#!/usr/bin/env bash
# Reports from the command line: templates, rendering a template, a file and a stored report to
# PDF (opened with pdfinfo when poppler-utils is there), PNG, CSV; `check` listing every error
# with its path while failing in one line; saved versions; a schedule with its next run; and
# `serve --smtp` mailing a due schedule's PDF to a real SMTP server.
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
expect_match "schedule lists its recipients" "$("$TD_BIN" report schedule list --store "$STORE")" 'to soc@example.com'
expect_cli_error "unknown user in one line" report schedule add --store "$STORE" --project web \
  --report Weekly --cron '0 8 * * MON' --user nobody@example.com
expect_cli_error "no recipient in one line" report schedule add --store "$STORE" --project web \
  --report Weekly --cron '0 8 * * MON'
expect_cli_error "bad cron in one line" report schedule add --store "$STORE" --project web \
  --report Weekly --cron '0 8 * *' --to soc@example.com
expect_cli_error "unknown report in one line" report render nope --store "$STORE" --out "$WORK/n.pdf"

# `serve --smtp` mails a due schedule's PDF through the outbox to a real SMTP server (the
# responses tests' smtp_sink.py on python3-aiosmtpd); the slot is made due as if the server had
# been down over it.
PY3=/usr/bin/python3  # Debian's, which has python3-aiosmtpd
if "$PY3" -c 'import aiosmtpd' 2>/dev/null; then
  SRC=$(cd "$(dirname "$0")/../.." && pwd)
  mkdir -p "$WORK/mail"
  "$PY3" "$SRC/src/respond/tests/smtp_sink.py" "$WORK/mail" >"$WORK/smtp.out" &
  SMTP_PID=$!
  trap 'rc=$?; kill ${SERVER_PID:-} "$SMTP_PID" 2>/dev/null || true; rm -rf "$WORK"; exit $rc' EXIT
  for _ in $(seq 200); do grep -q PORT "$WORK/smtp.out" && break; sleep 0.1; done
  SMTP_PORT=$(awk '/PORT/ {print $2}' "$WORK/smtp.out")
  python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE report_schedules SET next_run_at = 1000"); c.commit()' "$WORK/threatdesk.db"
  PORT=$(free_port)
  "$TD_BIN" serve --listen "127.0.0.1:$PORT" --store "$STORE" --threads 4 \
    --smtp "smtp://127.0.0.1:$SMTP_PORT?tls=none&from=reports@example.com" \
    --public-url https://td.example.com >"$WORK/out.log" 2>"$WORK/err.log" &
  SERVER_PID=$!
  listed=""
  for _ in $(seq 300); do
    listed=$("$TD_BIN" report schedule list --store "$STORE")
    [[ "$listed" == *delivered* ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/err.log" >&2; break; }
    sleep 0.1
  done
  expect_match "the run lists its e-mail as delivered" "$listed" $'soc@example.com\tdelivered\t1 tries'
  mail=$(ls "$WORK"/mail/*.json 2>/dev/null | head -1)
  expect_match "one e-mail" "$(ls "$WORK"/mail/*.json 2>/dev/null | wc -l)" '^ *1$'
  if [[ -n "$mail" ]]; then
    summary=$(python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); a = m["attachments"][0]
print(m["rcpt_tos"], m["subject"], a["filename"], a["content_type"], "https://td.example.com/reports/" in m["text"])' "$mail")
    expect_match "to, subject, attachment, link" "$summary" \
      "^\['soc@example.com'\] \[ThreatDesk\] Weekly SOC summary \(.*\) weekly-[0-9-]+\.pdf application/pdf True$"
    expect_eq "the attachment is a PDF" "$(head -c 5 "$WORK/mail/000001-0.bin")" "%PDF-"
  fi
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" && ok || fail "serve did not exit 0"
  SERVER_PID=""
  kill "$SMTP_PID"; wait "$SMTP_PID" 2>/dev/null || true
else
  echo "skipped: scheduled e-mail through serve (python3-aiosmtpd not installed)"
fi
finish
