#!/usr/bin/env python3
"""abuse.py - the attacks of issue 33, for tests/e2e/abuse.sh and
scripts/bench: one process, asyncio, loopback only. Each mode runs for
--secs seconds and prints one line of key=value counts.

  mac    --conns N --body FILE: N connections from --addr, each POSTing
         FILE (a max-cost MAC request) to --path again as soon as it is
         answered; after a 429 or a refused connection it waits 0.5 s.
  slow   --conns N: N connections from --addr kept open by sending one
         byte every --every seconds: half send a request header that never
         ends, half a full header declaring a 256 KiB body that never
         comes. A connection the server closes is opened again.
  ocsp   --conns N --body FILE: N connections from each of --addrs
         (127.0.0.a-b) POSTing FILE to /ocsp in a loop.
  oracle --known FILE --unknown FILE --pairs N: sends the two requests
         alternately, one at a time, and prints the median and p90 time of
         each in ms (a known and an unknown senderKID, both with a wrong
         MAC: what an attacker would time), and the median of the paired
         differences (known minus unknown of the same pair) in ms and in
         per cent of the unknown median.
"""
import argparse
import asyncio
import statistics
import sys
import time


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["mac", "slow", "ocsp", "oracle"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--addr", default="127.0.0.2")
    p.add_argument("--addrs", default="2-9")
    p.add_argument("--path", default="/.well-known/cmp")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--secs", type=float, default=10)
    p.add_argument("--every", type=float, default=10)
    p.add_argument("--body")
    p.add_argument("--known")
    p.add_argument("--unknown")
    p.add_argument("--pairs", type=int, default=300)
    return p.parse_args()


def request(a, path, ctype, body):
    return (f"POST {path} HTTP/1.1\r\nHost: {a.host}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


async def post(a, src, raw):
    """One request on a new connection; the HTTP status, or 0."""
    try:
        r, w = await asyncio.open_connection(a.host, a.port,
                                             local_addr=(src, 0))
    except OSError:
        return 0
    try:
        w.write(raw)
        await w.drain()
        line = await r.readline()
        await r.read()
        parts = line.split()
        return int(parts[1]) if len(parts) > 1 else 0
    except (OSError, ValueError, asyncio.IncompleteReadError):
        return 0
    finally:
        w.close()


async def looper(a, src, raw, stop, counts):
    while time.monotonic() < stop:
        code = await post(a, src, raw)
        counts[code] = counts.get(code, 0) + 1
        if code != 200:
            await asyncio.sleep(0.5)


def report(mode, counts, extra=""):
    total = sum(counts.values())
    codes = " ".join(f"http{k}={v}" for k, v in sorted(counts.items()))
    print(f"{mode} sent={total} {codes}{extra}", flush=True)


async def mode_mac(a):
    raw = request(a, a.path, "application/pkixcmp", open(a.body, "rb").read())
    stop = time.monotonic() + a.secs
    counts = {}
    await asyncio.gather(*(looper(a, a.addr, raw, stop, counts)
                           for _ in range(a.conns)))
    report("mac", counts)


async def mode_ocsp(a):
    raw = request(a, "/ocsp", "application/ocsp-request",
                  open(a.body, "rb").read())
    lo, hi = (int(x) for x in a.addrs.split("-"))
    stop = time.monotonic() + a.secs
    counts = {}
    await asyncio.gather(*(looper(a, f"127.0.0.{i}", raw, stop, counts)
                           for i in range(lo, hi + 1)
                           for _ in range(a.conns)))
    report("ocsp", counts)


async def slow_one(a, n, stop, st):
    head = (f"POST {a.path} HTTP/1.1\r\nHost: {a.host}\r\n"
            "Content-Type: application/pkixcmp\r\n").encode()
    if n % 2:
        head += b"Content-Length: 262144\r\n\r\n"
    while time.monotonic() < stop:
        try:
            r, w = await asyncio.open_connection(a.host, a.port,
                                                 local_addr=(a.addr, 0))
        except OSError:
            st["refused"] += 1
            await asyncio.sleep(1)
            continue
        st["opened"] += 1
        try:
            w.write(head)
            await w.drain()
            while time.monotonic() < stop:
                # One byte, then wait; the server's close ends the read.
                try:
                    data = await asyncio.wait_for(r.read(4096), a.every)
                    if not data:
                        break
                    st["answered"] += 1
                    await asyncio.sleep(0.5)
                    break
                except asyncio.TimeoutError:
                    pass
                w.write(b"X" if n % 2 else b"x")
                await w.drain()
        except OSError:
            pass
        st["closed"] += 1
        w.close()


async def mode_slow(a):
    stop = time.monotonic() + a.secs
    st = {"opened": 0, "closed": 0, "answered": 0, "refused": 0}
    tasks = []
    for n in range(a.conns):
        tasks.append(asyncio.ensure_future(slow_one(a, n, stop, st)))
        if n % 100 == 99:
            await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    print("slow " + " ".join(f"{k}={v}" for k, v in st.items()), flush=True)


async def mode_oracle(a):
    known = request(a, a.path, "application/pkixcmp",
                    open(a.known, "rb").read())
    unknown = request(a, a.path, "application/pkixcmp",
                      open(a.unknown, "rb").read())
    tk, tu, diffs = [], [], []
    for i in range(a.pairs):
        got = {}
        for name, raw in (("k", known), ("u", unknown)) if i % 2 else \
                (("u", unknown), ("k", known)):
            t0 = time.monotonic()
            code = await post(a, "127.0.0.1", raw)
            if code == 200:
                got[name] = (time.monotonic() - t0) * 1000
        if len(got) == 2:
            tk.append(got["k"])
            tu.append(got["u"])
            diffs.append(got["k"] - got["u"])

    def q(v, p):
        return sorted(v)[int(len(v) * p)] if v else 0
    mk, mu = statistics.median(tk or [0]), statistics.median(tu or [0])
    # The paired difference: load from elsewhere on the host moves both
    # requests of a pair alike.
    md = statistics.median(diffs or [0])
    print(f"oracle pairs={a.pairs} complete={len(diffs)} "
          f"known_p50={mk:.3f} unknown_p50={mu:.3f} "
          f"known_p90={q(tk, .9):.3f} unknown_p90={q(tu, .9):.3f} "
          f"pair_diff_p50={md:.3f} "
          f"diff_pct={md / mu * 100 if mu else 0:.1f}", flush=True)


def main():
    a = parse()
    mode = {"mac": mode_mac, "slow": mode_slow, "ocsp": mode_ocsp,
            "oracle": mode_oracle}[a.mode]
    asyncio.run(mode(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
