#!/usr/bin/env python3
"""Writes the small seed corpus in tests/fuzz/corpus/<target>/ (committed; rerun to refresh).

Inputs follow the targets' layouts: the IDX targets take 2 bytes little-endian k, the images
file (k bytes), then the labels file (see tests/fuzz/fuzz.h); idx_gz takes all that gzip'ed,
or plain (it then compresses both files itself).
Uses only the standard library."""
import gzip, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))

def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)

def pair(images, labels):
    return struct.pack("<H", len(images)) + images + labels

def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)

def npy(descr, shape, data, version=1):
    shape_txt = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_txt)
    prefix = 10 if version == 1 else 12
    pad = (64 - (prefix + len(d) + 1) % 64) % 64
    h = (d + " " * pad + "\n").encode()
    lenb = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + lenb + h + data

img = idx([3, 2, 2], range(0, 240, 20))
lab = idx([3], [0, 1, 9])
seeds = {
    "idx": {
        "pair": pair(img, lab),
        "pair-2d": pair(idx([2, 5], range(10)), idx([2], [3, 4])),
        "pair-gz": pair(gz(img), gz(lab)),
        "pair-1x1": pair(idx([1, 1, 1], [255]), idx([1], [7])),
    },
    "idx_gz": {
        "pair": gz(pair(img, lab)),
        "two-members": gz(pair(img, lab)[:10]) + gz(pair(img, lab)[10:]),
        "empty": gz(b""),
        "plain-pair": pair(img, lab),   # for the target's second way (it compresses)
        "plain-2d": pair(idx([2, 5], range(10)), idx([2], [3, 4])),
    },
    "npy": {
        "f32-v1": npy("<f4", [2, 3], struct.pack("<6f", 0, 1, -2, 3.5, 1e-40, -0.0)),
        "u8-v2": npy("|u1", [4], bytes([0, 1, 128, 255]), version=2),
        "scalar": npy("<f4", [], struct.pack("<f", 42)),
        "3d": npy("<f4", [1, 2, 2], struct.pack("<4f", 1, 2, 3, 4)),
        "empty": npy("|u1", [0], b""),
    },
    "csv": {
        "header": b"label,p0,p1,p2\n3,0,0.5,1\n7,1e-3,-2,255\n",
        "plain": b"1,2,3\n4,5,6\n",
        "crlf": b"\r\n0, 0.25 ,1E+2\r\n\r\n9,1,2\r\n",
        "one": b"5,0.125",
    },
}
for target, files in seeds.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
