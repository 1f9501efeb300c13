"""The HTML report in a real browser: headless Chromium (Debian's package) loads it offline,
no console error or uncaught exception may occur, every chart must draw, and a screenshot
must not be blank.

Chromium is driven over its DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages, NUL-terminated, on fds 3/4), so no extra package is needed and console errors are
caught as protocol events, not scraped from logs.
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from onnxbench.report import write_reports
from report_fixtures import make_run

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,2000", "--remote-debugging-pipe"]


class Browser:
    """Minimal DevTools-protocol client over Chromium's pipe."""

    def __init__(self, user_dir: Path):
        cmd_r, self._cmd_w = os.pipe()
        self._resp_r, resp_w = os.pipe()

        def _fds() -> None:  # chromium reads commands on fd 3 and answers on fd 4
            os.dup2(cmd_r, 3)
            os.dup2(resp_w, 4)

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={user_dir}",
                                      "about:blank"],
                                     preexec_fn=_fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(resp_w)
        self._buf, self._id, self.events, self.session = b"", 0, [], None

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _next(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._resp_r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._resp_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def wait_event(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._next(deadline))

    def pump(self, seconds: float) -> None:
        """Collect events for a while (late console errors, plot promises)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._next(deadline))
        except TimeoutError:
            pass

    def close(self) -> None:
        try:
            self.session = None
            self.send("Browser.close", timeout=10)
        except (OSError, RuntimeError, ValueError):  # chromium already gone or garbled
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def console_errors(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", "")))
                                for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(p["entry"].get("text", ""))
    return out


def load_page(path: Path, tmp: Path) -> tuple[list[str], dict, bytes]:
    """Open ``path`` offline; return (console errors, chart counts, screenshot PNG)."""
    b = Browser(tmp / "chromium-profile")
    try:
        page = next(t for t in b.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        b.session = b.send("Target.attachToTarget",
                           {"targetId": page["targetId"], "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            b.send(f"{domain}.enable")
        b.send("Network.enable")
        b.send("Network.emulateNetworkConditions", {"offline": True, "latency": 0,
                                                     "downloadThroughput": -1,
                                                     "uploadThroughput": -1})
        b.send("Page.navigate", {"url": path.resolve().as_uri()})
        b.wait_event("Page.loadEventFired", timeout=90)
        b.pump(1.5)
        expr = ("JSON.stringify({charts: document.querySelectorAll('.plotly-graph-div').length,"
                " drawn: document.querySelectorAll('.js-plotly-plot .main-svg .trace').length > 0 ?"
                " Array.from(document.querySelectorAll('.plotly-graph-div')).filter("
                "d => d.querySelector('.main-svg .trace')).length : 0,"
                " tables: document.querySelectorAll('table.sortable').length})")
        counts = json.loads(b.send("Runtime.evaluate", {"expression": expr})["result"]["value"])
        png = base64.b64decode(b.send("Page.captureScreenshot", {"format": "png"})["data"])
        return console_errors(b.events), counts, png
    finally:
        b.close()


def not_blank(png: bytes) -> bool:
    from PIL import Image

    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    colours = len(np.unique(px.reshape(-1, 3)[::7], axis=0))
    return px.std() > 5 and colours > 20


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    run = make_run(tmp_path_factory.mktemp("run"), repeats=2)
    paths = write_reports(run, ("html",))
    return paths[0]


@pytest.mark.skipif(CHROMIUM is None,
                    reason="headless Chromium not installed (`make browser` installs it)")
def test_report_opens_without_errors_and_charts_draw(report: Path, tmp_path: Path):
    html = report.read_text(encoding="utf-8")
    assert "<script src=" not in html and "<link " not in html  # self-contained: nothing fetched
    errors, counts, png = load_page(report, tmp_path)
    assert errors == [], f"console errors: {errors}"
    assert counts["charts"] >= 3 and counts["drawn"] == counts["charts"], counts
    assert counts["tables"] >= 3
    assert not_blank(png)


@pytest.mark.skipif(CHROMIUM is None,
                    reason="headless Chromium not installed (`make browser` installs it)")
def test_browser_check_catches_an_injected_js_error(report: Path, tmp_path: Path):
    """The check above must be able to fail: a page with a JS error is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(report.read_text(encoding="utf-8").replace(
        "<body>", "<body><script>undefinedFunctionInReport();</script>", 1), encoding="utf-8")
    errors, _, _ = load_page(bad, tmp_path)
    assert any("undefinedFunctionInReport" in e for e in errors), errors
