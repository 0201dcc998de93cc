"""Shared pieces of the dashboard tests (run by `make dashboard-test`)."""

import gzip
import json
import os
import sys

import pytest

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)


def write_layout(root, rows, layout="DateSite"):
    """Rows (dicts of table columns) as objects in the bucket's layout:
    events/dt=…/site=…/ (DateSite) or events/dt=…/hour=…/ (DateHour), the
    partition values taken from each row's UTC event_time and site, one
    gzip object per partition, as Firehose writes them."""
    objects = {}
    for row in rows:
        day, hour = row["event_time"][:10], row["event_time"][11:13]
        row = dict(row)
        if layout == "DateSite":
            folder = f"dt={day}/site={row.pop('site') or 'unknown'}"
        else:
            folder = f"dt={day}/hour={hour}"
        objects.setdefault(folder, []).append(row)
    for folder, members in objects.items():
        path = os.path.join(root, "events", folder, "fixture-1-0000.gz")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as f:
            for row in members:
                f.write(json.dumps(row) + "\n")


@pytest.fixture
def demo_data():
    """The demo folder `make dashboard-test` replays (DASHBOARD_DATA)."""
    data = os.environ.get("DASHBOARD_DATA")
    assert data and os.path.isdir(os.path.join(data, "events")), (
        "DASHBOARD_DATA names a replayed demo folder; run `make dashboard-test`")
    return data
