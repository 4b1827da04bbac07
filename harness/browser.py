"""A real headless browser for the status page's tests and the README's screenshot: Debian's
chromium (scripts/setup-system.sh installs it), driven by Playwright.

Playwright's own browser download cannot be fetched where the tests run, so it launches the
system's binary through `executable_path`. `--no-sandbox`: CI and these machines run as root,
where chromium refuses to start with its sandbox. `--disable-dev-shm-usage`: a container's
/dev/shm is often 64 MB, too small for chromium's shared memory, and pages crash without it.
Screenshots go to a folder the run keeps (`artifacts`), not to pytest's temporary ones.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from supervisor import paths

NAMES = ("chromium", "chromium-browser")  # Debian's, and Ubuntu's older package


class BrowserUnavailable(Exception):
    """No browser can start here; the message says why and how to get one."""


def find_chromium() -> str:
    """The chromium binary on PATH, or BrowserUnavailable saying what to install."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailable(
        "no chromium on PATH: `make system` installs Debian's (apt-get install chromium)"
    )


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Sync Playwright and one headless chromium, both closed on leaving. Use it from one
    thread: Playwright's sync API is bound to the thread that started it."""
    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
            headless=True,
        )
        try:
            yield browser
        finally:
            browser.close()


def artifacts() -> Path:
    """$MODELYARD_ARTIFACTS, else <repo>/.artifacts: where a test run leaves its screenshots
    for a person (or CI's upload step) to look at afterwards."""
    folder = Path(os.environ.get("MODELYARD_ARTIFACTS") or paths.project_root() / ".artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
