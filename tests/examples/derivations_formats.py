#!/usr/bin/env python3
"""The derivations table in its three formats, read back.

Runs DERIVATIONS (examples/derivations) as a teacher would and fails unless:
  - the default text table, --width 80, --markdown and --json all exit 0;
  - every line of the default table is under 120 columns, every line of
    --width 80 at most 80, and a bad width is refused (exit 2);
  - the JSON parses (python3 -m json.tool, then json.loads), its summary
    counts match its rows, every row names where it is evaluated, and every
    erratum carries its correction and the corrected value;
  - the rows the issue named are right at the element they name: seed 003
    eq 1 line 4 at its x (the printed formula's value and sigma'(x) there),
    and the worked example's 0.131 beside the true delta at x = -1.28;
  - the Markdown has one table per seed, the same number of rows as the
    JSON, and marks every erratum.

usage: derivations_formats.py DERIVATIONS
"""
import json
import math
import subprocess
import sys


def fail(msg, out=""):
    print("derivations_formats: FAIL: " + msg)
    if out:
        print("---- output ----\n" + out[:4000])
    sys.exit(1)


def run(exe, *args, expect=0):
    p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)
    if p.returncode != expect:
        fail(f"{' '.join(args) or '(no flags)'}: exit {p.returncode}, expected {expect}",
             p.stdout + p.stderr)
    return p.stdout


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def close(a, b, rel=1e-6):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def check_text(exe):
    out = run(exe)
    widest = max(len(line) for line in out.splitlines())
    if widest >= 120:
        fail(f"default table has a line of {widest} columns", out)
    out80 = run(exe, "--width", "80")
    widest = max(len(line) for line in out80.splitlines())
    if widest > 80:
        fail(f"--width 80 has a line of {widest} columns", out80)
    run(exe, "--width", "12", expect=2)
    for want in ("seed 000", "seed 004", "ERRATUM", "-> corrected:", "where:"):
        if want not in out:
            fail(f"default table lacks {want!r}", out)


def check_json(exe):
    out = run(exe, "--json")
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=out, capture_output=True,
                          text=True)
    if tool.returncode != 0:
        fail("python3 -m json.tool rejects the output: " + tool.stderr, out)
    doc = json.loads(out)
    rows, summ = doc["rows"], doc["summary"]
    verdicts = [r["verdict"] for r in rows]
    if summ["checks"] != len(rows) or summ["errata"] != verdicts.count("erratum") or \
            summ["approx"] != verdicts.count("approx") or summ["unexpected"] != 0:
        fail(f"summary {summ} does not match the rows")
    if sorted({r["seed"] for r in rows}) != [0, 1, 2, 3, 4]:
        fail("not every seed has rows")
    nets = {(s["seed"], n["name"]) for s in doc["seeds"] for n in s["nets"]}
    for r in rows:
        if not r["where"]:
            fail(f"row without a location: {r}")
        if r["net"] and (r["seed"], r["net"]) not in nets:
            fail(f"row names network {r['net']!r}, not listed for seed {r['seed']}")
        if not r["holds"]:
            fail(f"row does not hold: {r}")
        if r["verdict"] == "erratum":
            if not r["correction"] or r["corrected"] is None:
                fail(f"erratum without its correction: {r}")
            if not close(r["corrected"], r["autodiff"], 1e-9):
                fail(f"corrected value is not autodiff's at the same element: {r}")
    return rows


def check_named_rows(rows):
    line4 = [r for r in rows if r["seed"] == 3 and r["eq"] == "1 line 4"]
    if len(line4) != 1 or not line4[0]["where"].startswith("x="):
        fail(f"seed 003 eq 1 line 4: {line4}")
    r = line4[0]
    x = float(r["where"][2:])
    printed = -1.0 / (1.0 + math.exp(-x)) ** 2 * math.exp(-x)
    exact = sigmoid(x) * (1 - sigmoid(x))
    if not (close(r["hand"], printed) and close(r["autodiff"], exact)):
        fail(f"seed 003 line 4 at x = {x}: want printed {printed}, autodiff {exact}: {r}")
    ex = [r for r in rows if r["seed"] == 3 and "0.131" in r["what"] and r["verdict"] == "erratum"]
    if len(ex) != 1 or ex[0]["where"] != "x=-1.28":
        fail(f"seed 003 worked example 0.131: {ex}")
    s = sigmoid(-1.28)
    delta = (1 - s) * s * (1 - s)
    if not (ex[0]["hand"] == 0.131 and close(ex[0]["autodiff"], delta) and
            close(ex[0]["corrected"], delta)):
        fail(f"seed 003 worked example: want 0.131 beside {delta}: {ex[0]}")


def check_markdown(exe, n_rows, n_errata):
    out = run(exe, "--markdown")
    heads = [line for line in out.splitlines() if line.startswith("## Seed ")]
    if len(heads) != 5:
        fail(f"{len(heads)} seed sections in --markdown, expected 5", out)
    table = [line for line in out.splitlines() if line.startswith("| ")]
    body = [line for line in table if not line.startswith("| eq |")]
    if len(body) != n_rows:
        fail(f"--markdown has {len(body)} rows, the JSON {n_rows}", out)
    marked = sum("**erratum**" in line for line in body)
    if marked != n_errata:
        fail(f"--markdown marks {marked} errata, the JSON has {n_errata}", out)


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    exe = argv[1]
    check_text(exe)
    rows = check_json(exe)
    check_named_rows(rows)
    check_markdown(exe, len(rows), sum(r["verdict"] == "erratum" for r in rows))
    print(f"derivations_formats: ok ({len(rows)} rows in text, Markdown and JSON)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
