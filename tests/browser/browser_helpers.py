"""Browser tests on these machines: JupyterLab on 127.0.0.1 and Debian's headless Chromium.

Reusable by any test that needs a real front end (see ``/work/shared/e2e-notes.md`` for what
was measured). Nothing here downloads a browser: playwright drives ``/usr/bin/chromium``.

    with jupyterlab(root, env={"KIRIN_SIMULATOR_SECONDS": "3"}) as lab, \\
            chromium(tmp_path / "profile") as browser:
        page = open_notebook(browser, lab, "demo.ipynb")
        run_all_cells(page)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
MISSING_CHROMIUM = "install Debian's chromium (apt-get install chromium) to run browser tests"
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
# Otherwise a news / update toast covers part of the page (--LabApp.news_url alone does not).
NOTIFICATION_SETTINGS = ("lab/user-settings/@jupyterlab/apputils-extension/"
                         "notification.jupyterlab-settings")
THEME_SETTINGS = "lab/user-settings/@jupyterlab/apputils-extension/themes.jupyterlab-settings"


def require_chromium() -> None:
    """Skip without Debian's chromium; on CI (``CI`` set) a missing browser is a failure."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing on CI: {MISSING_CHROMIUM}")
    pytest.skip(MISSING_CHROMIUM)


@dataclass
class LabServer:
    """A running JupyterLab: where it listens, its token, what it serves and its log."""

    url: str
    token: str
    root_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def page_url(self, path: str) -> str:
        """A URL under the server with the token, e.g. ``page_url("lab/tree/a.ipynb")``."""
        return f"{self.url}/{path.lstrip('/')}?token={self.token}"

    def notebook_url(self, relative: str) -> str:
        return self.page_url(f"lab/tree/{quote(relative)}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def jupyterlab(root_dir: Path, *, env: Mapping[str, str] | None = None,
               state_dir: Path | None = None, startup_timeout: float = 60.0,
               extra_args: Sequence[str] = (), theme: str | None = None
               ) -> Iterator[LabServer]:
    """Start JupyterLab on 127.0.0.1 with this Python (so kernels see what it has installed).

    It gets its own config, runtime, data and IPython dirs (under ``state_dir``, a fresh
    temporary folder by default) and a random token; ``env`` is added to the environment
    of the server and so of its kernels. ``theme`` (e.g. "JupyterLab Dark") is the theme
    pages open in, set as a user setting. Stopped through its own PID on exit.
    """
    own_state = state_dir is None
    state = Path(tempfile.mkdtemp(prefix="lab-state-")) if state_dir is None else state_dir
    config_dir = state / "config"
    settings = config_dir / NOTIFICATION_SETTINGS
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    if theme is not None:
        (config_dir / THEME_SETTINGS).write_text(json.dumps({"theme": theme}))
    for name in ("runtime", "data", "ipython"):
        (state / name).mkdir(exist_ok=True)
    full_env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTER_DATA_DIR": str(state / "data"),  # no user kernelspec can shadow python3
        "IPYTHONDIR": str(state / "ipython"),  # no user startup files in the kernels
        "JUPYTER_PLATFORM_DIRS": "1",
        **(env or {}),
    }
    port = free_port()
    token = secrets.token_hex(16)
    log_path = state / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={token}", "--allow-root", f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=None", *extra_args,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=root_dir)
    server = LabServer(f"http://127.0.0.1:{port}", token, root_dir, log_path, process)
    try:
        _wait_for_status(server, startup_timeout)
        yield server
    finally:
        stop_process(process)
        if own_state:
            shutil.rmtree(state, ignore_errors=True)


def _wait_for_status(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({server.process.returncode}):\n"
                               f"{server.log()[-3000:]}")
        try:
            with urllib.request.urlopen(server.page_url("api/status"), timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"JupyterLab did not answer in {timeout:g} s:\n{server.log()[-3000:]}")


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Terminate one process we started (the server stops its own kernels), then kill it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)


