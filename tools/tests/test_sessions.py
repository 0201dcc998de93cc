"""queries/dashboard/sessions.sql and sessions_summary.sql on DuckDB,
against sessions worked out by hand, including sessions that run over
midnight UTC, and so over two dt partitions, at both ends of the range."""

import datetime as dt

import pytest

import athena_local
import dashboard
from conftest import write_layout

# The range is 2026-11-21 to 2026-11-22. The day before and the day after
# hold the ends of sessions that cross midnight into or out of it.
FROM, TO = "2026-11-21", "2026-11-22"
n = 0


def pv(visitor, time, path, site="example.com", **extra):
    global n
    n += 1
    row = {"type": "page_view", "anonymous_id": visitor, "event_time": time, "event_time_source": "event",
           "site": site, "domain": f"www.{site}", "url": f"https://www.{site}{path}?utm_source=x",
           "channel": "Direct", "device_type": "desktop", "is_bot": False,
           "event_fingerprint": f"fp{n:04d}", "event_id": f"e{n:04d}"}
    row.update(extra)
    return row


ROWS = [
    # a: three page views 20 and exactly 30 minutes apart (one session),
    # then one 31 minutes later (a second, a bounce).
    pv("a", "2026-11-21 10:00:00.000", "/a", channel="Organic Search", referrer_source="Google",
       referrer_site="google.com"),
    pv("a", "2026-11-21 10:20:00.000", "/b"),
    pv("a", "2026-11-21 10:50:00.000", "/c"),
    pv("a", "2026-11-21 11:21:00.000", "/d", device_type="mobile"),
    # a's consent interaction in between is no page view.
    {"type": "consent", "anonymous_id": "a", "event_time": "2026-11-21 10:05:00.000", "site": "example.com",
     "action": "accept_all", "event_fingerprint": "fpc1", "is_bot": False},
    # b: over midnight, 23:50 to 00:10 (dt=2026-11-21 and dt=2026-11-22):
    # one session, on the 21st; b on another site is another session.
    pv("b", "2026-11-21 23:50:00.000", "/x", channel="Email"),
    pv("b", "2026-11-22 00:10:00.000", "/y"),
    pv("b", "2026-11-21 23:55:00.000", "/", site="bbc.co.uk"),
    # c: a session that starts the evening before the range and runs into
    # it is the 20th's, left out; c's next page view, 55 minutes on, starts
    # a session of the 21st.
    pv("c", "2026-11-20 23:45:00.000", "/early"),
    pv("c", "2026-11-21 00:05:00.000", "/early2"),
    pv("c", "2026-11-21 01:00:00.000", "/late"),
    # d: starts on the last day, runs into the day after: whole, the 22nd's.
    pv("d", "2026-11-22 23:40:00.000", "/d1"),
    pv("d", "2026-11-23 00:05:00.000", "/d2"),
    pv("d", "2026-11-23 00:20:00.000", "/d3"),
    # e: only after the range. A bot and a page view with no visitor count
    # in no session.
    pv("e", "2026-11-23 09:00:00.000", "/after"),
    pv("f", "2026-11-21 12:00:00.000", "/bot", is_bot=True),
    pv(None, "2026-11-21 12:00:00.000", "/anon"),
]

# (day, site, visitor, start, end, page views, duration, bounce, entry page,
# entry channel, entry referrer, device)
EXPECTED = [
    ("2026-11-21", "bbc.co.uk", "b", "2026-11-21 23:55:00", "2026-11-21 23:55:00", 1, 0, True,
     "https://www.bbc.co.uk/?utm_source=x", "Direct", None, "desktop"),
    ("2026-11-21", "example.com", "a", "2026-11-21 10:00:00", "2026-11-21 10:50:00", 3, 3000, False,
     "https://www.example.com/a?utm_source=x", "Organic Search", "Google", "desktop"),
    ("2026-11-21", "example.com", "a", "2026-11-21 11:21:00", "2026-11-21 11:21:00", 1, 0, True,
     "https://www.example.com/d?utm_source=x", "Direct", None, "mobile"),
    ("2026-11-21", "example.com", "b", "2026-11-21 23:50:00", "2026-11-22 00:10:00", 2, 1200, False,
     "https://www.example.com/x?utm_source=x", "Email", None, "desktop"),
    ("2026-11-21", "example.com", "c", "2026-11-21 01:00:00", "2026-11-21 01:00:00", 1, 0, True,
     "https://www.example.com/late?utm_source=x", "Direct", None, "desktop"),
    ("2026-11-22", "example.com", "d", "2026-11-22 23:40:00", "2026-11-23 00:20:00", 3, 2400, False,
     "https://www.example.com/d1?utm_source=x", "Direct", None, "desktop"),
]


def params(**over):
    p = {"from": f"'{FROM}'", "to": f"'{TO}'", "from_before": "'2026-11-20'", "to_after": "'2026-11-23'",
         "sites": "TRUE", "visitor": "anonymous_id", "bucket": "'day'", "top": "10"}
    p.update(over)
    return p


