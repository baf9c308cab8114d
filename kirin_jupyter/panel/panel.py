"""``Panel``: generate images by clicking instead of typing options.

It drives the same engine as ``%%kirin``: requests are checked by ``request.build_request``
(through ``Client.build``) and started with ``Client.submit``, so a panel run and a magic run
are the same job, journalled and saved the same way.

Threads: button callbacks may run on comm subshell threads and job updates arrive on the
engine thread. Everything the panel shares (the reference list, the runs, the tiles) is
changed under one re-entrant lock, and the engine thread only sets widget values.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import spec
from ..display.static import badge
from ..errors import KirinError
from ..request import GenerationRequest
from . import codegen, form
from .gallery import Gallery
from .jobs_view import JobsSection
from .options import OptionsSection
from .references import Reference
from .references_section import ReferencesSection
from .style import OK, note, problem_badge

if TYPE_CHECKING:
    from ..client import Client
    from ..job import Job


class Panel:
    """The widget panel (``%kirin ui``). Display it, or leave it as a cell's last value.

    ``client``: the service to use (default ``kirin_jupyter.default_client()``).
    ``namespace``: where to look for PIL images and arrays (default: the notebook's).
    """

    def __init__(self, client: Client | None = None, *,
                 namespace: Mapping[str, Any] | None = None) -> None:
        import ipywidgets as w

        from ..client import default_client

        self.client = client if client is not None else default_client()
        self._lock = threading.RLock()
        self._jobs: list[Job] = []
        self._job_references: dict[str, tuple[Reference, ...]] = {}
        self._ready = False
        self.options = OptionsSection(on_change=self._validate, on_model=self._model_changed)
        defaults = self.client.settings
        self.options.start_from(defaults.default_model, defaults.n, defaults.resolution,
                                defaults.aspect_ratio)
        self.references = ReferencesSection(
            self._lock, namespace if namespace is not None else _notebook_namespace(),
            context=self._context, on_change=self._validate,
            on_insert=self.options.insert_placeholder, on_renumber=self.options.renumber,
        )
        self.generate_button = w.Button(description="Generate", button_style="primary",
                                        icon="play", disabled=True)
        self.generate_button.add_class("kirin-generate")
        self.generate_button.on_click(lambda _b: self.generate())
        self.code_button = w.Button(description="Show as code", disabled=True,
                                    tooltip="the %%kirin cell that makes this request")
        self.code_button.on_click(lambda _b: self.show_code())
        self.reason = w.HTML()
        self.reason.add_class("kirin-reason")
        self.jobs_view = JobsSection(self.client, self._lock)
        self.client.registry.subscribe(self.jobs_view.refresh_totals)
        self.gallery = Gallery(self._lock, on_use=self.references.add_result,
                               code_for=self.code_for_job)
        o = self.options
        self.widget = w.VBox([
            w.HTML(self._title()),
            w.HBox([o.model, o.model_help], layout=w.Layout(align_items="center")),
            o.prompt, o.prompt_count, o.negative_box, o.elements_box,
            self.references.widget,
            o.resolution, o.n,
            w.HBox([o.aspect_ratio, o.watermark], layout=w.Layout(flex_flow="row wrap",
                                                                  align_items="center")),
            o.advanced,
            w.HBox([self.generate_button, self.code_button, self.reason],
                   layout=w.Layout(align_items="center", flex_flow="row wrap")),
            self.jobs_view.widget,
            self.gallery.widget,
        ], layout=w.Layout(max_width="960px", border="1px solid #d0d7de", padding="8px 12px"))
        self.widget.add_class("kirin-panel")
        self._ready = True
        self._model_changed(o.model_spec)
        self._validate()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<kirin_jupyter.Panel {self.client!r}, {len(self.jobs)} runs>"

    def _title(self) -> str:
        if self.client.simulated:
            hint = note("no API key: the built-in simulator answers")
            return f"<b>Kirin</b>{badge('simulator', '#bf8700')} {hint}"
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

    def _validate(self) -> None:
        """After any change: Generate is enabled only for a valid request, else says why."""
        if not self._ready:
            return
        with self._lock:
            items = self.references.items
            self.options.set_image_count(len(items))
            self.references.refresh()
            request, reasons = self.check()
            self.generate_button.disabled = request is None
            self.code_button.disabled = request is None
            if request is None:
                self.reason.value = " ".join(problem_badge(r) for r in reasons)
            else:
                self.reason.value = note(self._ready_text(request), OK)

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
            request, reasons = self.check()
            if request is None:
                self.reason.value = " ".join(problem_badge(r) for r in reasons)
                return None
        try:  # outside the lock: a budget quote waits on the engine thread, which may
            job = self.client.submit(request)  # be finishing a card that takes the lock
        except KirinError as exc:
            self.reason.value = problem_badge(str(exc))
            return None
        with self._lock:
            self._jobs.append(job)
            self._job_references[job.external_task_id] = self.references.items
            card = self.jobs_view.add(job, on_finish=self._finished)
            self.gallery.add_job(job)
            if self.options.external_id.value:
                self.options.external_id.value = ""  # unique per account: used up
        card.attach()  # outside the lock: a job that is already over finishes here
        return job

    def _finished(self, job: Job) -> None:
        """Engine thread (or the attaching thread): values only."""
        with self._lock:
            self.jobs_view.finished(job)
            self.gallery.job_finished(job)

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


