"""The progress bar's estimate, for services that send no progress figure.

Only a fallback: when the service reports ``progress``, the bar shows that. The estimate
must never lie in the two ways users notice: a task still waiting in a queue never shows a
mostly full bar, and a task running past its expected time keeps moving visibly instead of
sitting at 96 % (each doubling of the overrun still closes about 30 % of the gap left).
"""

from __future__ import annotations

import math

QUEUED_CAP = 0.10  # a queued task never shows more than this
AT_EXPECTED = 0.80  # a running task reaches this at its expected duration
CEILING = 0.99  # never full before the service says "completed"


def estimated_progress(queued_for: float, running_for: float | None, expected: float) -> float:
    """0..1 from time alone: ``queued_for`` seconds spent queued (all of them, if
    ``running_for`` is None), then ``running_for`` seconds running, against the
    ``expected`` duration of such a task."""
    expected = max(expected, 0.1)
    queued = QUEUED_CAP * (1 - math.exp(-max(0.0, queued_for) / expected))
    if running_for is None:
        return queued
    ratio = max(0.0, running_for) / expected
    share = AT_EXPECTED * ratio if ratio <= 1 else 1 - (1 - AT_EXPECTED) / math.sqrt(ratio)
    return min(CEILING, queued + (1 - queued) * share)
