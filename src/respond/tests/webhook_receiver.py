#!/usr/bin/python3
"""A real HTTP receiver for the dispatcher tests, on 127.0.0.1 and a free port.

Prints "PORT <n>" on stdout once listening. Every request is appended as one JSON line to the
log file given as the first argument: {"method","path","headers","body","status","at"}.

What it answers is planned with POST /_plan {"answers":[{"status":500},{"status":429,
"retry_after":"1"},{"status":200,"delay":0.5}, {"drop":true}]}: each request takes the next
answer; when the plan is empty it answers 200. "delay" waits before answering (a slow receiver),
"drop" closes the connection without an answer. GET /_count returns the number of requests.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log_path = sys.argv[1]
lock = threading.Lock()
plan = []
count = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _answer(self, status, body=b"ok", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        global count
        body = self._body()
        if self.path == "/_plan":
            with lock:
                plan.extend(json.loads(body)["answers"])
            return self._answer(200)
        if self.path == "/_count":
            with lock:
                return self._answer(200, str(count).encode())
        with lock:
            answer = plan.pop(0) if plan else {"status": 200}
            count += 1
        if answer.get("delay"):
            time.sleep(answer["delay"])
        status = answer.get("status", 200)
        record = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "status": 0 if answer.get("drop") else status,
            "at": time.time(),
        }
        with lock:
            with open(log_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        if answer.get("drop"):
            self.close_connection = True
            self.connection.shutdown(2)
            return
        headers = {}
        if "retry_after" in answer:
            headers["Retry-After"] = str(answer["retry_after"])
        self._answer(status, b"answer %d" % status, headers)

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _handle


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print("PORT", server.server_address[1], flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
