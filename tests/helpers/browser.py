"""A small Chrome DevTools Protocol client: Debian's headless chromium driven over its remote-debugging websocket
(real key events, real page loads), with no browser download (Playwright's) and no driver binary (selenium's)."""

from __future__ import annotations

import base64
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from helpers.chromium import chromium_binary
from helpers.processes import running

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]


class Browser:
    """One browser over one websocket; tabs are flat CDP sessions on it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws, self.ids = ws, itertools.count(1)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        id = next(self.ids)
        message: dict[str, Any] = {"id": id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:  # events arrive between answers; nothing here waits on them
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def tab(self, url: str) -> Tab:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, session)
        tab.send("Page.enable")
        tab.send("Emulation.setDeviceMetricsOverride", {"width": 1366, "height": 900, "deviceScaleFactor": 1,
                                                        "mobile": False})
        tab.goto(url)
        return tab


class Tab:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser, self.session = browser, session

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait("document.body && document.body.dataset.state")

    def reload(self) -> None:
        self.eval("document.body.dataset.state = ''")
        self.send("Page.reload", {"ignoreCache": True})
        self.wait("document.body && document.body.dataset.state")

    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.eval(expression)
            except RuntimeError:
                value = None  # the page is between documents
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {expression}")
            time.sleep(0.05)

    def key(self, key: str) -> None:
        """One key press, as the keyboard sends it (a trusted event: the page cannot tell it from a person's)."""
        named = {"Enter": ("\r", 13), "Escape": ("", 27)}
        text, code = named[key] if key in named else (key, ord(key.upper()) if key.isalnum() else 0)
        modifiers = 8 if key.isupper() or key == "?" else 0  # shift
        base = {"key": key, "windowsVirtualKeyCode": code, "modifiers": modifiers}
        self.send("Input.dispatchKeyEvent", {"type": "keyDown", **base, **({"text": text} if text else {})})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **base})

    def keys(self, keys: str) -> None:
        for k in keys:
            self.key(k)

    def type(self, text: str) -> None:
        self.send("Input.insertText", {"text": text})

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium with a throwaway profile; closed (and its process stopped) afterwards."""
    binary = chromium_binary()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile, \
            running([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                    r"DevTools listening on (ws://\S+)", timeout=60) as started:
        with connect(started.match.group(1), max_size=None, open_timeout=30) as ws:
            yield Browser(ws)


if __name__ == "__main__":  # a manual check: PYTHONPATH=tests python -m helpers.browser URL
    with chromium() as b:
        print(b.tab(sys.argv[1]).eval("document.title"))
