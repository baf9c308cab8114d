"""Batch benchmarks (issue 12), against a loopback simulator server process. Not collected
by pytest; ``tests/benchmark.py`` runs them too.

    .venv/bin/python tests/benchmark_batch.py            # 300 prompts, busy service, 10,000
    .venv/bin/python tests/benchmark_batch.py --quick    # 300 prompts, busy, 2,000 items

Numbers are printed as rows: (measure, ours, baseline, target).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmark import KEY, fresh_home, simulator, stats  # noqa: E402  (after the path)

Row = Callable[..., None]


def _print_row(measure: str, ours: str, baseline: str = "", target: str = "") -> None:
    print(f"  {measure}: {ours}" + (f"  [target {target}]" if target else ""), flush=True)


def _rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run(url: str, count: int, *, name: str, concurrency: int | None = None
         ) -> dict[str, Any]:
    from kirin_jupyter.client import Client

    client = Client(api_key=KEY, base_url=url)
    rss_before = _rss_mb()
    cpu_before, main_before = time.process_time(), time.thread_time()
    started = time.monotonic()
    batch = client.batch([f"item {i}: a product photo" for i in range(count)], name=name,
                         concurrency=concurrency)
    batch.wait()
    wall = time.monotonic() - started
    engine_cpu = (time.process_time() - cpu_before) - (time.thread_time() - main_before)
    seen = stats(url)
    creates = seen["creates_by_external_id"]
    return {
        "batch": batch, "wall": wall, "engine_cpu": engine_cpu,
        "done": sum(r is not None for r in batch.results),
        "creates": sum(creates.values()), "max_creates_per_id": max(creates.values()),
        "busy_refusals": seen.get("busy_refusals", 0),
        "most_running": seen.get("most_running", 0),
        "rss_growth": _rss_mb() - rss_before, "rss_peak": _rss_mb("VmHWM"),
    }


def bench_300(row: Row) -> None:
    """The issue's "done when": 300 prompts, 3 s tasks."""
    fresh_home()
    with simulator(3.0, 0.1, extra=("--stock-images",)) as url:
        got = _run(url, 300, name="bench-300")
    row("300-prompt batch, 3 s tasks: results / creates",
        f"{got['done']}/300 results, {got['creates']} creates (at most "
        f"{got['max_creates_per_id']} per item) in {got['wall']:.1f} s; up to "
        f"{got['most_running']} at once", "", "300 / 300, well under 120 s")


def bench_busy(row: Row) -> None:
    """A service that takes at most 20 tasks at once and says 006001094 past that."""
    fresh_home()
    with simulator(3.0, 0.1, extra=("--stock-images", "--capacity", "20")) as url:
        got = _run(url, 300, name="bench-busy")
    ideal = math.ceil(300 / 20) * 3.0
    gate = got["batch"].gate
    row("300 prompts on a service that takes 20 at once (006001094 past that)",
        f"{got['done']}/300 results, {got['creates']} creates, 0 failed of "
        f"{got['busy_refusals']} busy answers; {got['wall']:.1f} s = "
        f"{got['wall'] / ideal:.2f}x the ideal {ideal:.0f} s; limit went "
        f"{gate.lowest:.0f}..{gate.highest:.0f}", "", "none failed")


def bench_big(row: Row, count: int, concurrency: int) -> None:
    """Thousands of 2 s tasks at a fixed concurrency, against the ideal time for it."""
    fresh_home()
    with simulator(2.0, 0.1, extra=("--stock-images",)) as url:
        got = _run(url, count, name=f"bench-{count}", concurrency=concurrency)
    ideal = math.ceil(count / concurrency) * 2.0
    row(f"{count:,}-item batch of 2 s tasks at concurrency {concurrency}",
        f"{got['done']:,}/{count:,} in {got['wall']:.0f} s = {got['wall'] / ideal:.2f}x "
        f"the ideal {ideal:.0f} s; {got['creates']:,} creates; engine CPU "
        f"{got['engine_cpu'] / count * 1000:.1f} ms per item", "", "<= 3x ideal")
    row(f"  memory of the {count:,}-item batch",
        f"RSS grew {got['rss_growth']:.0f} MB, peak {got['rss_peak']:.0f} MB", "",
        "<= 300 MB")


def run_all(row: Row, *, quick: bool) -> None:
    bench_300(row)
    bench_busy(row)
    bench_big(row, 2_000 if quick else 10_000, 200)


def main() -> int:
    parser = argparse.ArgumentParser(description="kirin-jupyter batch benchmarks")
    parser.add_argument("--quick", action="store_true", help="2,000 items instead of 10,000")
    parser.add_argument("--only", choices=("300", "busy", "big"), help="one benchmark")
    args = parser.parse_args()
    os.environ.pop("KIRIN_API_KEY", None)
    if args.only == "300":
        bench_300(_print_row)
    elif args.only == "busy":
        bench_busy(_print_row)
    elif args.only == "big":
        bench_big(_print_row, 2_000 if args.quick else 10_000, 200)
    else:
        run_all(_print_row, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
