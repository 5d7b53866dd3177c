#!/usr/bin/env python3
"""--save / --load / --eval of a training example, end to end.

Trains the example briefly (--synthetic), saves its parameters, reloads them
in a fresh process with --eval and requires the same predictions (the digest
line of both runs); then reads the saved file with the reader below, written
from the safetensors format rules and sharing no code with the library's:

  - the first 8 bytes are N, the header's length, unsigned little-endian;
  - the next N bytes are a JSON object (UTF-8; trailing spaces allowed) mapping
    each tensor's name to {"dtype", "shape", "data_offsets": [begin, end]}, and
    optionally "__metadata__" (a string-to-string map);
  - offsets are relative to the byte after the header; end - begin is the
    element count times the dtype's size; the entries cover the data buffer
    exactly, without holes or overlaps, and the file ends where it does.

usage: save_load.py EXAMPLE [FLAG...] -- DTYPE NAME:SHAPE...
  (e.g. fashion_mlp --synthetic -- F32 fc1.weight:784x256 ...)
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

SIZES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I8": 1, "U8": 1, "I16": 2,
         "I32": 4, "I64": 8, "BOOL": 1}


def fail(msg):
    print("save_load: FAIL: " + msg)
    sys.exit(1)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        fail("%s exited %d:\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    lines = [l for l in p.stdout.splitlines() if ": predictions on " in l]
    if len(lines) != 1:
        fail("%s printed %d prediction lines:\n%s" % (" ".join(cmd), len(lines), p.stdout))
    return lines[0]


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("%s: shorter than the 8-byte header length" % path)
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        fail("%s: header length %d past the end of the file" % (path, n))
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        fail("%s: the header is not a JSON object" % path)
    data = blob[8 + n:]
    spans, tensors = [], {}
    for name, e in header.items():
        if name == "__metadata__":
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in e.items()):
                fail("__metadata__ is not a string map")
            continue
        dtype, shape, (b, end) = e["dtype"], e["shape"], e["data_offsets"]
        if dtype not in SIZES:
            fail("%s: unknown dtype %s" % (name, dtype))
        count = math.prod(shape) if shape else 1
        if end - b != count * SIZES[dtype]:
            fail("%s: %d bytes for %s %s" % (name, end - b, dtype, shape))
        spans.append((b, end, name))
        tensors[name] = (dtype, shape, data[b:end])
    pos = 0
    for b, end, name in sorted(spans):
        if b != pos:
            fail("%s: data starts at %d, expected %d (a hole or an overlap)" % (name, b, pos))
        pos = end
    if pos != len(data):
        fail("the entries cover %d of the %d data bytes" % (pos, len(data)))
    return tensors


def main():
    sep = sys.argv.index("--")
    exe, flags, dtype_want = sys.argv[1], sys.argv[2:sep], sys.argv[sep + 1]
    expected = {}
    for arg in sys.argv[sep + 2:]:
        name, shape = arg.split(":")
        expected[name] = [int(d) for d in shape.split("x")]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        trained = run([exe] + flags + ["--save", path])
        reloaded = run([exe] + flags + ["--load", path, "--eval"])
        if trained != reloaded:
            fail("predictions differ after reloading:\n  %s\n  %s" % (trained, reloaded))
        tensors = read_safetensors(path)
    if set(tensors) != set(expected):
        fail("names %s, expected %s" % (sorted(tensors), sorted(expected)))
    for name, shape in expected.items():
        dtype, got, raw = tensors[name]
        if got != shape or dtype != dtype_want:
            fail("%s: %s %s, expected %s %s" % (name, dtype, got, dtype_want, shape))
        code, size = ("f", 4) if dtype == "F32" else ("d", 8)
        values = struct.unpack("<%d%s" % (len(raw) // size, code), raw)
        if not all(math.isfinite(v) for v in values):
            fail("%s: a value is not finite" % name)
    print("save_load: %s: %d tensors saved, reloaded with identical predictions (%s)"
          % (os.path.basename(exe), len(tensors), trained.split(": ")[-1]))


main()
