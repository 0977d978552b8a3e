#!/bin/bash
# test_layers.sh - calls go one way, read from the object files of a build:
#   - file-level call graph: an undefined symbol of A.o that B.o defines
#     means A calls B (functions and data alike; static functions and
#     inline ones in headers are not seen, they never cross a file);
#   - no file calls a file that calls it back, over any number of steps:
#     every strongly connected component of more than one file fails, and
#     one shortest cycle through each of its files is printed with the
#     symbols of each step;
#   - every call goes down the layer order
#         cli/, daemon/                (programs, top)
#         ca/cmp/, ca/status/          (CMP engine; CRLs and OCSP)
#         ca/issue/                    (what the CA signs)
#         ca/                          (the core)
#         hsm/, db/                    (PKCS#11; SQL)
#         lib/                         (if it appears: the very bottom)
#     a call may skip layers downwards; a call upwards fails, and so does a
#     call between two different folders of one layer (siblings are
#     separate concerns: neither knows the other);
#   - a library's headers are included by the one file that wraps it
#     (libcoap: daemon/coap_srv.c; libfcgi: daemon/fcgi.c; libpq:
#     db/db_int.h; libp11: hsm/hsm_int.h);
#   - every folder holding product sources has a place in that order, and
#     the build has an object for every product source, none older than
#     its source (else the graph would be incomplete or out of date: run
#     `make all`).
# tests/ (unit tests, tools, benchmark, fuzz targets) drives the layers and
# is not part of them.
#
# usage: tests/unit/test_layers.sh [--bin DIR]    (default build/rel; needs
# `make all` there, and nm and python3). Prints one line per check and
# "N passed, N failed"; exits 1 if any check failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=build/rel
while [ $# -gt 0 ]; do
	case $1 in
	--bin) bin=$2; shift 2 ;;
	*) echo "usage: tests/unit/test_layers.sh [--bin DIR]" >&2; exit 2 ;;
	esac
