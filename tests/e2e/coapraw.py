#!/usr/bin/env python3
"""coapraw - send hand-made CoAP datagrams (RFC 7252) from one UDP socket,
for what libcoap's coap-client will not do: stop a block-wise transfer
half-way, send blocks out of order, a malformed datagram, an unknown
critical option. Used by tests/e2e/coap.sh.

usage: coapraw.py PORT [--peers N] REQUEST [+ REQUEST ...]
  --peers N            send the requests from N sockets (N peers), one
                       after the other (default 1)
  REQUEST is a list of options, the requests separated by a lone "+":
    --method N         request code (default 2, POST)
    --path P           Uri-Path, segments split at "/" (default
                       .well-known/cmp)
    --cf N             Content-Format (default 259; -1: none)
    --block1 N,M,SZX   Block1 option
    --block2 N,M,SZX   Block2 option
    --rtag HEX         Request-Tag option
    --size1 N          Size1 option
    --opt NUM:HEX      any other option
    --data FILE        payload: the bytes of FILE, or with --block1 the
                       block N of size 2^(SZX+4) of it
    --fill N           payload: N bytes 0x30
    --raw HEX          send these bytes as they are, nothing else
    --again            send the previous request's datagram again, as
                       it was (same Message ID and token): a retransmission
    --non              a NON request (default CON)
    --no-wait          do not wait for an answer
Prints one line per request: "code=C.DD type=T" then the options as
"block1=N/M/SZ block2=... size1=N size2=N" and "len=N" (payload bytes);
"timeout" if nothing came within 3 s. Exit 0.
"""
import os
import socket
import struct
import sys

TYPES = {0: "CON", 1: "NON", 2: "ACK", 3: "RST"}
last = {"msg": None}


def opt_uint(v):
    if v == 0:
        return b""
    n = (v.bit_length() + 7) // 8
    return v.to_bytes(n, "big")


def ext(n):
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes([n - 13])
    return 14, struct.pack(">H", n - 269)


def encode(code, mid, token, opts, payload, typ):
    out = bytes([0x40 | typ << 4 | len(token), code]) + \
        struct.pack(">H", mid) + token
    last = 0
    for num, val in sorted(opts, key=lambda o: o[0]):
        d, de = ext(num - last)
        l, le = ext(len(val))
        out += bytes([d << 4 | l]) + de + le + val
        last = num
    if payload:
        out += b"\xff" + payload
    return out


def decode(d):
    if len(d) < 4:
        return "short"
    typ = (d[0] >> 4) & 3
    tkl = d[0] & 15
    code = d[1]
    i = 4 + tkl
    num = 0
    opts = []
    while i < len(d) and d[i] != 0xFF:
        b = d[i]
        i += 1
        dl, ll = b >> 4, b & 15
        for which in (0, 1):
            v = dl if which == 0 else ll
            if v == 13:
                v = d[i] + 13
                i += 1
            elif v == 14:
                v = struct.unpack(">H", d[i:i + 2])[0] + 269
                i += 2
            if which == 0:
                dl = v
            else:
                ll = v
        num += dl
        opts.append((num, d[i:i + ll]))
        i += ll
    payload = d[i + 1:] if i < len(d) else b""
    s = "code=%d.%02d type=%s" % (code >> 5, code & 31, TYPES[typ])
    for n, v in opts:
        iv = int.from_bytes(v, "big") if v else 0
        if n in (23, 27):
            s += " %s=%d/%d/%d" % ("block2" if n == 23 else "block1",
                                   iv >> 4, (iv >> 3) & 1, 16 << (iv & 7))
        elif n in (28, 60):
            s += " %s=%d" % ("size2" if n == 28 else "size1", iv)
        elif n == 12:
            s += " cf=%d" % iv
        elif n == 14:
            s += " max-age=%d" % iv
    return s + " len=%d" % len(payload)


def blk(s):
    n, m, szx = (int(x) for x in s.split(","))
    return n, m, szx, opt_uint(n << 4 | m << 3 | szx)


def one(sock, port, args, mid):
    method, path, cf = 2, ".well-known/cmp", 259
    opts, payload, raw, typ, wait = [], b"", None, 0, True
    again = False
    b1 = None
    data = None
    i = 0
    while i < len(args):
        a = args[i]
        v = args[i + 1] if i + 1 < len(args) else ""
        i += 2
        if a == "--method":
            method = int(v)
        elif a == "--path":
            path = v
        elif a == "--cf":
            cf = int(v)
        elif a == "--block1":
            b1 = blk(v)
            opts.append((27, b1[3]))
        elif a == "--block2":
            opts.append((23, blk(v)[3]))
        elif a == "--rtag":
            opts.append((292, bytes.fromhex(v)))
        elif a == "--size1":
            opts.append((60, opt_uint(int(v))))
        elif a == "--opt":
            n, h = v.split(":")
            opts.append((int(n), bytes.fromhex(h)))
        elif a == "--data":
            data = open(v, "rb").read()
        elif a == "--fill":
            payload = b"0" * int(v)
        elif a == "--raw":
            raw = bytes.fromhex(v)
        elif a == "--non":
            typ = 1
            i -= 1
        elif a == "--no-wait":
            wait = False
            i -= 1
        elif a == "--again":
            again = True
            i -= 1
        else:
            sys.exit("coapraw: unknown option " + a)
    if data is not None:
        if b1 is not None:
            size = 16 << b1[2]
            payload = data[b1[0] * size:(b1[0] + 1) * size]
        else:
            payload = data
    for seg in path.split("/") if path else []:
        opts.append((11, seg.encode()))
    if cf >= 0:
        opts.append((12, opt_uint(cf)))
    token = os.urandom(4)
    msg = raw if raw is not None else encode(method, mid, token, opts,
                                             payload, typ)
    if again:
        msg = last["msg"]
    last["msg"] = msg
    sock.sendto(msg, ("127.0.0.1", port))
    if not wait:
        print("sent")
        return
    while True:
        try:
            d, _ = sock.recvfrom(2048)
        except socket.timeout:
            print("timeout")
            return
        # Skip an empty ACK of a separate response; answer a CON.
        if len(d) >= 4 and d[1] == 0 and (d[0] >> 4) & 3 == 2:
            continue
        if len(d) >= 4 and (d[0] >> 4) & 3 == 0:
            sock.sendto(bytes([0x60, 0]) + d[2:4], ("127.0.0.1", port))
        print(decode(d))
        return


def main():
    port = int(sys.argv[1])
    argv = sys.argv[2:]
    peers = 1
    if argv[:1] == ["--peers"]:
        peers = int(argv[1])
        argv = argv[2:]
    reqs, cur = [], []
    for a in argv:
        if a == "+":
            reqs.append(cur)
            cur = []
        else:
            cur.append(a)
    reqs.append(cur)
    for _ in range(peers):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        mid = int.from_bytes(os.urandom(2), "big")
        for r in reqs:
            one(sock, port, r, mid)
            mid = (mid + 1) & 0xFFFF
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
