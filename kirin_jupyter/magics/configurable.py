"""The ``Kirin`` traitlets configurable: ``%config Kirin`` defaults for every face.

Its traits are made from ``settings.Settings``, so a setting is defined in one place.
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Float, Int, TraitError, Unicode, validate
from traitlets.config import Configurable

from ..base.text import shown_value
from ..config import settings

_TRAIT_KINDS = {bool: Bool, int: Int, float: Float, str: Unicode}


def _trait(name: str) -> Any:
    kind = settings.kinds()[name]
    default = getattr(settings.Settings(), name)
    return _TRAIT_KINDS[kind](default, help=settings.help_of(name)).tag(config=True)


class _CheckedSettings(Configurable):
    """Every ``%config Kirin`` value passes the same check as a file's or an argument's."""

    @validate(*settings.names())
    def _checked(self, proposal: Any) -> Any:
        name = proposal["trait"].name
        value, problem = settings.check(name, proposal["value"])
        if problem:
            hint = " (in %config write {{id}}: IPython expands {id} on a magic line)" \
                if name == "task_path" and "{id}" in problem else ""
            raise TraitError(f"Kirin.{name} = {shown_value(value)}: {problem}{hint}")
        return value


Kirin: type[Configurable] = type("Kirin", (_CheckedSettings,), {
    "__doc__": "Defaults for %kirin / %%kirin, the panel and the Python API; ``%config "
               "Kirin`` lists them, ``%kirin config`` shows where each value came from. "
               "The API key is never a setting: it comes from KIRIN_API_KEY or %kirin login.",
    **{name: _trait(name) for name in settings.names()},
})
