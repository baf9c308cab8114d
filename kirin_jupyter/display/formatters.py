"""How IPython shows a ``Job`` and a ``Result``: registered here, so ``job.py`` knows
nothing of HTML and the display layer depends on the job layer, never the other way.

``install`` fills the domain's renderer registry, which the objects' ``_repr_html_`` ask
where no formatter is registered (marimo, nbconvert without the extension); a formatter
registered with IPython wins over ``_repr_html_``, so Jupyter keeps its live card."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..base import frontends

_registered: set[int] = set()  # id() of the shells already taught


def register(shell: Any) -> None:
    """Teach ``shell`` (an IPython shell) to render jobs and results as HTML. Cheap and
    idempotent; by module and class name, so nothing is imported before it is shown."""
    display_formatter = getattr(shell, "display_formatter", None)
    formatter = getattr(display_formatter, "formatters", {}).get("text/html")
    if formatter is None or id(shell) in _registered:
        return
    _registered.add(id(shell))
    formatter.for_type_by_name("kirin_jupyter.engine.job", "Job", _job_html)
    formatter.for_type_by_name("kirin_jupyter.engine.job", "Result", _result_html)
    formatter.for_type_by_name("kirin_jupyter.batches.batch", "Batch", _batch_html)
    formatter.for_type_by_name("kirin_jupyter.batches.sweep", "Sweep", _sweep_html)
    formatter.for_type_by_name("kirin_jupyter.batches.sweep", "SweepPlan", _plan_html)
    mode = frontends.mode(frontends.detect(shell))
    text = getattr(display_formatter, "formatters", {}).get("text/plain")
    if text is not None and mode != "terminal":  # a notebook saves it: relative paths
        text.for_type_by_name("kirin_jupyter.engine.job", "Result", _result_text)
    live = getattr(display_formatter, "ipython_display_formatter", None)
    if live is not None and mode == "live":
        live.for_type_by_name("kirin_jupyter.engine.job", "Job", _show_live)
        live.for_type_by_name("kirin_jupyter.engine.job", "Result", _show_live_result)
        live.for_type_by_name("kirin_jupyter.batches.batch", "Batch", _show_live_batch)
        live.for_type_by_name("kirin_jupyter.batches.sweep", "Sweep", _show_live_sweep)
        live.for_type_by_name("kirin_jupyter.display.batch_card", "BatchPage",
                              _show_live_page)


def install() -> None:
    """Fill the domain's renderer registry (``base.renderers``) with this layer's views;
    cheap: each view's module is imported when it is first asked for."""
    from ..base.renderers import register as add

    def batch_page(batch: Any, number: int, per_page: int | None) -> Any:
        from .batch_card import PER_PAGE, BatchPage

        return BatchPage(batch, number, per_page or PER_PAGE)

    add("batch_page", batch_page)
    # Each object's card for its ``_repr_html_``: what a front end without these formatters
    # (marimo, nbconvert or Quarto without the package's setup) shows; a static snapshot
    # while it runs. Registered IPython formatters still win over it (``register``).
    add("job_html", _job_html)
    add("result_html", _result_html)
    add("batch_html", _batch_html)
    add("sweep_html", _sweep_html)
    add("plan_html", _plan_html)
    # marimo's ``_display_``: the live card as a widget that becomes the finished card.
    add("job_live", _job_in_place)
    add("batch_live", _batch_in_place)
    add("sweep_live", _sweep_in_place)
    # A model's document from the gateway, and its list: HTML, safe Markdown, text.
    for kind in ("doc_html", "doc_markdown", "doc_text", "list_html", "list_markdown",
                 "list_text"):
        add(f"model_{kind}", _model_doc_view(kind))


def _model_doc_view(kind: str) -> Callable[[Any], str]:
    def view(obj: Any) -> str:
        from . import model_doc

        return str(getattr(model_doc, kind)(obj))

    return view


def register_with_running_shell() -> None:
    """``register`` for the IPython shell this code runs in, if any."""
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        register(shell)


def _show_live(job: Any) -> bool:
    """``display(job)`` of a running job: the live card, which the finished card replaces
    when the job ends (so the saved notebook keeps the result, not a frozen snapshot). A
    finished job's card has buttons on its pictures while the kernel lives (``tile_card``)."""
    from .static import FinalView, job_text, result_html
    from .tile_card import show_finished

    if not job.done():
        from .card import ProgressCard

        ProgressCard(job).show()
        return True
    result = job.result
    show_finished(lambda tiles: result_html(result, tiles) if result is not None else "",
                  job_text(job), FinalView(job)._repr_mimebundle_)
    return True


def _show_live_result(result: Any) -> bool:
    """A result's card, with buttons on its pictures while the kernel lives."""
    from .static import result_html, result_text
    from .tile_card import show_finished

    show_finished(lambda tiles: result_html(result, tiles), result_text(result),
                  lambda: {"text/html": result_html(result), "text/plain": result_text(result)})
    return True


def _show_live_batch(batch: Any) -> bool:
    """``display(batch)``: the live batch card, replaced by the finished one at the end."""
    from .batch_card import BatchCard, FinalBatchView, batch_html, batch_text
    from .tile_card import show_finished

    if not batch.done():
        BatchCard(batch).show()
        return True
    show_finished(lambda tiles: batch_html(batch, final=True, tiles=tiles), batch_text(batch),
                  FinalBatchView(batch)._repr_mimebundle_)
    return True


def _show_live_page(page: Any) -> bool:
    """``batch.page(n)``: the page, with buttons on its pictures while the kernel lives."""
    from .tile_card import show_finished

    show_finished(page.html, repr(page),
                  lambda: {"text/html": page.html(), "text/plain": repr(page)})
    return True


def _show_live_sweep(sweep: Any) -> bool:
    """``display(sweep)``: the live sweep card, replaced by the finished grid at the end."""
    from .sweep_grid import FinalSweepView, SweepCard, sweep_html, sweep_text
    from .tile_card import show_finished

    if not sweep.done():
        SweepCard(sweep).show()
        return True
    show_finished(lambda tiles: sweep_html(sweep, final=True, tiles=tiles), sweep_text(sweep),
                  FinalSweepView(sweep)._repr_mimebundle_)
    return True


def _job_in_place(job: Any) -> Any:
    from .static import FinalView

    if job.done():
        return FinalView(job)
    from .card import ProgressCard

    return ProgressCard(job).in_place()


def _batch_in_place(batch: Any) -> Any:
    from .batch_card import BatchCard, FinalBatchView

    return FinalBatchView(batch) if batch.done() else BatchCard(batch).in_place()


def _sweep_in_place(sweep: Any) -> Any:
    from .sweep_grid import FinalSweepView, SweepCard

    return FinalSweepView(sweep) if sweep.done() else SweepCard(sweep).in_place()


def _sweep_html(sweep: Any) -> str:
    from .sweep_grid import sweep_html

    return sweep_html(sweep, final=sweep.done())


def _plan_html(plan: Any) -> str:
    from .sweep_grid import plan_html

    return plan_html(plan)


def _batch_html(batch: Any) -> str:
    from .batch_card import batch_html

    return batch_html(batch, final=batch.done())


def _job_html(job: Any) -> str:
    from .static import job_html

    return job_html(job)


def _result_text(result: Any, printer: Any, cycle: bool) -> None:
    """A Result's plain text in a notebook: the card's text form, whose paths are relative
    to the notebook (a dataclass repr would save the user's absolute paths with it)."""
    from .static import result_text

    printer.text(result_text(result))


def _result_html(result: Any) -> str:
    from .static import result_html

    return result_html(result)