@contextmanager
def chromium(profile_dir: Path | None = None, *, width: int = 1280, height: int = 1000,
             javascript: bool = True) -> Iterator[BrowserContext]:
    """Debian's chromium, headless, in a persistent context on a fresh profile directory.

    (``launch()`` refuses ``--user-data-dir``; a persistent context is the way to own one.)
    """
    from playwright.sync_api import sync_playwright

    require_chromium()
    own_profile = profile_dir is None
    profile = Path(tempfile.mkdtemp(prefix="chromium-")) if profile_dir is None else profile_dir
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True,
            args=list(CHROMIUM_ARGS), viewport={"width": width, "height": height},
            java_script_enabled=javascript,
        )
        try:
            yield context
        finally:
            context.close()
            if own_profile:
                shutil.rmtree(profile, ignore_errors=True)


# -- JupyterLab pages --------------------------------------------------------------------------


def write_notebook(path: Path, sources: Sequence[str]) -> Path:
    """A fresh notebook of code cells (copy one in before each run: JupyterLab autosaves)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


def open_notebook(context: BrowserContext, server: LabServer, relative: str,
                  timeout: float = 60.0) -> Page:
    """Open a notebook in a new tab and wait until its kernel is idle."""
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(server.notebook_url(relative))
    page.locator(".jp-Notebook").first.wait_for(timeout=timeout * 1000)
    wait_kernel_idle(page, timeout)
    return page


def wait_kernel_idle(page: Page, timeout: float = 60.0) -> None:
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(
        timeout=timeout * 1000)


def run_all_cells(page: Page) -> None:
    """Run > Run All Cells, through the menu as a person would."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('li[data-command="runmenu:run-all"]').click()


def cell_outputs(page: Page, index: int) -> Any:
    """The output areas of the index-th code cell (assert on outputs, not on cell text)."""
    return page.locator(".jp-Notebook .jp-CodeCell").nth(index).locator(".jp-OutputArea-output")


def save_notebook(page: Page, timeout: float = 20.0) -> None:
    """File > Save Notebook, through the menu, then wait until no tab is marked unsaved."""
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator('li[data-command="docmanager:save"]').click()
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty").first.wait_for(
        state="detached", timeout=timeout * 1000)


def screenshot_cells(page: Any, indexes: list[int], path: Path, *, fit: str | None = None,
                     margin: int = 12, max_width: float | None = None,
                     settle_ms: int = 0) -> Path:
    """The given code cells (input and output), cropped to their box; with ``fit``, no
    wider than the first element matching it in each cell plus ``margin`` (a card narrower
    than the page is not shown beside empty space)."""
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    cells.nth(indexes[0]).scroll_into_view_if_needed()
    if settle_ms:
        page.wait_for_timeout(settle_ms)
    boxes = [cells.nth(index).bounding_box() for index in indexes]
    left = min(box["x"] for box in boxes)
    top = min(box["y"] for box in boxes)
    bottom = max(box["y"] + box["height"] for box in boxes)
    right = max(box["x"] + box["width"] for box in boxes)
    if fit is not None:
        # the first drawn one: a finished card's static copy, hidden beside its widget,
        # has no box (and the widget redraws as the work ends)
        views = [cells.nth(index).locator(f"{fit} >> visible=true").first
                 .bounding_box(timeout=5000) for index in indexes]
        right = min(right, max(view["x"] + view["width"] for view in views) + margin)
    if max_width is not None:
        right = min(right, left + max_width)
    page.screenshot(path=str(path), animations="disabled",
                    clip={"x": left, "y": top, "width": right - left, "height": bottom - top})
    return path


def keep_screenshots(shots: list[Path], *, min_bytes: int, max_bytes: int) -> None:
    """Each screenshot is a real picture and small enough to commit; with
    KIRIN_SCREENSHOT_DIR set (``make screenshots``) they are copied there."""
    for shot in shots:
        assert min_bytes < shot.stat().st_size < max_bytes, (shot.name, shot.stat().st_size)
    target = os.environ.get("KIRIN_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, Path(target) / shot.name)
