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
def ckpt(params, opt, norm, progress, fix=True, net=b"toy", flag=None):
    """A checkpoint as cr_ckpt_save writes it (cr.h), with fuzz_ckpt's flag byte in front
    (progress None: a 3-part file, as a program before that part wrote)."""
    import zlib
    shapes = b"0.weight:6:6;0.bias:1:1;"
    h = 0xcbf29ce484222325
    for c in shapes:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    parts = [(b"params", params), (b"opt", opt), (b"norm", norm)]
    if progress is not None:
        parts.append((b"progress", progress))
    hb = 104 + 40 * len(parts) + 16
    head = b"CRCKPT\r\n" + struct.pack("<II", 1, hb) + net.ljust(64, b"\0")
    head += struct.pack("<QQII", 37, h, len(parts), 0)
    for name, data in parts:
        head += name.ljust(32, b"\0") + struct.pack("<Q", len(data))
    payload = b"".join(d for _, d in parts)
    head += struct.pack("<QI", len(payload), zlib.crc32(payload))
    head += struct.pack("<I", zlib.crc32(head))
    return bytes([flag if flag is not None else 1 if fix else 0]) + head + payload

good_ckpt = ckpt(struct.pack("<37f", *[i * 0.5 - 3 for i in range(37)]), bytes(range(13)),
                 struct.pack("<2f", 0.13, 0.31), struct.pack("<4q", 3, 300, 1, 64), fix=False)
seeds["ckpt"] = {
    "good": good_ckpt,
    "good-fixcrc": b"\1" + good_ckpt[1:],
    "truncated": good_ckpt[:200],
    "trailing": good_ckpt + b"\0",
    "other-net": ckpt(bytes(148), bytes(13), bytes(8), bytes(32), fix=False, net=b"other"),
    "some-3parts": ckpt(struct.pack("<37f", *[i * 0.25 for i in range(37)]), bytes(range(13)),
                        struct.pack("<2f", 0.13, 0.31), None, flag=2),
    "some-4parts": b"\2" + good_ckpt[1:],
}
seeds["metrics"] = {
    "classifier": b"epoch,train_loss,valid_loss,valid_acc,seconds\n1,0.500000,0.250000,0.9000,1.500\n"
                  b"2,0.400000,0.200000,0.9500,1.250\n",
    "regressor-crlf": b"epoch,train_loss,valid_loss,valid_acc,seconds\r\n1,2.5,3.5,,0.1\r\n\r\n",
    "wide": b"epoch,train_loss,valid_loss,valid_acc,seconds\n1," + b"9" * 300 + b".5,-1e300,0.5,1e300\n",
    "header-only": b"epoch,train_loss,valid_loss,valid_acc,seconds\n",
    "bad-row": b"epoch,train_loss,valid_loss,valid_acc,seconds\n1,nan,0,0,0\n",
}
for target, files in seeds.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
