"""The Athena mode against moto's server, as far as moto goes: the stack's
outputs (CloudFormation), the tables' columns and site projection (Glue),
the site folders (S3), the Reingested metric (CloudWatch), and Athena's
query calls. Moto runs no SQL: it answers each query with the next result
queued through its API, so the test queues what DuckDB answers to the same
SQL over the demo folder, and checks that Athena was sent exactly that SQL,
in the stack's workgroup and database, and that the page shows the answers."""

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import athena_local
import dashboard
from test_page import Dom

REGION = "eu-central-1"
ACCOUNT = "123456789012"
STACK = "firehose-enricher"
FROM, TO = "2026-11-23", "2026-11-26"
TYPES = {"BIGINT": "bigint", "HUGEINT": "bigint", "INTEGER": "integer", "DOUBLE": "double",
         "VARCHAR": "varchar", "BOOLEAN": "boolean", "TIMESTAMP": "timestamp", "DATE": "date"}


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory):
    """One moto server for the module (it takes seconds to start)."""
    server = os.environ.get("MOTO_SERVER")
    assert server and os.path.exists(server), "MOTO_SERVER names moto_server; run `make dashboard-test`"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        yield endpoint
    finally:
        # Werkzeug's server takes seconds to wind down on SIGTERM; it holds
        # nothing worth a clean exit.
        proc.kill()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def moto(moto_server, monkeypatch):
    """A fresh moto (its state reset) and the SDK's environment pointing
    at it, with test credentials."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))
    env = {"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


def deploy(demo_data, errors_table=True):
    """What the stack holds, in moto: the stack's outputs, the Glue tables
    (the template's columns, site as an injected projection), the workgroup,
    the bucket with the demo's objects, and a Reingested data point."""
    import boto3
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps({
        "Resources": {"DataBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "enricher-data"}}},
        "Outputs": {
            "WorkGroup": {"Value": STACK}, "DatabaseName": {"Value": "firehose_enricher"},
            "TableName": {"Value": "events"}, "ErrorsTableName": {"Value": "errors"},
            "BucketName": {"Value": {"Ref": "DataBucket"}}, "FunctionName": {"Value": "enricher-fn"}}}))
    s3 = boto3.client("s3")
    for folder, _, files in os.walk(demo_data):
        for name in files:
            path = os.path.join(folder, name)
            s3.upload_file(path, "enricher-data", os.path.relpath(path, demo_data))
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": "firehose_enricher"})
    columns = [{"Name": n, "Type": "string"} for n in athena_local.table_columns() if n != "site"]
    glue.create_table(DatabaseName="firehose_enricher", TableInput={
        "Name": "events", "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": "dt", "Type": "string"}, {"Name": "site", "Type": "string"}],
        "Parameters": {"projection.enabled": "true", "projection.dt.type": "date",
                       "projection.site.type": "injected",
                       "storage.location.template": "s3://enricher-data/events/dt=${dt}/site=${site}/"},
        "StorageDescriptor": {"Columns": columns, "Location": "s3://enricher-data/events/"}})
    if errors_table:
        glue.create_table(DatabaseName="firehose_enricher", TableInput={
            "Name": "errors", "PartitionKeys": [{"Name": "dt", "Type": "string"}],
            "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"} for c in (
                "attemptsmade", "arrivaltimestamp", "errorcode", "errormessage", "attemptendingtimestamp",
                "rawdata", "lambdaarn")]}})
    boto3.client("athena").create_work_group(Name=STACK, Configuration={
        "ResultConfiguration": {"OutputLocation": "s3://enricher-data/athena-results/"}})
    boto3.client("cloudwatch").put_metric_data(Namespace="FirehoseEnricher", MetricData=[
        {"MetricName": "Reingested", "Dimensions": [{"Name": "FunctionName", "Value": "enricher-fn"}],
         "Timestamp": dt.datetime(2026, 11, 24, 12, tzinfo=dt.timezone.utc), "Value": 7, "Unit": "Count"}])


def expected(demo_data, errors_table=True):
    """The queries the Athena mode must send, in order (the local plan with
    the sites named, as the injected projection needs), and DuckDB's
    answers to them in the shape of Athena's GetQueryResults."""
    sites = sorted({d[5:] for day in os.listdir(os.path.join(demo_data, "events"))
                    if FROM <= day[3:] <= TO
                    for d in os.listdir(os.path.join(demo_data, "events", day))})
    args = dashboard.arguments(["--data", demo_data, "--from", FROM, "--to", TO, "--sites", ",".join(sites)])
    source = dashboard.DuckDBSource(demo_data)
    if not errors_table:
        source.columns["errors"] = set()
    *_, queries, _ = dashboard.plan(args, source)
    results = []
    for sql in queries.values():
        rel = source.con.sql(sql)
        info = [{"Name": c, "Type": TYPES.get(str(t).split("(")[0], "varchar")} for c, t in zip(rel.columns, rel.types)]
        rows = [{"Data": [{"VarCharValue": c} for c in rel.columns]}]
        for row in rel.fetchall():
            rows.append({"Data": [athena_cell(v) for v in row]})
        results.append({"rows": rows, "column_info": info})
    return sites, queries, results, source.con


