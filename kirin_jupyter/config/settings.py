"""Every setting, its default, its check, and where its value came from: resolved once.

The order, lowest first: the defaults, ``~/.kirin/config.toml``, ``[tool.kirin]`` in the
project's ``pyproject.toml`` (which may not choose where the key goes), the environment,
``%config Kirin`` (and IPython's own config), then explicit arguments. The magics, the
panel, ``generate()``, ``resume()`` and ``Client()`` all read the result, so a value means
the same thing at every front door. Nothing here reads anything at import time.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..base.text import shown_value
from ..errors import ValidationError
from ..model import elements, spec
from ..service.dialects import DEFAULT_PROTOCOL, protocol_problem, protocol_text

# The protocol's defaults, named here with the other settings' defaults.
from ..service.protocol import DEFAULT_BODY_STYLE as DEFAULT_BODY_STYLE
from ..service.protocol import DEFAULT_CREATE_PATH as DEFAULT_CREATE_PATH
from ..service.protocol import DEFAULT_QUOTE_PATH as DEFAULT_QUOTE_PATH
from ..service.protocol import DEFAULT_TASK_PATH as DEFAULT_TASK_PATH
from ..service.protocol import DEFAULT_UPLOAD_URL as DEFAULT_UPLOAD_URL
from ..service.protocol import HOSTS, UPLOAD_MODES

ENV_API_KEY = "KIRIN_API_KEY"
ENV_BASE_URL = "KIRIN_BASE_URL"
ENV_HOME = "KIRIN_HOME"
ENV_OUTPUT_DIR = "KIRIN_OUTPUT_DIR"
ENV_SIMULATOR_SECONDS = "KIRIN_SIMULATOR_SECONDS"
ENV_JOURNAL_URL = "KIRIN_JOURNAL_URL"
ENV_USER = "KIRIN_USER"
BUDGET_PERIODS = ("day", "month", "all")

DEFAULT_OUTPUT_DIR = "kirin_outputs"
PROVENANCE_LEVELS = ("full", "minimal", "off")  # as model/provenance_record.LEVELS
DEFAULT_JOB_TIMEOUT = 900.0  # seconds; generous: a slow 2k x9 task must not be given up
DEFAULT_SIMULATOR_SECONDS = 3.0

DEFAULT = "default"
CONFIGURED = "%config"
ARGUMENT = "argument"

# Names that decide where requests (and so the key) go: uploading references sends the
# key to a second host, so whether and where is the user's own choice too.
ENDPOINT_NAMES = frozenset({"base_url", "create_path", "task_path", "quote_path",
                            "upload_references", "upload_url"})

# Safety settings: a file the user did not write (a project's pyproject.toml) may only
# tighten them. "budget": 0 is no limit, so it may set a limit or lower one, never lift or
# raise it; "lower": a limit or a count of resends, which it may only lower.
SAFETY_NAMES: Mapping[str, str] = {
    "max_cost": "budget", "max_credits": "budget", "team_max_cost": "budget",
    "max_result_mb": "lower", "max_answer_mb": "lower", "max_result_megapixels": "lower",
    "request_seconds": "lower", "max_sweep_cells": "lower", "create_resends": "lower",
    "provenance": "private",  # full > minimal > off: a project may keep more private only
}


def loosens(name: str, value: Any, yours: Any) -> str | None:
    """Why ``value`` would loosen the safety setting ``name`` from ``yours``, or None
    when it keeps or tightens it (or ``name`` is no safety setting)."""
    kind = SAFETY_NAMES.get(name)
    if kind is None or value == yours:
        return None
    if kind == "budget" and not value:
        return "0 (no limit) would lift your limit"
    if kind == "budget" and not yours:
        return None  # a limit where there was none
    if kind == "private":
        order = {level: rank for rank, level in enumerate(PROVENANCE_LEVELS)}
        less_private = order.get(value, 0) < order.get(yours, 0)
        return f"it may keep more out of the files ({yours!r}), not less" if less_private \
            else None
    return f"it may lower {name}, not raise it" if value > yours else None


def _about(help_text: str, env: str | None = None) -> dict[str, Any]:
    return {"help": help_text, "env": env}


@dataclass(frozen=True)
class Settings:
    """The resolved settings; ``sources[name]`` says where each value came from."""

    default_model: str = field(default=spec.DEFAULT_MODEL, metadata=_about(
        "model when -m is not given (kirin_image_omni, kirin_v3_image, omni, v3)"))
    n: int = field(default=spec.DEFAULT_N, metadata=_about(
        "images per request when -n is not given"))
    resolution: str = field(default=spec.DEFAULT_RESOLUTION, metadata=_about(
        "1k, 2k or 4k (v3omni)"))
    aspect_ratio: str = field(default="", metadata=_about(
        "default aspect ratio; empty: the model's own default (omni auto, v3 16:9)"))
    output_dir: str = field(default=DEFAULT_OUTPUT_DIR, metadata=_about(
        "where result files go: a folder, or a shared storage URL (s3://bucket/prefix, "
        "gs://..., az://...: the [shared] extra) a team's journal points to; empty: "
        "./kirin_outputs", ENV_OUTPUT_DIR))
    base_url: str = field(default="", metadata=_about(
        "service: vtrix (https://cloud.vtrix.ai), seacloud (https://cloud.seaart.ai) or a "
        "URL; empty: vtrix when a key is set, else the built-in simulator", ENV_BASE_URL))
    create_path: str = field(default=DEFAULT_CREATE_PATH, metadata=_about(
        "path of the create request"))
    task_path: str = field(default=DEFAULT_TASK_PATH, metadata=_about(
        "path of the status request ({id} is the task id)"))
    quote_path: str = field(default=DEFAULT_QUOTE_PATH, metadata=_about(
        "path of the price quote (precharge) request"))
    body_style: str = field(default=DEFAULT_BODY_STYLE, metadata=_about(
        "wrapped: the gateway's {model, input: [{params}]} body; flat: the parameters at "
        "the top level, as the API pages list them"))
    protocol: str = field(default=DEFAULT_PROTOCOL, metadata=_about(
        "the gateway protocol: generation, queue or auto (generation, and the queue for a "
        "model whose generation create answers 404/405), for every model, then "
        "model=protocol pairs: 'auto, kirin_v3_image=queue'"))
    element_body: str = field(default=elements.DEFAULT_BODY_VERSION, metadata=_about(
        "body of an element create (kirin_custom_elements), after the page version it "
        "follows: docs (reference_type + element_image_list) or domestic "
        "(element_frontal_image + element_refer_list)"))
    upload_references: str = field(default="never", metadata=_about(
        "never: references go as base64 in each request; reused: a local reference used "
        "by two or more tasks is uploaded once (to upload_url) and sent as its URL; "
        "always: every local reference is uploaded. Uploading sends your key to "
        "upload_url, a second host"))
    upload_url: str = field(default=DEFAULT_UPLOAD_URL, metadata=_about(
        "where references are uploaded (multipart POST, your key as Bearer); the "
        "SeaCloud CLI's storage endpoint by default"))
    timeout: float = field(default=DEFAULT_JOB_TIMEOUT, metadata=_about(
        "seconds before a job gives up waiting (the task is kept and can be resumed)"))
    max_result_mb: float = field(default=64.0, metadata=_about(
        "largest result file accepted, in MB (real 2k images are a few MB)"))
    max_answer_mb: float = field(default=4.0, metadata=_about(
        "largest API (JSON) answer read, in MB"))
    max_result_megapixels: float = field(default=40.0, metadata=_about(
        "largest result image accepted, in millions of pixels, checked before decoding"))
    request_seconds: float = field(default=300.0, metadata=_about(
        "deadline of any one request, body included"))
    create_resends: int = field(default=1, metadata=_about(
        "times a create that got no answer at all (and is not found by its external id) "
        "is sent again; 0: never"))
    blocking: bool = field(default=False, metadata=_about(
        "make every %%kirin cell wait for its images"))
    max_cost: float = field(default=0.0, metadata=_about(
        "budget in USD for this session's jobs; a job that would pass it is refused "
        "before it is sent (0: no limit)"))
    max_credits: float = field(default=0.0, metadata=_about(
        "budget in the service's credits, for a service that quotes its prices in credits "
        "(max_cost is in USD and cannot be checked there); 0: no limit"))
    provenance: str = field(default="full", metadata=_about(
        "what each saved image carries: full (the AI mark, the record: prompt, options, "
        "ids; A1111 parameters), minimal (the AI mark, model, service, time and ids: no "
        "prompt) or off (the file as the service sent it); the journal keeps the full "
        "record either way"))
    max_sweep_cells: int = field(default=256, metadata=_about(
        "the most combinations a sweep may have; counted before anything is expanded"))
    journal_url: str = field(default="", metadata=_about(
        "a team's shared journal: postgresql://user@host/db (the password in ~/.pgpass "
        "or PGPASSWORD, not here); empty: the personal SQLite journal in KIRIN_HOME",
        ENV_JOURNAL_URL))
    user: str = field(default="", metadata=_about(
        "who your jobs are recorded as in the journal (a team's or your own); empty: your "
        "login name",
        ENV_USER))
    team_max_cost: float = field(default=0.0, metadata=_about(
        "the team's budget in USD on the shared journal (journal_url), per "
        "team_budget_period, reserved in the database before each create; 0: no limit"))
    team_budget_period: str = field(default="month", metadata=_about(
        "the period team_max_cost is for: day, month (calendar, UTC) or all"))
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def source(self, name: str) -> str:
        return self.sources.get(name, DEFAULT)


def names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Settings) if f.name != "sources")


@functools.cache
def kinds() -> dict[str, type]:
    """Each setting's type (the annotations are strings: ``from __future__``)."""
    found = {"bool": bool, "int": int, "float": float, "str": str}
    return {f.name: found[str(f.type)] for f in fields(Settings) if f.name != "sources"}


