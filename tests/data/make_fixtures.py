#!/usr/bin/env python3
"""Writes the I/O test fixtures of tests/test_io.c with the Python standard
library only (json, struct, gzip), independently of tapegrad's writer, so the
suite reads files produced by another program.  Output is deterministic
(sorted keys, gzip mtime 0): rerunning reproduces the committed files.

    python3 tests/data/make_fixtures.py [outdir]   (default: this directory)

Files:
  py_tensors.safetensors  F32/F64 tensors incl. a 0-d and an empty one,
                          with __metadata__; the data is laid out in an
                          order different from the names' order.
  py_bf16.safetensors     a valid file holding a BF16 entry (tapegrad must
                          refuse it, naming the entry).
  images3x2x3.idx(.gz)    3 images of 2x3 unsigned bytes (magic 0x803).
  labels3.idx(.gz)        their 3 labels (magic 0x801).
The values are repeated in tests/test_io.c; change both together.
"""
import gzip
import json
import os
import struct
import sys

# name -> (dtype, shape, values); struct format per dtype, little-endian
TENSORS = {
    "layer1.weight": ("F32", [2, 3], [0.5, -1.25, 2.0, 3.5, -0.125, 0.001]),
    "layer1.bias": ("F64", [3], [1.0 / 3.0, -2.5, 1e10]),
    "scale": ("F64", [], [3.141592653589793]),
    "empty": ("F32", [0, 4], []),
    "conv.w": ("F64", [1, 1, 2, 2], [1e-300, -0.0, 7.25, -1e300]),
}
# The order of the data in the buffer (not the names' order).
LAYOUT = ["layer1.bias", "scale", "conv.w", "empty", "layer1.weight"]
FMT = {"F32": "<f", "F64": "<d", "BF16": "<H"}


def safetensors(tensors, layout, metadata):
    header, blob = {}, b""
    for name in layout:
        dtype, shape, values = tensors[name]
        data = b"".join(struct.pack(FMT[dtype], v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, sort_keys=True).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the buffer starts 8-aligned
    return struct.pack("<Q", len(text)) + text + blob


IMAGES = [  # 3 images of 2 rows x 3 columns
    [[0, 17, 255], [128, 1, 254]],
    [[3, 5, 7], [11, 13, 17]],
    [[200, 100, 50], [25, 12, 6]],
]
LABELS = [9, 0, 4]


def idx(magic_type, dims, values):
    return (struct.pack(">BBBB", 0, 0, magic_type, len(dims))
            + b"".join(struct.pack(">I", d) for d in dims) + bytes(values))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

    def write(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    write("py_tensors.safetensors",
          safetensors(TENSORS, LAYOUT, {"format": "pt", "writer": "make_fixtures.py"}))
    # 0x3f80 is bfloat16 1.0
    write("py_bf16.safetensors",
          safetensors({"a": ("F32", [1], [2.0]), "h": ("BF16", [2], [0x3F80, 0x4000])},
                      ["a", "h"], None))
    flat = [p for img in IMAGES for row in img for p in row]
    images = idx(0x08, [3, 2, 3], flat)
    labels = idx(0x08, [3], LABELS)
    write("images3x2x3.idx", images)
    write("labels3.idx", labels)
    write("images3x2x3.idx.gz", gzip.compress(images, mtime=0))
    write("labels3.idx.gz", gzip.compress(labels, mtime=0))


if __name__ == "__main__":
    main()
