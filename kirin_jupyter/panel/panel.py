"""``Panel``: generate images by clicking instead of typing options.

It drives the same engine as ``%%kirin``: requests are checked by ``request.build_request``
(through ``Client.build``) and started with ``Client.submit``, so a panel run and a magic run
are the same job, journalled and saved the same way.

Threads: button callbacks may run on comm subshell threads and job updates arrive on the
engine thread. Everything the panel shares (the reference list, the runs, the tiles) is
changed under one re-entrant lock, and the engine thread only sets widget values.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..display import theme
from ..errors import KirinError
from ..magics import cells as panel_code
from ..model import spec
from ..model.request import GenerationRequest
from . import codegen, form
from .css import PANEL_CSS
from .gallery import Gallery
from .grid import button_layout, field
from .jobs_view import JobsSection
from .options import OptionsSection
from .references import Reference
from .references_section import ReferencesSection
from .saved import SavedCopy, panel_class
from .style import OK, note, problem_badge

if TYPE_CHECKING:
    from ..client import Client
    from ..engine.job import Job


MARIMO_NOTE = ("kirin: the panel is made of ipywidgets, which marimo does not draw; "
               "notebooks/marimo_tour.py binds mo.ui controls to kirin.generate instead")


class Panel:
    """The widget panel (``%kirin ui``). Display it, or leave it as a cell's last value.

    ``client``: the service to use (default ``kirin_jupyter.default_client()``).
    ``namespace``: where to look for PIL images and arrays (default: the notebook's).
    """

    def __init__(self, client: Client | None = None, *,
                 namespace: Mapping[str, Any] | None = None) -> None:
        import ipywidgets as w

        from ..shortcuts import default_client

        self.client = client if client is not None else default_client()
        self._lock = threading.RLock()
        self._jobs: list[Job] = []
        self._job_references: dict[str, tuple[Reference, ...]] = {}
        self._ready = False
        self._touched = False  # no validation message before the first edit or Generate
        self._key = secrets.token_hex(6)
        self.saved = SavedCopy(self._key)
        self.options = OptionsSection(on_change=self._edited, on_model=self._model_changed)
        defaults = self.client.settings
        self.options.start_from(defaults.default_model, defaults.n, defaults.resolution,
                                defaults.aspect_ratio)
        self.references = ReferencesSection(
            self._lock, namespace if namespace is not None else _notebook_namespace(),
            context=self._context, on_change=self._edited,
            on_insert=self.options.insert_placeholder, on_renumber=self.options.renumber,
        )
        self.generate_button = w.Button(description="Generate", button_style="primary",
                                        icon="play", layout=button_layout())
        self.generate_button.add_class("kirin-generate")
        self.generate_button.on_click(lambda _b: self.generate())
        self.code_button = w.Button(description="Show as code",
                                    tooltip="the %%kirin cell that makes this request",
                                    layout=button_layout())
        self.code_button.on_click(lambda _b: self.show_code())
        self.reason = w.HTML(layout=w.Layout(flex="1 1 100%", min_width="0"))
        self.reason.add_class("kirin-reason")
        self.gallery = Gallery(self._lock, on_use=self.references.add_result,
                               code_for=self.code_for_job, on_code=panel_code.remember)
        self.jobs_view = JobsSection(self.client, self._lock, tools=self.gallery.widget)
        self.client.registry.subscribe(self.jobs_view.refresh_totals)
        o = self.options
        self.widget = w.VBox([
            w.HTML(PANEL_CSS + self._title()),
            o.model_field, o.prompt_field, o.negative_box, o.elements_box,
            self.references.widget,
            o.resolution_field, o.n_field, o.series_field, o.aspect_field, o.watermark_field,
            field("", o.advanced), o.advanced_box,
            field("", self.generate_button, self.code_button, self.reason),
            self.jobs_view.widget,
        ], layout=w.Layout(max_width="960px", border=f"1px solid {theme.BORDER}",
                           padding="8px 12px"))
        self.widget.add_class("kirin-panel")
        self.widget.add_class(panel_class(self._key))
        self._ready = True
        self._model_changed(o.model_spec)
        self._validate()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            # What shows where widgets are not drawn (an untrusted notebook, GitHub): the
            # saved copy under it already says what this was, so nothing here (a sentence
            # was a second notice in another font, and the widget's repr is a page of text).
            bundle["text/plain"] = ""
        return bundle

    def _display_(self) -> str:
        """marimo's hook: marimo draws no ipywidgets (its maintainers point to anywidget),
        so the panel says where to look instead of showing nothing."""
        return MARIMO_NOTE

    def _ipython_display_(self) -> None:
        """The panel, and under it the saved copy of its results (see ``saved.py``)."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        if isinstance(bundle, dict):
            display(bundle, raw=True)  # type: ignore[no-untyped-call]
        else:  # a closed widget: let IPython say so as it would
            display(self.widget)  # type: ignore[no-untyped-call]
        self.saved.show(self.jobs)

    def __repr__(self) -> str:
        return f"<kirin_jupyter.Panel {self.client!r}, {len(self.jobs)} runs>"

    def _title(self) -> str:
        if self.client.simulated:
            hint = note("no API key: the built-in simulator answers")
            return f"<b>Kirin</b> {theme.pill('simulator', theme.WARN)} {hint}"
        return f"<b>Kirin</b> {note(self.client.base_url)}"

    # -- state -------------------------------------------------------------------------------

    @property
    def jobs(self) -> list[Job]:
        """The runs started from this panel, oldest first."""
        with self._lock:
            return list(self._jobs)

    def _context(self) -> tuple[spec.ModelSpec, int]:
        values = self.options.values()
        return values.model_spec, len(values.element_tokens())

    def _model_changed(self, model: spec.ModelSpec) -> None:
        if self._ready:
            self.references.set_model(model)

    def check(self) -> tuple[GenerationRequest | None, list[str]]:
        """The request the controls make now, or why there is none."""
        with self._lock:
            return form.check(self.client, self.options.values(), self.references.items)

    def _edited(self) -> None:
        """A person changed something: from now on, problems are shown as they arise."""
        if self._ready:
            self._touched = True
        self._validate()

    def _validate(self) -> None:
        """After any change: Generate is enabled only for a valid request, else says why.

        Before the first edit nothing is called wrong (an empty prompt is where everyone
        starts): Generate stays clickable, and a click shows the reasons.
        """
        if not self._ready:
            return
        with self._lock:
            items = self.references.items
            self.options.set_image_count(len(items))
            self.references.refresh()
            request, reasons = self.check()
            blocked = request is None and self._touched
            self.generate_button.disabled = self.code_button.disabled = blocked
            if request is not None:
                self.reason.value = note(self._ready_text(request), OK)
            elif self._touched:
                self.reason.value = " ".join(problem_badge(r) for r in reasons)
            else:
                self.reason.value = note("Describe the image you want, then Generate.")

    def _ready_text(self, request: GenerationRequest) -> str:
        images = len(request.images)
        text = (f"ready: {request.model.alias}, {request.n} image{'s' if request.n > 1 else ''}"
                f", {request.resolution}, {request.aspect_ratio}"
                + (f", {images} reference image{'s' if images > 1 else ''}" if images else ""))
        price = self.client.price_hint(request, on_quote=lambda _quote: self._validate())
        self.generate_button.tooltip = f"create this task: {price.describe()}"
        return text + (f" · {price.describe()}" if price.known else "")

    # -- actions -----------------------------------------------------------------------------

    def generate(self) -> Job | None:
        """What Generate does: check again (a fresh external id), submit, add card and tiles."""
        with self._lock:
            request, _ = self.check()
            if request is None:
                self._touched = True
                self._validate()
                return None
        try:  # outside the lock: a budget quote waits on the engine thread, which may
            job = self.client.submit(request)  # be finishing a card that takes the lock
        except KirinError as exc:
            self.reason.value = problem_badge(str(exc))
            return None
        with self._lock:
            self._jobs.append(job)
            self._job_references[job.external_task_id] = self.references.items
            results = self.gallery.add_job(job)
            card, dropped = self.jobs_view.add(job, on_finish=self._finished,
                                               results=results)
            for old in dropped:
                self.gallery.forget(old)
            if self.options.external_id.value:
                self.options.external_id.value = ""  # unique per account: used up
        card.attach()  # outside the lock: a job that is already over finishes here
        return job

    def _finished(self, job: Job) -> None:
        """Engine thread (or the attaching thread): values only."""
        with self._lock:
            self.jobs_view.finished(job)
            self.gallery.job_finished(job)
            jobs = list(self._jobs)
        self.saved.update(jobs)  # outside the lock: it sends a message

    def code_for_job(self, job: Job) -> str:
        """The ``%%kirin`` cell that makes the same request as ``job``."""
        with self._lock:
            items = self._job_references.get(job.external_task_id, ())
        return codegen.cell_for(job.request, items, self.client.output_dir)

    def show_code(self) -> str | None:
        """The cell for what the controls hold now (nothing is sent)."""
        with self._lock:
            request, _ = self.check()
            if request is None:
                self._touched = True
                self._validate()
                return None
            cell = codegen.cell_for(request, self.references.items, self.client.output_dir)
        self.gallery.show_code(cell)
        return cell


def _notebook_namespace() -> Mapping[str, Any]:
    """The running IPython's variables, or nothing outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


