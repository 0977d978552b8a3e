#!/usr/bin/python3
"""Test tool: talks FastCGI straight to cmpcad's socket, as a local process
that is not nginx would, to check what the socket lets through.

usage: fcgi.py request ADDR NAME=VALUE...
           one request with these parameters and an empty body; prints
           the first line of the answer ("Status: 403 Forbidden"), or
           "connect failed: REASON" and exits 1.
       fcgi.py idle ADDR N SECONDS
           opens N connections, sends only the FastCGI BEGIN_REQUEST
           record on each (enough to pass libfcgi's check for silent
           connections) and holds them up to SECONDS; prints
           "closed=K of N within S s": how many cmpcad closed, and when
           the last of them was closed.
       fcgi.py keep ADDR N SECONDS NAME=VALUE...
           opens N connections and sends on each, one after the other,
           two requests with these parameters and FCGI_KEEP_CONN, as
           nginx with fastcgi_keep_conn on does; then leaves all of them
           idle for SECONDS and sends a third request on each; prints
           "answered=K of M open=J of N": answers that start with
           "Status: 200", and connections still open at the end.

ADDR is a unix socket path, or HOST:PORT for a TCP socket.
"""
import socket
import struct
import sys
import time

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def connect(addr):
    if ':' in addr and not addr.startswith('/'):
        host, port = addr.rsplit(':', 1)
        return socket.create_connection((host, int(port)), timeout=30)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(addr)
    return s


def record(rtype, data=b''):
    return struct.pack('>BBHHBB', 1, rtype, 1, len(data), 0, 0) + data


def nv(name, value):
    n, v = name.encode(), value.encode()
    assert len(n) < 128 and len(v) < 128
    return bytes([len(n), len(v)]) + n + v


def begin(keep=False):
    return record(BEGIN, struct.pack('>HB5x', 1, 1 if keep else 0))


def one(s, pairs, keep):
    """Sends one request on s and reads its answer; returns the first line
    of the answer, or None when the connection was closed first."""
    body = b''.join(nv(*p.split('=', 1)) for p in pairs)
    s.sendall(begin(keep) + record(PARAMS, body) + record(PARAMS) +
              record(STDIN))
    out, ended = b'', False
    while True:
        h = s.recv(8, socket.MSG_WAITALL)
        if len(h) < 8:
            break
        _, rtype, _, clen, pad, _ = struct.unpack('>BBHHBB', h)
        data = s.recv(clen + pad, socket.MSG_WAITALL) if clen + pad else b''
        if rtype == STDOUT:
            out += data[:clen]
        if rtype == END:
            ended = True
            break
    if not ended:
        return None
    return out.split(b'\r\n', 1)[0].decode('latin-1')


def keep(addr, n, seconds, pairs):
    conns = [connect(addr) for _ in range(n)]
    ok = total = 0
    for _ in range(2):
        for s in conns:
            total += 1
            try:
                ok += (one(s, pairs, True) or '').startswith('Status: 200')
            except OSError:
                pass
    time.sleep(seconds)
    still = 0
    for s in conns:
        total += 1
        try:
            line = one(s, pairs, True)
        except OSError:
            line = None
        if line is not None:
            still += 1
            ok += line.startswith('Status: 200')
        s.close()
    print('answered=%d of %d open=%d of %d' % (ok, total, still, n))
    return 0


def request(addr, pairs):
    try:
        s = connect(addr)
    except OSError as e:
        print('connect failed: %s' % e.strerror)
        return 1
    body = b''.join(nv(*p.split('=', 1)) for p in pairs)
    s.sendall(begin() + record(PARAMS, body) + record(PARAMS) +
              record(STDIN))
    out = b''
    while True:
        h = s.recv(8, socket.MSG_WAITALL)
        if len(h) < 8:
            break
        _, rtype, _, clen, pad, _ = struct.unpack('>BBHHBB', h)
        data = s.recv(clen + pad, socket.MSG_WAITALL) if clen + pad else b''
        if rtype == STDOUT:
            out += data[:clen]
        if rtype == END:
            break
    s.close()
    print(out.split(b'\r\n', 1)[0].decode('latin-1'))
    return 0


def idle(addr, n, seconds):
    conns = []
    for _ in range(n):
        s = connect(addr)
        s.sendall(begin())
        s.setblocking(False)
        conns.append(s)
    start = time.monotonic()
    closed, last = set(), 0.0
    while len(closed) < n and time.monotonic() - start < seconds:
        for i, s in enumerate(conns):
            if i in closed:
                continue
            try:
                # An answer (a 404 to the half request) may come first.
                if s.recv(65536) == b'':
                    closed.add(i)
                    last = time.monotonic() - start
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i)
                last = time.monotonic() - start
        time.sleep(0.1)
    print('closed=%d of %d within %d s' % (len(closed), n, int(last + 0.999)))
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == 'request':
        return request(sys.argv[2], sys.argv[3:])
    if len(sys.argv) >= 5 and sys.argv[1] == 'keep':
        return keep(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                    sys.argv[5:])
    if len(sys.argv) == 5 and sys.argv[1] == 'idle':
        return idle(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
