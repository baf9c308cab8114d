"""Settings from files: ``[tool.kirin]`` in a project's pyproject.toml, and a user file.

Two files, the second winning (``settings.py`` places them among the other sources):

1. ``~/.kirin/config.toml`` (or the file named by ``$KIRIN_CONFIG``): plain keys; the
   user's own, like the environment, ``%config Kirin`` and arguments;
2. ``[tool.kirin]`` in the nearest ``pyproject.toml`` that has one, found by walking up
   from the working folder (a notebook's kernel runs in the notebook's folder). Any cloned
   repository (or a parent folder) can carry one, so it may not set ``base_url`` or a
   request path (it must not be able to send your key elsewhere), and it may only tighten
   the safety settings (``settings.SAFETY_NAMES``: the budget, the size and time limits,
   the resends) below what the defaults and the user's own file say: ``max_cost = 0``
   there would have switched the user's budget off. A loosening value is ignored, in one
   line that ``%kirin config`` repeats.

Keys are the ``Kirin`` setting names (``default_model`` or ``default-model``). Nothing here
raises: a file that cannot be read, an unknown key (with a "did you mean" hint) or a bad
value becomes a one-line message, and the rest of the file still applies. The API key is
never read from a file.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base.text import shown_value
from . import settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_CONFIG = "KIRIN_CONFIG"
HOME_CONFIG = "~/.kirin/config.toml"
_KEY_NAMES = {"api_key", "key", "token", "kirin_api_key", "authorization", "bearer"}


@dataclass
class Loaded:
    """What the files say, after checking: values to apply and messages to show."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # name -> where it was read
    files: list[Path] = field(default_factory=list)  # every file that was read
    problems: list[str] = field(default_factory=list)  # one line each


def home_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(ENV_CONFIG) or HOME_CONFIG).expanduser()


CONFIG_FILE_LIMIT = 1_000_000  # bytes: a settings file is a few lines


class _Unreadable(Exception):
    pass


def _read(path: Path) -> dict[str, Any]:
    from ..base.user_files import read_user_file
    from ..errors import ValidationError

    try:  # read as every file from outside is: a FIFO or a device never hangs a start
        data: dict[str, Any] = tomllib.loads(
            read_user_file(path, CONFIG_FILE_LIMIT, "settings file").decode("utf-8"))
        return data
    except ValidationError as exc:
        raise _Unreadable(f"kirin: {exc}; its settings are ignored") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _Unreadable(f"kirin: cannot read {path}: {exc}; its settings are ignored") \
            from None


def find_pyproject(start: Path, problems: list[str] | None = None
                   ) -> tuple[Path, dict[str, Any]] | None:
    """The nearest ``pyproject.toml`` at or above ``start`` with a ``[tool.kirin]`` table."""
    for folder in (start, *start.parents):
        path = folder / "pyproject.toml"
        if not path.is_file():
            continue
        try:
            data = _read(path)
        except _Unreadable as exc:
            if problems is not None:
                problems.append(str(exc))
            continue
        tool = data.get("tool")
        if isinstance(tool, dict) and "kirin" in tool:
            table = tool["kirin"]
            if not isinstance(table, dict):
                if problems is not None:
                    problems.append(f"kirin: {path}: [tool.kirin] must be a table; ignored")
                return None
            return path, table
    return None


# -- loading ---------------------------------------------------------------------------

# Where requests (and so the key) go: never taken from a project's pyproject.toml, which
# any cloned repository (or a parent folder) can carry; only from the user's own file.


def _take(table: Mapping[str, Any], source: str, folder: Path, kinds: Mapping[str, type],
          loaded: Loaded, *, trusted: bool) -> None:
    for key, raw in table.items():
        name = key.strip().replace("-", "_")
        if name in settings.ENDPOINT_NAMES and not trusted:
            loaded.problems.append(
                f"kirin: {source}: {name} ignored: a project file may not choose where your "
                f"key is sent; set it in {HOME_CONFIG}, KIRIN_BASE_URL or %config Kirin")
            continue
        if name not in kinds:
            if name.lower() in _KEY_NAMES:
                loaded.problems.append(
                    f"kirin: {source}: {key!r} ignored: the API key is never read from a "
                    "file; use KIRIN_API_KEY or %kirin login")
                continue
            close = difflib.get_close_matches(name, list(kinds), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            loaded.problems.append(f"kirin: {source}: unknown setting {key!r}{hint}; ignored")
            continue
        value, problem = settings.check(name, raw)
        if problem:
            loaded.problems.append(
                f"kirin: {source}: {name} = {shown_value(raw)}: {problem}; ignored")
            continue
        if not trusted:
            yours = loaded.values.get(name, getattr(settings.Settings(), name))
            why = settings.loosens(name, value, yours)
            if why:
                mine = f"{yours!r} from {loaded.sources[name]}" if name in loaded.sources \
                    else f"the default {yours!r}"
                loaded.problems.append(
                    f"kirin: {source}: {name} = {raw!r} ignored: a project file may only "
                    f"tighten safety settings, and {why} ({mine}); set it in {HOME_CONFIG} "
                    f"or with %config Kirin.{name}")
                continue
        if name == "output_dir" and "://" in value:
            if not trusted and not value.lower().startswith("file://"):
                loaded.problems.append(
                    f"kirin: {source}: output_dir = {shown_value(raw)} ignored: a project "
                    "file may not send your results to shared storage; set it in "
                    f"{HOME_CONFIG}, KIRIN_OUTPUT_DIR or %config Kirin.output_dir")
                continue
        elif name == "output_dir" and value:
            target = Path(value).expanduser()  # relative: to the file's own folder
            value = str(target if target.is_absolute() else folder / target)
        loaded.values[name] = value
        loaded.sources[name] = source


def load(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Loaded:
    """Read the home file, then the project's ``[tool.kirin]`` (which wins over it)."""
    kinds = settings.kinds()
    loaded = Loaded()
    home = home_config_path(environ)
    if home.is_file():
        try:
            data = _read(home)
        except _Unreadable as exc:
            loaded.problems.append(str(exc))
        else:
            loaded.files.append(home)
            _take(data, str(home), home.parent, kinds, loaded, trusted=True)
    found = find_pyproject((cwd or Path.cwd()).resolve(), loaded.problems)
    if found is not None:
        path, table = found
        loaded.files.append(path)
        _take(table, f"{path} [tool.kirin]", path.parent, kinds, loaded,  # wins over home
              trusted=False)
    return loaded
