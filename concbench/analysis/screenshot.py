"""A report page as headless Chromium draws it (Debian's `chromium`): to look at what a reader sees at 800 px.

It owns finding the browser and its flags (no network, no profile, a fresh user-data dir each time); it
writes one PNG and returns its path. `make report-screenshot` and tests/test_screenshot.py call it.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


def find_browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def screenshot(page, png, width: int = 800, height: int = 2000, timeout_s: float = 120.0) -> Path:
    """Draw `page` (an HTML file) at width x height into `png`; RuntimeError when the browser fails."""
    browser = find_browser()
    if browser is None:
        raise RuntimeError("no chromium on PATH (Debian: apt-get install chromium)")
    png = Path(png).resolve()
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="concbench-chromium-") as profile:
        done = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                               f"--window-size={width},{height}", Path(page).resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    if not png.exists() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return png


def main(argv=None) -> int:
    """python -m analysis.screenshot PAGE.html OUT.png [WIDTH HEIGHT]"""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 4):
        print("usage: python -m analysis.screenshot PAGE.html OUT.png [WIDTH HEIGHT]", file=sys.stderr)
        return 2
    size = (int(args[2]), int(args[3])) if len(args) == 4 else (800, 2000)
    print(screenshot(args[0], args[1], *size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
