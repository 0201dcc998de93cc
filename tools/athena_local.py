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

When the folder holds Parquet objects (``*.parquet``) under ``events/``, the
``events`` view reads those instead, with the types they carry.

``--to-parquet OUT`` writes the replayed folder as Firehose's record format
conversion would (``OutputFormat=Parquet``): each object under ``events/``
becomes one Snappy Parquet file at the same place under OUT, holding the
table's columns (minus the folder's partition columns) and nothing else,
keys matched to columns ignoring case, as the JSON SerDe does; ``errors/``
is copied as it is (Firehose writes errors as JSON in either mode).
Replay with ``COLUMNS`` set first, so that what the conversion would drop
is in ``extra``.

Usage:
    athena_local.py --data DIR [--json] [--sql TEXT] [QUERY.sql ...]
    athena_local.py --data DIR --to-parquet OUT
"""

import argparse
import glob
import gzip
import json
import os
import re
import shutil
import sys
import tempfile

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


def lowercase_keys(value):
    """A JSON value with every object key lowercased, at every depth: the
    JSON SerDe matches keys to columns and struct members ignoring case."""
    if isinstance(value, dict):
        return {k.lower(): lowercase_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lowercase_keys(v) for v in value]
    return value


def to_parquet(data, out):
    """The replayed folder `data` as Firehose's Parquet conversion writes it,
    into `out`. Returns the number of objects written."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    root = os.path.join(data, "events")
    partitions = partition_names(root)
    columns = {n: t for n, t in table_columns().items() if n not in partitions}
    read = ", ".join(f"{quote(n)}: {quote('VARCHAR' if t == 'TIMESTAMP' else t)}" for n, t in columns.items())
    select = ", ".join(f"CAST({n} AS TIMESTAMP) AS {n}" if t == "TIMESTAMP" else n for n, t in columns.items())
    written = 0
    for path in sorted(glob.glob(os.path.join(root, "**", "*"), recursive=True)):
        if not os.path.isfile(path):
            continue
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            rows = [lowercase_keys(json.loads(line)) for line in f if line.strip()]
        relative = os.path.relpath(path, data)
        target = os.path.join(out, re.sub(r"(\.gz)?$", ".parquet", relative, count=1))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as tmp:
            for row in rows:
                tmp.write(json.dumps(row) + "\n")
        try:
            # A value that does not convert to its column fails here, as it
            # fails the record's conversion in Firehose.
            con.execute(
                f"""
                COPY (SELECT {select}
                      FROM read_json({quote(tmp.name)}, format = 'newline_delimited', columns = {{{read}}}))
                TO {quote(target)} (FORMAT parquet, COMPRESSION snappy)
                """
            )
        finally:
            os.unlink(tmp.name)
        written += 1
    errors = os.path.join(data, "errors")
    if os.path.isdir(errors):
        shutil.copytree(errors, os.path.join(out, "errors"), dirs_exist_ok=True)
    return written


def connect(data):
    con = duckdb.connect()
    # Athena reads and shows timestamps in UTC; so does this session.
    con.execute("SET TimeZone = 'UTC'")
    # Athena's (Presto's) json_extract_scalar: a scalar's text, NULL for an
    # object or array. DuckDB has no function of that name.
    con.execute(
        """
        CREATE MACRO json_extract_scalar(j, p) AS
            CASE WHEN json_type(j, p) IN ('OBJECT', 'ARRAY') THEN NULL
                 ELSE json_extract_string(j, p) END
        """
    )
    # Athena's approx_percentile(x, p), a value of x at percentile p;
    # DuckDB's quantile_disc is the exact one.
    con.execute("CREATE MACRO approx_percentile(x, p) AS quantile_disc(x, p)")
    parquet = os.path.join(data, "events", "**", "*.parquet")
    if has_files(parquet):
        # Parquet carries its types; the partition columns come from the
        # folders and stay strings.
        con.execute(
            f"""
            CREATE VIEW events AS
            SELECT * FROM read_parquet({quote(parquet)},
                                       hive_partitioning = true,
                                       hive_types_autocast = false,
                                       union_by_name = true)
            """
        )
        add_errors(con, data)
        return con
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
    add_errors(con, data)
    return con


def add_errors(con, data):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the replayed folder (the bucket)")
    parser.add_argument("--json", action="store_true", help="print one JSON object: {name: {columns, types, rows}}")
    parser.add_argument("--sql", action="append", default=[], help="a query to run (repeatable)")
    parser.add_argument("--to-parquet", metavar="OUT", help="write the folder as Firehose's Parquet conversion would, into OUT")
    parser.add_argument("files", nargs="*", help="query files, run unchanged")
    args = parser.parse_args()

    if args.to_parquet:
        written = to_parquet(args.data, args.to_parquet)
        print(f"athena_local: {written} Parquet objects under {os.path.join(args.to_parquet, 'events')}", file=sys.stderr)
        return

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
