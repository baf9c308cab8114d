"""The shortcuts on the session's client: ``kirin.generate(...)`` and its siblings, and
``default_client()``, the one client the magics, the panel and these share per kernel.
Above the client and the session: the client never imports them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

from .client import Client

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .batches.batch import Batch
    from .batches.sweep import Sweep, SweepPlan
    from .engine.job import Job
    from .model.elements import Element
    from .model.model_doc import ModelDocument, ModelList
    from .model.request import RequestOptions


def default_client() -> Client:
    """The session's client: the one the magics, the panel and ``generate()`` use, with
    the session's settings (files, environment, ``%config Kirin``), budget and jobs."""
    from .session import current_session

    return current_session().client()


def set_default_client(client: Client | None) -> None:
    """Make ``client`` the session's client (its jobs join the session's list)."""
    from .session import current_session

    current_session().use_client(client)


def generate(prompt: Any, *, provenance: str | None = None,
             **options: Unpack[RequestOptions]) -> Job:
    """``default_client().generate(...)``: start a job and return it at once
    (``provenance``: full, minimal or off for this job's files)."""
    return default_client().generate(prompt, provenance=provenance, **options)


def batch(prompts: Any, *, name: str | None = None, concurrency: int | None = None,
          **options: Any) -> Batch:
    """``default_client().batch(...)``: many prompts as one resumable batch."""
    return default_client().batch(prompts, name=name, concurrency=concurrency, **options)


def sweep(prompt: Any, *, name: str | None = None, concurrency: int | None = None,
          **options: Any) -> Sweep:
    """``default_client().sweep(...)``: every combination of the listed values, as a grid."""
    return default_client().sweep(prompt, name=name, concurrency=concurrency, **options)


def plan_sweep(prompt: Any, *, name: str | None = None, **options: Any) -> SweepPlan:
    """``default_client().plan_sweep(...)``: a sweep's cells and price; nothing sent."""
    return default_client().plan_sweep(prompt, name=name, **options)


def resume(*, steal: bool = False) -> list[Job]:
    """``default_client().resume()``: follow the jobs an earlier kernel left unfinished."""
    return default_client().resume(steal=steal)


def doctor() -> dict[str, Any]:
    """``default_client().doctor()``: check the host and the key; creates nothing."""
    return default_client().doctor()


def create_element(name: str, description: str = "", frontal_image: Any = None,
                   refer_images: Any = None, *, tags: Any = None, **kw: Any) -> Element:
    """``default_client().create_element(...)``: make a subject; wait for its id."""
    return default_client().create_element(name, description, frontal_image, refer_images,
                                           tags=tags, **kw)


def elements() -> list[Element]:
    """``default_client().elements()``: the journaled subjects of this service."""
    return default_client().elements()


@overload
def model_doc(model: str, *, refresh: bool = False) -> ModelDocument: ...


@overload
def model_doc(model: None = None, *, refresh: bool = False) -> ModelList: ...


def model_doc(model: str | None = None, *, refresh: bool = False
              ) -> ModelDocument | ModelList:
    """The gateway's own document for ``model`` (rendered Markdown in a notebook, text in a
    terminal), saying which of its parameters kirin-jupyter does not know yet; with no
    model, the gateway's list of Kirin models. Cached in KIRIN_HOME for a day."""
    client = default_client()
    if model is None:
        return client.model_list(refresh=refresh)
    return client.model_doc(model, refresh=refresh)