def help_of(name: str) -> str:
    return str(next(f for f in fields(Settings) if f.name == name).metadata["help"])


# -- checking one value ----------------------------------------------------------------

def _model(value: Any) -> str | None:
    try:
        spec.resolve_model(value)
    except KeyError as exc:
        return str(exc.args[0])
    return None


def _one_of(choices: tuple[str, ...] | Callable[[], tuple[str, ...]]
            ) -> Callable[[Any], str | None]:
    """A check against fixed choices, or against ``choices()`` read at each check (the
    model table's, so a model added there is known at once)."""
    def check(value: Any) -> str | None:
        known = choices() if callable(choices) else choices
        return None if value in known else f"choose one of: {', '.join(known)}"
    return check


def _n(value: Any) -> str | None:
    ok = spec.N_MIN <= value <= spec.N_MAX
    return None if ok else f"must be between {spec.N_MIN} and {spec.N_MAX}"


def _positive(value: Any) -> str | None:  # NaN too
    return None if value > 0 and math.isfinite(value) else "must be more than 0"


def _not_negative(value: Any) -> str | None:
    ok = value >= 0 and math.isfinite(value)
    return None if ok else "must be 0 (no limit) or more"


def _url(value: Any) -> str | None:
    from urllib.parse import urlsplit

    text = value.strip().lower()
    if text in ("", *HOSTS):
        return None
    if not text.startswith(("http://", "https://")):
        return f"must be {' or '.join(HOSTS)}, or start with http:// or https://"
    try:
        host = urlsplit(value.strip()).hostname
        urlsplit(value.strip()).port  # noqa: B018 (a port that is no number raises here)
    except ValueError as exc:  # "http://[::1": an unclosed IPv6 address, a bad port
        return f"is not a URL ({exc})"
    return None if host else "names no host"


