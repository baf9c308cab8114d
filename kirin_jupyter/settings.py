"""Where configuration comes from: environment variables, read when needed (never at import)."""

from __future__ import annotations

import os
from pathlib import Path

# The protocol's defaults, named here with the other settings' defaults.
from .protocol import DEFAULT_BODY_STYLE as DEFAULT_BODY_STYLE
from .protocol import DEFAULT_CREATE_PATH as DEFAULT_CREATE_PATH
from .protocol import DEFAULT_QUOTE_PATH as DEFAULT_QUOTE_PATH
from .protocol import DEFAULT_TASK_PATH as DEFAULT_TASK_PATH

ENV_API_KEY = "KIRIN_API_KEY"
ENV_BASE_URL = "KIRIN_BASE_URL"
ENV_HOME = "KIRIN_HOME"
ENV_OUTPUT_DIR = "KIRIN_OUTPUT_DIR"
ENV_SIMULATOR_SECONDS = "KIRIN_SIMULATOR_SECONDS"

DEFAULT_OUTPUT_DIR = "kirin_outputs"
DEFAULT_JOB_TIMEOUT = 900.0  # seconds; generous: a slow 2k x9 task must not be given up
DEFAULT_SIMULATOR_SECONDS = 3.0


def env_api_key() -> str | None:
    return os.environ.get(ENV_API_KEY) or None


def env_base_url() -> str | None:
    return os.environ.get(ENV_BASE_URL) or None


def kirin_home() -> Path:
    """The journal's folder: ``KIRIN_HOME`` or the platform's user data dir."""
    explicit = os.environ.get(ENV_HOME)
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("kirin-jupyter", appauthor=False))


def output_dir() -> Path:
    return Path(os.environ.get(ENV_OUTPUT_DIR) or DEFAULT_OUTPUT_DIR).expanduser()


def simulator_seconds() -> float:
    raw = os.environ.get(ENV_SIMULATOR_SECONDS)
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_SIMULATOR_SECONDS
    except ValueError:
        return DEFAULT_SIMULATOR_SECONDS
