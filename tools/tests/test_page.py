"""The dashboard of the demo data, opened in headless Chromium: no console
error, no request, every panel drawn, and the headline figures equal to the
same numbers asked of DuckDB directly (with a session count worked out here,
not by the SQL)."""

import datetime as dt
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

import athena_local
import dashboard
from browser import open_page


class Dom(HTMLParser):
    """Panels, their notices and drawings, and the headline figures."""

    def __init__(self):
        super().__init__()
        self.panels, self.headline, self.stack, self.text = {}, {}, [], {}
        self.current = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "data-panel" in a:
            self.current = a["data-panel"]
            self.panels[self.current] = {"svg": 0, "rows": 0, "notice": None, "figures": 0, "empty": 0}
        if "data-headline" in a:
            self.headline[a["data-headline"]] = a
        if self.current:
            p = self.panels[self.current]
            if tag in ("polyline", "rect"):
                p["svg"] += 1
            if tag == "tr":
                p["rows"] += 1
            if a.get("class") == "figure":
                p["figures"] += 1
            if a.get("class") == "empty":
                p["empty"] += 1
            if a.get("class") == "notice":
                p["notice"] = ""
                self.stack.append("notice")

    def handle_data(self, data):
        if self.stack and self.current:
            self.panels[self.current]["notice"] += data

    def handle_endtag(self, tag):
        if tag == "p" and self.stack:
            self.stack.pop()
        if tag == "section":
            self.current = None


def build(data, out, *extra):
    run = subprocess.run([sys.executable, os.path.join(dashboard.HERE, "dashboard.py"), "--data", data,
                          "--out", str(out), *extra], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stderr


def sessions_by_hand(rows, start, end, gap=dt.timedelta(minutes=30)):
    """Sessions per (site, visitor): a new one where more than gap passes;
    those that start between start and end (days, UTC)."""
    count, last = 0, {}
    for site, visitor, t in sorted(rows, key=lambda r: (r[0] or "", r[1], r[2])):
        key = (site, visitor)
        if key not in last or t - last[key] > gap:
            count += start <= t.date() <= end
        last[key] = t
    return count


def test_the_harness_sees_console_errors_and_requests(tmp_path):
    # The checks below must be able to fail: a page with a console error,
    # an image from a CDN and a fetch is caught on all three counts.
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><img src="https://cdn.example.org/a.png"><script>'
                    'console.error("boom"); fetch("http://127.0.0.1:9/x").catch(() => {});</script>')
    _, console, requests = open_page(page)
    assert any('"boom"' in line for line in console)
    assert "https://cdn.example.org/a.png" in requests and "http://127.0.0.1:9/x" in requests


def test_the_demo_dashboard_in_a_browser(demo_data, tmp_path):
    out = tmp_path / "dashboard.html"
    build(demo_data, out)
    dom, console, requests = open_page(out)
    assert console == [], console
    assert requests == [], requests

    page = Dom()
    page.feed(dom)
    assert list(page.panels) == [p.name for p in dashboard.PANELS], "every panel, in order"
    con = athena_local.connect(demo_data)
    have = {r[0] for r in con.sql("DESCRIBE events").fetchall()}
    for panel in dashboard.PANELS:
        p = page.panels[panel.name]
        needs = [c for t, c in dashboard.requirements(dashboard.read_query(panel.query), "anonymous_id")
                 if t == "events"]
        if any(c not in have for c in needs):
            # One line naming the missing column, and nothing else.
            assert p["notice"] and re.search(r"has no column \w+", p["notice"]), (panel.name, p)
            assert p["svg"] == 0 and p["rows"] == 0
        else:
            assert p["notice"] is None, (panel.name, p["notice"])
            if panel.name == "bots":
                # No demo event is a bot: the panel says it has nothing.
                assert p.get("empty") == 1, (panel.name, p)
            else:
                assert p["svg"] > 0 or p["figures"] > 0, (panel.name, p)

    # The range is the demo's dt partitions; the figures, asked directly.
    days = sorted(d[3:] for d in os.listdir(os.path.join(demo_data, "events")))
    assert f"{days[0]} to {days[-1]} (UTC)" in dom and "DuckDB over the folder" in dom
    human = "NOT coalesce(is_bot, false)"
    events, visitors = con.sql(f"SELECT count(*), count(DISTINCT anonymous_id) FROM events WHERE {human}").fetchone()
    site, top = con.sql(f"SELECT site, count(*) FROM events WHERE type = 'page_view' AND {human} "
                        "GROUP BY site ORDER BY 2 DESC LIMIT 1").fetchone()
    views = con.sql(f"SELECT site, anonymous_id, event_time FROM events WHERE type = 'page_view' AND {human} "
                    "AND anonymous_id IS NOT NULL AND event_time IS NOT NULL").fetchall()
    sessions = sessions_by_hand(views, dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1]))
    assert events > 5000 and visitors > 100 and sessions > 1000, "the demo's data"
    assert page.headline["events"]["data-value"] == str(events)
    assert page.headline["visitors"]["data-value"] == str(visitors)
    assert page.headline["sessions"]["data-value"] == str(sessions)
    assert page.headline["top_site"]["data-site"] == site
    assert page.headline["top_site"]["data-value"] == str(top)


