#!/usr/bin/env python3
"""Builds the dashboard: one self-contained HTML page from the panel queries
of queries/dashboard/, run by DuckDB over a local folder or by Athena.

Every panel is one SQL file in queries/dashboard/ and one line in PANELS
below. The files are Athena SQL. Locally they run through the same DuckDB
compatibility layer as `make demo` (tools/athena_local.py: an ``events`` and
an ``errors`` view over a folder laid out as the bucket); in AWS they run in
the stack's Athena workgroup over its Glue tables.

Placeholders in the files, filled in before a query runs:

* ``{{from}}``, ``{{to}}``: the first and last day of the range, quoted
  (``'2026-11-20'``), compared with ``dt``; ``{{from_before}}`` and
  ``{{to_after}}`` are the day before and the day after;
* ``{{sites}}``: ``site IN ('a', 'b')`` where the table needs its sites
  named (Athena's injected partition projection) or ``--sites`` names them,
  ``TRUE`` otherwise;
* ``{{visitor}}``: the visitor column (``--visitor``, default
  ``anonymous_id``); ``{{bucket}}``: ``'day'``, or ``'hour'`` for a range of
  three days or less; ``{{top}}``: the length of top-N lists;
* ``{{optional:COLUMN}}``: the column where the table has it,
  ``CAST(NULL AS VARCHAR)`` where it does not;
* ``{{sessions}}``: the sessions query (sessions.sql), for a query over
  sessions.

A ``-- requires: a, b, errors.c`` line names the columns a panel needs
(``events`` columns unless a table is named). A missing one makes the
panel say so in one line instead of running.

Usage:
    dashboard.py [--data DIR] [--out dashboard.html] [--from DAY] [--to DAY] ...
    dashboard.py --athena [--stack NAME | --workgroup W --database D] ...
    dashboard.py --sessions-view [--data DIR | --athena ...]
"""

import argparse
import datetime as dt
import html
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUERIES = os.path.join(ROOT, "queries", "dashboard")
sys.path.insert(0, HERE)


class Panel:
    """One panel: its query file, title and how its rows are drawn.

    kind: ``timeseries`` (first column the period, then the series),
    ``bars`` (text columns label a row, the first number is the bar),
    ``groups`` (the first column splits the rows into lists of bars),
    ``figures`` (one row of numbers), ``sessions`` (sessions_summary.sql).
    """

    def __init__(self, query, title, kind, note=""):
        self.query, self.title, self.kind, self.note = query, title, kind, note
        self.name = query[:-4]


PANELS = [
    Panel("traffic.sql", "Events and visitors", "timeseries"),
    Panel("top_sites.sql", "Top sites", "bars"),
    Panel("top_pages.sql", "Top pages", "bars"),
    Panel("channels.sql", "Channels", "bars"),
    Panel("referrers.sql", "Top referrers", "bars"),
    Panel("campaigns.sql", "Campaigns", "bars"),
    Panel("devices.sql", "Devices, browsers and operating systems", "groups"),
    Panel("countries.sql", "Countries", "bars"),
    Panel("consent.sql", "Consent rate by site", "bars"),
    Panel("bots.sql", "Bot share by category", "bars"),
    Panel("sessions_summary.sql", "Sessions", "sessions"),
    Panel("quality_failures.sql", "Data quality: failed records by reason", "bars"),
    Panel("quality_events.sql", "Data quality: delivered events", "figures"),
]
HEADLINE = "headline.sql"
SESSIONS = "sessions.sql"
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)(?::([A-Za-z_][A-Za-z0-9_]*))?\s*\}\}")
# Athena's price per TB scanned, with its 10 MB minimum per query, in the
# regions this project deploys to (eu-central-1, eu-west-1: $5.00).
PRICE_PER_TB = 5.0
MIN_BILLED = 10 * 1000 * 1000


def fail(message):
    sys.exit(f"dashboard: {message}")


def quote(text):
    return "'" + str(text).replace("'", "''") + "'"


def read_query(name):
    with open(os.path.join(QUERIES, name), encoding="utf-8") as f:
        return f.read()


def requirements(sql, visitor):
    """(table, column) pairs a query needs: its ``-- requires:`` line, and
    the visitor column where it uses one."""
    needs = []
    for line in re.findall(r"^--\s*requires:(.*)$", sql, re.M):
        for item in line.split(","):
            item = item.strip()
            if item:
                table, _, column = item.rpartition(".")
                needs.append((table or "events", column))
    if "{{visitor}}" in sql or "{{sessions}}" in sql:
        needs.append(("events", visitor))
    return needs


