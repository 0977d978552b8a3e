#!/usr/bin/env python3
"""authproxy.py - a tiny HTTP proxy for the headless-browser check of the
operators' page (tests/e2e/admin.sh).

Chromium has no way to take basic-auth credentials except in the URL or
through DevTools, and the URL would put the password on its command line.
This proxy listens on 127.0.0.1:PORT, forwards GET requests to UPSTREAM
(host:port, the nginx of the test stack) with an Authorization header built
from USER and the password read from PASSWORD_FILE, and hands back the
status, every header (Content-Security-Policy included, so the browser
enforces the page's real policy) and the body unchanged.

usage: authproxy.py PORT UPSTREAM USER PASSWORD_FILE
"""
import base64
import http.client
import http.server
import sys


def main():
    port, upstream, user, pwfile = sys.argv[1:5]
    with open(pwfile, encoding="ascii") as f:
        password = f.read().strip()
    auth = "Basic " + base64.b64encode(
        f"{user}:{password}".encode()).decode()
    host, uport = upstream.rsplit(":", 1)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            conn = http.client.HTTPConnection(host, int(uport), timeout=10)
            conn.request("GET", self.path, headers={"Authorization": auth})
            resp = conn.getresponse()
            body = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "transfer-encoding",
                                     "content-length", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            conn.close()

        def log_message(self, fmt, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    srv.serve_forever()


if __name__ == "__main__":
    main()
