#!/usr/bin/env python3
"""`make bench`'s replay section: replay against DuckDB's nearest equivalent
job, on the same generated input, in the same run.

Each round runs, one after the other (so that a noisy neighbour hits both
alike):

* ``firehose-enricher replay --input IN --out OUT`` (gzip, the default), the
  whole process timed;
* DuckDB's nearest equivalent, embedded, the query timed: read every file
  of IN (concatenated, newline-delimited and pretty-printed JSON, gzip or
  plain, bad records skipped), derive a date from the default TIME_FIELDS
  and a site from the URL's host, add them to each object, and write the
  objects as gzip JSON lines partitioned ``dt=…/site=…``.

DuckDB's job is the smaller one: its site is the host's last two labels (no
public suffix list), it reads four time shapes rather than all the
transform's, and it neither enriches further nor writes an error output.
DuckDB writes partitioned JSON only through its CSV writer (its JSON writer
takes no PARTITION_BY), so the line is one CSV column with a delimiter and
quote that never occur in JSON text.

Prints one JSON line per round, and their medians.

Usage:
    replay_duckdb.py --bin BIN --input DIR --work DIR [--rounds N] [--jobs N]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import duckdb

QUERY = """
COPY (
  WITH e AS (
    SELECT json AS j
    FROM read_json('{input}/**/*', format = 'auto', records = false, ignore_errors = true)
  ), t AS (
    SELECT j,
      coalesce(
        try_cast(j->>'timestamp' AS TIMESTAMPTZ),
        CASE WHEN try_cast(j->>'ts' AS BIGINT) > 100000000000
             THEN epoch_ms(try_cast(j->>'ts' AS BIGINT))
             ELSE to_timestamp(try_cast(j->>'ts' AS BIGINT)) END,
        try_strptime(j->>'time', '%a, %d %b %Y %H:%M:%S GMT'),
        try_cast(j->>'created_at' AS TIMESTAMP)
      ) AS event_time,
      lower(regexp_extract(coalesce(j->>'url', j->>'page_url'),
                           '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#@]+)', 1)) AS domain
    FROM e
  ), s AS (
    SELECT *, regexp_extract(domain, '[^.]+[.][^.]+$', 0) AS site FROM t
  )
  SELECT json_merge_patch(j, json_object(
           'event_time', strftime(event_time, '%Y-%m-%d %H:%M:%S.%g'),
           'domain', domain, 'site', site)) AS line,
         strftime(event_time, '%Y-%m-%d') AS dt, site
  FROM s
) TO '{out}' (FORMAT csv, HEADER false, DELIMITER '\x02', QUOTE '\x01', ESCAPE '\x01',
              COMPRESSION gzip, PARTITION_BY (dt, site))
"""


def run_replay(binary, input_dir, out, jobs):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [binary, "replay", "--input", input_dir, "--out", out]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    events = int(re.search(r"replayed (\d+) event", done.stdout).group(1))
    return seconds, events


def run_duckdb(input_dir, out):
    shutil.rmtree(out, ignore_errors=True)
    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    start = time.perf_counter()
    con.sql(QUERY.format(input=input_dir, out=out))
    seconds = time.perf_counter() - start
    threads = con.sql("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    return seconds, threads


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True, help="the firehose-enricher binary")
    p.add_argument("--input", required=True, help="the generated input folder")
    p.add_argument("--work", required=True, help="a scratch folder for both outputs")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=0, help="replay's --jobs (default: its own)")
    args = p.parse_args()

    replay_out = os.path.join(args.work, "replay-out")
    duckdb_out = os.path.join(args.work, "duckdb-out")
    rows = []
    for round_ in range(1, args.rounds + 1):
        replay_s, events = run_replay(args.bin, args.input, replay_out, args.jobs)
        duckdb_s, threads = run_duckdb(args.input, duckdb_out)
        row = {
            "round": round_,
            "events": events,
            "replay_jobs": args.jobs or len(os.sched_getaffinity(0)),
            "duckdb_threads": threads,
            "replay_s": round(replay_s, 3),
            "duckdb_s": round(duckdb_s, 3),
            "replay_events_per_s": round(events / replay_s),
            "duckdb_over_replay": round(duckdb_s / replay_s, 2),
        }
        rows.append(row)
        print("replay     " + json.dumps(row), flush=True)
    median = {
        "replay_s": round(statistics.median(r["replay_s"] for r in rows), 3),
        "duckdb_s": round(statistics.median(r["duckdb_s"] for r in rows), 3),
    }
    median["duckdb_over_replay"] = round(median["duckdb_s"] / median["replay_s"], 2)
    print("replay     " + json.dumps({"median": median}))
    shutil.rmtree(replay_out, ignore_errors=True)
    shutil.rmtree(duckdb_out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