def render(sql, params, columns):
    """The query with its placeholders filled in (see the module's doc)."""
    def fill(match):
        name, arg = match.group(1), match.group(2)
        if name == "optional":
            return arg if arg.lower() in columns.get("events", set()) else "CAST(NULL AS VARCHAR)"
        if name == "sessions":
            return render(read_query(SESSIONS), params, columns)
        if name not in params:
            fail(f"unknown placeholder {{{{{name}}}}} in a query")
        return params[name]
    return PLACEHOLDER.sub(fill, sql)


def day_range(start, end):
    d = start
    while d <= end:
        yield d
        d += dt.timedelta(days=1)


# ------------------------------------------------------------------ sources
class DuckDBSource:
    """DuckDB over a folder in the bucket's layout, through athena_local."""

    def __init__(self, data):
        import athena_local
        if not os.path.isdir(os.path.join(data, "events")):
            fail(f"{data} has no events/ folder: run `make demo` first, or give --data a folder "
                 "that replay or serve wrote")
        self.data = data
        self.con = athena_local.connect(data)
        self.columns = {t: {r[0].lower() for r in self.con.sql(f"DESCRIBE {t}").fetchall()}
                        for t in ("events", "errors")}
        self.scanned = None

    def describe(self):
        return f"DuckDB over the folder {self.data}"

    def days(self):
        """The dt partitions under events/."""
        root = os.path.join(self.data, "events")
        return sorted(d[3:] for d in os.listdir(root) if d.startswith("dt=") and DAY.match(d[3:]))

    def sites_needed(self, start, end):
        """The site partitions in the range, or None when site is no
        partition (DuckDB needs no list, so TRUE is enough)."""
        return None

    def load(self, start, end):
        """Reads the range's partitions (and a day beside each end, for
        sessions) once into memory, where every query then finds them:
        each query over the view would parse the JSON objects again."""
        first, last = start - dt.timedelta(days=1), end + dt.timedelta(days=1)
        self.con.execute(f"CREATE TEMP TABLE range_events AS SELECT * FROM events "
                         f"WHERE dt BETWEEN {quote(first.isoformat())} AND {quote(last.isoformat())}")
        self.con.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM range_events")

    def run(self, queries):
        out = {}
        for name, sql in queries.items():
            try:
                relation = self.con.sql(sql)
            except Exception as e:  # DuckDB's errors have no common base
                fail(f"{name}: {e}")
            out[name] = {"columns": relation.columns,
                         "rows": [[plain(v) for v in row] for row in relation.fetchall()]}
        return out


