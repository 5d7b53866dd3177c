#!/usr/bin/env python3
"""Adds TG_API to every function declared in the public headers.

Usage: scripts/tg_api.py [--check] [header...]
  (default: every include/tapegrad/*.h and include/tapegrad.h)

The shared library is built with -fvisibility=hidden: a public function
whose declaration lacks TG_API (include/tapegrad/export.h) is not exported.
Without --check, the script inserts "TG_API " before each declaration that
lacks it (idempotent: a second run changes nothing); run clang-format on
the headers afterwards.  With --check it changes nothing and fails, listing
each unannotated declaration as file:line: name.

A declaration is a file-scope tg_ identifier followed by its parameter
list, outside comments, strings, preprocessor lines and the C++ guards;
typedefs (function pointer types) and static inline helpers are not
declarations of the library's functions and are skipped.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blank(s):
    """s with comments, literals, preprocessor lines (and their
    continuations) and #ifdef __cplusplus blocks replaced by spaces, the
    newlines and so the offsets kept."""
    out = list(s)
    i, n = 0, len(s)
    line_start = True
    cpp_depth = 0

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != '\n':
                out[k] = ' '

    while i < n:
        if line_start:
            j = i
            while j < n and s[j] in ' \t':
                j += 1
            if j < n and s[j] == '#':
                d = s[j:j + 40]
                is_if = d.startswith('#if')
                if cpp_depth:
                    cpp_depth += 1 if is_if else -1 if d.startswith('#endif') else 0
                elif d.startswith('#ifdef __cplusplus'):
                    cpp_depth = 1
                e = j
                while e < n and not (s[e] == '\n' and s[e - 1] != '\\'):
                    e += 1
                wipe(i, e)
                i = e + 1
                continue
            if cpp_depth:
                e = s.find('\n', i)
                e = n if e < 0 else e
                wipe(i, e)
                i = e + 1
                continue
        c = s[i]
        line_start = c == '\n'
        if s.startswith('/*', i):
            e = s.find('*/', i + 2)
            e = n if e < 0 else e + 2
            wipe(i, e)
            i = e
        elif s.startswith('//', i):
            e = s.find('\n', i)
            e = n if e < 0 else e
            wipe(i, e)
            i = e
        elif c in '"\'':
            j = i + 1
            while j < n and s[j] != c:
                j += 2 if s[j] == '\\' else 1
            wipe(i, min(j + 1, n))
            i = j + 1
        else:
            i += 1
    return ''.join(out)


IDENT = re.compile(r'\btg_[A-Za-z0-9_]*\b')


def declarations(s):
    """(start offset, name, annotated) of each function declaration."""
    b = blank(s)
    found = []
    depth = 0  # braces and parentheses
    i = 0
    while i < len(b):
        c = b[i]
        if c in '{(':
            depth += 1
        elif c in '})':
            depth -= 1
        elif depth == 0 and (c == 't') and (i == 0 or not (b[i - 1].isalnum() or b[i - 1] == '_')):
            m = IDENT.match(b, i)
            if m:
                j = m.end()
                while j < len(b) and b[j] in ' \t\n':
                    j += 1
                if j < len(b) and b[j] == '(' and b[j + 1:].lstrip().startswith('*') is False:
                    # the declaration starts after the previous ; { or } at file scope
                    k = i
                    while k > 0 and b[k - 1] not in ';{}':
                        k -= 1
                    while k < i and b[k] in ' \t\n':
                        k += 1
                    head = b[k:i]
                    words = head.split()
                    if 'typedef' not in words and 'static' not in words:
                        found.append((k, m.group(0), 'TG_API' in words))
                i = m.end()
                continue
        i += 1
    return found


def headers(args):
    if args:
        return args
    return [os.path.join(ROOT, 'include', 'tapegrad.h')] + sorted(
        glob.glob(os.path.join(ROOT, 'include', 'tapegrad', '*.h')))


def main(argv):
    check = '--check' in argv
    files = headers([a for a in argv if a != '--check'])
    missing = []
    for path in files:
        with open(path) as f:
            s = f.read()
        todo = [d for d in declarations(s) if not d[2]]
        if check:
            for k, name, _ in todo:
                missing.append('%s:%d: %s' % (os.path.relpath(path, ROOT), s.count('\n', 0, k) + 1,
                                              name))
            continue
        for k, _, _ in sorted(todo, reverse=True):
            s = s[:k] + 'TG_API ' + s[k:]
        if todo:
            with open(path, 'w') as f:
                f.write(s)
            print('%s: %d declarations marked TG_API' % (os.path.relpath(path, ROOT), len(todo)))
    if check and missing:
        print('public functions declared without TG_API (run scripts/tg_api.py):', file=sys.stderr)
        for m in missing:
            print('  ' + m, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
