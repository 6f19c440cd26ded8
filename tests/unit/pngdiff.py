#!/usr/bin/env python3
"""pngdiff.py A.png B.png MAX_FRACTION: compares two 8-bit grey PNGs
(pdftoppm -gray -png, which may write them as RGB) pixel by pixel. Exits 0 when they are the same size
and the share of pixels differing by more than a quarter of the grey range
is at most MAX_FRACTION (font hinting moves edges by a pixel or so from one
machine to the next; a changed layout moves whole lines). Standard library
only: a PNG reader for the one kind of file pdftoppm writes here."""
import struct
import sys
import zlib


def read_grey(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"pngdiff: {path}: not a PNG")
    pos, idat, w = 8, b"", None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (0, 2) or interlace != 0:
                sys.exit(f"pngdiff: {path}: not an 8-bit grey or RGB, non-interlaced PNG")
            bpp = 1 if colour == 0 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if w is None:
        sys.exit(f"pngdiff: {path}: no IHDR")
    raw = zlib.decompress(idat)
    rows, n = [], w * bpp
    prev, stride = bytearray(n), n + 1
    for y in range(h):
        ft, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for x in range(n):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line[::bpp])  # pdftoppm -gray: the channels are equal
        prev = line
    return w, h, rows


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: pngdiff.py A.png B.png MAX_FRACTION")
    wa, ha, a = read_grey(sys.argv[1])
    wb, hb, b = read_grey(sys.argv[2])
    if (wa, ha) != (wb, hb):
        print(f"pngdiff: sizes differ: {wa}x{ha} and {wb}x{hb}")
        return 1
    diff = sum(1 for ra, rb in zip(a, b) for pa, pb in zip(ra, rb) if abs(pa - pb) > 64)
    share = diff / (wa * ha)
    print(f"pngdiff: {diff} of {wa * ha} pixels differ ({share:.4%})")
    return 0 if share <= float(sys.argv[3]) else 1


sys.exit(main())