done
case $bin in /*) ;; *) bin=$top/$bin ;; esac

python3 - "$top" "$bin" <<'EOF'
import collections
import os
import re
import subprocess
import sys

top, bin_dir = sys.argv[1], sys.argv[2]
shown = os.path.relpath(bin_dir, top) if bin_dir.startswith(top + "/") \
    else bin_dir

# Folder -> rank: lower is higher up. A folder not listed here fails.
LAYERS = {
    "cli": 0, "daemon": 0,
    # The CMP client sends requests the engine's helpers protect and check
    # (headers, PBM, signatures); a future RA mode sits above both.
    "ca/client": 0.5,
    "ca/cmp": 1, "ca/status": 1,
    "ca/issue": 2,
    "ca": 3,
    "hsm": 4, "db": 4,
    "lib": 5,
}
SKIP = ("tests", "build", ".git")

npass = nfail = 0


def ok(name):
    global npass
    npass += 1
    print("ok   " + name)


def fail(name, why, details=()):
    global nfail
    nfail += 1
    print("FAIL %s: %s" % (name, why))
    for d in details:
        print("       " + d)


def folder(path):
    return os.path.dirname(path)


# The product sources: every .c outside tests/ (and the build).
sources = []
for root, dirs, files in os.walk(top):
    rel = os.path.relpath(root, top)
    dirs[:] = sorted(d for d in dirs
                     if (rel == "." and d not in SKIP) or
                     (rel != "." and not d.startswith(".")))
    for f in sorted(files):
        if f.endswith(".c"):
            sources.append(os.path.normpath(os.path.join(rel, f)))

if not sources:
    fail("product sources found", "no .c file outside tests/ in " + top)
    print("%d passed, %d failed" % (npass, nfail))
    sys.exit(1)

# 1. Every product folder has a layer.
folders = sorted(set(folder(s) for s in sources))
for d in folders:
    if d in LAYERS:
        ok("%s/ has a place in the layer order" % d)
    else:
        fail("%s/ has a place in the layer order" % d,
             "not in LAYERS of tests/unit/test_layers.sh: name the layer "
             "it belongs to (and docs/architecture.md's diagram)")

# 2. The objects of the build, one per product source.
missing, stale = [], []
for s in sources:
    obj = os.path.join(bin_dir, s[:-2] + ".o")
    if not os.path.isfile(obj):
        missing.append(s)
    elif os.path.getmtime(obj) < os.path.getmtime(os.path.join(top, s)):
        stale.append(s)
if missing or stale:
    fail("%s has an up-to-date object for every product source" % shown,
         "run make all: %d missing, %d older than their source: %s" %
         (len(missing), len(stale), " ".join(missing + stale)))
else:
    ok("%s has an up-to-date object for every product source (%d)" %
       (shown, len(sources)))

defs = collections.defaultdict(set)   # symbol -> files defining it
undef = collections.defaultdict(set)  # file -> symbols it needs
for s in sources:
    obj = os.path.join(bin_dir, s[:-2] + ".o")
    if not os.path.isfile(obj):
        continue
    p = subprocess.run(["nm", "-P", obj], capture_output=True, text=True)
    if p.returncode != 0:
        fail("nm reads " + obj, p.stderr.strip())
        continue
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        sym, kind = f[0], f[1]
        if kind in ("U", "w", "v"):
            undef[s].add(sym)
        elif kind.isupper():   # global: T, D, B, R, C, W, V, ...
            defs[sym].add(s)

edges = collections.defaultdict(lambda: collections.defaultdict(set))
for a, syms in undef.items():
    for sym in syms:
        for b in defs.get(sym, ()):
            if b != a:
                edges[a][b].add(sym)

nedges = sum(len(v) for v in edges.values())
if nedges == 0:
    fail("call graph read from the objects", "no call between files found")
else:
    ok("call graph read from the objects (%d files, %d file-to-file "
       "calls)" % (len(undef), nedges))


def step(a, b):
    syms = sorted(edges[a][b])
    more = " ..." if len(syms) > 4 else ""
    return "%s -> %s (%s%s)" % (a, b, ", ".join(syms[:4]), more)


# 3. Cycles: strongly connected components (Tarjan, iterative).
index, low, onstack, stack, sccs = {}, {}, set(), [], []
counter = 0
for root in sorted(set(undef) | set(edges)):
    if root in index:
        continue
    work = [(root, iter(sorted(edges[root])))]
    index[root] = low[root] = counter
    counter += 1
    stack.append(root)
    onstack.add(root)
    while work:
        v, it = work[-1]
        advanced = False
        for w in it:
            if w not in index:
                index[w] = low[w] = counter
                counter += 1
                stack.append(w)
                onstack.add(w)
                work.append((w, iter(sorted(edges[w]))))
                advanced = True
                break
            if w in onstack:
                low[v] = min(low[v], index[w])
        if advanced:
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                onstack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))


def shortest_cycle(v, comp):
    """One shortest cycle v -> ... -> v inside comp, as a list of files."""
    prev = {v: None}
    queue = collections.deque([v])
    while queue:
        u = queue.popleft()
        for w in sorted(edges[u]):
            if w not in comp:
                continue
            if w == v:
                path = [u]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [v]
            if w not in prev:
                prev[w] = u
                queue.append(w)
    return None


cycles_by_folder = collections.defaultdict(list)
for comp in sccs:
    cset = set(comp)
    seen = set()
    lines = ["files: " + " ".join(comp)]
    for v in comp:
        cyc = shortest_cycle(v, cset)
        if cyc is None:
            continue
        body = cyc[:-1]
        i = body.index(min(body))
        key = tuple(body[i:] + body[:i])
        if key in seen:
            continue
        seen.add(key)
        ring = list(key) + [key[0]]
        lines.append("cycle: " + "  ".join(step(ring[k], ring[k + 1])
                                           for k in range(len(ring) - 1)))
    for d in sorted(set(folder(f) for f in comp)):
        cycles_by_folder[d].append(lines)

for d in folders:
    name = "%s/: no file calls a file that calls it back" % d
    if cycles_by_folder[d]:
        details = []
        for lines in cycles_by_folder[d]:
            details.extend(lines)
        fail(name, "%d cycle(s) of files" % len(cycles_by_folder[d]),
             details)
    else:
        ok(name)

# 4. Layer order.
for d in folders:
    if d not in LAYERS:
        continue
    name = "%s/ calls only down the layer order" % d
    bad = []
    for a in sorted(edges):
        if folder(a) != d:
            continue
        for b in sorted(edges[a]):
            e = folder(b)
            if e == d or e not in LAYERS:
                continue
            if LAYERS[e] < LAYERS[d]:
                bad.append(step(a, b) + ": %s/ is above %s/" % (e, d))
            elif LAYERS[e] == LAYERS[d]:
                bad.append(step(a, b) + ": %s/ is a sibling of %s/ "
                           "(same layer)" % (e, d))
    if bad:
        fail(name, "%d call(s) against it" % len(bad), bad)
    else:
        ok(name)

# 5. A library's headers stay in the one file that wraps it, so its types
#    never cross into another file: libcoap in daemon/coap_srv.c (the
#    daemon side only), libfcgi in daemon/fcgi.c, libpq behind
#    db/db_int.h, libp11 behind hsm/hsm_int.h.
WRAPPED = [
    ("coap3/", ("daemon/coap_srv.c",)),
    ("fcgiapp.h", ("daemon/fcgi.c",)),
    ("fcgi_stdio.h", ("daemon/fcgi.c",)),
    ("libpq-fe.h", ("db/db_int.h",)),
    ("libp11.h", ("hsm/hsm_int.h",)),
]
inc_re = re.compile(r'^\s*#\s*include\s*<([^>]+)>', re.M)
headers = []
for root, dirs, files in os.walk(top):
    rel = os.path.relpath(root, top)
    dirs[:] = sorted(d for d in dirs
                     if (rel == "." and d not in SKIP) or
                     (rel != "." and not d.startswith(".")))
    headers += [os.path.normpath(os.path.join(rel, f))
                for f in sorted(files) if f.endswith(".h")]
includes = {}
for f in sources + headers:
    with open(os.path.join(top, f), errors="replace") as fh:
        includes[f] = inc_re.findall(fh.read())
for lib, homes in WRAPPED:
    name = "<%s> is included by %s only" % (lib, ", ".join(homes))
    bad = sorted(f for f, incs in includes.items() if f not in homes and
                 any(i.startswith(lib) for i in incs))
    if bad:
        fail(name, "%d other file(s) include it" % len(bad), bad)
    else:
        ok(name)

print("%d passed, %d failed" % (npass, nfail))
sys.exit(1 if nfail else 0)
EOF
