"""``%kirin cancel [TASK_ID | --all]`` cancels the last job, one task, or everything.

On the queue protocol the service cancels the task; on the generation protocol, which has
no cancel, the job stops being followed and stays resumable: one line says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from IPython.core.error import UsageError

from ..context import Context
from .usage import unexpected

if TYPE_CHECKING:
    from ...engine.job import Job


def run(ctx: Context, rest: str) -> None:
    words = rest.split()
    if len(words) > 1:
        raise unexpected("cancel", rest)
    client = ctx.client()
    if words == ["--all"]:
        lines = [line for batch in client.batches if not batch.done()
                 for line in batch.cancel()]
        lines += [job.cancel() for job in _running(client.jobs)]
        print("\n".join(f"kirin: {line}" for line in lines) if lines
              else "kirin: nothing is running")
        return
    if words and words[0].startswith("-"):
        raise unexpected("cancel", rest)
    running = _running(client.jobs)
    if words:
        chosen = [job for job in running if words[0] in (job.task_id, job.external_task_id)]
        if not chosen:
            raise UsageError(f"%kirin cancel: no running job of this session has the task "
                             f"id {words[0]!r} (%kirin jobs lists them)")
    else:
        if not running:
            print("kirin: nothing is running")
            return
        chosen = running[-1:]
    print(f"kirin: {chosen[0].cancel()}")


def _running(jobs: list[Job]) -> list[Job]:
    return [job for job in jobs if not job.done()]
