#!/usr/bin/env python3
"""What one dashboard build scans in Athena, worked out from a folder in the
bucket's layout: for each panel query of a one-day dashboard, the bytes
Athena would read and bill.

Athena bills the bytes it reads from S3, at least 10 MB per query. With the
partitions pruned (every panel query pins dt, and site where it must), a
query reads only the objects of the days it names:

* JSON (the default output): text has no columns to skip, so Athena reads
  every object of those partitions whole, as stored (gzip): the bytes are
  the objects' sizes;
* Parquet (`--parquet DIR`, the same data as `athena_local.py --to-parquet`
  writes it): Athena reads only the column chunks of the columns a query
  names: the bytes are those chunks' compressed sizes, from each file's
  footer (the footers themselves are not counted).

The one-day panels read that day; the sessions query reads the day before
and after too (sessions.sql). The errors query reads the errors of the day.

Usage:
    dashboard_cost.py --data DIR --day YYYY-MM-DD [--parquet DIR]
"""

import argparse
import datetime as dt
import glob
import os
import re
import sys

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard  # noqa: E402

PRICE_PER_TB = dashboard.PRICE_PER_TB
MIN_BILLED = dashboard.MIN_BILLED


def files(root, table, day, suffix=""):
    sub = os.path.join("events", f"dt={day}") if table == "events" else os.path.join(
        "errors", "processing-failed", f"dt={day}")
    return [p for p in glob.glob(os.path.join(root, sub, "**", "*" + suffix), recursive=True) if os.path.isfile(p)]


def parquet_bytes(paths, columns):
    """The compressed size of the named columns' chunks in these files."""
    if not paths:
        return 0
    con = duckdb.connect()
    names = ", ".join("'" + c + "'" for c in sorted(columns)) or "''"
    listing = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return con.sql(f"""
        SELECT coalesce(sum(total_compressed_size), 0)
        FROM parquet_metadata([{listing}])
        WHERE lower(split_part(path_in_schema, ',', 1)) IN ({names})
    """).fetchone()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the folder (JSON objects, as replay writes them)")
    parser.add_argument("--day", required=True, help="the dashboard's one day, YYYY-MM-DD")
    parser.add_argument("--parquet", help="the same data as Parquet (athena_local.py --to-parquet)")
    args = parser.parse_args()
    day = dt.date.fromisoformat(args.day)
    source = dashboard.DuckDBSource(args.data)
    options = dashboard.arguments(["--data", args.data, "--from", args.day, "--to", args.day])
    _, _, _, _, queries, notices = dashboard.plan(options, source)
    events_day = sum(os.path.getsize(p) for p in files(args.data, "events", args.day))
    rows = source.con.sql(f"SELECT count(*) FROM events WHERE dt = '{args.day}'").fetchone()[0]
    print(f"{args.day}: {rows:,} events in {events_day / 1e6:.2f} MB of gzip JSON objects")
    print()
    print("| query | days read | JSON (gzip) | Parquet (Snappy) |")
    print("|---|---|---|---|")
    totals = {"json": [], "parquet": []}
    for name, sql in queries.items():
        template = dashboard.read_query(f"{name}.sql")
        wide = "{{from_before}}" in template or "{{sessions}}" in template
        days = [day + dt.timedelta(days=d) for d in ((-1, 0, 1) if wide else (0,))]
        table = "errors" if re.search(r"\bFROM\s+errors\b", sql) else "events"
        json_bytes = sum(os.path.getsize(p) for d in days for p in files(args.data, table, d.isoformat()))
        totals["json"].append(json_bytes)
        cell = "n/a"
        if args.parquet:
            if table == "errors":
                pq = json_bytes  # Firehose writes errors as JSON in either mode
            else:
                named = set(re.findall(r"[a-z_][a-z0-9_]*", sql.lower())) & source.columns["events"]
                named -= {"dt", "site"}  # partition columns, from the folder names
                pq = parquet_bytes([p for d in days for p in files(args.parquet, "events", d.isoformat(), ".parquet")],
                                   named)
            totals["parquet"].append(pq)
            cell = f"{pq / 1e6:.3f} MB"
        print(f"| `{name}.sql` | {len(days)} | {json_bytes / 1e6:.3f} MB | {cell} |")
    for kind, values in totals.items():
        if not values:
            continue
        scanned = sum(values)
        billed = sum(max(v, MIN_BILLED) for v in values)
        print(f"\n{kind}: {len(values)} queries scan {scanned / 1e6:.2f} MB, billed as {billed / 1e6:.0f} MB "
              f"(10 MB minimum each): ${billed / 1e12 * PRICE_PER_TB:.5f} per build")
    if notices:
        print(f"\nnot run (columns missing): {', '.join(sorted(notices))}")


if __name__ == "__main__":
    main()