def _upload_url(value: Any) -> str | None:
    """A whole http(s) URL: the names vtrix/seacloud mean API hosts, not upload hosts."""
    if not value.strip().lower().startswith(("http://", "https://")):
        return "must start with http:// or https://"
    return _url(value)


def _path(value: Any) -> str | None:
    return None if value.startswith("/") else "must start with /"


def _task_path(value: Any) -> str | None:
    return _path(value) or (None if "{id}" in value else "must contain {id}")


def _output_dir(value: Any) -> str | None:
    """A folder, a file:// URL or a shared storage URL (checked before anything runs)."""
    from ..storage.shared_results import url_problem

    if "://" not in value or value.lower().startswith("file://"):
        return None
    return url_problem(value.strip().rstrip("/"))


def _journal_url(value: Any) -> str | None:
    ok = value == "" or value.startswith(("postgresql://", "postgres://"))
    return None if ok else "must be empty (the personal journal) or start with postgresql://"


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "default_model": _model,
    "n": _n,
    "resolution": _one_of(spec.all_resolutions),
    "aspect_ratio": _one_of(("", *spec.COMMON_ASPECT_RATIOS, "auto")),
    "base_url": _url,
    "create_path": _path,
    "task_path": _task_path,
    "quote_path": _path,
    "body_style": _one_of(("wrapped", "flat")),
    "protocol": protocol_problem,
    "element_body": _one_of(elements.BODY_VERSIONS),
    "upload_references": _one_of(UPLOAD_MODES),
    "upload_url": _upload_url,
    "timeout": _positive,
    "max_result_mb": _positive,
    "max_answer_mb": _positive,
    "max_result_megapixels": _positive,
    "request_seconds": _positive,
    "create_resends": _not_negative,
    "max_cost": _not_negative,
    "max_credits": _not_negative,
    "max_sweep_cells": _positive,
    "provenance": _one_of(PROVENANCE_LEVELS),
    "journal_url": _journal_url,
    "output_dir": _output_dir,
    "team_max_cost": _not_negative,
    "team_budget_period": _one_of(BUDGET_PERIODS),
}

