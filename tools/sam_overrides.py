#!/usr/bin/env python3
"""Prints the template parameter overrides samconfig.toml holds, for
`--parameter-overrides`, so that `sam build` and `sam deploy` see the same.

`sam deploy --guided` saves its answers under [default.deploy.parameters],
which `sam build` never reads; the rust-cargolambda builder then builds for
the template's default Architecture whatever the stack was deployed with.
The Makefile passes this script's output to both commands. Overrides from
[default.global.parameters], then [default.build.parameters], then
[default.deploy.parameters] are merged, a later section winning per key.

Architecture is always printed: samconfig's, else --default-architecture
(the Makefile's ARCH, arm64 unless set). Left out, `sam build` would build
for the template's default while `sam deploy` kept the stack's previous
value (UsePreviousValue), and every invocation would fail.

`--get KEY` prints one setting instead (stack_name, region), merged the
same way, or nothing.

Fails loudly (exit status 1, a message on stderr) rather than print
nothing: the Makefile stops instead of deploying without overrides. Reads
TOML with tomllib (Python 3.11 and later) or the tomli package.

Usage: sam_overrides.py [--default-architecture ARCH] [--get KEY] [samconfig.toml]
"""

import argparse
import shlex
import sys

try:
    import tomllib
except ImportError:  # Python before 3.11
    try:
        import tomli as tomllib
    except ImportError:
        sys.exit(
            "sam_overrides: reading samconfig.toml needs Python 3.11 or later "
            "(tomllib), or the tomli package; this is Python {}.{}. Run make with "
            "PYTHON=python3.11 (or later), or pip install tomli.".format(*sys.version_info[:2])
        )

SECTIONS = ("global", "build", "deploy")
ARCHITECTURES = ("arm64", "x86_64")


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", nargs="?", default="samconfig.toml")
    parser.add_argument("--default-architecture", default="arm64", choices=ARCHITECTURES)
    parser.add_argument("--get")
    args = parser.parse_args()
    try:
        with open(args.config, "rb") as f:
            config = tomllib.load(f).get("default", {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        sys.exit(f"sam_overrides: {args.config}: {e}")
    sections = [config.get(s, {}).get("parameters", {}) for s in SECTIONS]
    if args.get:
        value = ""
        for section in sections:
            value = section.get(args.get, value)
        print(value)
        return
    merged = {}
    for section in sections:
        value = section.get("parameter_overrides")
        if value:
            merged.update(overrides(value))
    merged.setdefault("Architecture", args.default_architecture)
    if merged["Architecture"] not in ARCHITECTURES:
        sys.exit(f"sam_overrides: Architecture={merged['Architecture']!r} is not one of {ARCHITECTURES}")
    print(" ".join(shlex.quote(f"{k}={v}") for k, v in merged.items()))


if __name__ == "__main__":
    main()