def plain(value):
    """A DuckDB value as the text or number Athena's answer holds."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return float(value) if hasattr(value, "as_integer_ratio") else str(value)


class AthenaSource:
    """Athena over the stack's Glue tables, with the standard credential
    chain (environment, profile, SSO, instance role)."""

    def __init__(self, args):
        import boto3
        session = boto3.session.Session(region_name=args.region)
        self.region = session.region_name
        if not self.region:
            fail("no AWS region: set AWS_REGION or give --region")
        self.session = session
        outputs = {}
        if args.stack:
            cfn = session.client("cloudformation")
            try:
                stack = cfn.describe_stacks(StackName=args.stack)["Stacks"][0]
            except Exception as e:
                fail(f"cannot read the stack {args.stack}: {e}")
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        self.workgroup = args.workgroup or outputs.get("WorkGroup")
        self.database = args.database or outputs.get("DatabaseName")
        self.table = args.table or outputs.get("TableName") or "events"
        self.errors_table = outputs.get("ErrorsTableName") or "errors"
        self.bucket = outputs.get("BucketName")
        self.function = outputs.get("FunctionName")
        if not self.workgroup or not self.database:
            fail("Athena mode needs --stack (its WorkGroup and DatabaseName outputs) or --workgroup and --database")
        for name in (self.database, self.table, self.errors_table):
            if not IDENTIFIER.match(name):
                fail(f"{name!r} is not a Glue name this tool accepts (letters, digits, _)")
        self.athena = session.client("athena")
        glue = session.client("glue")
        self.tables = {}
        self.columns = {}
        for key, name in (("events", self.table), ("errors", self.errors_table)):
            try:
                table = glue.get_table(DatabaseName=self.database, Name=name)["Table"]
            except glue.exceptions.EntityNotFoundException:
                self.columns[key] = set()
                continue
            self.tables[key] = table
            cols = table.get("StorageDescriptor", {}).get("Columns", []) + table.get("PartitionKeys", [])
            self.columns[key] = {c["Name"].lower() for c in cols}
        if "events" not in self.tables:
            fail(f"the table {self.database}.{self.table} does not exist")
        self.scanned = {}

    def describe(self):
        return (f"Athena in {self.region}: workgroup {self.workgroup}, "
                f"table {self.database}.{self.table}")

    def days(self):
        return []

    def sites_needed(self, start, end):
        """The sites a query must name: for an injected site projection,
        the site folders the range has (listed in S3); for an enum, its
        values; None when site is no projected partition."""
        params = self.tables["events"].get("Parameters", {})
        kind = params.get("projection.site.type")
        if kind == "enum":
            return [s.strip() for s in params.get("projection.site.values", "").split(",") if s.strip()]
        if kind != "injected":
            return None
        template = params.get("storage.location.template", "")
        match = re.match(r"^s3://([^/]+)/(.*)\$\{dt\}/site=\$\{site\}/?$", template)
        if not match:
            fail(f"cannot list sites under {template!r}: give --sites")
        bucket, prefix = match.groups()
        s3 = self.session.client("s3")
        sites = set()
        for day in day_range(start, end):
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"{prefix}{day.isoformat()}/site=", Delimiter="/")
            for page in pages:
                for p in page.get("CommonPrefixes", []):
                    sites.add(p["Prefix"].rstrip("/").rsplit("site=", 1)[1])
        return sorted(sites)

    def reingested(self, start, end):
        """The function's Reingested and ReingestFailed metrics over the
        range, or None without the stack's FunctionName."""
        if not self.function:
            return None
        cw = self.session.client("cloudwatch")
        begin = dt.datetime.combine(start, dt.time(), dt.timezone.utc)
        finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        out = {}
        for metric in ("Reingested", "ReingestFailed"):
            points = cw.get_metric_statistics(
                Namespace="FirehoseEnricher", MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": self.function}],
                StartTime=begin, EndTime=finish, Period=86400, Statistics=["Sum"])["Datapoints"]
            out[metric] = int(sum(p["Sum"] for p in points))
        return out

    def run(self, queries, concurrency=5):
        """Runs the queries, at most `concurrency` at a time, in order."""
        pending = list(queries.items())
        running = {}
        out = {}
        while pending or running:
            while pending and len(running) < concurrency:
                name, sql = pending.pop(0)
                sql = aliased(sql, self.database, self.table)
                qid = self.athena.start_query_execution(
                    QueryString=sql,
                    QueryExecutionContext={"Database": self.database},
                    WorkGroup=self.workgroup)["QueryExecutionId"]
                running[qid] = name
            for qid, name in list(running.items()):
                ex = self.athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
                state = ex["Status"]["State"]
                if state in ("QUEUED", "RUNNING"):
                    time.sleep(0.1)
                    continue
                del running[qid]
                if state != "SUCCEEDED":
                    fail(f"{name}: Athena {state}: {ex['Status'].get('StateChangeReason', '')}")
                self.scanned[name] = ex.get("Statistics", {}).get("DataScannedInBytes", 0)
                out[name] = self.results(qid)
        return out

    def results(self, qid):
        columns, types, rows = None, None, []
        pages = self.athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid)
        for page in pages:
            rs = page["ResultSet"]
            if columns is None:
                info = rs.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                columns = [c["Name"] for c in info]
                types = [c["Type"].lower() for c in info]
                data = rs.get("Rows", [])[1:]  # the first row repeats the names
            else:
                data = rs.get("Rows", [])
            for row in data:
                rows.append([typed(cell.get("VarCharValue"), kind)
                             for cell, kind in zip(row["Data"], types)])
        return {"columns": columns or [], "rows": rows}


