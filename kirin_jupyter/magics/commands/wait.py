"""``%kirin wait [--timeout SECONDS]`` waits for everything this session started."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..context import Context
from ..follow import wait_behind_card
from ..grammar import seconds
from .usage import unexpected

if TYPE_CHECKING:
    from ...batches.batch import Batch
    from ...engine.job import Job


def run(ctx: Context, rest: str) -> None:
    words = rest.split()
    if not words:
        wait(ctx, None)
    elif len(words) == 2 and words[0] == "--timeout":
        wait(ctx, seconds(words[1], command="%kirin wait"))
    else:
        raise unexpected("wait", rest)


def wait(ctx: Context, timeout: float | None) -> None:
    """Wait for every batch and sweep of the session, then every job, until none is
    left that was not waited for: a batch makes its items' jobs as it goes, and its
    card is replaced by the final view only after its last job ends. Each one's
    ``wait()`` returns after its card shows the final state (listeners run first), so
    a headless run that ends here saves final views, never a live card."""
    client = ctx.client()
    deadline = None if timeout is None else time.monotonic() + timeout
    waited: set[int] = set()
    while True:
        views: list[Job | Batch] = [*client.batches, *client.jobs]
        new = [each for each in views if id(each) not in waited]
        if not new:
            break
        for each in new:
            waited.add(id(each))
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not wait_behind_card(each, left):
                return
    from ...display.shown import settle

    settle()  # each finished card's final view once more, from this cell (in order)
    jobs = client.jobs
    done = [j for j in jobs if j.status == "completed"]
    failed = [j for j in jobs if j.status == "failed"]
    running = len(jobs) - len(done) - len(failed)
    tail = f", {running} still running" if running else ""
    print(f"kirin: {len(done)} completed, {len(failed)} failed{tail}")
