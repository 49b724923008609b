#!/usr/bin/python3
"""A real SMTP server (Debian's python3-aiosmtpd) for the dispatcher tests, on 127.0.0.1.

Usage: smtp_sink.py OUTDIR [--auth USER:PASSWORD] [--tls CERT KEY]
Prints "PORT <n>" once listening. Every message received is written to OUTDIR/<n>.json as
{"mail_from", "rcpt_tos", "subject", "message_id", "to", "multipart", "text", "html",
"data", "attachments"} (text and html decoded from their MIME parts; data: the raw message;
attachments: [{"filename", "content_type", "size", "path"}], each decoded to OUTDIR/<n>-<i>.bin). With --auth the server offers
AUTH PLAIN/LOGIN and refuses mail from unauthenticated clients. With --tls the server offers
STARTTLS with that certificate and refuses mail before it (require_starttls); each record then
says "tls": true when the session was encrypted.
"""
import email
import email.policy
import json
import os
import socket
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

outdir = sys.argv[1]
auth = None
tls = None
args = sys.argv[2:]
while args:
    if args[0] == "--auth":
        auth = args[1].split(":", 1)
        args = args[2:]
    elif args[0] == "--tls":
        tls = (args[1], args[2])
        args = args[3:]
    else:
        sys.exit("unknown option " + args[0])
lock = threading.Lock()
counter = [0]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        if auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        with lock:
            counter[0] += 1
            n = counter[0]
        raw = envelope.content.decode("utf-8", "replace")
        msg = email.message_from_string(raw, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["subject"] or ""),
            "message_id": str(msg["message-id"] or ""),
            "to": str(msg["to"] or ""),
            "multipart": msg.is_multipart(),
            "tls": session.ssl is not None,
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else "",
            "data": raw,
            "attachments": [],
        }
        for i, part in enumerate(msg.iter_attachments()):
            payload = part.get_payload(decode=True) or b""
            path = os.path.join(outdir, "%06d-%d.bin" % (n, i))
            with open(path, "wb") as f:
                f.write(payload)
            record["attachments"].append({
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(payload),
                "path": path,
            })
        tmp = os.path.join(outdir, "%06d.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(outdir, "%06d.json" % n))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, data):
    if isinstance(data, LoginPassword) and auth and \
            data.login.decode() == auth[0] and data.password.decode() == auth[1]:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
kwargs = {}
if auth:
    kwargs = dict(authenticator=authenticator, auth_require_tls=tls is not None)
if tls:
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls[0], tls[1])
    kwargs.update(tls_context=context, require_starttls=True)
controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("PORT", port, flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