def aliased(sql, database, table):
    """The query reading `database.table` where it says `events`: the
    stack's TableName may be other than events. A common table expression
    named events stands in front of the query's own; Athena inlines it, so
    the partitions are pruned as before."""
    if table == "events":
        return sql
    source = f'events AS (SELECT * FROM "{database}"."{table}")'
    body = re.sub(r"^(\s*--[^\n]*\n)*", "", sql)
    if re.match(r"(?i)\s*WITH\s", body):
        return re.sub(r"(?i)^\s*WITH\s", f"WITH {source},\n", body, count=1)
    return f"WITH {source}\n{body}"


def typed(text, kind):
    """An Athena result cell (always text) as its type's value."""
    if text is None:
        return None
    if kind in ("tinyint", "smallint", "integer", "bigint"):
        return int(text)
    if kind in ("double", "real", "float") or kind.startswith("decimal"):
        return float(text)
    if kind == "boolean":
        return text == "true"
    if kind.startswith("timestamp"):
        return text[:19]
    return text


# ------------------------------------------------------------------ numbers
def number(v):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if v != int(v) else f"{int(v):,}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def duration(seconds):
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def megabytes(n):
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


def percent(column):
    """The unit of a column named ..._pct."""
    return " %" if column.endswith("_pct") and column else ""


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ------------------------------------------------------------------ drawing
E = html.escape
PALETTE = ["#2563eb", "#f97316", "#16a34a", "#9333ea"]


def svg_timeseries(columns, rows, periods, hourly):
    """A line chart: one line per numeric column, every period on the axis
    (periods without events at zero)."""
    series = [c for c in columns[1:]]
    by_period = {r[0][:13] if hourly else r[0][:10]: r[1:] for r in rows}
    values = [[(by_period.get(p) or [0] * len(series))[i] or 0 for p in periods] for i in range(len(series))]
    width, height, left, bottom, top = 940, 240, 56, 28, 12
    top_value = max([max(v) for v in values if v] + [1])
    scale = nice_ceiling(top_value)
    n = max(len(periods) - 1, 1)

    def x(i):
        return left + (width - left - 10) * i / n

    def y(v):
        return top + (height - top - bottom) * (1 - v / scale)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{E(", ".join(series))} per {"hour" if hourly else "day"}">']
    for k in range(5):
        v = scale * k / 4
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" class="tick" text-anchor="end">{number(int(v))}</text>')
    step = max(1, len(periods) // 8)
    for i, p in enumerate(periods):
        if i % step == 0:
            label = f"{p[5:10]} {p[11:13]}h" if hourly else p[5:]
            parts.append(f'<text x="{x(i):.1f}" y="{height - 8}" class="tick" text-anchor="middle">{E(label)}</text>')
    for s, name in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values[s]))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2" class="series"/>')
        for i, v in enumerate(values[s]):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}">'
                         f'<title>{E(periods[i])}: {number(v)} {E(name)}</title></circle>')
    parts.append("</svg>")
    legend = "".join(f'<span class="key"><i style="background:{PALETTE[s % len(PALETTE)]}"></i>{E(name.replace("_", " "))}</span>'
                     for s, name in enumerate(series))
    return f'<div class="legend">{legend}</div>' + "".join(parts)


