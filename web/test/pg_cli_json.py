#!/usr/bin/env python3
"""pg_cli_json.py PG_CLI -- the playground's JSON, without a browser: runs
the native build of web/playground.c on formulas of every kind and checks
each answer is strict JSON (no NaN) with the fields the page reads, the
explain events in order, gradients equal to the events' totals, the
gradient check passing, errors with a position, and the seed table with
seed 003's 0.131 erratum."""
import json
import subprocess
import sys

cli = sys.argv[1]
failures = 0


def check(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    failures += 0 if ok else 1


def strict(text):
    def bad(c):
        raise ValueError("not JSON: " + c)
    return json.loads(text, parse_constant=bad)


def run(*args):
    p = subprocess.run([cli, *args], capture_output=True, text=True)
    return p.returncode, p.stdout


GOOD = [
    ("sigmoid(w*x + b)", "w = 0.5; x = 2; b = -1"),
    ("z = W @ x + b\nsum(tanh(z))", "W = [[0.1, -0.2], [0.3, 0.4]]; x = [1, 2]; b = [0.1, -0.2]"),
    ("p = softmax(u)\nE = -sum(t * log(p))", "u = [0.5, -1, 2]; t = [0, 1, 0]"),
    ("h = sigmoid(x @ W)\nbce(h, t) + sse(h, t)", "x = [1, 0.5]; W = [[1, 2], [3, 4]]; t = [0, 1]"),
]
for formula, variables in GOOD:
    rc, out = run(formula, variables)
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 3, f"{formula!r}: three answers, exit 0")
    if len(lines) != 3:
        continue
    ev, bw, gc = (strict(x) for x in lines)
    check(ev["ok"] and {"output", "vars", "graph"} <= ev.keys(), "evaluate: output, vars, graph")
    names = {v["name"] for v in ev["graph"]["values"] if v["kind"] == "user"}
    check(names == {v["name"] for v in ev["vars"]}, f"the graph names the variables {sorted(names)}")
    events = bw["events"]
    check(events[0]["event"] == "begin" and events[-1] == {"event": "end", "steps": len(
        [e for e in events if e["event"] == "node"]), "status": "ok"}, "events: begin ... end ok")
    grads = {}
    for e in events:
        if e["event"] == "contrib":
            grads[e["in"]] = (e["total"] or e["contrib"])["values"]
    refs = {v["name"]: v["ref"] for v in bw["graph"]["values"] if v["kind"] == "user"}
    same = all(grads.get(refs[v["name"]]) == v["grad"]["values"] for v in bw["vars"])
    check(same, "each variable's .grad equals the last running total of the events")
    check(gc["ok"] and gc["gradcheck"]["status"] == "ok" and
          all(r["rel_err"] < 1e-6 for r in gc["rows"]), "gradient check: every element agrees")

rc, out = run("sigmoid(w*x +", "w = 1; x = 2")
ans = strict(out.splitlines()[0])
check(rc == 1 and not ans["ok"] and ans["col"] == 14 and ans["box"] == "formula",
      f"a bad formula: {ans}")
rc, out = run("w", "w = [1, [2]]")
ans = strict(out.splitlines()[0])
check(not ans["ok"] and ans["box"] == "variables" and ans["col"] == 9, f"bad variables: {ans}")
rc, out = run("w * [1, 2]", "w = 1")
bw = strict(out.splitlines()[1])
check(not bw["ok"] and "sum(...)" in bw["error"], f"a vector output: {bw['error']}")

rc, out = run("--seed-table")
table = strict(out)
rows = [r for r in table["rows"] if r["seed"] == 3 and "0.131" in r["what"]]
check(rc == 0 and len(rows) == 1 and rows[0]["verdict"] == "erratum" and
      abs(rows[0]["autodiff"] - 0.13319) < 1e-5, "the seed table: 003's 0.131 erratum")

sys.exit(1 if failures else 0)
