"""Settings from files: ``[tool.kirin]`` in a project's pyproject.toml, and a user file.

Precedence, strongest first:

1. ``%config Kirin.name = ...`` and IPython's own config (``c.Kirin.name`` in
   ``ipython_config.py``, ``--Kirin.name=...`` on a kernel's command line);
2. ``[tool.kirin]`` in the nearest ``pyproject.toml`` that has one, found by walking up
   from the working folder (a notebook's kernel runs in the notebook's folder); it may not
   set ``base_url`` or a request path (a cloned project must not be able to
   send your key elsewhere);
3. ``~/.kirin/config.toml`` (or the file named by ``$KIRIN_CONFIG``): plain keys;
4. the defaults.

Keys are the ``Kirin`` setting names (``default_model`` or ``default-model``). Nothing here
raises: a file that cannot be read, an unknown key (with a "did you mean" hint) or a bad
value becomes a one-line message, and the rest of the file still applies. The API key is
never read from a file.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import spec

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


class _Unreadable(Exception):
    pass


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
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


# -- checking one value ----------------------------------------------------------------

def _model(value: Any) -> str | None:
    try:
        spec.resolve_model(value)
    except KeyError as exc:
        return str(exc.args[0])
    return None


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"choose one of: {', '.join(choices)}"
    return check


def _n(value: Any) -> str | None:
    ok = spec.N_MIN <= value <= spec.N_MAX
    return None if ok else f"must be between {spec.N_MIN} and {spec.N_MAX}"


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be more than 0"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 (no limit) or more"


def _url(value: Any) -> str | None:
    ok = value == "" or value.startswith(("http://", "https://"))
    return None if ok else "must start with http:// or https://"


def _path(value: Any) -> str | None:
    return None if value.startswith("/") else "must start with /"


def _task_path(value: Any) -> str | None:
    return _path(value) or (None if "{id}" in value else "must contain {id}")


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "default_model": _model,
    "n": _n,
    "resolution": _one_of(spec.RESOLUTIONS),
    "aspect_ratio": _one_of(("", *spec.COMMON_ASPECT_RATIOS, "auto")),
    "base_url": _url,
    "create_path": _path,
    "task_path": _task_path,
    "quote_path": _path,
    "body_style": _one_of(("wrapped", "flat")),
    "timeout": _positive,
    "max_result_mb": _positive,
    "max_answer_mb": _positive,
    "max_result_megapixels": _positive,
    "request_seconds": _positive,
    "create_resends": _not_negative,
    "max_cost": _not_negative,
}

_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def _kind_of(trait: Any) -> type:
    from traitlets import Bool, Float, Int

    if isinstance(trait, Bool):
        return bool
    if isinstance(trait, Int):
        return int
    if isinstance(trait, Float):
        return float
    return str


def _check(name: str, value: Any, kind: type) -> tuple[Any, str | None]:
    """``(value, None)`` when usable (ints become floats where a float is wanted)."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return value, f"needs {_KIND_NAMES[kind]}, not {type(value).__name__}"
    check = _CHECKS.get(name)
    return value, (check(value) if check else None)


# -- loading ---------------------------------------------------------------------------

# Where requests (and so the key) go: never taken from a project's pyproject.toml, which
# any cloned repository (or a parent folder) can carry; only from the user's own file.
_ENDPOINT_NAMES = {"base_url", "create_path", "task_path", "quote_path"}


def _take(table: Mapping[str, Any], source: str, folder: Path, kinds: Mapping[str, type],
          loaded: Loaded, *, trusted: bool) -> None:
    for key, raw in table.items():
        name = key.strip().replace("-", "_")
        if name in _ENDPOINT_NAMES and not trusted:
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
        value, problem = _check(name, raw, kinds[name])
        if problem:
            shown = repr(raw) if len(repr(raw)) <= 60 else repr(raw)[:57] + "..."
            loaded.problems.append(f"kirin: {source}: {name} = {shown}: {problem}; ignored")
            continue
        if name == "output_dir" and value:
            target = Path(value).expanduser()  # relative: to the file's own folder
            value = str(target if target.is_absolute() else folder / target)
        loaded.values[name] = value
        loaded.sources[name] = source


def load(configurable: Any, cwd: Path | None = None,
         environ: Mapping[str, str] | None = None) -> Loaded:
    """Read the files for ``configurable`` (the ``Kirin`` class or an instance of it)."""
    kinds = {name: _kind_of(trait)
             for name, trait in configurable.class_traits(config=True).items()}
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


def apply(configurable: Any, explicit: Mapping[str, Any], cwd: Path | None = None,
          environ: Mapping[str, str] | None = None) -> Loaded:
    """Set what the files say on ``configurable``, except names set explicitly (IPython
    config); returns what was read, with ``sources`` only for the values applied."""
    loaded = load(configurable, cwd, environ)
    for name in list(loaded.values):
        if name in explicit:
            loaded.sources.pop(name, None)
            continue
        try:
            setattr(configurable, name, loaded.values[name])
        except Exception as exc:  # a value the checks above let through: never crash
            loaded.sources.pop(name, None)
            loaded.problems.append(f"kirin: {name}: {exc}; ignored")
    return loaded