def nice_ceiling(v):
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above v."""
    magnitude = 10 ** max(len(str(int(v))) - 1, 0)
    for f in (1, 2, 2.5, 5, 10):
        if f * magnitude >= v:
            return f * magnitude
    return 10 * magnitude


def svg_columns(labels, values, title):
    """A column chart, one column per label."""
    width, height, left, bottom, top = 940, 170, 56, 28, 10
    scale = nice_ceiling(max(values + [1]))
    slot = (width - left - 10) / max(len(values), 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{E(title)}">']
    for k in range(3):
        v = scale * k / 2
        yy = top + (height - top - bottom) * (1 - v / scale)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{yy + 4:.1f}" class="tick" text-anchor="end">{number(int(v))}</text>')
    step = max(1, len(labels) // 10)
    for i, (label, v) in enumerate(zip(labels, values)):
        h = (height - top - bottom) * v / scale
        xx = left + slot * i + slot * 0.15
        parts.append(f'<rect x="{xx:.1f}" y="{height - bottom - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{PALETTE[0]}">'
                     f'<title>{E(label)}: {number(v)}</title></rect>')
        if i % step == 0:
            parts.append(f'<text x="{xx + slot * 0.35:.1f}" y="{height - 8}" class="tick" text-anchor="middle">{E(label[5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bars_table(columns, rows):
    """Rows as a table: the text columns label each row, a bar stands for
    the first numeric column, every number is written out."""
    if not rows:
        return '<p class="empty">No rows in this range.</p>'
    numeric = [i for i, c in enumerate(columns) if any(is_number(r[i]) for r in rows)]
    text = [i for i in range(len(columns)) if i not in numeric]
    first = numeric[0] if numeric else None
    top_value = max([r[first] or 0 for r in rows] + [1]) if first is not None else 1
    head = "".join(f"<th>{E(columns[i].replace('_', ' '))}</th>" for i in text)
    head += '<th class="bar"></th>' if first is not None else ""
    head += "".join(f'<th class="num">{E(columns[i].replace("_", " "))}</th>' for i in numeric)
    body = []
    for r in rows:
        cells = "".join(f'<td class="label" title="{E(str(r[i]))}">{E(str(r[i]) if r[i] is not None else "–")}</td>' for i in text)
        if first is not None:
            w = 160 * (r[first] or 0) / top_value
            cells += (f'<td class="bar"><svg width="160" height="12" aria-hidden="true">'
                      f'<rect width="{w:.1f}" height="12" rx="2" fill="{PALETTE[0]}"/></svg></td>')
        cells += "".join(f'<td class="num">{number(r[i])}{percent(columns[i])}</td>' for i in numeric)
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="bars"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def figures(pairs):
    return '<div class="figures">' + "".join(
        f'<div class="figure"{attrs}><div class="value">{E(value)}</div><div class="name">{E(name)}</div></div>'
        for name, value, attrs in pairs) + "</div>"


def draw_panel(panel, result, context):
    columns, rows = result["columns"], result["rows"]
    if panel.kind == "timeseries":
        return svg_timeseries(columns, rows, context["periods"], context["hourly"])
    if panel.kind == "groups":
        groups = {}
        for r in rows:
            groups.setdefault(r[0], []).append(r[1:])
        if not groups:
            return '<p class="empty">No rows in this range.</p>'
        return '<div class="groups">' + "".join(
            f'<div><h3>{E(str(g).replace("_", " "))}</h3>{bars_table(columns[1:], rs[:context["top"]])}</div>'
            for g, rs in groups.items()) + "</div>"
    if panel.kind == "figures":
        if not rows:
            return '<p class="empty">No rows in this range.</p>'
        pairs = [(c.replace("_", " "), number(v) + percent(c), "") for c, v in zip(columns, rows[0])]
        return figures(pairs + context.get("extra_figures", {}).get(panel.name, []))
    if panel.kind == "sessions":
        days = [r for r in rows if r[0] is not None]
        total = next((r for r in rows if r[0] is None), None)
        named = dict(zip(columns, total)) if total else {}
        summary = figures([
            ("sessions", number(named.get("sessions") or 0), ""),
            ("bounce rate", f'{number(named.get("bounce_pct"))} %' if named.get("bounce_pct") is not None else "–", ""),
            ("median duration", duration(named.get("median_duration_s")), ""),
            ("pages per session", number(named.get("pages_per_session")), ""),
        ])
        by_day = {r[0]: r for r in days}
        labels = context["days"]
        chart = svg_columns(labels, [(by_day[d][1] if d in by_day else 0) for d in labels], "sessions per day")
        table_cols = ["day", "sessions", "bounce_pct", "median_duration_s", "pages_per_session"]
        idx = [columns.index(c) for c in table_cols]
        table = bars_table(table_cols, [[r[i] for i in idx] for r in days])
        return summary + '<h3>Sessions per day</h3>' + chart + f"<details><summary>Per day</summary>{table}</details>"
    return bars_table(columns, rows)


CSS = """
:root{color-scheme:light;--ink:#111827;--muted:#6b7280;--line:#e5e7eb;--card:#fff;--bg:#f3f4f6}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header{padding:20px 28px 8px}h1{font-size:22px;margin:0 0 4px}header p{margin:2px 0;color:var(--muted)}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:16px;padding:12px 28px 28px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;min-width:0}
section.wide{grid-column:1/-1}h2{font-size:15px;margin:0 0 10px}h3{font-size:13px;margin:10px 0 4px;color:var(--muted)}
.figures{display:flex;flex-wrap:wrap;gap:10px}.figure{flex:1 1 120px;border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.figure .value{font-size:22px;font-weight:600}.figure .name{color:var(--muted);font-size:12px}
.headline{padding:0 28px}.headline .figure{background:var(--card)}
.chart{width:100%;height:auto;display:block}.grid{stroke:var(--line)}.tick{fill:var(--muted);font-size:11px}
.legend{display:flex;gap:14px;font-size:12px;color:var(--muted);margin-bottom:4px}.key i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
table{border-collapse:collapse;width:100%;font-size:13px}th{font-weight:600;color:var(--muted);text-align:left;border-bottom:1px solid var(--line);padding:3px 6px}
td{padding:3px 6px;border-bottom:1px solid #f3f4f6}td.label{max-width:260px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.bar,th.bar{width:168px}
.groups{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:12px}.groups td.bar,.groups th.bar{width:90px}.groups svg{width:80px}
.notice{color:#92400e;background:#fffbeb;border:1px solid #fde68a;border-radius:6px;padding:6px 10px;margin:0}
.empty{color:var(--muted);margin:0}.note{color:var(--muted);font-size:12px;margin:8px 0 0}
footer{padding:0 28px 24px;color:var(--muted);font-size:12px}details summary{cursor:pointer;color:var(--muted);margin-top:8px}
"""


def page(context, headline, sections):
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Web analytics, {E(context["from"])} to {E(context["to"])}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>Web analytics</h1>
<p id="range">{E(context["from"])} to {E(context["to"])} (UTC), {E(context["granularity"])}; sites: {E(context["sites_text"])}</p>
<p id="source">Source: {E(context["source"])}</p>
</header>
<div class="headline">{headline}</div>
<main>
{"".join(sections)}
</main>
<footer>{E(context["footer"])}</footer>
</body>
</html>
"""


def section(panel, body, wide=False):
    return (f'<section class="panel{" wide" if wide else ""}" id="panel-{E(panel.name)}" data-panel="{E(panel.name)}">'
            f"<h2>{E(panel.title)}</h2>{body}</section>")


# ------------------------------------------------------------------ build
def parse_day(text, flag):
    if not DAY.match(text or ""):
        fail(f"{flag} takes a day as YYYY-MM-DD, not {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{flag} takes a day as YYYY-MM-DD, not {text!r}")


def date_range(args, source):
    if args.from_day and args.to_day:
        start, end = parse_day(args.from_day, "--from"), parse_day(args.to_day, "--to")
    elif isinstance(source, DuckDBSource) and not args.days:
        days = source.days()
        if not days:
            fail(f"no dt= partitions under {os.path.join(source.data, 'events')}")
        start = parse_day(args.from_day, "--from") if args.from_day else dt.date.fromisoformat(days[0])
        end = parse_day(args.to_day, "--to") if args.to_day else dt.date.fromisoformat(days[-1])
    else:
        end = parse_day(args.to_day, "--to") if args.to_day else dt.datetime.now(dt.timezone.utc).date()
        start = parse_day(args.from_day, "--from") if args.from_day else end - dt.timedelta(days=(args.days or 7) - 1)
    if start > end:
        fail(f"--from {start} is after --to {end}")
    return start, end


def parameters(args, source, start, end):
    visitor = args.visitor
    if not IDENTIFIER.match(visitor):
        fail(f"--visitor takes a column name (letters, digits, _), not {visitor!r}")
    if args.sites:
        sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    else:
        sites = source.sites_needed(start, end)
    if sites is not None and not sites:
        fail(f"no site partitions between {start} and {end}: nothing to show (or give --sites)")
    hourly = (end - start).days + 1 <= 3
    params = {
        "from": quote(start.isoformat()),
        "to": quote(end.isoformat()),
        "from_before": quote((start - dt.timedelta(days=1)).isoformat()),
        "to_after": quote((end + dt.timedelta(days=1)).isoformat()),
        "sites": "site IN (" + ", ".join(quote(s) for s in sites) + ")" if sites else "TRUE",
        "visitor": visitor,
        "bucket": quote("hour" if hourly else "day"),
        "top": str(args.top),
    }
    return params, sites, hourly


def plan(args, source):
    """The range, the sites, and the queries to run in order (name: SQL),
    with a one-line notice for each panel whose columns are missing."""
    start, end = date_range(args, source)
    params, sites, hourly = parameters(args, source, start, end)
    queries, notices = {}, {}
    for panel in [Panel(HEADLINE, "Headline", "figures")] + PANELS:
        sql = read_query(panel.query)
        missing = [(t, c) for t, c in requirements(sql, args.visitor) if c.lower() not in source.columns.get(t, set())]
        if missing:
            notices[panel.name] = notice(missing, source.columns)
            continue
        queries[panel.name] = render(sql, params, source.columns)
    return start, end, sites, hourly, queries, notices


def notice(missing, columns):
    """The one line a panel shows instead of its query."""
    table = missing[0][0]
    if not columns.get(table):
        return f"Not shown: there is no {table} table."
    names = [c for t, c in missing if t == table]
    return f"Not shown: the {table} table has no column{'s' if len(names) > 1 else ''} {', '.join(names)} yet."


def build(args):
    began = time.monotonic()
    source = AthenaSource(args) if args.athena else DuckDBSource(args.data)
    start, end, sites, hourly, queries, notices = plan(args, source)
    if isinstance(source, DuckDBSource):
        source.load(start, end)
    results = source.run(queries)

    if hourly:
        periods = [f"{d.isoformat()} {h:02d}" for d in day_range(start, end) for h in range(24)]
    else:
        periods = [d.isoformat() for d in day_range(start, end)]
    context = {
        "from": start.isoformat(), "to": end.isoformat(), "hourly": hourly,
        "granularity": "per hour" if hourly else "per day",
        "periods": periods, "days": [d.isoformat() for d in day_range(start, end)],
        "top": args.top, "source": source.describe(),
        "sites_text": ", ".join(sites) if sites else "all",
        "extra_figures": {},
    }
    reingest = source.reingested(start, end) if isinstance(source, AthenaSource) else None
    if reingest is not None:
        context["extra_figures"]["quality_events"] = [
            ("re-ingested (Reingested metric)", number(reingest["Reingested"]), ""),
            ("re-ingestion failed", number(reingest["ReingestFailed"]), "")]

    head = results.get("headline")
    sessions = results.get("sessions_summary")
    tops = results.get("top_sites")
    values = dict(zip(head["columns"], head["rows"][0])) if head and head["rows"] else {}
    total = next((dict(zip(sessions["columns"], r)) for r in sessions["rows"] if r[0] is None), {}) if sessions else {}
    top_site = tops["rows"][0] if tops and tops["rows"] else None
    headline = figures([
        ("events", number(values.get("events")), f' data-headline="events" data-value="{values.get("events")}"'),
        ("visitors", number(values.get("visitors")), f' data-headline="visitors" data-value="{values.get("visitors")}"'),
        ("page views", number(values.get("page_views")), f' data-headline="page_views" data-value="{values.get("page_views")}"'),
        ("sessions", number(total.get("sessions", 0)), f' data-headline="sessions" data-value="{total.get("sessions", 0)}"'),
        (f"page views on the top site, {top_site[0]}" if top_site else "top site", number(top_site[1]) if top_site else "–",
         f' data-headline="top_site" data-site="{E(str(top_site[0]))}" data-value="{top_site[1]}"' if top_site else ""),
        ("bot events (left out)", number(values.get("bot_events")), ""),
    ])

    sections = []
    for panel in PANELS:
        if panel.name in notices:
            body = f'<p class="notice">{E(notices[panel.name])}</p>'
        else:
            body = draw_panel(panel, results[panel.name], context)
        if panel.name == "quality_events" and reingest is None and isinstance(source, DuckDBSource):
            body += '<p class="note">Re-ingested records are counted by the function\'s Reingested metric in AWS; replay never re-ingests.</p>'
        sections.append(section(panel, body, wide=panel.kind in ("timeseries", "sessions", "groups")))

    took = time.monotonic() - began
    scanned = ""
    if isinstance(source, AthenaSource):
        total_bytes = sum(source.scanned.values())
        billed = sum(max(b, MIN_BILLED) for b in source.scanned.values())
        scanned = (f" Athena scanned {megabytes(total_bytes)} in {len(source.scanned)} queries; "
                   f"billed as {megabytes(billed)}, about ${billed / 1e12 * PRICE_PER_TB:.4f}.")
    context["footer"] = (f"Built {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC in {took:.1f} s "
                         f"from the queries in queries/dashboard/.{scanned} Bots are left out of every panel but "
                         f"the bot and data quality panels.")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(page(context, headline, sections))
    print(f"dashboard: wrote {args.out} ({start} to {end}, {len(queries)} queries, "
          f"{len(notices)} panels without their columns) in {took:.1f} s{scanned}", file=sys.stderr)
    if isinstance(source, AthenaSource):
        for name, b in source.scanned.items():
            print(f"  {name:<22} {b:>14,} bytes scanned", file=sys.stderr)


def sessions_view(args):
    """The Athena view over sessions.sql: the last --days days (default
    30) counted back from the day it is queried."""
    source = AthenaSource(args) if args.athena else None
    columns = source.columns if source else {"events": template_columns()}
    days = args.days or 30
    if args.sites:
        sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    elif source:
        today = dt.datetime.now(dt.timezone.utc).date()
        sites = source.sites_needed(today - dt.timedelta(days=days), today)
    else:
        sites = None
    if not IDENTIFIER.match(args.visitor):
        fail(f"--visitor takes a column name (letters, digits, _), not {args.visitor!r}")

    def back(n):
        return f"CAST(CAST(current_date - INTERVAL '{n}' DAY AS DATE) AS VARCHAR)" if n > 0 else \
            f"CAST(CAST(current_date + INTERVAL '{-n}' DAY AS DATE) AS VARCHAR)"
    params = {"from": back(days - 1), "to": back(0), "from_before": back(days), "to_after": back(-1),
              "sites": "site IN (" + ", ".join(quote(s) for s in sites) + ")" if sites else "TRUE",
              "visitor": args.visitor}
    body = render(read_query(SESSIONS), params, columns)
    body = re.sub(r"^(--[^\n]*\n)+\n?", "", body)
    print(f"""-- Athena: the sessions of the last {days} days (UTC, today included), one
-- row each, as queries/dashboard/sessions.sql defines them. Written by
-- `tools/dashboard.py --sessions-view{" --sites …" if sites else ""}`; rerun it for your table.
-- Reading it scans {days + 2} days of partitions, whatever the WHERE on the view.
CREATE OR REPLACE VIEW sessions AS
{body.rstrip()}""")


def template_columns():
    import athena_local
    return {c.lower() for c in athena_local.table_columns()} | {"dt", "site"}


def arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="demo-s3", help="locally: a folder in the bucket's layout (default demo-s3)")
    parser.add_argument("--athena", action="store_true", help="run in Athena instead, over the deployed tables")
    parser.add_argument("--stack", help="Athena: the stack whose outputs name the workgroup, database and tables")
    parser.add_argument("--workgroup", help="Athena: the workgroup (instead of the stack's)")
    parser.add_argument("--database", help="Athena: the Glue database (instead of the stack's)")
    parser.add_argument("--table", help="Athena: the events table (default the stack's, or events)")
    parser.add_argument("--region", help="Athena: the region (default from the environment or profile)")
    parser.add_argument("--from", dest="from_day", help="first day, YYYY-MM-DD (locally default the first dt partition)")
    parser.add_argument("--to", dest="to_day", help="last day, YYYY-MM-DD (locally default the last dt partition, in Athena today)")
    parser.add_argument("--days", type=int, help="the last DAYS days up to --to (Athena default 7)")
    parser.add_argument("--sites", help="only these sites, comma-separated (default every site in the range)")
    parser.add_argument("--visitor", default="anonymous_id", help="the column that identifies a visitor (default anonymous_id)")
    parser.add_argument("--top", type=int, default=10, help="rows in top-N lists (default 10)")
    parser.add_argument("--out", default="dashboard.html", help="the HTML file to write (default dashboard.html)")
    parser.add_argument("--sessions-view", action="store_true", help="print the Athena view over the sessions query and exit")
    args = parser.parse_args(argv)
    if args.stack or args.workgroup:
        args.athena = True
    if args.days is not None and args.days < 1:
        fail("--days takes a number of days, 1 or more")
    if args.top < 1:
        fail("--top takes a number of rows, 1 or more")
    if not IDENTIFIER.match(args.visitor):
        fail(f"--visitor takes a column name (letters, digits, _), not {args.visitor!r}")
    for flag, value in (("--from", args.from_day), ("--to", args.to_day)):
        if value is not None:
            parse_day(value, flag)
    if args.from_day and args.to_day and args.from_day > args.to_day:
        fail(f"--from {args.from_day} is after --to {args.to_day}")
    return args


def main(argv=None):
    args = arguments(argv)
    if args.sessions_view:
        sessions_view(args)
    else:
        build(args)


if __name__ == "__main__":
    main()
