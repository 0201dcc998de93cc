"""Opens a page in headless Chromium (Debian's `chromium`) with no network:
what the page logged to the console, which requests it made, and its DOM
after its scripts ran."""

import json
import os
import subprocess
import tempfile

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    # Every host name fails to resolve: a page that needs the network breaks.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000",
]


def open_page(path, screenshot=None, size="1400,3000"):
    """(dom, console lines, urls the page requested) for the file at path."""
    with tempfile.TemporaryDirectory() as tmp:
        netlog = os.path.join(tmp, "net.json")
        args = [CHROMIUM, *FLAGS, f"--user-data-dir={os.path.join(tmp, 'profile')}", f"--log-net-log={netlog}"]
        if screenshot:
            args += ["--hide-scrollbars", f"--window-size={size}", f"--screenshot={screenshot}"]
        else:
            args += ["--dump-dom"]
        run = subprocess.run(args + [f"file://{os.path.abspath(path)}"], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
        return run.stdout, console, page_requests(netlog)


def page_requests(netlog):
    """The URLs of the requests the page started. The browser's own
    requests (update checks and the like, which the flags mostly stop)
    carry no page in their network isolation key; the page's carry file://."""
    with open(netlog, encoding="utf-8") as f:
        text = f.read()
    # Chromium may stop before closing the JSON array.
    if not text.rstrip().endswith("}"):
        text = text.rstrip().rstrip(",") + "]}"
    log = json.loads(text)
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] == start and "file://" in params.get("network_isolation_key", "") \
                and not params.get("url", "").startswith("file:"):
            urls.append(params["url"])
    return urls
