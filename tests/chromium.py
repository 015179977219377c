"""Headless Chromium (Debian's package) for testing rendered reports offline."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# requests the browser makes on its own (updates, sign-in), not the page
BROWSER_HOSTS = ("google.com", "googleapis.com", "gstatic.com", "~notfound")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs Debian's chromium package")
        pytest.skip("chromium not installed (make test installs it when run as root)")
    return exe


def open_offline(html: Path, workdir: Path, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """Load ``html`` with name resolution disabled; return the rendered DOM and the page's
    network requests (from Chromium's NetLog, browser-internal hosts excluded)."""
    netlog = workdir / "netlog.json"
    args = [chromium(), *FLAGS, f"--user-data-dir={workdir / 'profile'}", f"--log-net-log={netlog}"]
    dom = subprocess.run([*args, "--dump-dom", html.resolve().as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    if screenshot is not None:
        subprocess.run([*args, "--window-size=1200,2400", f"--screenshot={screenshot}", html.resolve().as_uri()],
                       capture_output=True, timeout=120, check=True)
    events = json.loads(netlog.read_text())["events"]
    urls = {e["params"]["url"] for e in events if "url" in e.get("params", {})}
    external = sorted(u for u in urls if not u.startswith(("file:", "data:"))
                      and not any(h in u.split("/")[2] for h in BROWSER_HOSTS if "//" in u))
    return dom, external
