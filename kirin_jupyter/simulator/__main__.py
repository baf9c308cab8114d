"""``python -m kirin_jupyter.simulator --port N``: the simulator on http://127.0.0.1:N."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from .server import SimulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kirin_jupyter.simulator",
        description="Serve a Kirin-compatible simulator on 127.0.0.1 (loopback only).",
    )
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each task takes")
    parser.add_argument("--spread", type=float, default=0.0,
                        help="vary each task's duration by +- this fraction (e.g. 0.1)")
    parser.add_argument("--eager-render", action="store_true",
                        help="render results while tasks run, so downloads are instant")
    parser.add_argument("--capacity", type=int, default=None,
                        help="at most this many tasks at once; more are refused as busy "
                        "(error 006001094), as a loaded service does")
    parser.add_argument("--stock-images", action="store_true",
                        help="serve one picture per size for every task (for benchmarks of "
                        "thousands of tasks: drawing each would measure the simulator)")
    parser.add_argument("--no-stream", action="store_true",
                        help="offer no task stream (GET …/task/{id}/stream answers 404), as "
                        "a gateway without it: clients poll")
    parser.add_argument("--dialect", choices=("generation", "queue", "both"), default="both",
                        help="the protocols it answers: the generation protocol, the queue "
                        "protocol (/model/v1/queue/{model}; generation creates then answer "
                        "404, so protocol='auto' switches) or both (default)")
    parser.add_argument(
        "--require-key", action="store_true",
        help="demand 'Authorization: Bearer $KIRIN_SIMULATOR_KEY' (the key is read from the "
        "environment so it never shows in a process list)",
    )
    args = parser.parse_args(argv)
    key = os.environ.get("KIRIN_SIMULATOR_KEY") if args.require_key else None
    if args.require_key and not key:
        parser.error("--require-key needs KIRIN_SIMULATOR_KEY in the environment")
    server = SimulatorServer(args.port, task_seconds=args.seconds, api_key=key,
                             spread=args.spread, eager_render=args.eager_render,
                             capacity=args.capacity, stock_images=args.stock_images,
                             stream=not args.no_stream, dialect=args.dialect)
    print(f"Kirin simulator listening on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
