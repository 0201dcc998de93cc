#!/usr/bin/env python3
"""Replaces a generated block of a docs page with standard input.

A block is the text between `<!-- NAME:begin … -->` and `<!-- NAME:end -->`;
the markers stay. `make docs-numbers` fills the measured numbers this way,
so that no number in docs/ is copied by hand.

Usage: COMMAND | docs_block.py FILE NAME
"""

import re
import sys


def main():
    path, name = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    pattern = re.compile(
        r"(<!-- %s:begin[^\n]*-->\n)(.*?)(<!-- %s:end -->)" % (re.escape(name), re.escape(name)),
        re.S,
    )
    body = sys.stdin.read()
    if not body.endswith("\n"):
        body += "\n"
    new, count = pattern.subn(lambda m: m.group(1) + body + m.group(3), text)
    if count != 1:
        sys.exit(f"docs_block: {path} has {count} `{name}` blocks, want 1")
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)


if __name__ == "__main__":
    main()
