"""``%kirin resume [--steal]`` follows what an earlier session left unfinished."""

from __future__ import annotations

from IPython.core.error import UsageError

from ..context import Context
from ..follow import follow_batch, follow_job
from .help import wrap
from .usage import unexpected


def run(ctx: Context, rest: str) -> None:
    words = rest.split()
    if words and words != ["--steal"]:
        raise unexpected("resume", rest)
    resume(ctx, steal=bool(words))


def resume(ctx: Context, *, steal: bool) -> None:
    import sqlite3

    from ...errors import KirinError

    client = ctx.client()
    try:
        jobs = client.resume(steal=steal)
    except (KirinError, sqlite3.Error, OSError, ValueError) as exc:
        raise UsageError(f"%kirin resume: the journal {client.journal.where} cannot be "
                         f"used ({exc})") from None
    for external_id, task_id, owner in client.held_elsewhere:
        host, _, pid = owner.rpartition(":")
        print(wrap(f"kirin: job {task_id or external_id} is followed by another live "
                   f"kernel (process {pid} on {host}); %kirin resume --steal takes it "
                   "over", ctx.text_width(), indent="  "))
    lost = client.simulated_lost
    if lost:
        ids = ", ".join(task_id or external_id for external_id, task_id in lost[:5])
        more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
        print(wrap(f"kirin: {len(lost)} simulated job(s) cannot be resumed ({ids}{more}): "
                   "the built-in simulator keeps its tasks only in the kernel process "
                   "that made them, and that process has ended. Run the cell again to "
                   "make new images (the simulator costs nothing).",
                   ctx.text_width(), indent="  "))
    if client.stored_late:
        print(f"kirin: {len(client.stored_late)} job(s)' results stored at "
              f"{client.output_location} (their upload had failed)")
    for batch in client.resumed_batches:
        print(f"kirin: batch {batch.name} goes on: {batch.reused} item(s) found done, "
              f"{batch.followed} followed, {batch.counts()['queued']} left to make")
        follow_batch(ctx.shell, batch, wait=False, timeout=None)
    if not jobs:
        if not (client.held_elsewhere or lost or client.resumed_batches
                or client.stored_late):
            print("kirin: nothing to resume: every journaled job is finished")
        return
    print(f"kirin: following {len(jobs)} job(s) left unfinished by an earlier session")
    for job in jobs:
        follow_job(ctx.shell, job, wait=False, timeout=None)
    ctx.user_ns["_kirin_resumed"] = jobs
