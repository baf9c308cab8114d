"""Which of the gateway's two protocols a model is spoken to in: the ``protocol`` setting.

The gateway serves a model through the generation protocol (``/model/v1/generation``) or
the queue protocol (``/model/v1/queue/{model}``, ``docs/protocol.md``); which one the Kirin
models use is not known, and may change. The setting is one text, so that it reads the
same in a settings file, ``%config Kirin.protocol`` and ``Client(protocol=...)``:

- ``"generation"``, ``"queue"`` or ``"auto"``: every model;
- ``"auto, kirin_v3_image=queue"``: a default, then ``model=protocol`` pairs (model
  aliases such as ``v3`` are taken); a pair alone leaves the others on ``generation``.

A mapping (``{"v3": "queue", "*": "auto"}``, or a TOML table) is turned into that text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ValidationError
from ..model import spec

Dialect = Literal["generation", "queue"]
Choice = Literal["generation", "queue", "auto"]
CHOICES: tuple[Choice, ...] = ("generation", "queue", "auto")
DEFAULT_PROTOCOL = "generation"
FACT_PREFIX = "protocol:"  # a host fact: "protocol:kirin_v3_image" = "queue"
SWITCH_STATUSES = (404, 405)  # a generation create refused so: no such route, nothing made


def fact_name(model: str) -> str:
    """The host fact that remembers ``auto``'s switch of ``model`` to the queue."""
    return FACT_PREFIX + model


@dataclass(frozen=True)
class Protocols:
    """The parsed setting: a default and the models named apart."""

    default: Choice = "generation"
    models: Mapping[str, Choice] = field(default_factory=dict)

    def choice(self, model: str) -> Choice:
        return self.models.get(model, self.default)

    def text(self) -> str:
        return ", ".join([self.default, *(f"{m}={c}" for m, c in sorted(self.models.items()))])


def protocol_text(value: Any) -> Any:
    """A mapping as the setting's text (``*`` or ``default`` names the default); anything
    else as it is, for ``parse_protocols`` to judge."""
    if not isinstance(value, Mapping):
        return value
    parts = [str(value[k]) for k in ("*", "default") if k in value]
    parts += [f"{k}={v}" for k, v in value.items() if k not in ("*", "default")]
    return ", ".join(parts) if parts else DEFAULT_PROTOCOL


def parse_protocols(text: str) -> Protocols:
    """The setting's text as ``Protocols``; one clear ``ValidationError`` otherwise."""
    default: Choice | None = None
    models: dict[str, Choice] = {}
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        value = (value if sep else name).strip().lower()
        if value not in CHOICES:
            raise ValidationError(f"protocol {part!r}: choose one of {', '.join(CHOICES)} "
                                  "(for every model, or as model=protocol)")
        if not sep:
            if default is not None:
                raise ValidationError(f"protocol {text!r} names two defaults")
            default = value
            continue
        try:
            model = spec.resolve_model(name.strip()).name
        except KeyError as exc:
            raise ValidationError(f"protocol {part!r}: {exc.args[0]}") from None
        models[model] = value
    return Protocols(default or "generation", models)


def protocol_problem(value: Any) -> str | None:
    """The settings check: None when ``value`` parses, else why not."""
    try:
        parse_protocols(value)
    except ValidationError as exc:
        return str(exc)
    return None
