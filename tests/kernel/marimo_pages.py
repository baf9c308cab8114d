"""Reading what marimo saved: the cells' outputs and the widgets' states in the HTML that
``marimo export html`` writes (issue 24, item 3). Shared by the headless test and the
browser test."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

TOUR = ROOT / "notebooks" / "marimo_tour.py"


def marimo_env(place: Path) -> dict[str, str]:
    """A marimo and a kirin that keep everything under ``place``: no user settings, no
    credentials, the simulator a little slow so a card is seen moving."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KIRIN_API_KEY", "KIRIN_BASE_URL")}
    env.update(XDG_CONFIG_HOME=str(place / "config"), XDG_CACHE_HOME=str(place / "cache"),
               XDG_DATA_HOME=str(place / "data"), XDG_STATE_HOME=str(place / "state"),
               KIRIN_HOME=str(place / "home"), KIRIN_OUTPUT_DIR=str(place / "outputs"),
               KIRIN_CONFIG=str(place / "no-user-config.toml"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    settings = place / "config" / "marimo"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "marimo.toml").write_text(
        "[runtime]\nauto_instantiate = true\n[display]\ntheme = \"system\"\n")
    return env


def copy_tour(place: Path) -> Path:
    notebook = place / TOUR.name
    shutil.copy(TOUR, notebook)
    return notebook


def _frozen(page: str, name: str) -> Any:
    """The JSON marimo froze into the page as ``name: Object.freeze(...)`` or ``"name":``."""
    for marker in (f"{name}: Object.freeze(", f'"{name}": '):
        start = page.find(marker)
        if start >= 0:
            value, _ = json.JSONDecoder().raw_decode(page, start + len(marker))
            return value
    raise AssertionError(f"no {name} in marimo's page")


def cells(page: str) -> list[dict[str, Any]]:
    """Each cell's saved outputs and console, in notebook order."""
    return list(_frozen(page, "session")["cells"])


def widget_states(page: str) -> dict[str, dict[str, Any]]:
    """Each widget's last state by model id (opens, then updates applied in order)."""
    states: dict[str, dict[str, Any]] = {}
    for note in _frozen(page, "modelNotifications"):
        message = note["message"]
        states.setdefault(note["model_id"], {}).update(message.get("state") or {})
    return states


def html_of(cell: dict[str, Any]) -> str:
    return "".join(str(output.get("data", {}).get("text/html", ""))
                   for output in cell["outputs"] if output.get("type") == "data")
