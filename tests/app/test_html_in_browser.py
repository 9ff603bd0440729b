"""The HTML portfolio opened in a real headless browser (Debian's chromium).

The demo space is exported, served from 127.0.0.1 and also opened from the
folder (file://), and driven over the DevTools protocol: the content is there,
the filters work, images load, the page works without JavaScript, and the
console shows no errors (script errors, failed loads, blocked resources).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.demo import create_demo_space
from app.exports.html import export_html
from app.transfer import ExportJob
from store.kdf import KdfPolicy

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is needed for this test: apt-get install chromium"
            " (.ci/run installs it in CI)"
        )
    return CHROMIUM


@pytest.fixture
def site(tmp_path: Path, kdf_policy: KdfPolicy) -> Path:
    space = create_demo_space(tmp_path / "demo.cairn", kdf_policy)
    try:
        export_html(ExportJob(space, tmp_path / "site"))
    finally:
        space.lock()
    return tmp_path / "site"


@pytest.fixture
def server(site: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class Browser:
    """Headless chromium driven over one DevTools websocket, collecting console errors."""

    def __init__(self, chromium: Path, profile: Path) -> None:
        import websocket  # websocket-client (dev dependency)

        self.process = subprocess.Popen(
            [
                str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--mute-audio",
                f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        page = next(t for t in targets if t.get("type") == "page")
        self.socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=15, suppress_origin=True
        )
        self.next_id = 0
        self.errors: list[str] = []
        self.events: list[dict[str, Any]] = []
        for method in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
            self.call(method)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        wanted = self.next_id
        self.socket.send(json.dumps({"id": wanted, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == wanted:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method = message.get("method", "")
        params = message.get("params", {})
        self.events.append(message)
        if method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(json.dumps(params.get("args", []))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.loadingFailed":
            self.errors.append(f"failed to load: {params.get('errorText')}")

    def open(self, url: str) -> None:
        if url != "about:blank":
            self.open("about:blank")  # so that a new #fragment loads the page afresh
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 15
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not finish loading")
            self._event(json.loads(self.socket.recv()))

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        socket = getattr(self, "socket", None)
        if socket is not None:
            socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def browser(chromium: Path, tmp_path: Path) -> Iterator[Browser]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    driven = Browser(chromium, profile)
    yield driven
    driven.close()
    shutil.rmtree(profile, ignore_errors=True)


def _visible_titles(browser: Browser) -> list[str]:
    return list(
        browser.js(
            "Array.from(document.querySelectorAll('li.entry'))"
            ".filter(li => !li.hidden && li.offsetParent !== null)"
            ".map(li => li.querySelector('h3').textContent)"
        )
    )


def test_portfolio_in_chromium_has_content_filters_and_no_console_errors(
    browser: Browser, server: str, site: Path
) -> None:
    browser.open(f"{server}/index.html")
    assert browser.js("document.querySelector('h1').textContent") == "Learning portfolio"
    titles = _visible_titles(browser)
    assert len(titles) == 28
    assert "Run stand-ups that end on time" in titles
    assert browser.js("document.getElementById('filters').hidden") is False

    # Filter by kind, then by tag, as a person would with the drop-downs.
    browser.js(
        "(() => { const s = document.getElementById('filter-kind'); s.value = 'plan';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert sorted(_visible_titles(browser)) == [
        "Lead the onboarding redesign",
        "Run stand-ups that end on time",
        "Write SQL window functions confidently",
    ]
    assert browser.js("location.hash") == "#kind=plan"
    browser.js(
        "(() => { const s = document.getElementById('filter-tag'); s.value = 'sql';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert _visible_titles(browser) == ["Write SQL window functions confidently"]
    assert "Showing 1 of 28" in browser.js("document.getElementById('filter-count').textContent")

    # A filtered address opens filtered; months with nothing left are hidden.
    browser.open(f"{server}/index.html#tag=customers")
    assert sorted(_visible_titles(browser)) == [
        "Shadowing the support team for a week",
        "What a customer taught me about reports",
    ]
    hidden_months = browser.js("document.querySelectorAll('section.month[hidden]').length")
    assert hidden_months > 0

    # An entry page: rendered sections, the image loads, links lead back.
    browser.open(f"{server}/entries/whiteboard-after-the-stand-up-workshop.html")
    text = browser.js("document.body.innerText")
    assert "The team used the parking lot for three topics" in text
    assert "What it supports" in text
    assert browser.js("document.querySelector('figure img').naturalWidth") == 320
    assert browser.js("document.querySelector('a.home').getAttribute('href')") == "../index.html"
    assert browser.errors == []


def test_portfolio_from_the_folder_and_without_javascript(browser: Browser, site: Path) -> None:
    browser.open((site / "index.html").as_uri())
    assert len(_visible_titles(browser)) == 28
    browser.open((site / "entries" / "whiteboard-after-the-stand-up-workshop.html").as_uri())
    assert browser.js("document.querySelector('figure img').naturalWidth") == 320
    assert browser.errors == []

    # Without JavaScript everything is listed and the (useless) filters stay hidden.
    browser.call("Emulation.setScriptExecutionDisabled", value=True)
    browser.open((site / "index.html").as_uri())
    browser.call("Emulation.setScriptExecutionDisabled", value=False)
    assert browser.js("document.getElementById('filters').hidden") is True
    assert browser.js("document.querySelectorAll('li.entry[hidden]').length") == 0
    assert len(_visible_titles(browser)) == 28
    assert browser.errors == []
