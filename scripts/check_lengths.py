#!/usr/bin/env python3
"""check_lengths.py -- list the functions over 100 lines and the files over
700 lines under src/ (or the folders or files given); exit 1 if there are any.

    python3 scripts/check_lengths.py [--max-function N] [--max-file N] [PATH ...]

A function is counted from the first line of its declaration to its closing
brace.  The parse is a brace matcher on the text with comments, string and
character literals and preprocessor lines blanked, so a brace in any of those
is not counted; a top-level brace block whose head ends with ")" (and is not
an initialiser) is a function.  Long code should be split into named steps,
so a reader sees the algorithm (issue 17, item 3)."""
import argparse
import os
import re
import sys


def blank(text):
    """text with comments, string/char literals and preprocessor lines
    (with their continuations) replaced by spaces, newlines kept."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    out.append(" \n")
                    i += 2
                    continue
                out.append(" ")
                i += 1
            continue
        line_start = False
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "\n":
            line_start = True
        out.append(c)
        i += 1
    return "".join(out)


def functions(text):
    """(name, first line, last line) of each function definition."""
    code = blank(text)
    found = []
    depth = 0
    head_start = 0  # offset where the current top-level declaration begins
    open_at = None
    for i, c in enumerate(code):
        if c == "{":
            if depth == 0:
                open_at = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0 and open_at is not None:
                head = code[head_start:open_at]
                m = re.search(r"([A-Za-z_]\w*)\s*\(", head)
                if head.rstrip().endswith(")") and "=" not in head and m:
                    first = code.count("\n", 0, head_start + len(head) - len(head.lstrip()))
                    found.append((m.group(1), first + 1, code.count("\n", 0, i) + 1))
                head_start = i + 1
                open_at = None
        elif c == ";" and depth == 0:
            head_start = i + 1
    return found


def sources(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, _, files in os.walk(p):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.join(root, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-function", type=int, default=100)
    ap.add_argument("--max-file", type=int, default=700)
    ap.add_argument("paths", nargs="*")
    args = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    paths = args.paths or [os.path.join(root, "src")]
    bad = 0
    for path in sorted(sources(paths)):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        rel = os.path.relpath(path, root) if not args.paths else path
        lines = text.count("\n")
        if lines > args.max_file:
            print(f"{rel}: {lines} lines (file limit {args.max_file})")
            bad += 1
        for name, first, last in functions(text):
            if last - first + 1 > args.max_function:
                print(f"{rel}:{first}: {name}: {last - first + 1} lines "
                      f"(function limit {args.max_function})")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
