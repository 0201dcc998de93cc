"""tools/dashboard_cost.py: a one-day build reads that day's objects whole
in JSON (three days for sessions), and fewer bytes in Parquet."""

import os
import re
import subprocess
import sys

import athena_local
import dashboard
from pathlib import Path


def test_bytes_per_query_follow_the_partitions_read(demo_data, tmp_path):
    data, parquet = Path(demo_data), tmp_path / "parquet"
    athena_local.to_parquet(str(data), str(parquet))
    run = subprocess.run([sys.executable, os.path.join(dashboard.HERE, "dashboard_cost.py"), "--data", str(data),
                          "--day", "2026-11-24", "--parquet", str(parquet)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = {m[0]: (int(m[1]), float(m[2]), float(m[3]))
            for m in re.findall(r"^\| `(\w+)\.sql` \| (\d) \| ([\d.]+) MB \| ([\d.]+) MB \|$", run.stdout, re.M)}

    def size(day):
        root = data / "events" / f"dt={day}"
        return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e6

    assert rows["headline"][:2] == (1, round(size("2026-11-24"), 3))
    assert rows["sessions_summary"][:2] == (
        3, round(size("2026-11-23") + size("2026-11-24") + size("2026-11-25"), 3))
    assert rows["quality_failures"] == (1, 0.0, 0.0), "the demo's errors arrived on the day it was replayed"
    # The demo has no failed records in range and no bot traffic: those
    # panels read columns that hold nothing.
    assert all(0 < pq < js for name, (_, js, pq) in rows.items() if name not in ("quality_failures", "bots"))
    assert "billed as 110 MB" in run.stdout or "billed as 140 MB" in run.stdout
