#!/usr/bin/env python3
"""Checks the symbols libtapegrad.so exports (issue 17, item 4).

Usage: scripts/check_exports.py LIBTAPEGRAD_SO

Fails, listing them, when the shared library exports an internal tg__
symbol, or does not export a function the public headers declare, or
when a public declaration lacks TG_API (scripts/tg_api.py --check).
Symbols are read with `nm -D --defined-only`.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tg_api  # noqa: E402


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = subprocess.run(['nm', '-D', '--defined-only', argv[0]], check=True,
                         capture_output=True, text=True).stdout
    exported = {line.split()[-1] for line in out.splitlines() if line.strip()}
    declared = set()
    for path in tg_api.headers([]):
        with open(path) as f:
            declared |= {name for _, name, _ in tg_api.declarations(f.read())}
    problems = []
    internal = sorted(s for s in exported if s.startswith('tg__'))
    if internal:
        problems.append('%d internal symbols exported: %s' % (len(internal), ' '.join(internal)))
    hidden = sorted(declared - exported)
    if hidden:
        problems.append('%d public functions not exported: %s' % (len(hidden), ' '.join(hidden)))
    if tg_api.main(['--check']) != 0:
        problems.append('public declarations without TG_API (listed above)')
    for p in problems:
        print('check_exports: ' + p, file=sys.stderr)
    if not problems:
        print('check_exports: %d public functions exported, no tg__ symbol' % len(declared))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
