"""One clock for every running job's card, instead of a timer per job.

A card's elapsed time and estimated bar move between status checks because its job is
told twice a second to redraw. With a sleeping task per job, 2,000 jobs meant 4,000 timer
wake-ups a second on the engine loop; one clock per loop does the same with two.
"""

from __future__ import annotations

import asyncio
import weakref

from .job import Job

TICK_SECONDS = 0.5  # how often a progress card is refreshed


class _Clock:
    """The jobs of one event loop that are running now, and the task that ticks them."""

    def __init__(self) -> None:
        self.jobs: dict[Job, None] = {}  # insertion-ordered: cards tick in start order
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while self.jobs:
            await asyncio.sleep(TICK_SECONDS)
            for job in list(self.jobs):
                if job._listeners:  # nobody is watching: nothing to redraw
                    job._notify()


_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Clock] = (
    weakref.WeakKeyDictionary()
)


def start_ticking(job: Job) -> None:
    """Tick ``job`` until ``stop_ticking``; call on the loop the job runs on."""
    loop = asyncio.get_running_loop()
    clock = _clocks.get(loop)
    if clock is None:
        clock = _clocks[loop] = _Clock()
    clock.jobs[job] = None
    if clock.task is None or clock.task.done():
        clock.task = loop.create_task(clock.run())


def stop_ticking(job: Job) -> None:
    clock = _clocks.get(asyncio.get_running_loop())
    if clock is not None:
        clock.jobs.pop(job, None)
