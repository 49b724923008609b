#!/usr/bin/env python3
"""A small, real TAXII 2.1 server for tests (Python standard library only).

Serves one API root with one collection whose objects come from a STIX bundle file, re-read on
every request so that a test can add objects between polls. Each object's date_added is its
"x_td_date_added" member (RFC 3339, removed from what is served) or, when absent, a fixed time
plus its position in seconds. Implements what a poller needs: discovery, the API root,
collections, and GET .../objects/ with added_after, limit and next (opaque page tokens), the
X-TAXII-Date-Added-First/Last headers, HTTP basic auth (401 with a TAXII error body when wrong)
and the TAXII media type (406 when the client does not accept it).

Usage: taxii_server.py --bundle FILE [--user U --password P] [--page-size N]
Binds 127.0.0.1 on a free port and prints "PORT <n>" on its first line of standard output.
Stops on SIGTERM or when standard input closes.
"""
import argparse
import base64
import datetime
import json
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MEDIA = "application/taxii+json;version=2.1"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
BASE_TIME = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % t.microsecond


def parse_time(text):
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(text)


def load_objects(path):
    with open(path, "r", encoding="utf-8") as f:
        bundle = json.load(f)
    out = []
    for i, obj in enumerate(bundle.get("objects", [])):
        obj = dict(obj)
        added = obj.pop("x_td_date_added", None)
        when = parse_time(added) if added else BASE_TIME + datetime.timedelta(seconds=i)
        out.append((when, obj))
    out.sort(key=lambda p: p[0])
    return out


class Handler(BaseHTTPRequestHandler):
    server_version = "td-taxii-test/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the test reads results, not logs
        if self.server.options.verbose:
            sys.stderr.write("taxii: " + (fmt % args) + "\n")

    def send_json(self, status, body, headers=None):
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", MEDIA)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, title, description, headers=None):
        self.send_json(status, {"title": title, "description": description,
                                "http_status": str(status)}, headers)

    def authorised(self):
        opts = self.server.options
        if not opts.user:
            return True
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except Exception:
                user, password = "", ""
            if user == opts.user and password == opts.password:
                return True
        self.error(401, "Unauthorized", "user name or password is wrong",
                   {"WWW-Authenticate": 'Basic realm="taxii"'})
        return False

    def do_GET(self):
        self.server.requests.append(self.path)
        if not self.authorised():
            return
        accept = self.headers.get("Accept", "")
        if "application/taxii+json" not in accept:
            self.error(406, "Not Acceptable", "Accept must be " + MEDIA)
            return
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query)
        root = "/api1/"
        if path == "/taxii2/":
            host = self.headers.get("Host", "127.0.0.1")
            self.send_json(200, {"title": "ThreatDesk test TAXII server",
                                 "api_roots": ["http://%s%s" % (host, root)]})
        elif path == root:
            self.send_json(200, {"title": "test root", "versions": [MEDIA],
                                 "max_content_length": 104857600})
        elif path == root + "collections/":
            self.send_json(200, {"collections": [self.collection()]})
        elif path == root + "collections/%s/" % COLLECTION:
            self.send_json(200, self.collection())
        elif path == root + "collections/%s/objects/" % COLLECTION:
            self.objects(query)
        elif path.startswith(root + "collections/"):
            self.error(404, "Not Found", "no such collection")
        else:
            self.error(404, "Not Found", "no such resource")

    def collection(self):
        return {"id": COLLECTION, "title": "test indicators", "can_read": True,
                "can_write": False, "media_types": ["application/stix+json;version=2.1"]}

    def objects(self, query):
        opts = self.server.options
        try:
            objs = load_objects(opts.bundle)
        except Exception as e:  # a test writing the file mid-read: answer 503, it retries later
            self.error(503, "Unavailable", "bundle not readable: %s" % e)
            return
        added_after = query.get("added_after", [None])[0]
        if added_after:
            try:
                after = parse_time(added_after)
            except ValueError:
                self.error(400, "Bad Request", "added_after is not a timestamp")
                return
            objs = [p for p in objs if p[0] > after]
        limit = opts.page_size
        if "limit" in query:
            try:
                limit = max(1, min(limit, int(query["limit"][0])))
            except ValueError:
                self.error(400, "Bad Request", "limit is not a number")
                return
        start = 0
        token = query.get("next", [None])[0]
        if token:
            if not token.startswith("p") or not token[1:].isdigit():
                self.error(400, "Bad Request", "unknown next token")
                return
            start = int(token[1:])
        page = objs[start:start + limit]
        more = start + limit < len(objs)
        body = {"more": more, "objects": [o for _, o in page]}
        if more:
            body["next"] = "p%d" % (start + limit)
        headers = {}
        if page:
            headers["X-TAXII-Date-Added-First"] = rfc3339(page[0][0])
            headers["X-TAXII-Date-Added-Last"] = rfc3339(page[-1][0])
        self.send_json(200, body, headers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--user", default="")
    ap.add_argument("--password", default="")
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.options = opts
    server.requests = []
    print("PORT %d" % server.server_address[1], flush=True)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    # The parent closing our standard input (or dying) stops us too.
    threading.Thread(target=lambda: (sys.stdin.read(), stop()), daemon=True).start()
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
