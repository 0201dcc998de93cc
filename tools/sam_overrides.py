#!/usr/bin/env python3
"""Prints the template parameter overrides samconfig.toml holds, for
`--parameter-overrides`, so that `sam build` and `sam deploy` see the same.

`sam deploy --guided` saves its answers under [default.deploy.parameters],
which `sam build` never reads; the rust-cargolambda builder then builds for
the template's default Architecture whatever the stack was deployed with.
The Makefile passes this script's output to both commands. Overrides from
[default.global.parameters], then [default.build.parameters], then
[default.deploy.parameters] are merged, a later section winning per key.

Usage: sam_overrides.py [samconfig.toml]
"""

import shlex
import sys
import tomllib


def overrides(value):
    """`parameter_overrides` as samconfig holds it: a string of Key=Value
    tokens (values may be quoted) or a list of them."""
    tokens = value if isinstance(value, list) else shlex.split(value)
    pairs = {}
    for token in tokens:
        key, sep, val = token.partition("=")
        if not sep:
            sys.exit(f"sam_overrides: not Key=Value: {token!r}")
        pairs[key] = val
    return pairs


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "samconfig.toml"
    with open(path, "rb") as f:
        config = tomllib.load(f).get("default", {})
    merged = {}
    for section in ("global", "build", "deploy"):
        value = config.get(section, {}).get("parameters", {}).get("parameter_overrides")
        if value:
            merged.update(overrides(value))
    print(" ".join(shlex.quote(f"{k}={v}") for k, v in merged.items()))


if __name__ == "__main__":
    main()
