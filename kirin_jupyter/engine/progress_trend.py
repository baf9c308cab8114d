"""Where the service's own progress figures point: the finish time, and the bar between reads.

A task that reports 0.16 at 10 s and 0.42 at 25 s will, at that pace, finish near 60 s. The
poller can then sleep until just after that moment instead of checking densely across the
whole window learned from history, and the bar can keep moving between two answers instead
of sitting still and jumping. The prediction is only trusted while the pace holds: a
service whose figure stalls, or runs backwards, or moves in bursts gets no prediction, and
the poller keeps to its time-based schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_KEEP = 8  # readings kept: enough to average out a figure rounded to 1 %
_MIN_SPAN = 0.03  # progress that must have moved before a pace means anything
_AGREE = 0.4  # the latest pace may differ from the overall pace by this fraction
_EXTRAPOLATE_SHARE = 0.5  # between reads, the bar covers at most half the gap to 100 %


@dataclass
class ProgressTrend:
    """The service's ``progress`` readings as (monotonic time, 0..1) pairs."""

    points: list[tuple[float, float]] = field(default_factory=list)

    def add(self, at: float, progress: float) -> None:
        """Record one reading; a figure that goes backwards starts the trend over."""
        if not 0.0 <= progress <= 1.0:
            return
        if self.points and progress < self.points[-1][1]:
            self.points.clear()
        self.points.append((at, progress))
        del self.points[:-_KEEP]

    @property
    def latest(self) -> float | None:
        return self.points[-1][1] if self.points else None

    def pace(self) -> float | None:
        """Progress per second, fitted by least squares, when the readings hold a steady
        pace; None when there is too little to go on or the pace is not steady."""
        points = self.points
        if len(points) < 2 or points[-1][1] - points[0][1] < _MIN_SPAN:
            return None
        slope = _least_squares_slope(points)
        if slope <= 0:
            return None
        # The latest stretch must agree with the whole: a stalled or bursty figure predicts
        # nothing. Stretches too short to measure (one rounding step) are not judged.
        (t0, p0), (t1, p1) = points[-2], points[-1]
        if p1 - p0 >= _MIN_SPAN and t1 > t0:
            recent = (p1 - p0) / (t1 - t0)
            if abs(recent - slope) > _AGREE * slope:
                return None
        elif t1 - t0 > 0 and (p1 - p0) / (t1 - t0) < slope * (1 - _AGREE) and (
            slope * (t1 - t0) >= _MIN_SPAN
        ):
            return None  # long enough to have moved a step, and it did not: stalled
        return slope

    def finish_at(self) -> float | None:
        """The monotonic time at which the figure reaches 100 % at the current pace."""
        slope = self.pace()
        if slope is None:
            return None
        mean_t = sum(t for t, _ in self.points) / len(self.points)
        mean_p = sum(p for _, p in self.points) / len(self.points)
        return mean_t + (1.0 - mean_p) / slope

    def shown(self, now: float) -> float | None:
        """The bar's figure at ``now``: the latest reading carried forward at the steady
        pace, never more than half of the way still left, never below that reading."""
        if not self.points:
            return None
        at, latest = self.points[-1]
        slope = self.pace()
        if slope is None or now <= at:
            return latest
        ahead = min(slope * (now - at), (1.0 - latest) * _EXTRAPOLATE_SHARE)
        return min(0.99, latest + ahead) if latest < 0.99 else latest


def _least_squares_slope(points: list[tuple[float, float]]) -> float:
    mean_t = sum(t for t, _ in points) / len(points)
    mean_p = sum(p for _, p in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread <= 0:
        return 0.0
    return sum((t - mean_t) * (p - mean_p) for t, p in points) / spread
