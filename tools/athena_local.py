#!/usr/bin/env python3
"""Runs Athena-style SQL over a replayed folder, locally, with embedded DuckDB.

The folder stands in for the S3 bucket. Two views stand in for the Athena
tables, so that the files in queries/ run unchanged here and in Athena:

* ``events``: every object under ``events/``, newline-delimited JSON, gzip or
  plain, read with the columns and types of the template's Glue table (read
  from template.yaml, so the two cannot drift; other fields are ignored, as
  in Athena), the Hive partition folders (``dt=``, ``site=``, ``hour=``) as
  VARCHAR columns, and ``event_time`` and ``received_at`` typed TIMESTAMP;
* ``errors``: Firehose's error documents under ``errors/processing-failed/``,
  with ``dt`` from their folder.

Usage:
    athena_local.py --data DIR [--json] [--sql TEXT] [QUERY.sql ...]
"""

import argparse
import re
import glob
import json
import os
import sys

import duckdb


TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "template.yaml")
TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP", "int": "INTEGER", "bigint": "BIGINT",
         "double": "DOUBLE", "boolean": "BOOLEAN"}


def duckdb_type(athena):
    """An Athena type (`array<struct<a:bigint>>`) as DuckDB's (`STRUCT(a BIGINT)[]`)."""
    def parse(text, i):
        if text.startswith("array<", i):
            inner, i = parse(text, i + len("array<"))
            return f"{inner}[]", i + 1
        if text.startswith("struct<", i):
            i += len("struct<")
            members = []
            while True:
                colon = text.index(":", i)
                name = text[i:colon]
                kind, i = parse(text, colon + 1)
                members.append(f'"{name}" {kind}')
                i += 1
                if text[i - 1] == ">":
                    return f"STRUCT({', '.join(members)})", i
        end = i
        while end < len(text) and text[end] not in ",>":
            end += 1
        return TYPES.get(text[i:end].lower(), "VARCHAR"), end
    return parse(athena, 0)[0]


def table_columns():
    """The events table's columns, in order, from the template's Glue table."""
    with open(TEMPLATE, encoding="utf-8") as f:
        text = f.read()
    start = text.find("Columns:", text.find("EventsTable:"))
    if start < 0:
        sys.exit("athena_local: template.yaml has no EventsTable Columns")
    block = text[start:text.find("\n\n", start)]
    columns = {}
    for name, kind in re.findall(r'\{\s*Name:\s*(\w+),\s*Type:\s*"?([\w<>:,]+?)"?\s*\}', block):
        columns.setdefault(name, duckdb_type(kind))
    return columns


def partition_names(root):
    """The key=value folder names under root (dt, site, hour)."""
    names = set()
    for _, dirs, _ in os.walk(root):
        names.update(d.split("=", 1)[0] for d in dirs if "=" in d)
    return names


def has_files(pattern):
    return any(os.path.isfile(p) for p in glob.iglob(pattern, recursive=True))


def quote(text):
    return "'" + text.replace("'", "''") + "'"


def connect(data):
    con = duckdb.connect()
    # Athena reads and shows timestamps in UTC; so does this session.
    con.execute("SET TimeZone = 'UTC'")
    events = os.path.join(data, "events", "**", "*")
    if not has_files(events):
        sys.exit(f"athena_local: no objects under {os.path.join(data, 'events')}")
    # The table's columns minus the partition columns, whose values come from
    # the folders, as in Athena. Timestamps are read as text and cast, so a
    # malformed value fails loudly, as it does in Athena.
    partitions = partition_names(os.path.join(data, "events"))
    columns = {n: t for n, t in table_columns().items() if n not in partitions}
    read = ", ".join(f"{quote(n)}: {quote('VARCHAR' if t == 'TIMESTAMP' else t)}" for n, t in columns.items())
    select = ", ".join(f"CAST({n} AS TIMESTAMP) AS {n}" if t == "TIMESTAMP" else n for n, t in columns.items())
    # Partition columns stay strings (the template declares them `string`);
    # DuckDB would otherwise turn dt=2026-11-20 into a DATE.
    con.execute(
        f"""
        CREATE VIEW events AS
        SELECT {select}, {", ".join(sorted(partitions))}
        FROM read_json({quote(events)},
                       format = 'newline_delimited',
                       hive_partitioning = true,
                       hive_types_autocast = false,
                       columns = {{{read}}})
        """
    )
    errors = os.path.join(data, "errors", "processing-failed", "**", "*")
    if has_files(errors):
        con.execute(
            f"""
            CREATE VIEW errors AS
            SELECT * FROM read_json({quote(errors)},
                                    format = 'newline_delimited',
                                    hive_partitioning = true,
                                    hive_types_autocast = false,
                                    columns = {{
                                        'attemptsMade': 'INTEGER',
                                        'arrivalTimestamp': 'BIGINT',
                                        'errorCode': 'VARCHAR',
                                        'errorMessage': 'VARCHAR',
                                        'attemptEndingTimestamp': 'BIGINT',
                                        'rawData': 'VARCHAR',
                                        'lambdaArn': 'VARCHAR'}})
            """
        )
    else:
        con.execute(
            """
            CREATE VIEW errors AS
            SELECT NULL::INTEGER AS attemptsMade, NULL::BIGINT AS arrivalTimestamp,
                   NULL::VARCHAR AS errorCode, NULL::VARCHAR AS errorMessage,
                   NULL::BIGINT AS attemptEndingTimestamp, NULL::VARCHAR AS rawData,
                   NULL::VARCHAR AS lambdaArn, NULL::VARCHAR AS dt
            WHERE false
            """
        )
    return con


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the replayed folder (the bucket)")
    parser.add_argument("--json", action="store_true", help="print one JSON object: {name: {columns, types, rows}}")
    parser.add_argument("--sql", action="append", default=[], help="a query to run (repeatable)")
    parser.add_argument("files", nargs="*", help="query files, run unchanged")
    args = parser.parse_args()

    con = connect(args.data)
    queries = [(f"--sql {i + 1}", text) for i, text in enumerate(args.sql)]
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            queries.append((path, f.read()))

    results = {}
    for name, text in queries:
        relation = con.sql(text)
        if args.json:
            results[name] = {
                "columns": relation.columns,
                "types": [str(t) for t in relation.types],
                "rows": [[v if isinstance(v, (int, float, str, type(None))) else str(v) for v in row]
                         for row in relation.fetchall()],
            }
        else:
            print(f"-- {name}")
            relation.show(max_rows=60, max_width=160)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
