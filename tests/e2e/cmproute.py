#!/usr/bin/env python3
"""cmproute.py - places each message of a CMP transaction on a CA host of
its own, for tests/e2e/cluster.sh: a client (openssl cmp, the Bouncy Castle
client) sends its whole transaction here, and each request goes on to the
host its body type is routed to, through that host's own nginx server
(scripts/cluster: 127.0.1.N:PORT reaches host N alone). A nested message is
routed by the body of its first inner message, so an RA's nested ir and
its nested pollReq and certConf are placed like a direct client's. The
answer goes back to the client unchanged.

usage: cmproute.py LISTEN-PORT LOG BODY=HOST-URL... [*=HOST-URL]
  LISTEN-PORT  the port on 127.0.0.1 to listen on
  LOG          one line per request: "BODY -> HOST-URL HTTP-STATUS"
  BODY=URL     requests of that body type (ir, certConf, pollReq, ...) go
               to URL (scheme, host and port: the request's path is kept);
               * is every other body type
"""
import http.client
import http.server
import sys
import threading
import urllib.parse

# PKIBody's CHOICE tags (RFC 9810 §5.1.2), the ones routes name.
BODIES = {0: "ir", 1: "ip", 2: "cr", 3: "cp", 4: "p10cr", 7: "kur",
          11: "rr", 13: "ccr", 19: "pkiconf", 20: "nested", 21: "genm",
          23: "error", 24: "certConf", 25: "pollReq", 26: "pollRep"}


def tlv(der, i):
    """The tag, the start of the contents and their end, of the DER
    element at i."""
    tag = der[i]
    n = der[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(der[i:i + k], "big")
        i += k
    return tag, i, i + n


def body_of(der, depth=0):
    """The body type's name; for nested, that of the first inner message."""
    try:
        _, msg, _ = tlv(der, 0)            # PKIMessage SEQUENCE
        _, _, after_hdr = tlv(der, msg)    # PKIHeader SEQUENCE
        tag, inner, _ = tlv(der, after_hdr)
        name = BODIES.get(tag & 0x1f, str(tag & 0x1f))
        if name == "nested" and depth == 0:
            _, first, _ = tlv(der, inner)  # SEQUENCE OF PKIMessage
            _, _, end = tlv(der, first)
            return body_of(der[first:end], 1)
        return name
    except (IndexError, ValueError):
        return "undecodable"


def main():
    port, logname = int(sys.argv[1]), sys.argv[2]
    routes = dict(a.split("=", 1) for a in sys.argv[3:])
    lock = threading.Lock()
    log = open(logname, "a", encoding="ascii")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            req = self.rfile.read(n)
            body = body_of(req)
            url = routes.get(body, routes.get("*"))
            if url is None:
                self.send_error(404, "no route for " + body)
                return
            u = urllib.parse.urlsplit(url)
            status, data, ctype = 502, b"", "text/plain"
            try:
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                c.request("POST", self.path, req,
                          {"Content-Type": "application/pkixcmp"})
                r = c.getresponse()
                status, data = r.status, r.read()
                ctype = r.getheader("Content-Type", ctype)
                c.close()
            except OSError as e:
                data = str(e).encode()
            with lock:
                log.write(f"{body} -> {url} {status}\n")
                log.flush()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.serve_forever()


if __name__ == "__main__":
    main()
