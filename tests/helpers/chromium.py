"""Debian's chromium for the tests that look at a page (the HTML report, the review app)."""

from __future__ import annotations

import os
import shutil
import subprocess


def chromium_binary() -> str:
    """The chromium binary; installed with apt-get when missing and we may (CI runs as root on Debian)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
                       shell=True, check=False, capture_output=True, timeout=900)
        found = shutil.which("chromium")
    if found is None:
        raise RuntimeError("chromium is needed for the browser tests: apt-get install -y chromium")
    return found