def test_a_missing_column_is_one_line_not_a_failure(demo_data, tmp_path):
    out = tmp_path / "d.html"
    build(demo_data, out, "--visitor", "no_such_column", "--from", "2026-11-24", "--to", "2026-11-25")
    page = Dom()
    page.feed(out.read_text())
    for name in ("traffic", "top_sites", "sessions_summary"):
        assert page.panels[name]["notice"] == "Not shown: the events table has no column no_such_column yet."
    assert page.panels["quality_failures"]["notice"] is None
    assert "per hour" in out.read_text(), "two days are drawn per hour"


@pytest.mark.parametrize("args, message", [
    (["--from", "2026-13-01", "--to", "2026-12-02"], "--from takes a day as YYYY-MM-DD"),
    (["--from", "2026-11-25", "--to", "2026-11-24"], "is after --to"),
    (["--visitor", "a; DROP TABLE x"], "--visitor takes a column name"),
    (["--top", "0"], "--top takes a number"),
])
def test_bad_arguments_are_named(demo_data, tmp_path, args, message):
    run = subprocess.run([sys.executable, os.path.join(dashboard.HERE, "dashboard.py"), "--data", demo_data,
                          "--out", str(tmp_path / "x.html"), *args], capture_output=True, text=True)
    assert run.returncode != 0 and message in run.stderr, run.stderr
    assert not (tmp_path / "x.html").exists()


def test_sites_are_quoted_and_text_is_escaped(demo_data, tmp_path):
    # A site name with a quote cannot break out of its literal, and markup
    # in the data is shown as text.
    out = tmp_path / "d.html"
    build(demo_data, out, "--sites", "bbc.co.uk,x' OR '1'='1", "--from", "2026-11-24", "--to", "2026-11-24")
    text = out.read_text()
    page = Dom()
    page.feed(text)
    assert page.headline["top_site"]["data-site"] == "bbc.co.uk"
    assert "<script" not in text.lower()
    assert dashboard.quote("x' OR '1'='1") == "'x'' OR ''1''=''1'"
    assert dashboard.E('<img src=x onerror=alert(1)>') == "&lt;img src=x onerror=alert(1)&gt;"


def test_the_panels_that_wait_for_columns_draw_once_they_exist(tmp_path, monkeypatch):
    # geo_country, consent_status and bot_category come with their
    # enrichers: with them in the template's columns (as the registry will
    # put them), the three panels run and count.
    with open(athena_local.TEMPLATE, encoding="utf-8") as f:
        text = f.read()
    extra = "".join(f"\n              - {{ Name: {c}, Type: string }}"
                    for c in ("geo_country", "consent_status", "bot_category"))
    template = tmp_path / "template.yaml"
    template.write_text(text.replace("- { Name: is_bot, Type: boolean }", "- { Name: is_bot, Type: boolean }" + extra))
    monkeypatch.setattr(athena_local, "TEMPLATE", str(template))
    from conftest import write_layout

    def row(visitor, minute, **kw):
        r = {"type": "page_view", "anonymous_id": visitor, "event_time": f"2026-11-21 10:{minute:02d}:00.000",
             "site": "example.com", "url": "https://www.example.com/", "is_bot": False,
             "event_fingerprint": f"f{visitor}{minute}", "event_time_source": "event"}
        r.update(kw)
        return r
    write_layout(tmp_path / "data", [
        row("a", 1, geo_country="DE", consent_status="granted"),
        row("a", 2, geo_country="DE", consent_status="granted"),
        row("b", 3, geo_country="DE", consent_status="denied"),
        row("c", 4, geo_country="FR"),
        row("bot1", 5, is_bot=True, bot_category="search", geo_country="US"),
        row("bot2", 6, is_bot=True, bot_category="ai_crawler", geo_country="US"),
    ])
    out = tmp_path / "d.html"
    dashboard.main(["--data", str(tmp_path / "data"), "--out", str(out)])
    page = Dom()
    html = out.read_text()
    page.feed(html)
    for name in ("countries", "consent", "bots"):
        assert page.panels[name]["notice"] is None and page.panels[name]["svg"] > 0, name

    def cells(panel):
        section = re.search(rf'data-panel="{panel}">(.*?)</section>', html, re.S).group(1)
        return [re.findall(r"<td[^>]*>([^<]*)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", section)]
    # Bots left out of countries and consent; each bot category is one of
    # the six events.
    assert [c for c in cells("countries") if c] == [["DE", "3", "2"], ["FR", "1", "1"]]
    assert [c for c in cells("consent") if c] == [["example.com", "3", "2", "1", "0", "66.7 %"]]
    assert [c for c in cells("bots") if c] == [["ai_crawler", "1", "16.67 %"], ["search", "1", "16.67 %"]]
