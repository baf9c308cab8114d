"""A job's create, status query and lookup in the protocol it speaks (generation or queue).

``protocol = "auto"`` starts on the generation protocol and moves a model to the queue
only when the generation create answers 404 or 405 for it: then nothing was created, so
the same request is sent once on the queue, and the switch is kept per host (a host fact)
so that later jobs go straight there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import APIError, OutcomeUnknown
from ..service.dialects import SWITCH_STATUSES, Choice, Protocols, fact_name
from ..service.http import GatewayHTTP
from ..service.queue import QueueHTTP
from ..service.responses import TaskSnapshot

if TYPE_CHECKING:
    from .job import Job

log = logging.getLogger("kirin_jupyter")

QUEUE = "queue"


class RunContext(Protocol):
    """What of the runner's context the dialects use (``runner.RunContext``)."""

    @property
    def api(self) -> GatewayHTTP: ...

    @property
    def protocols(self) -> Protocols: ...


def choice_for(job: Job, ctx: RunContext) -> Choice:
    """The setting's choice for the job's model; ``auto`` becomes ``queue`` once this host
    has been seen to refuse the model on the generation protocol."""
    model = job.request.model.name
    choice = ctx.protocols.choice(model)
    if choice == "auto" and ctx.api.facts.get(fact_name(model)) == QUEUE:
        return "queue"
    return choice


async def create(job: Job, ctx: RunContext, before_queue: Callable[[], Awaitable[None]],
                 **kw: Any) -> TaskSnapshot:
    """The create in the job's protocol. ``before_queue`` journals the protocol before a
    queue submit is sent (so that resume follows it there); if it fails, nothing is sent."""
    choice = choice_for(job, ctx)
    if choice != "queue":
        try:
            return await ctx.api.create(job.request, **kw)
        except APIError as exc:
            refused = exc.status_code in SWITCH_STATUSES and not isinstance(exc, OutcomeUnknown)
            if choice != "auto" or not refused:
                raise
        model = job.request.model.name
        log.info("%s: the generation create answered 404/405 on %s; switching the model to "
                 "the queue protocol there", model, ctx.api.endpoint.base_url)
        await asyncio.to_thread(ctx.api.facts.learn, fact_name(model), QUEUE)
    await before_queue()
    job.protocol = QUEUE
    return await QueueHTTP(ctx.api).create(job.request, **kw)


async def query(job: Job, ctx: RunContext, task_id: str) -> TaskSnapshot:
    """The task's status (with its results once completed), in the job's protocol."""
    if job.protocol == QUEUE:
        found = await QueueHTTP(ctx.api).get_task(task_id, job.request.model.name)
    else:
        found = await ctx.api.get_task(task_id)
    assert found is not None
    return found


async def find(job: Job, ctx: RunContext) -> TaskSnapshot | None:
    """The task of a job that has no task id yet, by its external id. The queue protocol
    offers no such lookup (none of its clients shows one): None, which proves nothing."""
    if job.protocol == QUEUE:
        return None
    return await ctx.api.find_by_external_id(job.external_task_id)
