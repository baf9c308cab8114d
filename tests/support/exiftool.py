"""Debian's exiftool (``libimage-exiftool-perl``) as the reader we did not write: what
photo tools, stock sites and Lightroom-like catalogues see in a saved file's XMP.

``.ci/run`` installs it, so a missing exiftool is a failure on CI (``CI`` set) and a skip
on a developer's machine, as with the browser tests' chromium."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

EXIFTOOL = Path("/usr/bin/exiftool")
MISSING = "exiftool is not installed (apt-get install libimage-exiftool-perl)"


def require_exiftool() -> None:
    if EXIFTOOL.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{EXIFTOOL} is missing on CI: {MISSING}")
    pytest.skip(MISSING)


def xmp_tags(path: Path) -> dict[str, Any]:
    """Every XMP tag exiftool reads from ``path``, by tag name, values as stored (``-n``:
    the DigitalSourceType's URI, not exiftool's "Trained Algorithmic Media")."""
    require_exiftool()
    done = subprocess.run([str(EXIFTOOL), "-j", "-n", "-XMP:all", str(path)],
                          capture_output=True, text=True, timeout=60, check=True)
    found = json.loads(done.stdout)
    assert isinstance(found, list) and len(found) == 1
    return dict(found[0])
