#!/usr/bin/env python3
"""A short training run of an example: the loss it prints must fall.

Runs EXAMPLE with its flags, requires exit status 0, and reads its progress
lines, "step N  loss X ..." (optionally "... acc A" on the same line).  It
fails unless there are at least three such lines, every loss is finite, and
the last loss is under RATIO times the first (default 0.75).  With
--acc-min A, the lines must also carry an accuracy and the last one must be
at least A.  The example's own exit check says the same; this reads what it
printed, so a program that exits 0 without learning still fails here.

usage: loss_falls.py [--ratio R] [--acc-min A] EXAMPLE [FLAG...]
"""
import math
import re
import subprocess
import sys

LINE = re.compile(r"^step\s+(\d+)\s+loss\s+(\S+)(?:.*?\bacc\s+(\S+))?")


def fail(msg, out=""):
    print("loss_falls: FAIL: " + msg)
    if out:
        print("---- output ----\n" + out)
    sys.exit(1)


def main(argv):
    ratio, acc_min = 0.75, None
    while argv and argv[0] in ("--ratio", "--acc-min"):
        if argv[0] == "--ratio":
            ratio = float(argv[1])
        else:
            acc_min = float(argv[1])
        argv = argv[2:]
    if not argv:
        fail("usage: loss_falls.py [--ratio R] [--acc-min A] EXAMPLE [FLAG...]")
    p = subprocess.run(argv, capture_output=True, text=True)
    out = p.stdout + p.stderr
    if p.returncode != 0:
        fail("%s exited %d" % (" ".join(argv), p.returncode), out)
    steps, losses, accs = [], [], []
    for line in p.stdout.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        steps.append(int(m.group(1)))
        losses.append(float(m.group(2)))
        if m.group(3) is not None:
            accs.append(float(m.group(3)))
    if len(losses) < 3:
        fail("fewer than 3 progress lines (step N  loss X)", out)
    if steps != sorted(steps):
        fail("steps out of order: %s" % steps, out)
    if not all(math.isfinite(x) for x in losses):
        fail("a loss is not finite: %s" % losses, out)
    if not losses[-1] < ratio * losses[0]:
        fail("the loss did not fall below %g of the first: %s" % (ratio, losses), out)
    if acc_min is not None:
        if len(accs) != len(losses):
            fail("not every progress line has an accuracy (acc A)", out)
        if not accs[-1] >= acc_min:
            fail("last accuracy %g under %g: %s" % (accs[-1], acc_min, accs), out)
    print("loss_falls: ok: loss %s%s" % (" -> ".join("%.4f" % x for x in losses),
          "; acc %s" % " -> ".join("%.4f" % a for a in accs) if accs else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
