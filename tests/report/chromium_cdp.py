"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe).

Standard library only: Chromium reads NUL-terminated JSON commands on fd 3 and writes replies and
events on fd 4. Every event is kept, so a test can ask afterwards for console errors, uncaught
exceptions, log errors (blocked loads, CSP violations) and every network request the page made.
"""

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]


def _high(fd):
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 100)
    os.close(fd)
    return moved


class Browser:
    def __init__(self, width=1400, height=1000, timeout=30):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="autoresearch-cdp-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # move the child's ends above 3 and 4, so the redirections below cannot clobber each other
        to_browser_r, from_browser_w = (_high(to_browser_r), _high(from_browser_w))
        args = [CHROMIUM, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}", "about:blank"]
        # bash puts the two pipe ends on the fd numbers Chromium expects (3: commands in, 4: replies out)
        shell = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["bash", "-c", shell, "chromium", *args], pass_fds=(to_browser_r, from_browser_w),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._replies = {}
        self._inbox = queue.Queue()
        self.events = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _read(self):
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self._inbox.put(None)
                return
            buffer += chunk
            while b"\0" in buffer:
                message, buffer = buffer.split(b"\0", 1)
                self._inbox.put(json.loads(message))

    def _pump(self, deadline):
        try:
            message = self._inbox.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return
        if message is None:
            raise RuntimeError("Chromium closed the DevTools pipe: " + self.stderr_tail())
        if "id" in message:
            self._replies[message["id"]] = message
        else:
            self.events.append(message)

    def call(self, method, params=None, session=False):
        self._next_id += 1
        ident = self._next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while ident not in self._replies:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply to {method} within {self.timeout} s")
            self._pump(deadline)
        reply = self._replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, method, count=1, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while sum(1 for e in self.events if e.get("method") == method) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} did not arrive {count} time(s)")
            self._pump(deadline)

    def settle(self, seconds=0.5):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._pump(deadline)

    def open(self, url):
        loads = self.count("Page.loadEventFired")
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired", loads + 1)
        self.settle()

    def reload(self):
        loads = self.count("Page.loadEventFired")
        self.call("Page.reload", session=True)
        self.wait_for("Page.loadEventFired", loads + 1)
        self.settle()

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))

    def count(self, method):
        return sum(1 for e in self.events if e.get("method") == method)

    def console_errors(self):
        """Console errors, uncaught exceptions and browser log errors, as text."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                found.append("exception: " + json.dumps(params["exceptionDetails"])[:300])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append("log: " + params["entry"].get("text", ""))
        return found

    def requests(self):
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def stderr_tail(self):
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        self._reader.join(timeout=5)
        if not self._reader.is_alive():
            os.close(self._from_browser)
        self._stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
