"""The interactive widget panel (``%kirin ui``, ``kirin_jupyter.Panel()``).

Importing this package imports ipywidgets and Pillow; ``kirin_jupyter`` only imports it when
``Panel`` is first used, so ``%load_ext kirin_jupyter`` stays fast.
"""

from __future__ import annotations

from .panel import Panel

__all__ = ["Panel"]