def athena_cell(v):
    if v is None:
        return {}
    if isinstance(v, bool):
        return {"VarCharValue": str(v).lower()}
    if isinstance(v, dt.datetime):
        return {"VarCharValue": v.strftime("%Y-%m-%d %H:%M:%S.") + f"{v.microsecond // 1000:03d}"}
    return {"VarCharValue": str(v)}


def run_tool(endpoint, out, *extra):
    return subprocess.run([sys.executable, os.path.join(dashboard.HERE, "dashboard.py"), "--stack", STACK,
                           "--from", FROM, "--to", TO, "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))


def sent_queries():
    import boto3
    athena = boto3.client("athena")
    ids = athena.list_query_executions(WorkGroup=STACK)["QueryExecutionIds"]
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


def test_athena_mode_against_moto(moto, demo_data, tmp_path):
    deploy(demo_data)
    sites, queries, results, con = expected(demo_data)
    body = json.dumps({"account_id": ACCOUNT, "region": REGION, "results": results}).encode()
    req = urllib.request.Request(f"{moto}/moto-api/static/athena/query-results", data=body,
                                 headers={"Content-Type": "application/json"})
    assert urllib.request.urlopen(req).status == 201

    out = tmp_path / "dashboard.html"
    run = run_tool(moto, out)
    assert run.returncode == 0, run.stderr

    sent = sent_queries()
    assert sorted(q["Query"] for q in sent) == sorted(queries.values())
    assert all(q["QueryExecutionContext"]["Database"] == "firehose_enricher" for q in sent)
    assert all(f"site IN ({', '.join(dashboard.quote(s) for s in sites)})" in q["Query"]
               for q in sent if "FROM events" in q["Query"]), "the site folders of the range, from S3"
    assert len(sites) >= 5

    html = out.read_text()
    page = Dom()
    page.feed(html)
    assert f"Athena in {REGION}: workgroup {STACK}, table firehose_enricher.events" in html
    assert f"{FROM} to {TO} (UTC), per day" in html
    human = f"dt BETWEEN '{FROM}' AND '{TO}' AND NOT coalesce(is_bot, false)"
    events, visitors = con.sql(f"SELECT count(*), count(DISTINCT anonymous_id) FROM events WHERE {human}").fetchone()
    site, top = con.sql(f"SELECT site, count(*) FROM events WHERE type = 'page_view' AND {human} "
                        "GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchone()
    assert page.headline["events"]["data-value"] == str(events)
    assert page.headline["visitors"]["data-value"] == str(visitors)
    assert (page.headline["top_site"]["data-site"], page.headline["top_site"]["data-value"]) == (site, str(top))
    assert int(page.headline["sessions"]["data-value"]) > 0
    assert "re-ingested (Reingested metric)" in html and '<div class="value">7</div>' in html
    for name, panel in page.panels.items():
        # The demo has no failed records in range and no bot traffic.
        assert panel["notice"] or panel["svg"] or panel["figures"] or name in ("quality_failures", "bots"), name
    # The demo's failed records arrived on the day it was replayed, after
    # the range.
    assert page.panels["quality_failures"]["empty"] == 1
    assert "bytes scanned" in run.stderr


def test_a_missing_table_is_one_line(moto, demo_data, tmp_path):
    deploy(demo_data, errors_table=False)
    _, queries, results, _ = expected(demo_data, errors_table=False)
    assert "quality_failures" not in queries
    body = json.dumps({"account_id": ACCOUNT, "region": REGION, "results": results}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/static/athena/query-results", data=body,
                                                  headers={"Content-Type": "application/json"}))
    out = tmp_path / "dashboard.html"
    run = run_tool(moto, out)
    assert run.returncode == 0, run.stderr
    page = Dom()
    page.feed(out.read_text())
    assert page.panels["quality_failures"]["notice"] == "Not shown: there is no errors table."
    assert len(sent_queries()) == len(queries)


def test_a_stack_that_does_not_exist_is_named(moto, tmp_path):
    run = run_tool(moto, tmp_path / "x.html")
    assert run.returncode != 0 and f"cannot read the stack {STACK}" in run.stderr


def test_a_table_named_otherwise_is_read_where_the_queries_say_events(demo_data):
    # The stack's TableName need not be events: every panel query, those
    # with a WITH of their own included, reads the named table instead,
    # and answers as before (here on DuckDB, with the table in a schema).
    args = dashboard.arguments(["--data", demo_data, "--from", FROM, "--to", TO])
    source = dashboard.DuckDBSource(demo_data)
    *_, queries, _ = dashboard.plan(args, source)
    queries = {n: q for n, q in queries.items() if "FROM events" in q}
    assert any("\nWITH" in sql for sql in queries.values()), "sessions has a WITH of its own"
    want = {name: source.con.sql(sql).fetchall() for name, sql in queries.items()}
    source.con.execute("CREATE SCHEMA analytics")
    source.con.execute("CREATE TABLE analytics.web_events AS SELECT * FROM main.events")
    source.con.execute("DROP VIEW main.events")  # only the named table is left to read
    for name, sql in queries.items():
        renamed = dashboard.aliased(sql, "analytics", "web_events")
        assert renamed.startswith('WITH events AS (SELECT * FROM "analytics"."web_events")'), name
        assert source.con.sql(renamed).fetchall() == want[name], name