def sessions(con, p, columns):
    sql = dashboard.render(dashboard.read_query("sessions.sql"), p, columns)
    rel = con.sql(f"SELECT day, site, visitor, strftime(session_start, '%Y-%m-%d %H:%M:%S'), "
                  f"strftime(session_end, '%Y-%m-%d %H:%M:%S'), page_views, duration_s, bounce, entry_page, "
                  f"entry_channel, entry_referrer, device_type, country FROM ({sql}) "
                  f"ORDER BY day, site, visitor, session_start")
    return [tuple(r) for r in rel.fetchall()]


def columns_of(con):
    return {t: {r[0].lower() for r in con.sql(f"DESCRIBE {t}").fetchall()} for t in ("events", "errors")}


@pytest.mark.parametrize("layout", ["DateSite", "DateHour"])
def test_sessions_match_the_hand_computed_ones(tmp_path, layout):
    write_layout(tmp_path, ROWS, layout)
    con = athena_local.connect(str(tmp_path))
    got = sessions(con, params(), columns_of(con))
    assert [g[:-1] for g in got] == EXPECTED
    assert all(g[-1] is None for g in got), "no geo_country in the rows: country is NULL, not an error"


def test_a_site_list_narrows_the_sessions(tmp_path):
    write_layout(tmp_path, ROWS)
    con = athena_local.connect(str(tmp_path))
    got = sessions(con, params(sites="site IN ('bbc.co.uk')"), columns_of(con))
    assert [g[:3] for g in got] == [("2026-11-21", "bbc.co.uk", "b")]


def test_the_visitor_field_is_configurable(tmp_path):
    # With event_id as the visitor every page view is a session of its own:
    # the 11 human page views with a time whose session starts in range
    # (the page view with no anonymous_id has an event_id, so it counts).
    write_layout(tmp_path, ROWS)
    con = athena_local.connect(str(tmp_path))
    got = sessions(con, params(visitor="event_id"), columns_of(con))
    assert len(got) == 11 and all(g[5] == 1 and g[7] for g in got)


def test_the_summary_per_day_and_for_the_range(tmp_path):
    write_layout(tmp_path, ROWS)
    con = athena_local.connect(str(tmp_path))
    sql = dashboard.render(dashboard.read_query("sessions_summary.sql"), params(), columns_of(con))
    rel = con.sql(sql)
    rows = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
    assert [(r["day"], r["sessions"], r["bounces"], r["page_views"], r["bounce_pct"], r["pages_per_session"])
            for r in rows] == [
        ("2026-11-21", 5, 3, 8, 60.0, 1.6),
        ("2026-11-22", 1, 0, 3, 0.0, 3.0),
        (None, 6, 3, 11, 50.0, 1.83),
    ]
    assert rows[1]["median_duration_s"] == 2400
    # durations 0, 0, 0, 1200, 2400, 3000: the lower middle one.
    assert rows[2]["median_duration_s"] == 0


def test_the_view_holds_the_same_sessions(tmp_path, capsys):
    # The view counts back from today: move the fixture so that its range
    # ends yesterday, and ask for 2 days.
    today = dt.datetime.now(dt.timezone.utc).date()
    shift = (today - dt.timedelta(days=1)) - dt.date.fromisoformat(TO)

    def moved(text):
        t = dt.datetime.fromisoformat(text) + shift
        return t.strftime("%Y-%m-%d %H:%M:%S") + text[19:]
    rows = [dict(r, event_time=moved(r["event_time"])) for r in ROWS]
    write_layout(tmp_path, rows)
    dashboard.main(["--sessions-view", "--days", "3"])
    view = capsys.readouterr().out
    con = athena_local.connect(str(tmp_path))
    con.execute(view)
    got = con.sql("SELECT day, site, visitor, page_views, duration_s FROM sessions "
                  "ORDER BY day, site, visitor, session_start").fetchall()
    # Three days up to today: the fixture's 21st to 23rd, so e's page view
    # on the 23rd is a session too; c's of the 20th stays out.
    want = sorted([(moved(e[0] + " 00:00:00")[:10], e[1], e[2], e[5], e[6]) for e in EXPECTED]
                  + [(moved("2026-11-23 00:00:00")[:10], "example.com", "e", 1, 0)])
    assert sorted(tuple(g) for g in got) == want


def test_the_committed_view_is_the_tool_output(capsys):
    dashboard.main(["--sessions-view", "--sites",
                    "alice.github.io,bbc.co.uk,example.com,example.com.au,unknown,www.gov.uk,xn--mnchen-3ya.de"])
    with open(f"{dashboard.ROOT}/queries/sessions_view.athena.sql", encoding="utf-8") as f:
        assert f.read() == capsys.readouterr().out, "rerun `make sessions-view`"
