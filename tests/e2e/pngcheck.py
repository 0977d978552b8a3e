#!/usr/bin/env python3
"""pngcheck.py - measures a PNG screenshot for tests/e2e/admin.sh, with
the standard library only (zlib, struct): no imaging package needed.

usage: pngcheck.py FILE [RRGGBB...]
Prints, one per line:
  size WIDTHxHEIGHT
  colours N            distinct colours
  nonwhite N           pixels that are not pure white
  colour RRGGBB N X0 Y0 X1 Y1   pixels of exactly that colour and their
                       bounding box (X0 = -1 when there are none)
Exits 1 if the file is not an 8-bit, non-interlaced RGB or RGBA PNG.
"""
import struct
import sys
import zlib


def decode(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + chunk) != struct.unpack(
                ">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise ValueError("bad CRC in " + kind.decode("latin-1"))
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace != 0:
        raise ValueError(f"unsupported PNG (depth {depth}, type {ctype})")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xff
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xff
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 0xff
            elif ftype != 0:
                raise ValueError(f"bad filter {ftype}")
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    try:
        width, height, bpp, rows = decode(sys.argv[1])
    except (OSError, ValueError, TypeError, zlib.error, struct.error) as e:
        print(f"pngcheck: {sys.argv[1]}: {e}", file=sys.stderr)
        return 1
    want = {bytes.fromhex(c): [0, -1, -1, -1, -1] for c in sys.argv[2:]}
    colours, nonwhite = set(), 0
    for y, row in enumerate(rows):
        for x in range(width):
            px = row[x * bpp:x * bpp + 3]
            colours.add(px)
            if px != b"\xff\xff\xff":
                nonwhite += 1
            w = want.get(px)
            if w is not None:
                if w[0] == 0:
                    w[1:] = [x, y, x, y]
                w[0] += 1
                w[1], w[2] = min(w[1], x), min(w[2], y)
                w[3], w[4] = max(w[3], x), max(w[4], y)
    print(f"size {width}x{height}")
    print(f"colours {len(colours)}")
    print(f"nonwhite {nonwhite}")
    for c, w in want.items():
        print("colour", c.hex(), *w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