_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def check(name: str, value: Any) -> tuple[Any, str | None]:
    """``(value, None)`` when usable, ints becoming floats where a float is wanted;
    ``(value, problem)`` otherwise, the problem in a few words."""
    kind = kinds()[name]
    if name == "protocol":  # a mapping {model: protocol} is written as the setting's text
        value = protocol_text(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return value, f"needs {_KIND_NAMES[kind]}, not {type(value).__name__}"
    test = _CHECKS.get(name)
    return value, (test(value) if test else None)


# -- resolving ---------------------------------------------------------------------------

@dataclass
class Layer:
    """One source of values, e.g. the files, or ``%config``."""

    values: Mapping[str, Any]
    sources: Mapping[str, str] | str  # one label for all, or one per name


def environment_layer(environ: Mapping[str, str] | None = None) -> Layer:
    env = os.environ if environ is None else environ
    values, sources = {}, {}
    for item in fields(Settings):
        variable = item.metadata.get("env") if item.metadata else None
        if variable and env.get(variable):
            values[item.name] = env[variable]
            sources[item.name] = f"${variable}"
    return Layer(values, sources)


def resolve(*layers: Layer) -> Settings:
    """The defaults, then each layer in turn (later layers win). A value that breaks its
    check raises ValidationError naming the setting and where it came from."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.values.items():
            label = layer.sources if isinstance(layer.sources, str) else layer.sources[name]
            checked, problem = check(name, value)
            if problem:
                raise ValidationError(f"{name} = {shown_value(value)} (from {label}): "
                                      f"{problem}")
            values[name] = checked
            sources[name] = label
    return replace(Settings(), **values, sources=sources)


def overlay(base: Settings, layer: Layer) -> Settings:
    """``base`` with one more layer on top."""
    values = {name: getattr(base, name) for name in base.sources}
    return resolve(Layer(values, dict(base.sources)), layer)


def api_key_from_env() -> str | None:
    return os.environ.get(ENV_API_KEY) or None


def kirin_home() -> Path:
    """The journal's folder: ``KIRIN_HOME`` or the platform's user data dir."""
    explicit = os.environ.get(ENV_HOME)
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("kirin-jupyter", appauthor=False))


def simulator_seconds() -> float:
    raw = os.environ.get(ENV_SIMULATOR_SECONDS)
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_SIMULATOR_SECONDS
    except ValueError:
        return DEFAULT_SIMULATOR_SECONDS
