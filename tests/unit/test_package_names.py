"""A submodule named like a function the package exports replaces that function once it
is imported (``import kirin_jupyter.batch`` set ``kirin_jupyter.batch`` to the module)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import kirin_jupyter


def test_every_exported_name_survives_importing_every_submodule() -> None:
    for module in pkgutil.walk_packages(kirin_jupyter.__path__, "kirin_jupyter."):
        importlib.import_module(module.name)
    exported = kirin_jupyter._EXPORTS
    shadowed = [name for name in exported
                if isinstance(getattr(kirin_jupyter, name), types.ModuleType)]
    assert shadowed == []
    assert callable(kirin_jupyter.batch) and callable(kirin_jupyter.sweep)
