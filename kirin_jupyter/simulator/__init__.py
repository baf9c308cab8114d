"""A local Kirin-compatible service: the default when no API key is set, and the test double.

``SimulatorService`` holds the behaviour; ``SimulatorTransport`` serves it in-process to
httpx; ``SimulatorServer`` serves it over HTTP on 127.0.0.1
(``python -m kirin_jupyter.simulator --port N``).
"""

from __future__ import annotations

from .service import IN_PROCESS_BASE_URL, Fault, SimulatorService

__all__ = ["IN_PROCESS_BASE_URL", "Fault", "SimulatorService"]
