#!/usr/bin/env bash
# The operator's commands against a fresh SQLite store: tenants, users, tokens, threats, export,
# and a one-line error with a non-zero exit for every kind of bad input.
source "$(dirname "$0")/lib.sh"

expect_eq "org add" "$("$TD_BIN" org add --store "$STORE" --name "Acme MSSP")" "1"
expect_eq "child org" "$("$TD_BIN" org add --store "$STORE" --name "Northwind" --parent "Acme MSSP")" "2"
expect_match "org list" "$("$TD_BIN" org list --store "$STORE")" "Northwind +Acme MSSP"
expect_eq "project add" "$("$TD_BIN" project add --store "$STORE" --org "Northwind" --name "Payments")" "1"
expect_match "project list" "$("$TD_BIN" project list --store "$STORE")" "Payments +Northwind"

id=$(echo "correct horse battery staple" | "$TD_BIN" user add --store "$STORE" --email admin@acme.test \
  --role admin --org "Acme MSSP" --password-stdin)
expect_eq "user add" "$id" "1"
out=$("$TD_BIN" user add --store "$STORE" --email ro@northwind.test --role readonly --org Northwind \
  --time-zone Europe/Berlin)
expect_match "generated password shown once" "$out" "password \(shown once\): [A-Za-z0-9]{16,}"
expect_match "user list" "$("$TD_BIN" user list --store "$STORE")" "ro@northwind.test +readonly +Northwind +Europe/Berlin"
echo "another long password" | "$TD_BIN" user passwd --store "$STORE" --email ro@northwind.test 2>/dev/null
ok

token=$("$TD_BIN" token create --store "$STORE" --project Payments --scopes read,write,ingest)
expect_match "token printed alone" "$token" "^tdk_[A-Za-z0-9]{40}$"
listed=$("$TD_BIN" token list --store "$STORE")
expect_match "token listed by prefix" "$listed" "${token:0:12}"
if [[ "$listed" == *"$token"* ]]; then fail "token list shows the secret"; else ok; fi

tid=$("$TD_BIN" threat create --store "$STORE" --project Payments --name "Lost laptop" \
  --severity high --entity user:alice --host WS-042 --tag T1078 --evidence '{"ticket":"INC-1"}')
expect_eq "threat create" "$tid" "1"
again=$("$TD_BIN" threat create --store "$STORE" --project Payments --name "Lost laptop" \
  --severity high --entity user:alice)
expect_eq "duplicate folds into the open threat" "$again" "1"

csv=$("$TD_BIN" export --store "$STORE" --project Payments --format csv)
expect_match "csv header" "$(head -1 <<<"$csv")" "^id,project_id,name,score,severity"
expect_eq "csv rows" "$(wc -l <<<"$csv")" "2"
expect_match "csv row" "$(sed -n 2p <<<"$csv")" '^1,1,Lost laptop,70,HIGH,THREAT,Manual,New,.*,user,alice,.*,2,'
"$TD_BIN" threat create --store "$STORE" --project Payments --name "=cmd|' /C calc'!A0" --severity low >/dev/null
expect_match "formula cells neutralised" "$("$TD_BIN" export --store "$STORE" --project Payments)" "'=cmd"
nd=$("$TD_BIN" export --store "$STORE" --project Payments --format ndjson --severity HIGH --out "$WORK/high.ndjson" 2>&1)
expect_match "export to a file reports its count" "$nd" "1 threats written"
expect_match "ndjson filtered" "$(cat "$WORK/high.ndjson")" '^\{.*"name":"Lost laptop".*\}$'
expect_cli_error "bad export filter" export --store "$STORE" --project Payments --severity urgent
expect_cli_error "bad export format" export --store "$STORE" --project Payments --format xml

expect_cli_error "unknown project" threat create --store "$STORE" --project Nope --name x
expect_cli_error "bad severity" threat create --store "$STORE" --project Payments --name x --severity urgent
expect_cli_error "score out of range" threat create --store "$STORE" --project Payments --name x --score 101
expect_cli_error "bad entity" threat create --store "$STORE" --project Payments --name x --entity alice
expect_cli_error "bad evidence" threat create --store "$STORE" --project Payments --name x --evidence '{'
expect_cli_error "unknown role" user add --store "$STORE" --email x@y.test --org Northwind --role root
expect_cli_error "unknown time zone" user add --store "$STORE" --email tz@y.test --org Northwind --time-zone Mars/Olympus_Mons_Base
expect_cli_error "bad email" user add --store "$STORE" --email not-an-email --org Northwind
expect_cli_error "duplicate org" org add --store "$STORE" --name "acme mssp"
expect_cli_error "unknown scope" token create --store "$STORE" --project Payments --scopes admin
expect_cli_error "short password" user passwd --store "$STORE" --email ro@northwind.test <<<"short"
expect_cli_error "missing option" project add --store "$STORE" --org Northwind
expect_cli_error "unknown subcommand" frobnicate
expect_cli_error "bad store url" org list --store "mysql:whatever"

finish
